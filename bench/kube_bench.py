"""Benchmarks of the Kubernetes backend (issue 18) against the test API
server (Tests/Support/KubeTestServer): the API requests each primitive
sends, beside what kubectl sends for the same operation, and the my-app
upgrade as a whole process."""
import json
import os
import shutil
import ssl
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MY_APP = os.path.join(ROOT, "actions-examples", "my-app")
SERVER = os.path.join(ROOT, "Tests", "Support", "KubeTestServer", "kube_test_server.py")
CHARTS = {"my-app": [
    {"kind": "Deployment", "name": "{release}-server", "labels": {"app.kubernetes.io/name": "my-app", "app.kubernetes.io/instance": "{release}"},
     "image": "{values.image.repository}:{values.image.tag}", "containerName": "my-app"},
    {"kind": "StatefulSet", "name": "{release}-postgresql", "serviceName": "{release}-postgresql",
     "labels": {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "{release}"}, "image": "postgres:16"},
]}

# What kubectl sends for the same operation, counted from its verbs (each
# `-l` over `deploy,sts` lists both kinds; `kubectl wait` and `rollout
# status` get or list, then watch).
KUBECTL = {
    # annotate deploy,sts -l (2 lists + patch), scale deploy,sts -l (2 lists + patch of scale), wait --for=delete pod -l (list + watch)
    "stop_components": 8,
    # scale deploy,sts -l (2 lists + patch), annotate --overwrite (2 lists + patch), rollout status (get + watch)
    "start_components": 8,
    # get helmrelease, patch, wait --for=condition=Ready (get + watch), rollout status per kind (2 lists + 2 watches)
    "upgrade_deployment_version": 8,
    # get deploy,sts -l -o jsonpath (2 lists)
    "get_component_images": 2,
    # get deploy,sts -l for the env (2 lists), create job, wait --for=condition=complete (get + watch),
    # logs -f job/NAME (get job, list pods, log), get pod for the exit code
    "execute_commands": 9,
}

ACTIONS = {
    "stop_components": 'await stop_components(components=["server"], context=context)',
    "start_components": 'await start_components(components=["server"], context=context)',
    "upgrade_deployment_version": "await upgrade_deployment_version(target_version=target_version, context=context)",
    "get_component_images": 'await get_component_images(component="server", context=context)',
    "execute_commands": 'await execute_commands(["echo migrated"], image="my-app:1", env_from_component="server", context=context)',
}


class TestServer:
    def __init__(self, directory):
        charts = os.path.join(directory, "charts.json")
        with open(charts, "w") as f:
            json.dump(CHARTS, f)
        ready = os.path.join(directory, "ready.json")
        settings = ["tick=0.02", "pod_start_delay=0.02", "pod_ready_delay=0.05", "release_delay=0.05", "source_delay=0.02",
                    "pod_terminate_delay=0.02", "gc_delay=0.02"]
        argv = ["python3", SERVER, "serve", "--dir", os.path.join(directory, "certs"), "--port", "0", "--ready-file", ready, "--charts", charts]
        for setting in settings:
            argv += ["--set", setting]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not os.path.exists(ready):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("the test API server did not start")
            time.sleep(0.05)
        with open(ready) as f:
            info = json.load(f)
        self.url, self.kubeconfig = info["url"], info["kubeconfig"]
        self.context = ssl.create_default_context(cafile=info["ca"])
        self.client = ssl.create_default_context(cafile=info["ca"])
        certs = os.path.dirname(info["ca"])
        self.client.load_cert_chain(os.path.join(certs, "client.crt"), os.path.join(certs, "client.key"))

    def admin(self, method, path):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, context=self.context) as response:
            return json.loads(response.read())

    def api(self, method, path, body, content_type="application/merge-patch+json"):
        """A request to the API itself, with the test client certificate."""
        request = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode(),
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, context=self.client) as response:
            return json.loads(response.read())

    def scale_workload(self, namespace, name, replicas):
        """Scales a Deployment as a stop (remembering 1) or a start would, and waits until it has settled."""
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        self.api("PATCH", path, {"metadata": {"annotations": {"flowrunner.io/replicas": "1" if replicas == 0 else None}}})
        self.api("PATCH", path + "/scale", {"spec": {"replicas": replicas}})
        deadline = time.time() + 60
        while time.time() < deadline:
            pods = [p for p in self.admin("GET", f"/_test/objects?kind=Pod&namespace={namespace}")["items"]
                    if p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "my-app"]
            ready = [p for p in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                            for c in p.get("status", {}).get("conditions", []))]
            if (replicas == 0 and not pods) or (replicas > 0 and len(ready) == replicas):
                time.sleep(0.2)  # the Deployment's status follows its pods
                return
            time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bench_kubernetes(bin_dir, repeat):
    binary = os.path.join(bin_dir, "flowrunner")
    directory = tempfile.mkdtemp(prefix="flowrunner-kube-bench-")
    env = dict(os.environ, FLOWRUNNER_STATE=os.path.join(directory, "state.sqlite"))
    server = TestServer(directory)
    rows = []
    try:
        def run(*argv):
            subprocess.run([binary, *argv], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        run("clusters", "add", "lab", "--kubernetes", "--kubeconfig", server.kubeconfig,
            "--config", "chart_repository=oci://registry.test/charts", "--config", "ingress_class=nginx")
        # One driver per primitive, each upgrade calling only it: the requests of an upgrade are the primitive's.
        for index, (primitive, call) in enumerate(ACTIONS.items()):
            driver = os.path.join(directory, "driver-" + primitive)
            shutil.copytree(MY_APP, driver)
            with open(os.path.join(driver, "actions.py"), "w") as f:
                f.write("from styrmin_backend.actions import *\nfrom prefect import flow\n\n\n@flow\n"
                        "async def upgrade(context: GlobalContext, target_version: str):\n    " + call + "\n")
            with open(os.path.join(driver, "driver.styrmin.yml")) as f:
                spec = f.read().replace("name: my-app # must be unique", f"name: bench-{index} # must be unique")
            with open(os.path.join(driver, "driver.styrmin.yml"), "w") as f:
                f.write(spec)
            run("drivers", "load", driver)
            name = f"p{index}"
            run("deploy", name, "--driver", f"bench-{index}", "--app-version", "0.1.0", "--cluster", "lab")
            counts = []
            for attempt in range(3):
                # The component in the state the primitive changes (not counted): stopped to start, running to stop.
                if primitive == "start_components":
                    server.scale_workload(name, name + "-server", 0)
                elif primitive == "stop_components":
                    server.scale_workload(name, name + "-server", 1)
                server.admin("POST", "/_test/requests/reset")
                run("upgrade", name, "--to", ["0.2.0", "0.3.0", "0.4.0"][attempt])
                counts.append(len(server.admin("GET", "/_test/requests")["requests"]))
            rows.append({"metric": f"API requests: {primitive} (kubectl: {KUBECTL[primitive]})", "samples": counts, "unit": "reqs",
                         "goal": KUBECTL[primitive] + 0.5})

        run("drivers", "load", MY_APP)
        run("deploy", "shop", "--driver", "my-app", "--app-version", "0.1.0", "--cluster", "lab")
        walls = []
        versions = ["0.2.0", "0.1.0"]
        for index in range(min(repeat, 10) + 1):
            start = time.perf_counter()
            run("upgrade", "shop", "--to", versions[index % 2])
            if index > 0:
                walls.append((time.perf_counter() - start) * 1000)
        rows.append({"metric": "my-app upgrade on the test API server, whole process", "samples": walls, "unit": "ms", "goal": None})
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return rows
