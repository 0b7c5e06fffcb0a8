#!/usr/bin/env python3
"""FlowRunner benchmarks: each measures one goal from the issues and reports
median and p90 against it. Run through bench/run (which builds release)."""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from measure import peak_rss_of_tree  # noqa: E402
from serve_bench import bench_serve  # noqa: E402
from kube_bench import bench_kubernetes  # noqa: E402
from web_bench import bench_web  # noqa: E402
from postgres_bench import bench_postgres  # noqa: E402
RESULTS = os.path.join(HERE, "results")


def percentile(samples, fraction):
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def time_command(argv, repeat, env=None, expect_rc=0):
    """Wall time of a whole process, in milliseconds, `repeat` times (after one warm-up)."""
    samples = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != expect_rc:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[:500]}")
        if i > 0:
            samples.append(elapsed)
    return samples


def write_large_driver(directory, target_lines=2000):
    """A valid driver whose spec has about `target_lines` lines."""
    lines = [
        "---",
        'apiVersion: "styrmin.io/v1"',
        "kind: ApplicationDriver",
        "metadata:",
        "  name: large-driver",
        "spec:",
        '  version: "7"',
        '  supported_versions: ">=1.0,<3.0,!=2.1.*"',
        '  default_version: "2.0.0"',
        "  info:",
        "    description: A large generated driver",
        "    authors: [bench]",
        "  helm:",
        "    main:",
        "      location: oci://registry.example.com/charts/large",
        "      version: 1.0.0",
        "  components:",
    ]
    count = target_lines // 20
    for i in range(count):
        lines += [
            f"    component-{i}:",
            "      identifier:",
            "        label:",
            f"          app.kubernetes.io/name: component-{i}",
            "      backup:",
            "        enabled: true",
            "        kind: postgres",
            f"        database_name: db_{i}",
        ]
    lines.append("  services:")
    for i in range(count):
        lines += [f"    - name: service-{i}", "      kind: http", "      scope: internal",
                  f"      port: {8000 + i}", f"      component: component-{i}"]
    lines.append("  actions:")
    python = ["from prefect import flow", ""]
    for i in range(count):
        hook = "setup" if i % 2 else "upgrade"
        mode = "pre" if i % 3 else "post"
        lines += [f"    - name: action-{i}", f"      hook: {hook}", f"      mode: {mode}",
                  f"      location: \"actions.py::action_{i}\""]
        python += ["@flow", f"async def action_{i}(context):", "    return None", ""]
    lines.append("  parameters:")
    while len(lines) < target_lines - 4:
        i = len(lines)
        lines += [f"    - name: param_{i}", "      kind: integer", f"      default: {i}"]
    with open(os.path.join(directory, "driver.styrmin.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(directory, "actions.py"), "w") as f:
        f.write("\n".join(python) + "\n")
    return len(lines)


def _probe_rows(argv, goal_of):
    """Runs a probe binary that prints one JSON row per metric; adds each row's goal."""
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        row["goal"] = goal_of(row["metric"])
        rows.append(row)
    return rows


def bench_state_store(bin_dir, repeat):
    """Step recording, runs list over 100,000 runs and size per run, measured inside one process."""
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    goals = {
        "record a step (begin + finish)": 100.0,
        "runs list, newest 50 of 100,000": 5.0,
        "runs list --deployment --status, newest 50 of 100,000": 5.0,
        "database size per 10-step run (10 log lines)": None,
    }
    try:
        return _probe_rows([os.path.join(bin_dir, "StateStoreProbe"), "bench", os.path.join(directory, "bench.sqlite")], goals.get)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def bench_action_host(bin_dir, repeat):
    """Cold start, round trip and 10,000 calls through the real Python host."""
    goals = {
        "host cold start (spawn to first primitive call)": 50.0,
        "primitive round trip through the bridge (no cluster work)": 150.0,
        "10,000 primitive calls in one action (whole action)": 2.0,
    }
    return _probe_rows([os.path.join(bin_dir, "ActionHostProbe"), os.path.join(HERE, "fixtures", "host-driver")], goals.get)


def bench_primitives(bin_dir, repeat):
    """Each primitive on the simulated cluster, state in a real state store."""
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    try:
        return _probe_rows([os.path.join(bin_dir, "PrimitivesProbe"), os.path.join(os.path.dirname(HERE), "actions-examples", "my-app"),
                            os.path.join(directory, "bench.sqlite")], lambda metric: 200.0)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def bench_validate_large_spec(bin_dir, repeat):
    binary = os.path.join(bin_dir, "flowrunner")
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    try:
        line_count = write_large_driver(directory)
        samples = time_command([binary, "drivers", "validate", directory], repeat)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [{
        "metric": f"drivers validate, {line_count}-line spec (whole process)",
        "samples": samples, "unit": "ms", "goal": 50.0,
    }]


def write_large_values(directory):
    """my-app with a values.j2.yml of 1,000 lines in the guide's style
    (expressions, the component filters, tojson); returns the line count."""
    shutil.copytree(os.path.join(os.path.dirname(HERE), "actions-examples", "my-app"), directory, dirs_exist_ok=True)
    lines = []
    for index in range(100):
        lines += [
            f"service{index}:",
            f"  name: styrmin-{{{{ app.name }}}}-{index}",
            f"  image: \"my-app:{{{{ app.version }}}}\"",
            f"  host: \"{{{{ services['my-app'].primary_fqdn }}}}\"",
            f"  className: \"{{{{ instance.config.ingress_class }}}}\"",
            f"  env: {{{{ components | component_env_vars(\"server\") | tojson }}}}",
            f"  command: {{{{ components | component_command(\"server\") | tojson }}}}",
            f"  args: {{{{ components | component_args(\"server\") | tojson }}}}",
            f"  replicas: {{{{ parameters.storage_size }}}}",
            "  enabled: true",
        ]
    with open(os.path.join(directory, "values.j2.yml"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return len(lines)


def bench_render(bin_dir, repeat):
    """Issue 17: a 1,000-line values template through `flowrunner render` (the
    whole process: driver check, Jinja2 in a short-lived Python, YAML parse)."""
    binary = os.path.join(bin_dir, "flowrunner")
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-render-")
    try:
        line_count = write_large_values(directory)
        samples = time_command([binary, "render", directory, "--to", "0.2.0"], repeat)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [{
        "metric": f"render a {line_count}-line values.j2.yml (whole `flowrunner render` process)",
        "samples": samples, "unit": "ms", "goal": 100.0,
    }]


def _deploy_my_app(binary, env):
    """Loads the seed my-app and deploys it as `demo` at 0.1.0 on `env`'s state."""
    driver = os.path.join(os.path.dirname(HERE), "actions-examples", "my-app")
    subprocess.run([binary, "drivers", "load", driver], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "deploy", "demo", "--driver", "my-app", "--app-version", "0.1.0"], env=env, check=True, stdout=subprocess.DEVNULL)


def bench_upgrade_process(bin_dir, repeat):
    """The seed my-app upgrade hook as a whole `flowrunner upgrade` process."""
    binary = os.path.join(bin_dir, "flowrunner")
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
    try:
        _deploy_my_app(binary, env)
        walls, peaks = [], []
        versions = ["0.2.0", "0.1.0"]
        for index in range(repeat + 1):
            wall, peak = peak_rss_of_tree([binary, "upgrade", "demo", "--to", versions[index % 2]], env)
            if index > 0:
                walls.append(wall)
                peaks.append(peak)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [
        {"metric": "my-app upgrade hook, whole `flowrunner upgrade` process", "samples": walls, "unit": "ms", "goal": 150.0},
        {"metric": "peak RSS, engine + Python host (my-app upgrade)", "samples": peaks, "unit": "MiB", "goal": 40.0},
    ]


def bench_floor(bin_dir, repeat):
    """Issue 22: the whole `flowrunner upgrade` of the seed my-app beside the
    floor, a bare `python3 -S -c pass` of the interpreter the engine runs,
    measured in turn in this run (so machine drift hits both alike)."""
    binary = os.path.join(bin_dir, "flowrunner")
    python = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,
                            check=True).stdout.strip()
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-floor-")
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
    try:
        _deploy_my_app(binary, env)
        bare, ratios, peaks = [], [], []
        versions = ["0.2.0", "0.1.0"]
        for index in range(repeat + 1):
            start = time.perf_counter()
            subprocess.run([python, "-S", "-c", "pass"], check=True)
            floor = (time.perf_counter() - start) * 1000
            wall, peak = peak_rss_of_tree([binary, "upgrade", "demo", "--to", versions[index % 2]], env)
            if index > 0:
                bare.append(floor)
                ratios.append(wall / floor)
                peaks.append(peak)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [
        {"metric": "bare `python3 -S -c pass` (the floor)", "samples": bare, "unit": "ms", "goal": None},
        {"metric": "whole `flowrunner upgrade` (my-app) / bare python, measured in turn", "samples": ratios, "unit": "x", "goal": 3.0},
        {"metric": "peak RSS, engine + Python host (my-app upgrade)", "samples": peaks, "unit": "MiB", "goal": 30.0},
    ]


def _parse_time(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def _per_step_ms(binary, env, run_id, attempt):
    """Mean time per step of one attempt: from its first step's start to its last step's end."""
    report = json.loads(subprocess.run([binary, "runs", "show", str(run_id), "--output", "json"], env=env, check=True,
                                       capture_output=True, text=True).stdout)
    steps = [s for s in report["actions"][0]["steps"] if s["attempt"] == attempt]
    span = _parse_time(steps[-1]["ended_at"]) - _parse_time(steps[0]["started_at"])
    return span * 1000 / (len(steps) - 1), steps


def _action_per_step_ms(binary, env, run_id, attempt):
    """Mean time per call as the steps-driver action measured its loop (its
    `steps: N calls in X ms` line of that attempt): the whole cost of a call
    to the action, whether the engine or the host (local replay) answers it."""
    lines = subprocess.run([binary, "runs", "logs", str(run_id)], env=env, check=True, capture_output=True, text=True).stdout
    found = re.findall(r"steps: (\d+) calls in ([0-9.]+) ms", lines)
    count, elapsed = found[attempt - 1]
    return float(elapsed) / int(count)


def exchange_directory():
    """A scratch directory the test and isolated actions share for marker
    files: outside the state directory (which actions cannot see), open to
    the action user (sticky and world-writable, like /tmp)."""
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-exchange-")
    os.chmod(directory, 0o1777)
    return directory


def bench_steps(bin_dir, repeat):
    """Per-step cost inside a 1,000-step action, executed and replayed."""
    binary = os.path.join(bin_dir, "flowrunner")
    rows = {"executed": [], "replayed": []}
    for round_index in range(max(3, repeat // 10)):
        directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
        env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
        exchange = exchange_directory()
        marker = os.path.join(exchange, "fail")
        try:
            open(marker, "w").close()
            subprocess.run([binary, "drivers", "load", os.path.join(HERE, "fixtures", "steps-driver")], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([binary, "deploy", "s", "--driver", "steps-bench", "--app-version", "1.0.0", "--param", "fail_marker=" + marker],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([binary, "upgrade", "s", "--to", "1.1.0"], env=env, stdout=subprocess.DEVNULL)
            _, steps = _per_step_ms(binary, env, 2, 1)
            assert len(steps) == 1000, len(steps)
            rows["executed"].append(_action_per_step_ms(binary, env, 2, 1))
            os.remove(marker)
            subprocess.run([binary, "runs", "retry", "2"], env=env, check=True, stdout=subprocess.DEVNULL)
            _, steps = _per_step_ms(binary, env, 2, 2)
            replayed = [s for s in steps if s["replayed"]]
            assert len(replayed) == 1000, len(replayed)
            rows["replayed"].append(_action_per_step_ms(binary, env, 2, 2))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            shutil.rmtree(exchange, ignore_errors=True)
    return [
        {"metric": "per executed step in a 1,000-step action, as the action sees it (bridge + checkpoint + primitive)",
         "samples": rows["executed"], "unit": "ms", "goal": 0.15},
        {"metric": "per replayed step in a 1,000-step action, as the action sees it (local replay)",
         "samples": rows["replayed"], "unit": "ms", "goal": 0.05},
    ]


def bench_crash_resume(binary, repeat):
    """Crash-to-resume: kill -9 of `flowrunner upgrade` during step 5 of 10, then
    the whole `flowrunner runs retry` process that resumes and finishes the run."""
    samples = []
    for _ in range(repeat):
        directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
        env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
        exchange = exchange_directory()
        marker = os.path.join(exchange, "crash")
        try:
            open(marker, "w").close()
            subprocess.run([binary, "drivers", "load", os.path.join(HERE, "fixtures", "crash-driver")], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([binary, "deploy", "c", "--driver", "crash-bench", "--app-version", "1.0.0", "--param", "marker=" + marker],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            engine = subprocess.Popen([binary, "upgrade", "c", "--to", "1.1.0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 30
            while not os.path.exists(marker + ".sleeping") and time.time() < deadline:
                time.sleep(0.005)
            engine.kill()
            engine.wait()
            os.remove(marker)
            start = time.perf_counter()
            subprocess.run([binary, "runs", "retry", "2"], env=env, check=True, stdout=subprocess.DEVNULL)
            samples.append((time.perf_counter() - start) * 1000)
            report = json.loads(subprocess.run([binary, "runs", "show", "2", "--output", "json"], env=env, check=True,
                                               capture_output=True, text=True).stdout)
            last = [s for s in report["actions"][0]["steps"] if s["attempt"] == report["attempt"]]
            assert report["status"] == "succeeded", report["status"]
            assert [s["replayed"] for s in last] == [True] * 4 + [False] * 6, [s["replayed"] for s in last]
        finally:
            shutil.rmtree(directory, ignore_errors=True)
            shutil.rmtree(exchange, ignore_errors=True)
    return samples


def bench_steps_200(binary):
    """Per-step cost in a 200-step action: (span from the first step's start to
    the last step's end) / 199, and (whole run, Python host start included) / 200."""
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
    try:
        subprocess.run([binary, "drivers", "load", os.path.join(HERE, "fixtures", "steps-driver")], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "deploy", "s", "--driver", "steps-bench", "--app-version", "1.0.0", "--param", "count=200"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        spans, wholes = [], []
        for index in range(5):
            subprocess.run([binary, "upgrade", "s", "--to", "1.%d.0" % (index + 1)], env=env, check=True, stdout=subprocess.DEVNULL)
            per_step, steps = _per_step_ms(binary, env, index + 2, 1)
            spans.append(per_step)
            report = json.loads(subprocess.run([binary, "runs", "show", str(index + 2), "--output", "json"], env=env, check=True,
                                               capture_output=True, text=True).stdout)
            wholes.append((_parse_time(report["ended_at"]) - _parse_time(report["started_at"])) * 1000 / 200)
        return spans, wholes
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def bench_peers(bin_dir, repeat):
    """FlowRunner beside Prefect 3 and DBOS Transact, measured in this run (bench/peers/)."""
    binary = os.path.join(bin_dir, "flowrunner")
    peers_repeat = max(3, min(repeat, 10))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "peers", "run_peers.py"), "--repeat", str(peers_repeat)],
                          capture_output=True, text=True)
    sys.stderr.write(proc.stderr[-2000:] if proc.returncode else "")
    peers = {}
    skipped = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        if "skipped" in row:
            skipped.append("%s skipped: %s" % (row["peer"], row["skipped"]))
        elif "samples" in row:
            peers[(row["peer"], row["metric"])] = row
    own = {row["metric"]: row for row in bench_upgrade_process(bin_dir, repeat)}
    spans, wholes = bench_steps_200(binary)
    flowrunner = {
        "five-step flow, whole process": own["my-app upgrade hook, whole `flowrunner upgrade` process"]["samples"],
        "five-step flow, peak RSS of the process tree": own["peak RSS, engine + Python host (my-app upgrade)"]["samples"],
        "per-step overhead (200-step flow)": spans,
        "crash-to-resume (kill -9 mid-workflow)": bench_crash_resume(binary, peers_repeat),
    }
    units = {"five-step flow, whole process": "ms", "five-step flow, peak RSS of the process tree": "MiB",
             "per-step overhead (200-step flow)": "ms", "crash-to-resume (kill -9 mid-workflow)": "ms"}
    # Goals of issue 8: how many times better FlowRunner must be (ratio = peer / FlowRunner).
    goals = {("prefect", "five-step flow, whole process"): 50.0, ("dbos", "five-step flow, whole process"): 8.0,
             ("prefect", "five-step flow, peak RSS of the process tree"): 1.0, ("dbos", "five-step flow, peak RSS of the process tree"): 1.0,
             ("dbos", "per-step overhead (200-step flow)"): 5.0, ("dbos", "crash-to-resume (kill -9 mid-workflow)"): 1.0}
    names = {"prefect": "Prefect", "dbos": "DBOS"}
    rows = []
    for metric, samples in flowrunner.items():
        rows.append({"metric": "FlowRunner: " + metric, "samples": samples, "unit": units[metric], "goal": None})
        if metric.startswith("per-step"):
            rows.append({"metric": "FlowRunner: 200-step action, whole run / 200 (host start included)", "samples": wholes, "unit": "ms", "goal": None})
        for peer in ("prefect", "dbos"):
            row = peers.get((peer, metric))
            if not row:
                continue
            rows.append({"metric": "%s %s: %s" % (names[peer], row.get("version", ""), metric), "samples": row["samples"],
                         "unit": row["unit"], "goal": None})
            ratio = statistics.median(row["samples"]) / statistics.median(samples)
            goal = goals.get((peer, metric))
            rows.append({"metric": "  ratio %s / FlowRunner" % names[peer], "samples": [ratio], "unit": "x",
                         "goal": goal, "higher_is_better": True})
    for peer in ("prefect", "dbos"):
        row = peers.get((peer, "retry skips finished steps"))
        if row:
            rows.append({"metric": "%s: retry skips finished steps (1 yes, 0 no)" % names[peer], "samples": row["samples"], "unit": "bool", "goal": None})
    rows.append({"metric": "FlowRunner: retry skips finished steps (1 yes, 0 no)", "samples": [1], "unit": "bool", "goal": None})
    for note in skipped:
        rows.append({"metric": note, "samples": [0], "unit": "-", "goal": None})
    return rows


BENCHMARKS = {
    "peers": bench_peers,
    "upgrade": bench_upgrade_process,
    "floor": bench_floor,
    "steps": bench_steps,
    "validate": bench_validate_large_spec,
    "render": bench_render,
    "serve": bench_serve,
    "postgres": bench_postgres,
    "state-store": bench_state_store,
    "kubernetes": bench_kubernetes,
    "web": bench_web,
    "action-host": bench_action_host,
    "primitives": bench_primitives,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin-dir", required=True, help="directory of the release binaries (flowrunner, StateStoreProbe)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    rows = []
    for name in args.only or [name for name in BENCHMARKS if name != "peers"] + ["peers"]:
        for row in BENCHMARKS[name](args.bin_dir, args.repeat):
            row["median"] = statistics.median(row["samples"])
            row["p90"] = percentile(row["samples"], 0.9)
            if row["goal"] is None:
                row["pass"] = True
            elif row.get("higher_is_better"):
                row["pass"] = row["median"] >= row["goal"]
            else:
                row["pass"] = row["median"] <= row["goal"]
            row["benchmark"] = name
            rows.append(row)

    header = ("metric", "median", "p90", "unit", "goal", "result")
    table = [header] + [(r["metric"], f"{r['median']:.3f}", f"{r['p90']:.3f}", r["unit"],
                         "-" if r["goal"] is None else (f">= {r['goal']:g}" if r.get("higher_is_better") else f"< {r['goal']:g}"),
                         "report" if r["goal"] is None else ("pass" if r["pass"] else "FAIL")) for r in rows]
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    for index, line in enumerate(table):
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)))
        if index == 0:
            print("  ".join("-" * w for w in widths))

    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "rows": [{k: v for k, v in r.items() if k != "samples"} for r in rows]}, f, indent=2)
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
