#!/usr/bin/env python3
"""Peer comparison: the my-app five-step upgrade flow on Prefect 3 and on DBOS
Transact (Python), measured on this machine in the same run as FlowRunner's
own benchmarks (bench/benchmarks.py).

Creates once, and then reuses, a virtualenv with `prefect` (3.x) and `dbos`
from PyPI in .build-peers-venv/ at the repository root (ignored by git through
the `.build-*/` pattern), and runs prefect_flow.py and dbos_flow.py with its
interpreter. For each peer it measures:

  five-step flow, whole process                 wall time of a fresh `SCRIPT five` process (ms)
  five-step flow, peak RSS of the process tree  peak summed VmRSS of that process and its children (MiB),
                                                polled every 1 ms (Prefect's ephemeral API server is a child)
  per-step overhead (200-step flow)             time around a 200-step flow call inside the process,
                                                after a warm-up flow, divided by 200 (ms)
  crash-to-resume (kill -9 mid-workflow)        DBOS only: SIGKILL during step 5 of a 10-step workflow,
                                                then from the start of a new process until the recovered
                                                workflow's result is observed (ms); checks that steps 1-4
                                                did not run again
  retry skips finished steps                    1 if a retry after a failure after step 3 skips steps 1-3

Prints one JSON object per line on stdout:
  {"peer", "version", "metric", "unit", "samples"} (and "note" where the method needs saying);
  {"peer", "skipped": reason} when the virtualenv cannot be set up for that peer;
  {"peer", "metric", "error"} when a measurement failed (exit status 1).
Progress goes to stderr. Usage: python3 bench/peers/run_peers.py [--repeat N] [--only prefect|dbos]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from measure import peak_rss_of_tree  # noqa: E402  (bench/measure.py)
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, ".build-peers-venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
READY = os.path.join(VENV, "peers-ready.json")  # written once both packages are installed

PEERS = {
    # peer: (package, pip requirement, script)
    "prefect": ("prefect", "prefect>=3,<4", os.path.join(HERE, "prefect_flow.py")),
    "dbos": ("dbos", "dbos", os.path.join(HERE, "dbos_flow.py")),
}
STEPS = 200


def progress(message):
    print("[peers] " + message, file=sys.stderr, flush=True)


def emit(row):
    print(json.dumps(row), flush=True)


# ---------------------------------------------------------------- virtualenv

def installed_version(package):
    proc = subprocess.run([VENV_PYTHON, "-m", "pip", "show", package], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def ensure_venv(peers):
    """Returns {peer: version} for the peers that can run and {peer: reason} for those that cannot."""
    versions = {}
    if os.path.exists(READY) and os.path.exists(VENV_PYTHON):
        with open(READY) as handle:
            versions = json.load(handle)
        if all(versions.get(peer) for peer in peers):
            return versions, {}
    if not os.path.exists(VENV_PYTHON):
        progress("creating the virtualenv " + VENV)
        proc = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            reason = "cannot create a virtualenv with %s: %s" % (sys.executable, last_line(proc.stderr))
            return {}, {peer: reason for peer in peers}
    reasons = {}
    for peer in [peer for peer in peers if not versions.get(peer)]:
        package, requirement = PEERS[peer][:2]
        progress("pip install %s (from PyPI)" % requirement)
        proc = subprocess.run([VENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--timeout", "30", "--retries", "2", requirement], capture_output=True, text=True)
        version = installed_version(package)
        if proc.returncode != 0 or version is None:
            reasons[peer] = "pip could not install %r into %s (PyPI unreachable, or no matching release): %s" % (requirement, VENV, last_line(proc.stderr))
            versions.pop(peer, None)
        else:
            versions[peer] = version
    with open(READY, "w") as handle:  # only successful installs are cached; failures are tried again next time
        json.dump(versions, handle)
    return versions, reasons


def last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def child_env():
    # Prefect's default local mode: no API URL, so it starts its ephemeral API on its own SQLite.
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.pop("PYTHONPATH", None)
    return env


# ---------------------------------------------------------------- measurements

def run_json(argv, env, timeout=600):
    """Runs argv to completion and returns the JSON object on the last line of its stdout."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (argv, proc.returncode, proc.stderr[-800:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_five(peer, script, repeat, env):
    """Whole-process wall time and peak tree RSS of `SCRIPT five`, after one discarded warm-up run."""
    walls, peaks = [], []
    for index in range(repeat + 1):
        wall, peak = peak_rss_of_tree([VENV_PYTHON, script, "five"], env)
        progress("%s five-step flow %s: %.0f ms, %.1f MiB" % (peer, "warm-up" if index == 0 else "#%d" % index, wall, peak))
        if index > 0:
            walls.append(wall)
            peaks.append(peak)
    return [
        {"metric": "five-step flow, whole process", "unit": "ms", "samples": walls},
        {"metric": "five-step flow, peak RSS of the process tree", "unit": "MiB", "samples": peaks},
    ]


def measure_steps(peer, script, repeat, env):
    samples = []
    for index in range(repeat):
        result = run_json([VENV_PYTHON, script, "steps", str(STEPS)], env)
        assert result["steps"] == STEPS, result
        samples.append(result["per_step_ms"])
        progress("%s %d-step flow #%d: %.3f ms per step" % (peer, STEPS, index + 1, result["per_step_ms"]))
    return [{"metric": "per-step overhead (200-step flow)", "unit": "ms", "samples": samples}]


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return handle.read().splitlines()


def measure_retry(peer, script, repeat, env):
    """Fails after step 3 once, lets the peer retry, and counts how often each step body ran."""
    directory = tempfile.mkdtemp(prefix="peers-retry-")
    try:
        counter, marker = os.path.join(directory, "counter"), os.path.join(directory, "fail-once")
        open(marker, "w").close()
        proc = subprocess.run([VENV_PYTHON, script, "retry", counter, marker], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError("retry mode exited %d: %s" % (proc.returncode, proc.stderr[-800:]))
        if os.path.exists(marker):
            raise RuntimeError("the injected failure did not happen")
        executed = read_lines(counter)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    finished = ["stop_components", "upgrade_deployment_version", "get_component_images"]
    rest = ["execute_commands", "start_components"]
    if any(executed.count(name) != 1 for name in rest) or any(executed.count(name) not in (1, 2) for name in finished):
        raise RuntimeError("unexpected step executions: %s" % executed)
    skips = all(executed.count(name) == 1 for name in finished)
    progress("%s retry: step bodies ran %s -> finished steps %s" % (peer, executed, "skipped" if skips else "re-run"))
    notes = {
        "prefect": "the flow fails after step 3 and is retried by Prefect's own flow retry (@flow(retries=1)), default task settings",
        "dbos": "the workflow raises after step 3 (status ERROR; DBOS does not retry a workflow that raised) and is retried "
                "with DBOS.fork_workflow from the first step without a checkpoint",
    }
    return [{"metric": "retry skips finished steps", "unit": "bool", "samples": [1 if skips else 0], "note": notes[peer]}]


def measure_crash(peer, script, repeat, env):
    """DBOS: SIGKILL while step 5 of 10 sleeps, then time a fresh process's launch-time recovery to completion."""
    samples = []
    for index in range(repeat):
        directory = tempfile.mkdtemp(prefix="peers-crash-")
        try:
            counter = os.path.join(directory, "counter")
            with tempfile.TemporaryFile() as errors:
                victim = subprocess.Popen([VENV_PYTHON, script, "crash", counter, "--dir", directory],
                                          stdout=subprocess.DEVNULL, stderr=errors, env=env)
                deadline = time.monotonic() + 120
                while "step-5 sleeping" not in read_lines(counter):
                    if victim.poll() is not None or time.monotonic() > deadline:
                        victim.kill()
                        errors.seek(0)
                        raise RuntimeError("crash mode never reached step 5: %s" % errors.read().decode()[-800:])
                    time.sleep(0.001)
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
            restarted_at = time.time()
            result = run_json([VENV_PYTHON, script, "recover", counter, "--dir", directory], env)
            elapsed = (result["done_at"] - restarted_at) * 1000
            executed = read_lines(counter)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        # Steps 1-4 finished before the kill and must not run again; step 5 was
        # interrupted, so it runs once more; 6-10 run once, after the restart.
        expected = ["step-%d" % i for i in range(1, 5)] + ["step-5 sleeping", "step-5"] + ["step-%d" % i for i in range(6, 11)]
        if executed != expected or result.get("result") != 10:
            raise RuntimeError("recovery re-executed or lost steps: ran %s, result %r" % (executed, result.get("result")))
        samples.append(elapsed)
        progress("%s crash-to-resume #%d: %.0f ms (steps 1-4 not re-run)" % (peer, index + 1, elapsed))
    return [{"metric": "crash-to-resume (kill -9 mid-workflow)", "unit": "ms", "samples": samples}]


MEASUREMENTS = {
    "prefect": [measure_five, measure_steps, measure_retry],
    "dbos": [measure_five, measure_steps, measure_crash, measure_retry],
}
METRIC_OF = {  # for error rows
    measure_five: "five-step flow, whole process",
    measure_steps: "per-step overhead (200-step flow)",
    measure_crash: "crash-to-resume (kill -9 mid-workflow)",
    measure_retry: "retry skips finished steps",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="samples per metric (default 10)")
    parser.add_argument("--only", action="append", choices=sorted(PEERS), help="run only this peer")
    args = parser.parse_args()
    peers = args.only or list(PEERS)

    versions, reasons = ensure_venv(peers)
    for peer, reason in reasons.items():
        emit({"peer": peer, "skipped": reason})
    env = child_env()
    failed = False
    for peer in peers:
        if peer in reasons:
            continue
        script = PEERS[peer][2]
        progress("%s %s" % (peer, versions[peer]))
        for measure in MEASUREMENTS[peer]:
            try:
                rows = measure(peer, script, args.repeat, env)
            except Exception as error:  # report and go on with the other measurements
                failed = True
                progress("%s: %s failed: %s" % (peer, measure.__name__, error))
                emit({"peer": peer, "metric": METRIC_OF[measure], "error": str(error)[:1000]})
                continue
            for row in rows:
                emit(dict({"peer": peer, "version": versions[peer]}, **row))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
