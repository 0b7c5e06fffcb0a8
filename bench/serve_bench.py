"""Benchmarks of `flowrunner serve` (issue 16): hook runs per second through
HTTP with 4 workers, trigger latency (POST -> 202), memory of an idle serve,
and the same upgrades through the CLI for the ratio."""
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MY_APP = os.path.join(ROOT, "actions-examples", "my-app")


class Serve:
    """A `flowrunner serve --port 0` on a scratch state file (or a postgres:// URL)."""

    def __init__(self, binary, state, workers=4, extra=(), launcher=None):
        """`launcher`: the command that starts the binary (a profiler), [binary] when None."""
        self.process = subprocess.Popen(
            [*(launcher or [binary]), "serve", "--port", "0", "--workers", str(workers), "--log-level", "error", "--state", state, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"serve did not start: {line}{self.process.stdout.read()}")
        self.port = int(match.group(1))
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method, path, body=None):
        """One request on a kept-alive connection: (status, parsed body, seconds)."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        start = time.perf_counter()
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        return response.status, json.loads(data) if data else None, elapsed

    def rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def wait_idle(self, limit=600):
        """Waits until no run is queued, running or cancelling: asks for one
        run of each status (listing every busy run on each poll would load the
        server being measured)."""
        deadline = time.time() + limit
        while time.time() < deadline:
            if not any(self.call("GET", f"/v1/runs?status={status}&limit=1")[1]["runs"] for status in ("queued", "running", "cancelling")):
                return
            time.sleep(0.02)
        raise RuntimeError("runs did not finish")

    def deploy_my_app(self, count, driver=MY_APP):
        """Loads my-app (from `driver`, a directory holding it) and creates
        `count` deployments app0, app1, ... (their setups run); returns their
        names once every run has ended."""
        status, body, _ = self.call("POST", "/v1/drivers", {"path": driver})
        assert status in (200, 201), body
        names = [f"app{i}" for i in range(count)]
        for name in names:
            status, body, _ = self.call("POST", "/v1/deployments", {"name": name, "driver": "my-app", "app_version": "0.1.0"})
            assert status == 202, body
        self.wait_idle()
        return names

    def stop(self):
        self.connection.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bench_serve(bin_dir, repeat, deployments=20, upgrades_each=5):
    binary = os.path.join(bin_dir, "flowrunner")
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-serve-")
    state = os.path.join(directory, "state.sqlite")
    throughput, latencies, idle = [], [], []
    try:
        serve = Serve(binary, state)
        try:
            time.sleep(2)
            idle.append(serve.rss_mib())
            names = serve.deploy_my_app(deployments)
            rounds = max(1, min(repeat, 5))
            for round_number in range(rounds):
                start = time.perf_counter()
                for step in range(upgrades_each):
                    version = f"0.{2 + (round_number * upgrades_each + step) % 2}.0"
                    for name in names:
                        status, body, elapsed = serve.call("POST", f"/v1/deployments/{name}/hooks/upgrade", {"target_version": version})
                        assert status == 202, body
                        latencies.append(elapsed * 1000)
                serve.wait_idle()
                throughput.append(deployments * upgrades_each / (time.perf_counter() - start))
            time.sleep(2)
            idle.append(serve.rss_mib())
            failed = serve.call("GET", "/v1/runs?status=failed&limit=1")[1]["runs"]
            assert not failed, failed
        finally:
            serve.stop()
        env = dict(os.environ, FLOWRUNNER_STATE=state)
        cli = []
        for index in range(max(3, min(repeat, 10))):
            start = time.perf_counter()
            subprocess.run([binary, "upgrade", "app0", "--to", ["0.2.0", "0.3.0"][index % 2]], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cli.append(1 / (time.perf_counter() - start))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return [
        {"metric": "my-app upgrades through HTTP, 4 workers", "samples": throughput, "unit": "runs/s", "goal": 40.0, "higher_is_better": True},
        {"metric": "trigger latency POST hooks/upgrade -> 202 (p50 in median, p99 below)", "samples": latencies, "unit": "ms", "goal": None},
        {"metric": "trigger latency p99", "samples": [sorted(latencies)[int(0.99 * (len(latencies) - 1))]], "unit": "ms", "goal": 10.0},
        {"metric": "idle `serve` RSS (after start, after the load)", "samples": idle, "unit": "MiB", "goal": 25.0},
        {"metric": "the same upgrades one at a time through the CLI", "samples": cli, "unit": "runs/s", "goal": None},
    ]
