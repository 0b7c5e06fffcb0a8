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
--tool=callgrind` twice, as `serve` (start, load the driver, set up a
deployment and upgrade it through HTTP, idle, SIGTERM) and as CLI commands
(`drivers load`, `deploy`, `upgrade`, `runs show`); every function either
run executed that the binary defines is written, one mangled name per line.

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


def profile_serve(binary, directory, launcher, name, upgrades):
    """`serve` under `launcher`: start, idle, then (unless `upgrades` is 0) my-app
    loaded and set up, `upgrades` upgrades through HTTP, idle; SIGTERM."""
    serve = Serve(binary, os.path.join(directory, name + ".sqlite"), workers=4, launcher=launcher)
    try:
        if upgrades == 0:
            time.sleep(45)  # callgrind runs it about 50 times slower: its idle loop's timers fire
            return
        serve.deploy_my_app(1)
        for index in range(upgrades):
            status, body, _ = serve.call("POST", "/v1/deployments/app0/hooks/upgrade", {"target_version": ["0.2.0", "0.3.0"][index % 2]})
            assert status == 202, body
        serve.wait_idle()
        time.sleep(1)
    finally:
        serve.process.send_signal(signal.SIGTERM)
        serve.process.wait(timeout=300)


def profile_cli(binary, directory, launcher, name, upgrades):
    """CLI commands under `launcher(index)`: load, deploy, `upgrades` upgrades, show."""
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, name + ".sqlite"))
    commands = [["drivers", "load", MY_APP], ["deploy", "demo", "--driver", "my-app", "--app-version", "0.1.0"]]
    commands += [["upgrade", "demo", "--to", ["0.2.0", "0.3.0"][index % 2]] for index in range(upgrades)] + [["runs", "show", "2"]]
    for index, arguments in enumerate(commands):
        subprocess.run(launcher(index) + arguments, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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
        profile_serve(binary, directory, callgrind(binary, path("serve.callgrind")), "serve-callgrind", 0)
        profile_cli(binary, directory, lambda index: callgrind(binary, path(f"cli{index}.callgrind")), "cli-callgrind", 1)
        profile_serve(binary, directory, perf(binary, path("serve.perf")), "serve-perf", 200)
        profile_cli(binary, directory, lambda index: perf(binary, path(f"cli{index}.perf")), "cli-perf", 20)
        defined = defined_functions(binary)
        order, seen = [], set()
        # What an idle server runs first, then a CLI process, then hook runs:
        # each working set stays at the front, in as few pages as it can.
        rank = lambda name: (not name.startswith("serve"), not name.endswith(".callgrind"), name)  # noqa: E731
        for profile in sorted(os.listdir(directory), key=rank):
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
