"""Benchmarks of the PostgreSQL state store (issue 20), on a private server
that Tests/Support/postgres-test-cluster starts (or $FLOWRUNNER_BENCH_POSTGRES_URL):

- claims per second with 1, 2 and 4 claiming processes (StateStoreProbe claim:
  claim, 0.2 ms of work, finish), and the 4/1 ratio;
- my-app upgrades per second with 1, 2 and 4 `serve` processes of 4 workers
  each, every job command taking 1 s on the simulated cluster (I/O-bound
  actions: the workers wait on the cluster, as for a real migration job,
  not on the CPU), and the 4/1 ratio (the scale-out figure);
- the cost of recording a step (begin + finish) on PostgreSQL and on SQLite;
- runs list (newest 50, and by deployment and status) over 1,000,000 runs."""
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from serve_bench import Serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "Tests", "Support", "postgres-test-cluster")


class Server:
    """The PostgreSQL server the benchmark uses: given, or started for it."""

    def __init__(self):
        self.directory = None
        self.url = os.environ.get("FLOWRUNNER_BENCH_POSTGRES_URL")
        if not self.url:
            exports = subprocess.run([CLUSTER, "start"], check=True, capture_output=True, text=True).stdout
            values = dict(line.replace("export ", "", 1).split("=", 1) for line in exports.splitlines() if line.startswith("export "))
            self.url, self.directory = values["FLOWRUNNER_TEST_POSTGRES_URL"], values["FLOWRUNNER_TEST_POSTGRES_DIR"]

    def psql(self, sql, database=None):
        url = self.database_url(database) if database else self.url
        return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], check=True, capture_output=True, text=True).stdout

    def database_url(self, name):
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    def create_database(self):
        name = "fr_bench_" + uuid.uuid4().hex
        self.psql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name):
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self):
        if self.directory:
            subprocess.run([CLUSTER, "stop", self.directory], check=False)


def _probe(bin_dir, *arguments):
    return subprocess.run([os.path.join(bin_dir, "StateStoreProbe"), *arguments], check=True, capture_output=True, text=True).stdout


def _json_rows(text):
    import json
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def claims_per_second(server, bin_dir, processes, runs=2000, deployments=200):
    database = server.create_database()
    try:
        url = server.database_url(database)
        _probe(bin_dir, "seed", url, str(deployments), str(runs))
        start = time.perf_counter()
        workers = [subprocess.Popen([os.path.join(bin_dir, "StateStoreProbe"), "claim", url, f"probe{i}"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(processes)]
        outputs = [worker.communicate() for worker in workers]
        elapsed = time.perf_counter() - start
        claimed = sum(out.count("claimed ") for out, _ in outputs)
        if claimed != runs or any(worker.returncode for worker in workers):
            raise RuntimeError(f"{processes} claimers claimed {claimed} of {runs}: {[err for _, err in outputs]}")
        return runs / elapsed
    finally:
        server.drop_database(database)


def upgrades_per_second(server, binary, processes, fixture, deployments=32, upgrades_each=3):
    database = server.create_database()
    url = server.database_url(database)
    servers = []
    try:
        for _ in range(processes):
            servers.append(Serve(binary, url, workers=4, extra=["--fixture", fixture]))
        first = servers[0]
        names = first.deploy_my_app(deployments)
        start = time.perf_counter()
        for step in range(upgrades_each):
            for index, name in enumerate(names):
                target = servers[index % processes]
                status, body, _ = target.call("POST", f"/v1/deployments/{name}/hooks/upgrade", {"target_version": f"0.{2 + step}.0"})
                assert status == 202, body
        first.wait_idle(limit=1800)
        rate = deployments * upgrades_each / (time.perf_counter() - start)
        failed = first.call("GET", "/v1/runs?status=failed&limit=1")[1]["runs"]
        assert not failed, failed
        return rate
    finally:
        for serve in servers:
            serve.stop()
        server.drop_database(database)


def runs_list_of_a_million(server, bin_dir):
    """Seeds two finished runs (of d0 and d1) through the store, copies each 499,999 times in SQL
    (triggers off for the copy), and times the store's runs list."""
    database = server.create_database()
    try:
        url = server.database_url(database)
        _probe(bin_dir, "seed", url, "2", "2")
        server.psql("UPDATE runs SET status = 'succeeded', started_at = created_at, ended_at = created_at", database)
        columns = [c for c in server.psql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs' AND column_name <> 'id' ORDER BY ordinal_position",
            database).split() if c]
        listed = ", ".join(columns)
        chosen = ", ".join(f"r.{c}" if c not in ("created_at", "idempotency_key") else
                           ("r.created_at + n" if c == "created_at" else "NULL") for c in columns)
        server.psql(f"SET session_replication_role = replica; "
                    f"INSERT INTO runs ({listed}) SELECT {chosen} FROM runs r, generate_series(1, 499999) AS n; ANALYZE runs", database)
        count = int(server.psql("SELECT count(*) FROM runs", database).strip())
        return _json_rows(_probe(bin_dir, "list-bench", url, f"{count:,} (PostgreSQL)"))
    finally:
        server.drop_database(database)


def bench_postgres(bin_dir, repeat):
    binary = os.path.join(bin_dir, "flowrunner")
    server = Server()
    directory = tempfile.mkdtemp(prefix="flowrunner-bench-pg-")
    rows = []
    try:
        rounds = max(1, min(repeat, 3))
        claims = {n: [claims_per_second(server, bin_dir, n) for _ in range(rounds)] for n in (1, 2, 4)}
        for n, samples in claims.items():
            rows.append({"metric": f"claims per second, {n} claiming process{'es' if n > 1 else ''} (PostgreSQL)",
                         "samples": samples, "unit": "claims/s", "goal": None})
        fixture = os.path.join(directory, "io-bound.yaml")
        with open(fixture, "w") as f:
            f.write('commands:\n  - {match: "*", duration: 1.0}\n')
        upgrades = {n: [upgrades_per_second(server, binary, n, fixture) for _ in range(rounds)] for n in (1, 2, 4)}
        for n, samples in upgrades.items():
            rows.append({"metric": f"my-app upgrades (1 s jobs), {n} serve process{'es' if n > 1 else ''} x 4 workers (PostgreSQL)",
                         "samples": samples, "unit": "runs/s", "goal": None})
        ratio = sorted(upgrades[4])[len(upgrades[4]) // 2] / sorted(upgrades[1])[len(upgrades[1]) // 2]
        rows.append({"metric": "scale-out: upgrades/s with 4 serve processes / with 1", "samples": [ratio], "unit": "x",
                     "goal": 2.5, "higher_is_better": True})
        step_database = server.create_database()
        try:
            postgres_steps = _json_rows(_probe(bin_dir, "step-bench", server.database_url(step_database), "PostgreSQL"))
        finally:
            server.drop_database(step_database)
        sqlite_steps = _json_rows(_probe(bin_dir, "step-bench", os.path.join(directory, "steps.sqlite"), "SQLite"))
        for row in postgres_steps + sqlite_steps:
            row["goal"] = None
            rows.append(row)
        pg_median = sorted(postgres_steps[0]["samples"])[len(postgres_steps[0]["samples"]) // 2]
        sqlite_median = sorted(sqlite_steps[0]["samples"])[len(sqlite_steps[0]["samples"]) // 2]
        rows.append({"metric": "step record cost, PostgreSQL / SQLite", "samples": [pg_median / sqlite_median], "unit": "x", "goal": None})
        for row in runs_list_of_a_million(server, bin_dir):
            row["goal"] = 5.0
            rows.append(row)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return rows
