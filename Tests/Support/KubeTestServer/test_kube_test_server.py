"""Self-test of the Kubernetes API test double.

Run from this folder:  python3 -m unittest -v
Starts kube_test_server.py as a subprocess (certificates made in a temp dir)
and talks to it over TLS with http.client. Every wait is generous and every
assertion is about an outcome, not a duration, so a loaded machine passes.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from urllib.parse import quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "kube_test_server.py")
WAIT = 45.0          # generous: a loaded 2-core machine

CHARTS = {
    "my-app": [
        {"kind": "Deployment", "name": "{release}-web",
         "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "{release}"},
         "replicas": "{values.web.replicas|1}",
         "image": "{values.image.repository}:{values.image.tag}",
         "env": "{values.web.env|}"},
        {"kind": "StatefulSet", "name": "{release}-db",
         "labels": {"app.kubernetes.io/name": "db", "app.kubernetes.io/instance": "{release}"},
         "replicas": 1, "image": "postgres:{values.db.version|16}"},
    ],
}


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode()) if raw else None
        except ValueError:
            self.json = None

    @property
    def text(self):
        return self.raw.decode()


class Client:
    def __init__(self, url, ca, cert=None, key=None, token=None):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.ctx = ssl.create_default_context(cafile=ca)
        if cert:
            self.ctx.load_cert_chain(cert, key)
        self.token = token

    def connect(self, timeout=WAIT):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def _headers(self, content_type=None, extra=None):
        h = {"Accept": "application/json"}
        if content_type:
            h["Content-Type"] = content_type
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(extra or {})
        return h

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        conn = self.connect()
        try:
            data = None
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            conn.request(method, path, body=data,
                         headers=self._headers(content_type if body is not None else None, headers))
            resp = conn.getresponse()
            raw = resp.read()
            return Response(resp.status, resp.headers, raw)
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body, kind="merge"):
        ct = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
              "strategic": "application/strategic-merge-patch+json"}[kind]
        return self.request("PATCH", path, body, content_type=ct)

    def delete(self, path, body=None):
        return self.request("DELETE", path, body)

    def stream(self, path, timeout=WAIT):
        """Open a streaming GET; returns (connection, response)."""
        conn = self.connect(timeout)
        conn.request("GET", path, headers=self._headers())
        return conn, conn.getresponse()


def read_line(resp):
    """One line of a chunked stream, b"" at its clean end. Built on read1(),
    which raises IncompleteRead when the stream is cut before its terminating
    chunk (readline() would hide that behind peek())."""
    buf = getattr(resp, "_pending", b"")
    while b"\n" not in buf:
        chunk = resp.read1(65536)
        if not chunk:
            resp._pending = b""
            return buf
        buf += chunk
    line, resp._pending = buf.split(b"\n", 1)
    return line + b"\n"


def read_events(resp, limit=None):
    """Read newline-delimited JSON events until the stream ends cleanly (or ``limit``)."""
    out = []
    while limit is None or len(out) < limit:
        line = read_line(resp)
        if not line:
            break
        if line.strip():
            out.append(json.loads(line))
    return out


def wait_until(fn, timeout=WAIT, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def deployment(name, replicas=1, image="nginx:1.25", labels=None, command=None):
    labels = labels or {"app": name}
    container = {"name": "main", "image": image}
    if command:
        container["command"] = command
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [container]}}}}


def job(name, script=None, image="busybox:1.36", deadline=None, backoff=0, command=None):
    container = {"name": "main", "image": image}
    if command is not None:
        container["command"] = command
    elif script is not None:
        container["command"] = ["/bin/sh", "-c", script]
    spec = {"backoffLimit": backoff,
            "template": {"metadata": {"labels": {"flowrunner.io/run": "r1"}},
                         "spec": {"restartPolicy": "Never", "containers": [container]}}}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def pvc(name, labels=None, size="1Gi"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}


def condition(obj, type_):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


class ServerProcess:
    def __init__(self, directory, *extra):
        self.dir = directory
        self.ready_file = os.path.join(directory, "ready.json")
        self.log_path = os.path.join(directory, "server.log")
        self.extra = list(extra)
        self.proc = None
        self.info = None

    def start(self):
        if os.path.exists(self.ready_file):
            os.remove(self.ready_file)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "serve", "--dir", os.path.join(self.dir, "certs"), "--port", "0",
             "--ready-file", self.ready_file, *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if os.path.exists(self.ready_file):
                with open(self.ready_file) as f:
                    self.info = json.load(f)
                return self.info
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"server did not start; log:\n{self.read_log()}")

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class ServerTestCase(unittest.TestCase):
    counter = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kube-test-server-")
        certs = os.path.join(cls.tmp, "certs")
        subprocess.run([sys.executable, SERVER, "certs", "--dir", certs, "--token", "s3cr3t-token"],
                       check=True, capture_output=True)
        charts = os.path.join(cls.tmp, "charts.json")
        with open(charts, "w") as f:
            json.dump(CHARTS, f)
        cls.server = ServerProcess(cls.tmp, "--charts", charts, "--set", "pod_ready_delay=0.2",
                                   "--set", "release_delay=0.2", "--history", "500")
        info = cls.server.start()
        cls.url = info["url"]
        cls.ca = os.path.join(certs, "ca.crt")
        cls.certs = certs
        cls.api = Client(cls.url, cls.ca, os.path.join(certs, "client.crt"), os.path.join(certs, "client.key"))
        cls.admin = Client(cls.url, cls.ca)

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        log = cls.server.read_log()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc != 0 or "Traceback" in log:
            raise AssertionError(f"server exited with {rc}; log:\n{log}")

    def setUp(self):
        self.admin.delete("/_test/faults")
        self.admin.delete("/_test/behaviours")
        self.ns = f"t{next(self.counter)}-{self._testMethodName[5:25].replace('_', '-').strip('-')}"
        r = self.api.post("/api/v1/namespaces", {"metadata": {"name": self.ns}})
        self.assertEqual(r.status, 201, r.text)

    # -- helpers
    def apps(self, resource="deployments", name=None, sub=None):
        p = f"/apis/apps/v1/namespaces/{self.ns}/{resource}"
        return p + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def core(self, resource, name=None, sub=None):
        p = f"/api/v1/namespaces/{self.ns}/{resource}"
        return p + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def jobs(self, name=None):
        return f"/apis/batch/v1/namespaces/{self.ns}/jobs" + (f"/{name}" if name else "")

    def pods(self, selector=None):
        path = self.core("pods") + (f"?labelSelector={quote(selector)}" if selector else "")
        r = self.api.get(path)
        self.assertEqual(r.status, 200, r.text)
        return r.json["items"]

    def create(self, path, obj):
        r = self.api.post(path, obj)
        self.assertEqual(r.status, 201, r.text)
        return r.json

    def wait_deployment_ready(self, name, replicas, resource="deployments"):
        def ready():
            d = self.api.get(self.apps(resource, name)).json
            st = d.get("status") or {}
            ok = (st.get("observedGeneration") == d["metadata"]["generation"]
                  and st.get("readyReplicas", 0) == replicas and st.get("updatedReplicas", 0) == replicas
                  and st.get("replicas", 0) == replicas)
            return d if ok else None
        return wait_until(ready, what=f"{resource}/{name} ready with {replicas}")

    def wait_job(self, name, type_):
        def done():
            j = self.api.get(self.jobs(name)).json
            c = condition(j, type_)
            return j if c and c["status"] == "True" else None
        return wait_until(done, what=f"job {name} {type_}")


class AuthAndBasicsTest(ServerTestCase):
    def test_client_certificate_token_and_refusals(self):
        self.assertEqual(self.api.get("/api/v1/namespaces").status, 200)
        token_client = Client(self.url, self.ca, token="s3cr3t-token")
        self.assertEqual(token_client.get(f"/api/v1/namespaces/{self.ns}").status, 200)
        for client in (Client(self.url, self.ca), Client(self.url, self.ca, token="wrong")):
            r = client.get("/api/v1/namespaces")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json["kind"], "Status")
            self.assertEqual(r.json["reason"], "Unauthorized")
            self.assertEqual(r.json["code"], 401)
        untrusted = Client(self.url, self.ca, os.path.join(self.certs, "untrusted-client.crt"),
                           os.path.join(self.certs, "untrusted-client.key"))
        try:
            status = untrusted.get("/api/v1/namespaces").status
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
            status = None
        self.assertIn(status, (None, 401))
        self.assertEqual(Client(self.url, self.ca).get("/healthz").status, 200)
        self.assertEqual(Client(self.url, self.ca).get("/version").json["major"], "1")

    def test_kubeconfig_has_two_users_and_contexts(self):
        with open(self.server.info["kubeconfig_json"]) as f:
            cfg = json.load(f)
        self.assertEqual(cfg["clusters"][0]["cluster"]["server"], self.url)
        users = {u["name"]: u["user"] for u in cfg["users"]}
        self.assertIn("client-certificate-data", users["kube-test-cert"])
        self.assertIn("client-key-data", users["kube-test-cert"])
        self.assertEqual(users["kube-test-token"]["token"], "s3cr3t-token")
        self.assertEqual({c["name"] for c in cfg["contexts"]}, {"kube-test", "kube-test-token"})
        with open(self.server.info["kubeconfig"]) as f:
            text = f.read()
        self.assertIn("certificate-authority-data:", text)
        self.assertIn(f'server: "{self.url}"', text)

    def test_namespace_lifecycle_and_errors(self):
        r = self.api.post("/api/v1/namespaces", {"metadata": {"name": self.ns}})
        self.assertEqual((r.status, r.json["reason"]), (409, "AlreadyExists"))
        self.assertEqual(r.json["details"]["name"], self.ns)
        r = self.api.get("/api/v1/namespaces/does-not-exist")
        self.assertEqual((r.status, r.json["reason"], r.json["status"]), (404, "NotFound", "Failure"))
        self.assertEqual(r.json["message"], 'namespaces "does-not-exist" not found')
        names = [n["metadata"]["name"] for n in self.api.get("/api/v1/namespaces").json["items"]]
        self.assertIn(self.ns, names)
        self.create(self.apps(), deployment("web"))
        self.create(self.core("persistentvolumeclaims"), pvc("data"))
        r = self.api.delete(f"/api/v1/namespaces/{self.ns}")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"]["phase"], "Terminating")
        r = self.api.post(self.apps(), deployment("late"))
        self.assertEqual((r.status, r.json["reason"]), (403, "Forbidden"))
        wait_until(lambda: self.api.get(f"/api/v1/namespaces/{self.ns}").status == 404, what="namespace gone")
        self.assertEqual(self.api.get(self.apps("deployments", "web")).status, 404)
        self.assertEqual(self.api.get(self.core("persistentvolumeclaims", "data")).status, 404)

    def test_malformed_and_unknown(self):
        r = self.api.request("POST", self.apps(), b"{not json")
        self.assertEqual((r.status, r.json["reason"]), (400, "BadRequest"))
        r = self.api.get(f"/apis/apps/v1/namespaces/{self.ns}/widgets")
        self.assertEqual((r.status, r.json["kind"]), (404, "Status"))
        r = self.api.get("/apis/nope.example/v1/things")
        self.assertEqual(r.status, 404)
        r = self.api.get(self.apps() + "?labelSelector=" + quote("a in (b"))
        self.assertEqual((r.status, r.json["reason"]), (400, "BadRequest"))
        r = self.api.post(self.apps(), {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "metadata": {"name": "nosel"}, "spec": {"template": {}}})
        self.assertEqual((r.status, r.json["reason"]), (422, "Invalid"))
        r = self.api.request("PATCH", self.apps("deployments", "x"), {"a": 1}, content_type="application/yaml")
        self.assertIn(r.status, (404, 415))
        self.assertEqual(self.api.get("/healthz").status, 200)  # still alive


class ObjectSemanticsTest(ServerTestCase):
    def test_create_get_list_with_selectors(self):
        self.create(self.apps(), deployment("a", labels={"app": "a", "tier": "web", "env": "prod"}))
        self.create(self.apps(), deployment("b", labels={"app": "b", "tier": "db", "env": "dev"}))
        self.create(self.apps(), deployment("c", labels={"app": "c", "tier": "web"}))
        d = self.api.get(self.apps("deployments", "a")).json
        md = d["metadata"]
        for f in ("uid", "creationTimestamp", "resourceVersion"):
            self.assertTrue(md.get(f), f)
        self.assertEqual(md["generation"], 1)
        self.assertEqual((d["kind"], d["apiVersion"]), ("Deployment", "apps/v1"))

        def names(sel):
            r = self.api.get(self.apps() + "?labelSelector=" + quote(sel))
            self.assertEqual(r.status, 200, r.text)
            return sorted(i["metadata"]["name"] for i in r.json["items"])
        self.assertEqual(names("tier=web"), ["a", "c"])
        self.assertEqual(names("tier==web,env=prod"), ["a"])
        self.assertEqual(names("env!=prod"), ["b", "c"])
        self.assertEqual(names("env"), ["a", "b"])
        self.assertEqual(names("!env"), ["c"])
        self.assertEqual(names("app in (a,b)"), ["a", "b"])
        self.assertEqual(names("app notin (a),tier=web"), ["c"])
        r = self.api.get(self.apps() + "?fieldSelector=metadata.name%3Db")
        self.assertEqual([i["metadata"]["name"] for i in r.json["items"]], ["b"])
        lst = self.api.get(self.apps()).json
        self.assertEqual(lst["kind"], "DeploymentList")
        self.assertGreaterEqual(int(lst["metadata"]["resourceVersion"]), int(md["resourceVersion"]))
        page = self.api.get(self.apps() + "?limit=2").json
        self.assertEqual(len(page["items"]), 2)
        rest = self.api.get(self.apps() + "?limit=2&continue=" + quote(page["metadata"]["continue"])).json
        self.assertEqual(len(rest["items"]), 1)
        r = self.api.post(self.apps(), deployment("a"))
        self.assertEqual((r.status, r.json["reason"]), (409, "AlreadyExists"))

    def test_update_conflict_generation_and_patches(self):
        d = self.create(self.apps(), deployment("web"))
        rv = d["metadata"]["resourceVersion"]
        r = self.api.patch(self.apps("deployments", "web"),
                           {"metadata": {"annotations": {"other.io/owner": "someone"}}})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["metadata"]["generation"], 1, "metadata change must not bump generation")
        stale = dict(d)
        stale["spec"] = dict(d["spec"], replicas=2)
        r = self.api.put(self.apps("deployments", "web"), stale)
        self.assertEqual((r.status, r.json["reason"]), (409, "Conflict"))
        self.assertIn("the object has been modified", r.json["message"])
        after_patch = self.api.get(self.apps("deployments", "web")).json["metadata"]["resourceVersion"]
        self.assertGreater(int(after_patch), int(rv))
        r = self.api.patch(self.apps("deployments", "web"),
                           {"metadata": {"annotations": {"flowrunner.io/replicas": "1"}}, "spec": {"replicas": 2}})
        self.assertEqual(r.json["metadata"]["generation"], 2)
        self.assertEqual(r.json["metadata"]["annotations"],
                         {"other.io/owner": "someone", "flowrunner.io/replicas": "1"})
        r = self.api.patch(self.apps("deployments", "web"),
                           [{"op": "test", "path": "/spec/replicas", "value": 2},
                            {"op": "replace", "path": "/spec/replicas", "value": 3}], kind="json")
        self.assertEqual((r.status, r.json["spec"]["replicas"]), (200, 3))
        r = self.api.patch(self.apps("deployments", "web"),
                           [{"op": "test", "path": "/spec/replicas", "value": 99}], kind="json")
        self.assertEqual(r.status, 422)
        r = self.api.patch(self.apps("deployments", "web"),
                           {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.26"}]}}}},
                           kind="strategic")
        c = r.json["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0]["image"], "nginx:1.26")
        self.assertIn("imagePullPolicy", c[0], "strategic merge keeps the container's other fields")
        current = self.api.get(self.apps("deployments", "web")).json
        current["spec"]["replicas"] = 0
        r = self.api.put(self.apps("deployments", "web"), current)
        self.assertEqual(r.status, 200, r.text)
        r = self.api.patch(self.apps("deployments", "web"),
                           {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}})
        self.assertEqual(r.status, 409)
        r = self.api.patch(self.apps("deployments", "missing"), {"spec": {}})
        self.assertEqual((r.status, r.json["details"]["kind"]), (404, "deployments"))

    def test_scale_subresource_pods_and_readiness(self):
        self.create(self.apps(), deployment("web", replicas=1))
        self.wait_deployment_ready("web", 1)
        s = self.api.get(self.apps("deployments", "web", "scale")).json
        self.assertEqual((s["kind"], s["apiVersion"], s["spec"]["replicas"]), ("Scale", "autoscaling/v1", 1))
        self.assertEqual(s["status"]["selector"], "app=web")
        s["spec"]["replicas"] = 3
        r = self.api.put(self.apps("deployments", "web", "scale"), s)
        self.assertEqual((r.status, r.json["spec"]["replicas"]), (200, 3), r.text)
        r = self.api.put(self.apps("deployments", "web", "scale"), s)   # stale resourceVersion
        self.assertEqual(r.status, 409)
        d = self.wait_deployment_ready("web", 3)
        self.assertEqual(d["metadata"]["generation"], 2)
        pods = self.pods("app=web")
        self.assertEqual(len(pods), 3)
        self.assertTrue(all(condition(p, "Ready")["status"] == "True" for p in pods))
        r = self.api.patch(self.apps("deployments", "web", "scale"), {"spec": {"replicas": 0}})
        self.assertEqual(r.status, 200, r.text)
        wait_until(lambda: self.pods("app=web") == [], what="pods gone after scale to 0")
        d = wait_until(lambda: (lambda d: d if d["status"].get("observedGeneration") == 3 else None)(
            self.api.get(self.apps("deployments", "web")).json), what="observed generation 3")
        self.assertNotIn("readyReplicas", d["status"])   # omitempty, as the real API
        r = self.api.patch(self.apps("deployments", "web", "scale"), {"spec": {"replicas": -1}})
        self.assertEqual(r.status, 422)

    def test_rollout_on_image_change_and_statefulset(self):
        self.create(self.apps(), deployment("web", replicas=2, image="nginx:1.25"))
        self.wait_deployment_ready("web", 2)
        self.api.patch(self.apps("deployments", "web"),
                       {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}}}},
                       kind="strategic")
        self.wait_deployment_ready("web", 2)

        def rolled():
            pods = self.pods("app=web")
            imgs = [p["spec"]["containers"][0]["image"] for p in pods]
            return imgs if imgs == ["nginx:1.27"] * 2 else None
        wait_until(rolled, what="pods rolled to the new image")
        sts = deployment("db", replicas=2, image="postgres:16")
        sts["kind"] = "StatefulSet"
        sts["spec"]["serviceName"] = "db"
        self.create(self.apps("statefulsets"), sts)
        self.wait_deployment_ready("db", 2, resource="statefulsets")
        self.assertEqual(sorted(p["metadata"]["name"] for p in self.pods("app=db")), ["db-0", "db-1"])
        r = self.api.put(self.apps("statefulsets", "db", "scale"),
                         {"kind": "Scale", "apiVersion": "autoscaling/v1",
                          "metadata": {"name": "db"}, "spec": {"replicas": 0}})
        self.assertEqual(r.status, 200, r.text)
        wait_until(lambda: self.pods("app=db") == [], what="statefulset pods gone")


class WatchTest(ServerTestCase):
    def test_watch_events_and_timeout(self):
        rv = self.api.get(self.apps()).json["metadata"]["resourceVersion"]
        conn, resp = self.api.stream(self.apps() + f"?watch=1&resourceVersion={rv}&timeoutSeconds=4")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.headers.get("Transfer-Encoding"), "chunked")
        self.create(self.apps(), deployment("w", replicas=1))
        self.api.patch(self.apps("deployments", "w", "scale"), {"spec": {"replicas": 2}})
        events = read_events(resp)          # ends when the server closes at timeoutSeconds
        conn.close()
        types = [e["type"] for e in events]
        self.assertEqual(types[0], "ADDED")
        self.assertIn("MODIFIED", types)
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertGreater(rvs[0], int(rv))
        self.assertTrue(all(e["object"]["metadata"]["name"] == "w" for e in events))
        self.assertTrue(any(e["object"]["spec"]["replicas"] == 2 for e in events))

    def test_watch_initial_state_selector_and_bookmarks(self):
        self.create(self.apps(), deployment("x", labels={"app": "x", "sel": "yes"}))
        conn, resp = self.api.stream(self.apps() + "?watch=true&labelSelector=sel%3Dyes"
                                     "&allowWatchBookmarks=true&timeoutSeconds=5")
        first = read_events(resp, 1)
        self.assertEqual((first[0]["type"], first[0]["object"]["metadata"]["name"]), ("ADDED", "x"))
        self.api.patch(self.apps("deployments", "x"), {"metadata": {"labels": {"sel": "no"}}})
        rest = read_events(resp)
        conn.close()
        types = [e["type"] for e in rest]
        self.assertIn("DELETED", types, "an object leaving the selector is DELETED for the watcher")
        self.assertIn("BOOKMARK", types)
        bm = next(e for e in rest if e["type"] == "BOOKMARK")
        self.assertTrue(bm["object"]["metadata"]["resourceVersion"])

    def test_expired_resource_version_gives_410(self):
        rv = self.api.get(self.apps()).json["metadata"]["resourceVersion"]
        self.create(self.apps(), deployment("e"))
        self.assertEqual(self.admin.post("/_test/compact", {}).status, 200)
        conn, resp = self.api.stream(self.apps() + f"?watch=1&resourceVersion={rv}&timeoutSeconds=10")
        events = read_events(resp)
        conn.close()
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0]["type"], "ERROR")
        st = events[0]["object"]
        self.assertEqual((st["kind"], st["code"], st["reason"]), ("Status", 410, "Expired"))
        fresh = self.api.get(self.apps()).json["metadata"]["resourceVersion"]
        conn, resp = self.api.stream(self.apps() + f"?watch=1&resourceVersion={fresh}&timeoutSeconds=2")
        self.assertEqual([e["type"] for e in read_events(resp) if e["type"] == "ERROR"], [])
        conn.close()


class JobTest(ServerTestCase):
    def test_job_completes_with_log_and_follow(self):
        self.create(self.jobs(), job("ok", "echo hello; sleep 2; echo done"))
        pod = wait_until(lambda: [p for p in self.pods("job-name=ok")
                                  if p["status"].get("phase") == "Running"], what="job pod running")[0]
        name = pod["metadata"]["name"]
        conn, resp = self.api.stream(self.core("pods", name, "log") + "?follow=true&container=main")
        self.assertEqual(resp.status, 200)
        lines = []
        while True:
            line = read_line(resp)
            if not line:
                break
            lines.append(line.decode().rstrip("\n"))
        conn.close()
        self.assertEqual(lines, ["hello", "done"])
        j = self.wait_job("ok", "Complete")
        self.assertEqual(j["status"].get("succeeded"), 1)
        self.assertNotIn("active", j["status"])
        p = self.api.get(self.core("pods", name)).json
        self.assertEqual(p["status"]["phase"], "Succeeded")
        self.assertEqual(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0)
        r = self.api.get(self.core("pods", name, "log"))
        self.assertEqual(r.text, "hello\ndone\n")
        self.assertEqual(self.api.get(self.core("pods", name, "log") + "?tailLines=1").text, "done\n")

    def test_job_fails_per_command(self):
        self.create(self.jobs(), job("bad", "echo start; exit 3; echo never"))
        self.create(self.jobs(), job("bad2", command=["false"]))
        j = self.wait_job("bad", "Failed")
        self.assertEqual(condition(j, "Failed")["reason"], "BackoffLimitExceeded")
        self.assertEqual(j["status"].get("failed"), 1)
        pod = self.pods("job-name=bad")[0]
        self.assertEqual(pod["status"]["phase"], "Failed")
        self.assertEqual(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3)
        self.assertEqual(self.api.get(self.core("pods", pod["metadata"]["name"], "log")).text, "start\n")
        self.wait_job("bad2", "Failed")
        r = self.api.post(self.jobs(), {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "norp"},
                                        "spec": {"template": {"spec": {"containers": [
                                            {"name": "c", "image": "busybox"}]}}}})
        self.assertEqual((r.status, r.json["reason"]), (422, "Invalid"))
        r = self.api.patch(self.jobs("bad"), {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "other:1"}]}}}}, kind="strategic")
        self.assertEqual(r.status, 422, "a Job's template is immutable")

    def test_deadline_exceeded(self):
        self.create(self.jobs(), job("slow", "sleep 600", deadline=1))
        j = self.wait_job("slow", "Failed")
        self.assertEqual(condition(j, "Failed")["reason"], "DeadlineExceeded")
        wait_until(lambda: self.pods("job-name=slow") == [], what="deadline pods deleted")

    def test_delete_propagation(self):
        for n in ("bg", "orphan", "default"):
            self.create(self.jobs(), job(n, "sleep 600"))
        for n in ("bg", "orphan", "default"):
            wait_until(lambda: self.pods(f"job-name={n}"), what=f"{n} pod")
        r = self.api.delete(self.jobs("bg"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                              "propagationPolicy": "Background"})
        self.assertEqual((r.status, r.json["kind"], r.json["status"]), (200, "Status", "Success"))
        r = self.api.delete(self.jobs("orphan") + "?propagationPolicy=Orphan")
        self.assertEqual(r.status, 200)
        r = self.api.delete(self.jobs("default"))
        self.assertEqual(r.status, 200)
        self.assertIn("child pods are preserved", r.headers.get("Warning", ""))
        wait_until(lambda: self.pods("job-name=bg") == [], what="background pods gone")
        self.assertEqual(self.api.get(self.jobs("bg")).status, 404)
        time.sleep(1)
        for n in ("orphan", "default"):
            pods = self.pods(f"job-name={n}")
            self.assertEqual(len(pods), 1, n)
            self.assertNotIn("ownerReferences", pods[0]["metadata"])


class HelmReleaseTest(ServerTestCase):
    def source_and_release(self, name="rel", tag="1.0.0", image_tag="1.25"):
        self.create(f"/apis/source.toolkit.fluxcd.io/v1/namespaces/{self.ns}/ocirepositories", {
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "my-app"},
            "spec": {"url": "oci://registry.example/charts/my-app", "ref": {"tag": tag}, "interval": "5m"}})
        return self.create(self.hr(), {
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": name, "annotations": {"other.io/keep": "yes"}},
            "spec": {"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "my-app"},
                     "values": {"image": {"repository": "nginx", "tag": image_tag}, "web": {"replicas": 2}}}})

    def hr(self, name=None):
        return f"/apis/helm.toolkit.fluxcd.io/v2/namespaces/{self.ns}/helmreleases" + (f"/{name}" if name else "")

    def wait_ready(self, name, generation, status="True"):
        def ready():
            h = self.api.get(self.hr(name)).json
            c = condition(h, "Ready")
            ok = (c and c["status"] == status and h["status"].get("observedGeneration") == generation
                  and c.get("observedGeneration") == generation)
            return h if ok else None
        return wait_until(ready, what=f"helmrelease {name} Ready={status} at generation {generation}")

    def test_install_upgrade_and_uninstall(self):
        self.source_and_release()
        h = self.wait_ready("rel", 1)
        self.assertEqual(condition(h, "Ready")["reason"], "InstallSucceeded")
        self.assertEqual(h["status"]["lastAttemptedRevision"], "1.0.0")
        self.assertIn("finalizers.fluxcd.io", h["metadata"]["finalizers"])
        d = self.wait_deployment_ready("rel-web", 2)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25")
        self.assertEqual(d["metadata"]["annotations"]["meta.helm.sh/release-name"], "rel")
        self.wait_deployment_ready("rel-db", 1, resource="statefulsets")
        # another writer's annotation on the workload survives the upgrade
        self.api.patch(self.apps("deployments", "rel-web"),
                       {"metadata": {"annotations": {"flowrunner.io/replicas": "2"}}})
        r = self.api.patch(self.hr("rel"), {"spec": {"values": {"image": {"tag": "1.26"}}}})
        self.assertEqual(r.json["metadata"]["generation"], 2)
        self.assertEqual(r.json["metadata"]["annotations"]["other.io/keep"], "yes")
        h = self.wait_ready("rel", 2)
        self.assertEqual(condition(h, "Ready")["reason"], "UpgradeSucceeded")
        d = self.wait_deployment_ready("rel-web", 2)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26")
        self.assertEqual(d["metadata"]["annotations"]["flowrunner.io/replicas"], "2")
        self.assertEqual(self.api.get(self.hr("rel")).json["metadata"]["annotations"]["other.io/keep"], "yes")
        r = self.api.delete(self.hr("rel"))
        self.assertEqual(r.status, 200)
        wait_until(lambda: self.api.get(self.hr("rel")).status == 404, what="release gone")
        wait_until(lambda: self.api.get(self.apps("deployments", "rel-web")).status == 404, what="uninstalled")

    def test_chart_service_and_claim_templates(self):
        self.admin.post("/_test/charts", {"with-db": [
            {"kind": "StatefulSet", "name": "{release}-db", "labels": {"app": "db", "release": "{release}"},
             "image": "postgres:16", "service": "{release}-db",
             "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                       "spec": {"accessModes": ["ReadWriteOnce"],
                                                "resources": {"requests": {"storage": "1Gi"}}}}]}]})
        self.create(f"/apis/source.toolkit.fluxcd.io/v1/namespaces/{self.ns}/ocirepositories", {
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "metadata": {"name": "with-db"},
            "spec": {"url": "oci://registry.example/charts/with-db", "ref": {"tag": "1.0.0"}}})
        self.create(self.hr(), {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "rel"},
                                "spec": {"chartRef": {"kind": "OCIRepository", "name": "with-db"}}})
        self.wait_ready("rel", 1)
        self.wait_deployment_ready("rel-db", 1, resource="statefulsets")
        svc = self.api.get(self.core("services", "rel-db")).json
        self.assertEqual(svc["spec"]["selector"], {"app": "db", "release": "rel"})
        self.assertEqual(svc["metadata"]["annotations"]["meta.helm.sh/release-name"], "rel")
        claim = self.api.get(self.core("persistentvolumeclaims", "data-rel-db-0")).json
        self.assertEqual(claim["metadata"]["labels"], {"app": "db", "release": "rel"})
        self.api.delete(self.hr("rel"))
        wait_until(lambda: self.api.get(self.core("services", "rel-db")).status == 404, what="service uninstalled")
        self.assertEqual(self.api.get(self.core("persistentvolumeclaims", "data-rel-db-0")).status, 200,
                         "Helm keeps a StatefulSet's claims")

    def test_v1beta2_ocirepository_is_the_same_object(self):
        self.source_and_release()
        r = self.api.get(f"/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/{self.ns}/ocirepositories/my-app")
        self.assertEqual((r.status, r.json["apiVersion"]), (200, "source.toolkit.fluxcd.io/v1beta2"))

    def test_stale_ready_then_fail(self):
        self.source_and_release()
        self.wait_ready("rel", 1)
        r = self.admin.post("/_test/behaviours", {"kind": "helmrelease_stale_ready_then_fail", "name": "rel",
                                                  "stale_seconds": 3, "message": "boom: upgrade failed"})
        self.assertEqual(r.status, 200, r.text)
        self.api.patch(self.hr("rel"), {"spec": {"values": {"image": {"tag": "9.9"}}}})
        h = self.api.get(self.hr("rel")).json
        self.assertEqual(h["metadata"]["generation"], 2)
        self.assertEqual(condition(h, "Ready")["status"], "True")
        self.assertEqual(h["status"]["observedGeneration"], 1, "the old Ready is still there")
        h = self.wait_ready("rel", 2, status="False")
        c = condition(h, "Ready")
        self.assertEqual((c["reason"], c["message"]), ("UpgradeFailed", "boom: upgrade failed"))
        self.assertEqual(condition(h, "Stalled")["status"], "True")
        d = self.api.get(self.apps("deployments", "rel-web")).json
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25")

    def test_stuck_then_healthy_without_spec_change(self):
        self.admin.post("/_test/behaviours", {"kind": "helmrelease_stuck", "name": "rel", "id": "stuck"})
        self.source_and_release()

        def progressing():
            c = condition(self.api.get(self.hr("rel")).json, "Ready")
            return c if c and c["status"] == "Unknown" and c["reason"] == "Progressing" else None
        wait_until(progressing, what="Ready=Unknown Progressing")
        time.sleep(1)
        self.assertTrue(progressing(), "still progressing while stuck")
        self.assertEqual(self.admin.delete("/_test/behaviours/stuck").status, 200)
        h = self.wait_ready("rel", 1)
        self.assertEqual(condition(h, "Ready")["reason"], "InstallSucceeded")

    def test_missing_source_and_unknown_chart(self):
        self.create(self.hr(), {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                                "metadata": {"name": "nosrc"},
                                "spec": {"chartRef": {"kind": "OCIRepository", "name": "absent"}}})

        def failed():
            c = condition(self.api.get(self.hr("nosrc")).json, "Ready")
            return c if c and c["status"] == "False" else None
        self.assertIn("not found", wait_until(failed, what="source failure")["message"])


class BehaviourTest(ServerTestCase):
    def test_image_pull_backoff(self):
        self.admin.post("/_test/behaviours", {"kind": "image_pull_backoff", "image": "registry.bad/*"})
        self.create(self.jobs(), job("pull", "echo hi", image="registry.bad/tool:1"))

        def backoff():
            pods = self.pods("job-name=pull")
            if not pods:
                return None
            st = pods[0]["status"]
            w = ((st.get("containerStatuses") or [{}])[0].get("state") or {}).get("waiting") or {}
            return (pods[0], w) if w.get("reason") == "ImagePullBackOff" else None
        pod, waiting = wait_until(backoff, what="ImagePullBackOff")
        self.assertEqual(pod["status"]["phase"], "Pending")
        self.assertIn("registry.bad/tool:1", waiting["message"])
        r = self.api.get(self.core("pods", pod["metadata"]["name"], "log"))
        self.assertEqual(r.status, 400)
        self.assertIn("waiting to start", r.json["message"])
        self.api.delete(self.jobs("pull"), {"propagationPolicy": "Background"})
        wait_until(lambda: self.pods("job-name=pull") == [], what="pull pods gone")

    def test_observed_generation_lag(self):
        self.create(self.apps(), deployment("lag", replicas=1))
        self.wait_deployment_ready("lag", 1)
        self.admin.post("/_test/behaviours", {"kind": "observed_generation_lag", "name": "lag", "seconds": 3})
        self.api.patch(self.apps("deployments", "lag"),
                       {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}},
                       kind="strategic")
        d = self.api.get(self.apps("deployments", "lag")).json
        self.assertEqual(d["metadata"]["generation"], 2)
        self.assertEqual(d["status"]["observedGeneration"], 1)
        self.assertEqual(d["status"]["readyReplicas"], 1)
        d = self.wait_deployment_ready("lag", 1)
        self.assertEqual(d["status"]["observedGeneration"], 2)
        wait_until(lambda: [p["spec"]["containers"][0]["image"] for p in self.pods("app=lag")] == ["nginx:2"],
                   what="new pods")

    def test_never_ready(self):
        self.admin.post("/_test/behaviours", {"kind": "never_ready", "name": "stuck-*"})
        self.create(self.apps(), deployment("stuck-web", replicas=1))
        wait_until(lambda: [p for p in self.pods("app=stuck-web") if p["status"].get("phase") == "Running"],
                   what="pod running")
        time.sleep(1)
        pod = self.pods("app=stuck-web")[0]
        self.assertEqual(condition(pod, "Ready")["status"], "False")
        self.assertEqual(condition(pod, "Ready")["reason"], "ContainersNotReady")
        d = self.api.get(self.apps("deployments", "stuck-web")).json
        self.assertNotIn("readyReplicas", d["status"])
        self.assertEqual(condition(d, "Available")["status"], "False")


class VeleroTest(ServerTestCase):
    def velero(self, resource, name=None):
        return f"/apis/velero.io/v1/namespaces/{self.ns}/{resource}" + (f"/{name}" if name else "")

    def wait_phase(self, resource, name, phases=("Completed", "Failed", "PartiallyFailed", "FailedValidation", "Processed")):
        def done():
            o = self.api.get(self.velero(resource, name)).json
            return o if (o.get("status") or {}).get("phase") in phases else None
        return wait_until(done, what=f"{resource}/{name} finished")

    def backup(self, name, **spec):
        body = {"includedNamespaces": [self.ns], "includedResources": ["persistentvolumeclaims", "persistentvolumes"],
                "snapshotVolumes": True}
        body.update(spec)
        return self.create(self.velero("backups"), {"apiVersion": "velero.io/v1", "kind": "Backup",
                                                    "metadata": {"name": name}, "spec": body})

    def restore(self, name, backup, **spec):
        body = {"backupName": backup, "includedNamespaces": [self.ns]}
        body.update(spec)
        return self.create(self.velero("restores"), {"apiVersion": "velero.io/v1", "kind": "Restore",
                                                     "metadata": {"name": name}, "spec": body})

    def test_backup_restore_and_delete_request(self):
        claims = self.core("persistentvolumeclaims")
        self.create(claims, pvc("data-db-0", {"app": "db"}))
        self.create(claims, pvc("b1-dump", {"flowrunner.io/backup": "b1"}))
        self.create(claims, pvc("cache", {"app": "web"}))
        self.backup("b1", orLabelSelectors=[{"matchLabels": {"app": "db"}}, {"matchLabels": {"flowrunner.io/backup": "b1"}}])
        b = self.wait_phase("backups", "b1")
        self.assertEqual(b["status"]["phase"], "Completed", b)
        self.assertEqual(b["status"]["progress"], {"totalItems": 2, "itemsBackedUp": 2})
        self.assertEqual(b["status"]["volumeSnapshotsCompleted"], 2)
        for name in ("b1-dump", "data-db-0"):
            self.assertEqual(self.api.delete(self.core("persistentvolumeclaims", name)).status, 200)
        # only the dump, by label
        self.restore("b1-r", "b1", labelSelector={"matchLabels": {"flowrunner.io/backup": "b1"}})
        self.assertEqual(self.wait_phase("restores", "b1-r")["status"]["phase"], "Completed")
        dump = self.api.get(self.core("persistentvolumeclaims", "b1-dump")).json
        self.assertEqual(dump["metadata"]["labels"]["velero.io/restore-name"], "b1-r")
        self.assertEqual(dump["status"]["phase"], "Bound")
        self.assertEqual(self.api.get(self.core("persistentvolumeclaims", "data-db-0")).status, 404)
        # everything it holds: what exists is skipped, with a warning
        self.restore("b1-all", "b1")
        r = self.wait_phase("restores", "b1-all")
        self.assertEqual((r["status"]["phase"], r["status"]["warnings"]), ("Completed", 1), r)
        self.assertEqual(self.api.get(self.core("persistentvolumeclaims", "data-db-0")).status, 200)
        self.restore("lost", "no-such-backup")
        r = self.wait_phase("restores", "lost")
        self.assertEqual(r["status"]["phase"], "FailedValidation")
        self.assertIn('backups.velero.io "no-such-backup" not found', r["status"]["validationErrors"][0])
        self.create(self.velero("deletebackuprequests"), {"apiVersion": "velero.io/v1", "kind": "DeleteBackupRequest",
                                                          "metadata": {"name": "b1-delete"}, "spec": {"backupName": "b1"}})
        self.assertEqual(self.wait_phase("deletebackuprequests", "b1-delete")["status"], {"phase": "Processed"})
        self.assertEqual(self.api.get(self.velero("backups", "b1")).status, 404)
        self.assertEqual(self.api.get(self.velero("restores", "b1-r")).status, 404, "its restores go with it")
        self.create(self.velero("deletebackuprequests"), {"apiVersion": "velero.io/v1", "kind": "DeleteBackupRequest",
                                                          "metadata": {"name": "again"}, "spec": {"backupName": "b1"}})
        self.assertEqual(self.wait_phase("deletebackuprequests", "again")["status"]["errors"], ["backup not found"])

    def test_velero_fails_behaviour(self):
        r = self.admin.post("/_test/behaviours", {"kind": "velero_fails", "phase": "Exploded"})
        self.assertEqual(r.status, 400, r.text)
        self.admin.post("/_test/behaviours", {"kind": "velero_fails", "name": "bad-*", "reason": "snapshotter exploded"})
        self.admin.post("/_test/behaviours", {"kind": "velero_fails", "resource": "restores", "phase": "PartiallyFailed"})
        self.backup("bad-1")
        self.backup("good")
        b = self.wait_phase("backups", "bad-1")
        self.assertEqual((b["status"]["phase"], b["status"]["failureReason"]), ("Failed", "snapshotter exploded"))
        self.assertNotIn("progress", b["status"])
        self.assertEqual(self.wait_phase("backups", "good")["status"]["phase"], "Completed")
        self.restore("good-r", "good")
        r = self.wait_phase("restores", "good-r")
        self.assertEqual((r["status"]["phase"], r["status"]["errors"]), ("PartiallyFailed", 1))
        self.restore("bad-r", "bad-1")
        self.assertIn("not in phase Completed", self.wait_phase("restores", "bad-r")["status"]["validationErrors"][0])

    def test_both_selectors_fail_validation(self):
        self.backup("both", labelSelector={"matchLabels": {"a": "b"}}, orLabelSelectors=[{"matchLabels": {"c": "d"}}])
        b = self.wait_phase("backups", "both")
        self.assertEqual(b["status"]["phase"], "FailedValidation")
        self.assertIn("only one can be specified", b["status"]["validationErrors"][0])


class FaultTest(ServerTestCase):
    def test_status_faults_retry_after_and_nth(self):
        path_rx = f"/namespaces/{self.ns}/deployments$"
        self.admin.post("/_test/faults", [
            {"id": "tmr", "method": "GET", "path": path_rx, "action": "status", "code": 429, "retry_after": 2},
            {"id": "ise", "method": "POST", "path": path_rx, "action": "status", "code": 500, "skip": 1},
        ])
        r = self.api.get(self.apps())
        self.assertEqual((r.status, r.json["reason"]), (429, "TooManyRequests"))
        self.assertEqual(r.headers.get("Retry-After"), "2")
        self.assertEqual(r.json["details"]["retryAfterSeconds"], 2)
        self.assertEqual(self.api.get(self.apps()).status, 200)
        self.assertEqual(self.api.post(self.apps(), deployment("one")).status, 201)
        r = self.api.post(self.apps(), deployment("two"))
        self.assertEqual((r.status, r.json["reason"]), (500, "InternalError"))
        self.assertEqual(self.api.post(self.apps(), deployment("two")).status, 201)
        faults = {f["id"]: f for f in self.admin.get("/_test/faults").json["faults"]}
        self.assertEqual((faults["tmr"]["fired"], faults["ise"]["fired"], faults["ise"]["seen"]), (1, 1, 2))
        self.admin.post("/_test/faults", {"method": "PUT", "path": path_rx[:-1] + "/one$", "code": 409,
                                          "reason": "Conflict"})
        d = self.api.get(self.apps("deployments", "one")).json
        r = self.api.put(self.apps("deployments", "one"), d)
        self.assertEqual((r.status, r.json["reason"]), (409, "Conflict"))

    def test_drop_and_delay(self):
        self.create(self.apps(), deployment("d"))
        self.admin.post("/_test/faults", {"method": "GET", "path": f"/{self.ns}/deployments/d$", "action": "drop"})
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, ssl.SSLError, OSError)):
            self.api.get(self.apps("deployments", "d"))
        self.assertEqual(self.api.get(self.apps("deployments", "d")).status, 200)
        self.admin.post("/_test/faults", {"method": "GET", "path": f"/{self.ns}/deployments$",
                                          "action": "delay", "delay": 0.5})
        t = time.monotonic()
        self.assertEqual(self.api.get(self.apps()).status, 200)
        self.assertGreaterEqual(time.monotonic() - t, 0.5)

    def test_drop_watch_after_events_and_expire(self):
        self.create(self.apps(), deployment("a"))
        self.create(self.apps(), deployment("b"))
        self.admin.post("/_test/faults", {"path": f"/{self.ns}/deployments$", "query": "watch=1",
                                          "action": "drop", "after_events": 1})
        conn, resp = self.api.stream(self.apps() + "?watch=1&timeoutSeconds=20")
        first = read_events(resp, 1)[0]
        self.assertEqual(first["type"], "ADDED")
        # the stream is cut after one event: reading on must fail, not end cleanly
        with self.assertRaises((http.client.IncompleteRead, ConnectionResetError, ssl.SSLError)):
            read_events(resp)
        conn.close()
        rv = self.api.get(self.apps()).json["metadata"]["resourceVersion"]
        self.admin.post("/_test/faults", {"path": f"/{self.ns}/deployments$", "watch": True, "action": "expire"})
        conn, resp = self.api.stream(self.apps() + f"?watch=1&resourceVersion={rv}&timeoutSeconds=20")
        events = read_events(resp)
        conn.close()
        self.assertEqual([(e["type"], e["object"]["code"]) for e in events], [("ERROR", 410)])
        conn, resp = self.api.stream(self.apps() + f"?watch=1&resourceVersion={rv}&timeoutSeconds=1")
        self.assertEqual([e for e in read_events(resp) if e["type"] == "ERROR"], [])
        conn.close()
        self.admin.post("/_test/faults", {"method": "GET", "path": f"/{self.ns}/deployments$", "watch": False,
                                          "action": "expire"})
        r = self.api.get(self.apps() + "?limit=1&continue=abc")
        self.assertEqual((r.status, r.json["reason"]), (410, "Expired"))

    def test_request_log_objects_seed_and_charts(self):
        self.admin.post("/_test/requests/reset", {})
        self.api.get(self.apps())
        self.api.get(self.apps())
        self.api.get(self.apps("deployments", "nope"))
        reqs = self.admin.get("/_test/requests?path=" + quote(f"/namespaces/{self.ns}/")).json["requests"]
        self.assertEqual([(r["method"], r["verb"], r["status"]) for r in reqs],
                         [("GET", "list", 200), ("GET", "list", 200), ("GET", "get", 404)])
        self.assertEqual(reqs[0]["resource"], "deployments")
        seeded = deployment("seeded", replicas=1, labels={"app.kubernetes.io/component": "api"})
        seeded["metadata"]["namespace"] = f"{self.ns}-seed"
        seeded["metadata"]["annotations"] = {"flowrunner.io/replicas": "1"}
        r = self.admin.post("/_test/objects", {"items": [seeded]})
        self.assertEqual(r.status, 200, r.text)
        objs = self.admin.get(f"/_test/objects?kind=Deployment&namespace={self.ns}-seed").json["items"]
        self.assertEqual([o["metadata"]["name"] for o in objs], ["seeded"])
        wait_until(lambda: self.api.get(f"/api/v1/namespaces/{self.ns}-seed/pods").json["items"],
                   what="seeded deployment's pod")
        charts = self.admin.get("/_test/charts").json["charts"]
        self.assertIn("my-app", charts)
        r = self.admin.post("/_test/faults", {"action": "explode"})
        self.assertEqual(r.status, 400)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_ends_streams_and_exits_zero(self):
        tmp = tempfile.mkdtemp(prefix="kube-test-server-stop-")
        try:
            server = ServerProcess(tmp)          # certificates made on the fly by `serve`
            info = server.start()
            certs = os.path.join(tmp, "certs")
            with open(os.path.join(certs, "token")) as f:
                token = f.read().strip()
            api = Client(info["url"], os.path.join(certs, "ca.crt"), token=token)
            admin = Client(info["url"], os.path.join(certs, "ca.crt"))
            self.assertEqual(api.post("/api/v1/namespaces", {"metadata": {"name": "gone"}}).status, 201)
            rv = int(api.get("/api/v1/namespaces").json["metadata"]["resourceVersion"])
            self.assertEqual(admin.post("/_test/reset", {}).status, 200)
            self.assertEqual(api.get("/api/v1/namespaces/gone").status, 404)
            self.assertGreater(int(api.get("/api/v1/namespaces").json["metadata"]["resourceVersion"]), rv)
            self.assertEqual(admin.post("/_test/config", {"no_such_setting": 1}).status, 400)
            self.assertEqual(admin.post("/_test/config", [1, 2]).status, 400)
            conn, resp = api.stream("/api/v1/namespaces?watch=1&timeoutSeconds=300")
            self.assertEqual(read_events(resp, 1)[0]["type"], "ADDED")
            result = {}

            def drain():
                try:
                    result["events"] = read_events(resp)   # raises unless the stream ends cleanly
                except Exception as e:  # noqa: BLE001
                    result["error"] = e
            t = threading.Thread(target=drain)
            t.start()
            rc = server.stop()
            t.join(WAIT)
            conn.close()
            self.assertEqual(rc, 0, server.read_log())
            self.assertFalse(t.is_alive())
            self.assertIn("events", result, f"the watch did not end cleanly: {result}")
            self.assertNotIn("Traceback", server.read_log())
            self.assertIn("stopped", server.read_log())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
