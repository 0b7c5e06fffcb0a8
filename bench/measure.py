"""Measurements shared by the benchmark scripts."""
import os
import subprocess
import tempfile
import time


def peak_rss_of_tree(argv, env):
    """Runs argv; returns (wall ms, peak summed RSS in MiB of the process and its descendants), polling /proc.

    The child's stderr goes to a file, not to a pipe nobody reads while it runs
    (a chatty process would block on a full pipe); it is shown when the
    process fails. Shared by bench/benchmarks.py and bench/peers/run_peers.py.
    """
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        peak = 0
        while proc.poll() is None:
            total = 0
            pids = [proc.pid]
            seen = set()
            while pids:
                pid = pids.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                try:
                    with open("/proc/%d/status" % pid) as handle:
                        for line in handle:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
                    for task in os.listdir("/proc/%d/task" % pid):
                        with open("/proc/%d/task/%s/children" % (pid, task)) as handle:
                            pids.extend(int(child) for child in handle.read().split())
                except (OSError, ValueError):
                    continue
            peak = max(peak, total)
            time.sleep(0.001)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            errors.seek(0)
            raise RuntimeError("%s exited %d: %s" % (argv, proc.returncode, errors.read().decode()[-800:]))
    return elapsed, peak / 1024
