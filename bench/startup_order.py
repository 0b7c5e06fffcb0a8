#!/usr/bin/env python3
"""Writes Linker/startup.order, the symbol ordering file of the release link.

The release `flowrunner` is about 36 MiB of machine code. Start-up and an idle
`serve` run a few MiB of it, scattered over the whole file, and Linux maps
file pages around each one it faults in (64 KiB at a time), so before this
file an idle `serve` had 20 MiB of code resident and a CLI upgrade faulted in
most of the binary. Linking the functions that start-up, a hook run and an
idle server execute next to each other (`ld.lld --symbol-ordering-file`, see
Package.swift) keeps that code in a few MiB.

How the list is made: the release binary (debug info stripped, since
valgrind cannot read it) runs the seed my-app under `valgrind
--tool=callgrind` as an idle `serve` and as CLI commands (`drivers load`,
`deploy`, `upgrade`, `runs show`), then my-app without its values.j2.yml
(under callgrind the renderer cannot be spawned, so hooks with values stop
there) as `serve` (four deployments set up and upgraded twice through HTTP,
four workers) and as CLI commands, so every function of a whole hook run is
seen; then under `perf record` with the values (200 upgrades through a
serve, 20 through the CLI), which samples the render path too. Every
function these runs executed that the binary defines is written, one
mangled name per line, in the order of ``rank``.

Run it again after large changes (a stale list only costs memory: names it
lacks are linked where they would have been, names that went away are
ignored):

    swift build -c release --static-swift-stdlib --scratch-path .build-static --product flowrunner
    python3 bench/startup_order.py --bin-dir .build-static/x86_64-unknown-linux-gnu/release
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from serve_bench import Serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MY_APP = os.path.join(ROOT, "actions-examples", "my-app")
FUNCTION = re.compile(r"^c?fn=\(\d+\) (\S+)$")


def defined_functions(binary):
    """Names of the functions the binary itself defines (its symbol table)."""
    output = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    return {parts[2] for parts in (line.split() for line in output.splitlines()) if len(parts) == 3 and parts[1] in "tTW"}


def executed(profile):
    """The functions a callgrind profile saw run, in the order it first names them."""
    names = []
    with open(profile, errors="replace") as lines:
        for line in lines:
            match = FUNCTION.match(line.rstrip("\n"))
            if match:
                names.append(re.sub(r"'\d+$", "", match.group(1)))
    return names


def perf_functions(binary, data):
    """Functions of `binary` in a `perf record -g` profile: each sample's
    function and its callers."""
    output = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"], capture_output=True, text=True).stdout
    suffix = "(" + binary + ")"
    return [line.split()[1] for line in output.splitlines() if line.strip().endswith(suffix) and len(line.split()) >= 3]


def perf(binary, data):
    return ["perf", "record", "-q", "-e", "cpu-clock", "-F", "20000", "-g", "-o", data, "--", binary]


def callgrind(binary, profile):
    return ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={profile}", f"--log-file={profile}.log", binary]


def profile_serve(binary, directory, launcher, name, upgrades, driver=MY_APP, deployments=1):
    """`serve` under `launcher`: start, idle, then (unless `upgrades` is 0) my-app
    loaded from `driver` and set up `deployments` times, `upgrades` upgrades
    of each through HTTP, idle; SIGTERM."""
    serve = Serve(binary, os.path.join(directory, name + ".sqlite"), workers=4, launcher=launcher)
    try:
        if upgrades == 0:
            time.sleep(45)  # callgrind runs it about 50 times slower: its idle loop's timers fire
            return
        names = serve.deploy_my_app(deployments, driver=driver)
        for index in range(upgrades):
            for deployment in names:
                status, body, _ = serve.call("POST", f"/v1/deployments/{deployment}/hooks/upgrade",
                                             {"target_version": ["0.2.0", "0.3.0"][index % 2]})
                assert status == 202, body
        serve.wait_idle(limit=1800)
        time.sleep(1)
    finally:
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(timeout=300)


def profile_cli(binary, directory, launcher, name, upgrades, driver=MY_APP):
    """CLI commands under `launcher(index)`: load (from `driver`), deploy, `upgrades` upgrades, show."""
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, name + ".sqlite"))
    commands = [["drivers", "load", driver], ["deploy", "demo", "--driver", "my-app", "--app-version", "0.1.0"]]
    commands += [["upgrade", "demo", "--to", ["0.2.0", "0.3.0"][index % 2]] for index in range(upgrades)] + [["runs", "show", "2"]]
    for index, arguments in enumerate(commands):
        subprocess.run(launcher(index) + arguments, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rank(profile):
    """Where a profile's functions go: what an idle server runs, then a CLI
    process's start, hook runs in a server and in the CLI (callgrind sees
    them all), then what perf sampled; each working set stays at the front,
    in as few pages as it can."""
    callgrind = profile.endswith(".callgrind")
    if profile == "serve.callgrind":
        return (0, profile)
    if callgrind and profile.startswith("cli-hooks"):
        return (3, profile)
    if callgrind and profile.startswith("cli"):
        return (1, profile)
    if profile == "serve-hooks.callgrind":
        return (2, profile)
    return (4 if profile == "serve.perf" else 5, profile)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True, help="directory of the release flowrunner (with its resource bundles)")
    parser.add_argument("--output", default=os.path.join(ROOT, "Linker", "startup.order"))
    args = parser.parse_args()
    for tool, package in (("valgrind", "valgrind"), ("perf", "linux-perf")):
        if not shutil.which(tool):
            raise SystemExit(f"startup_order: {tool} is needed (apt-get install {package})")
    source = os.path.join(os.path.abspath(args.bin_dir), "flowrunner")
    # Beside the original, so the copy finds the same resource bundles.
    binary = source + "-startup-profile"
    subprocess.run(["strip", "--strip-debug", "-o", binary, source], check=True)
    directory = tempfile.mkdtemp(prefix="flowrunner-startup-order-")
    try:
        # callgrind sees every function that runs, but here its spawns of
        # Python fail (valgrind 3.19 refuses close_range(3, ~0)), so hooks
        # stop at their values render; perf samples the whole of real hook
        # runs, each sampled function with its callers.
        path = lambda name: os.path.join(directory, name)
        # The same my-app without values.j2.yml: its hooks run whole under
        # callgrind (no renderer to spawn), so every function of a hook run
        # is seen, not only those perf happens to sample.
        plain_app = path("my-app-without-values")
        shutil.copytree(MY_APP, plain_app, ignore=shutil.ignore_patterns("values.j2.yml", "__pycache__"))
        profile_serve(binary, directory, callgrind(binary, path("serve.callgrind")), "serve-callgrind", 0)
        profile_cli(binary, directory, lambda index: callgrind(binary, path(f"cli{index}.callgrind")), "cli-callgrind", 1)
        profile_serve(binary, directory, callgrind(binary, path("serve-hooks.callgrind")), "serve-hooks-callgrind", 2,
                      driver=plain_app, deployments=4)
        profile_cli(binary, directory, lambda index: callgrind(binary, path(f"cli-hooks{index}.callgrind")), "cli-hooks-callgrind", 1,
                    driver=plain_app)
        profile_serve(binary, directory, perf(binary, path("serve.perf")), "serve-perf", 200)
        profile_cli(binary, directory, lambda index: perf(binary, path(f"cli{index}.perf")), "cli-perf", 20)
        defined = defined_functions(binary)
        order, seen = [], set()
        for profile in sorted((name for name in os.listdir(directory) if name.endswith((".callgrind", ".perf"))), key=rank):
            if profile.endswith(".callgrind"):
                names = executed(path(profile))
            elif profile.endswith(".perf"):
                names = perf_functions(binary, path(profile))
            else:
                continue
            # By name within each set: a module's functions, and the
            # sections the compiler put several of them in, stay together.
            fresh = sorted({name for name in names if name in defined} - seen)
            seen.update(fresh)
            order += fresh
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        os.remove(binary)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as output:
        output.write("\n".join(order) + "\n")
    print(f"startup_order: {len(order)} functions written to {os.path.relpath(args.output, ROOT)}")


if __name__ == "__main__":
    main()
