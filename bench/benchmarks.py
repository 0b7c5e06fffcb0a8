#!/usr/bin/env python3
"""FlowRunner benchmarks: each measures one goal from the issues and reports
median and p90 against it. Run through bench/run (which builds release)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
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
        proc = subprocess.run([os.path.join(bin_dir, "StateStoreProbe"), "bench", os.path.join(directory, "bench.sqlite")],
                              capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    rows = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        row["goal"] = goals.get(row["metric"])
        rows.append(row)
    return rows


def bench_action_host(bin_dir, repeat):
    """Cold start, round trip and 10,000 calls through the real Python host."""
    goals = {
        "host cold start (spawn to first primitive call)": 50.0,
        "primitive round trip through the bridge (no cluster work)": 150.0,
        "10,000 primitive calls in one action (whole action)": 2.0,
    }
    proc = subprocess.run([os.path.join(bin_dir, "ActionHostProbe"), os.path.join(HERE, "fixtures", "host-driver")],
                          capture_output=True, text=True, check=True)
    rows = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        row["goal"] = goals.get(row["metric"])
        rows.append(row)
    return rows


def bench_primitives(bin_dir, repeat):
    """Each primitive on the simulated cluster, state in a real state store."""
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-")
    try:
        proc = subprocess.run([os.path.join(bin_dir, "PrimitivesProbe"), os.path.join(os.path.dirname(HERE), "actions-examples", "my-app"),
                               os.path.join(directory, "bench.sqlite")], capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    rows = []
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        row["goal"] = 200.0
        rows.append(row)
    return rows


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


BENCHMARKS = {
    "validate": bench_validate_large_spec,
    "state-store": bench_state_store,
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
    for name in args.only or sorted(BENCHMARKS):
        for row in BENCHMARKS[name](args.bin_dir, args.repeat):
            row["median"] = statistics.median(row["samples"])
            row["p90"] = percentile(row["samples"], 0.9)
            row["pass"] = row["goal"] is None or row["median"] <= row["goal"]
            row["benchmark"] = name
            rows.append(row)

    header = ("metric", "median", "p90", "unit", "goal", "result")
    table = [header] + [(r["metric"], f"{r['median']:.3f}", f"{r['p90']:.3f}", r["unit"],
                         "-" if r["goal"] is None else f"< {r['goal']:g}",
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
