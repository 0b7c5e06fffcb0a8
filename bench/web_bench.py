"""Benchmarks of the operator web page (issue 21): the first screen of a run
with 10,000 steps and 100,000 log lines (time and HTML size), and the runs
list over a state of 100,000 runs, through a real `flowrunner serve`.

The state is made by the binary (a loaded driver and a deployment), then
filled straight into its SQLite file (the bench measures reading, not writing)."""
import os
import shutil
import sqlite3
import tempfile
import time

from serve_bench import MY_APP, Serve

RUNS = 100_000
STEPS = 10_000
LOG_LINES = 100_000


def fill(state):
    """Adds RUNS finished runs of deployment 1, the last with STEPS steps
    (every 500th failed, every 700th diverged) and LOG_LINES log lines."""
    db = sqlite3.connect(state)
    now = time.time()
    db.executemany(
        "INSERT INTO runs (deployment_id, hook, status, attempt, inputs, context, driver_version_id, created_at, started_at, ended_at) "
        "VALUES (1, 'upgrade', 'succeeded', 1, '{\"target_version\":\"0.2.0\",\"current_version\":\"0.1.0\"}', '{}', 1, ?, ?, ?)",
        ((now, now, now) for _ in range(RUNS)))
    big = db.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    db.execute("UPDATE runs SET status = 'failed', attempt = 2, error = '{\"type\":\"RuntimeError\",\"message\":\"boom\",\"action\":\"upgrade\"}' WHERE id = ?", (big,))
    db.execute("INSERT INTO action_runs (run_id, name, mode, position, status, attempts, error, started_at, ended_at) "
               "VALUES (?, 'upgrade', 'core', 0, 'failed', 2, '{\"type\":\"RuntimeError\",\"message\":\"boom\",\"traceback\":\"Traceback...\"}', ?, ?)",
               (big, now, now))
    action = db.execute("SELECT MAX(id) FROM action_runs").fetchone()[0]
    db.executemany(
        "INSERT INTO steps (action_run_id, attempt, seq, kind, name, args, args_digest, status, replayed, result, error, started_at, ended_at, divergence) "
        "VALUES (?, ?, ?, 'primitive', 'execute_commands', ?, ?, ?, 0, '{}', ?, ?, ?, ?)",
        ((action, 1 + seq % 2, seq, '{"commands":["step %d"]}' % seq, "d%d" % seq,
          "failed" if seq % 500 == 0 else "succeeded", '{"type":"CommandFailed","message":"exit 1"}' if seq % 500 == 0 else None,
          now, now + 0.001, '{"message":"replay stopped"}' if seq % 700 == 0 else None) for seq in range(1, STEPS + 1)))
    db.executemany("INSERT INTO logs (run_id, action, attempt, time, level, logger, message) VALUES (?, 'upgrade', 1, ?, 'info', 'stdout', ?)",
                   ((big, now, "log line %d of a long run" % line) for line in range(LOG_LINES)))
    db.commit()
    db.close()
    return big


def bench_web(bin_dir, repeat):
    binary = os.path.join(bin_dir, "flowrunner")
    scratch = tempfile.mkdtemp(prefix="flowrunner-web-bench-")
    try:
        state = os.path.join(scratch, "state.sqlite")
        env = dict(os.environ, FLOWRUNNER_STATE=state, FLOWRUNNER_UNISOLATED_ACTIONS="1")
        import subprocess
        subprocess.run([binary, "drivers", "load", MY_APP], env=env, check=True, capture_output=True)
        subprocess.run([binary, "deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0"], env=env, check=True, capture_output=True)
        big = fill(state)
        serve = Serve(binary, state, workers=1)
        try:
            run_times, run_sizes, list_times = [], [], []
            for _ in range(max(3, min(repeat, 20))):
                start = time.perf_counter()
                serve.connection.request("GET", f"/runs/{big}")
                response = serve.connection.getresponse()
                body = response.read()
                run_times.append((time.perf_counter() - start) * 1000)
                run_sizes.append(len(body) / 1024)
                assert response.status == 200, response.status
                start = time.perf_counter()
                serve.connection.request("GET", "/")
                response = serve.connection.getresponse()
                response.read()
                list_times.append((time.perf_counter() - start) * 1000)
        finally:
            serve.process.kill()
            serve.process.wait()
        return [
            {"metric": f"web: run page, {STEPS} steps and {LOG_LINES} log lines (first screen)", "samples": run_times, "unit": "ms", "goal": 100},
            {"metric": "web: that page's HTML", "samples": run_sizes, "unit": "KiB", "goal": 300},
            {"metric": f"web: runs list over {RUNS} runs", "samples": list_times, "unit": "ms", "goal": 50},
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
