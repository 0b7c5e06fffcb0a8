"""The controller loop: one thread that ticks every ``config.tick`` seconds
and runs, under the store lock, the simulated kubelet, the workload, Job,
Flux and Velero controllers, the garbage collector and the namespace
controller."""

from __future__ import annotations

import copy
import hashlib
import sys
import threading
import time
import traceback

from . import admission
from .flux import HelmReleaseController, SourceController
from .objects import meta, terminating, uid_of
from .resources import EVENTS, NAMESPACES
from .store import Store, now_iso
from .velero import VeleroController
from .workloads import DeploymentController, JobController, Kubelet, StatefulSetController


class EventRecorder:
    """core/v1 Events for the few things a user would look for (image pull
    failures, Job outcomes); one Event per object and reason."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sent: set = set()

    def reset(self):
        self.sent.clear()

    def record(self, obj, type_, reason, message, key=None):
        store = self.ctx.store
        md = meta(obj)
        dedupe = (md.get("uid"), key or reason)
        if dedupe in self.sent:
            return
        self.sent.add(dedupe)
        ns = md.get("namespace") or "default"
        nso = store.peek(NAMESPACES, "", ns)
        if nso is None or terminating(nso):
            return
        suffix = hashlib.sha256(f"{dedupe}{time.time()}".encode()).hexdigest()[:16]
        ts = now_iso()
        store.create_internal(EVENTS, ns, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md['name']}.{suffix}"},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": md["name"], "namespace": ns, "uid": md.get("uid"),
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_, "count": 1,
            "firstTimestamp": ts, "lastTimestamp": ts,
            "source": {"component": "kube-test-server"}, "reportingComponent": "kube-test-server"})


class GarbageCollector:
    """Deletes dependents whose owners are all gone (Background), and finishes
    Foreground deletions once no dependents are left."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.orphaned_since: dict[str, float] = {}

    def reset(self):
        self.orphaned_since.clear()

    def sync(self, now):
        store = self.ctx.store
        dependents: dict[str, list] = {}
        seen = set()
        for key in list(store.objects):
            rtype = store.rtype(key)
            for obj in list(store.items(key)):
                refs = meta(obj).get("ownerReferences") or []
                if not refs:
                    continue
                for r in refs:
                    dependents.setdefault(r.get("uid"), []).append((rtype, obj))
                if any(store.exists_uid(r.get("uid")) for r in refs):
                    continue
                uid = uid_of(obj)
                seen.add(uid)
                first = self.orphaned_since.setdefault(uid, now)
                if now - first >= self.ctx.config.gc_delay and not terminating(obj):
                    md = meta(obj)
                    store.delete(rtype, md.get("namespace"), md["name"], propagation="Background")
        for uid in [u for u in self.orphaned_since if u not in seen]:
            del self.orphaned_since[uid]
        # Foreground deletions
        for key in list(store.objects):
            rtype = store.rtype(key)
            for obj in list(store.items(key)):
                md = meta(obj)
                if not terminating(obj) or "foregroundDeletion" not in (md.get("finalizers") or []):
                    continue
                deps = [(rt, d) for rt, d in dependents.get(md["uid"], []) if store.exists_uid(uid_of(d))]
                if deps:
                    for rt, d in deps:
                        if not terminating(d):
                            dmd = meta(d)
                            store.delete(rt, dmd.get("namespace"), dmd["name"], propagation="Background")
                    continue
                new = copy.deepcopy(obj)
                new["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != "foregroundDeletion"]
                store.write(rtype, new, obj)


class NamespaceController:
    """A Terminating namespace: delete its content, then the namespace."""

    def __init__(self, ctx):
        self.ctx = ctx

    def reset(self):
        pass

    def sync(self, now):
        store = self.ctx.store
        for ns in list(store.items(NAMESPACES)):
            if not terminating(ns):
                continue
            name = meta(ns)["name"]
            left = 0
            for key in list(store.objects):
                rtype = store.rtype(key)
                if not rtype.namespaced:
                    continue
                for obj in list(store.items(key, name)):
                    left += 1
                    if not terminating(obj):
                        store.delete(rtype, name, meta(obj)["name"], propagation="Background")
            if left == 0:
                store.remove(NAMESPACES, ns)


class Context:
    """What every controller shares."""

    def __init__(self, store: Store, config, behaviours, charts, log=None):
        self.store = store
        self.config = config
        self.behaviours = behaviours
        self.charts = charts
        self.log = log or (lambda msg: print(f"kube-test-server: {msg}", file=sys.stderr, flush=True))
        self.events = EventRecorder(self)


class ControllerLoop:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        admission.register(ctx.store)
        self.kubelet = Kubelet(ctx)
        self.controllers = [
            self.kubelet,
            DeploymentController(ctx),
            StatefulSetController(ctx),
            JobController(ctx),
            SourceController(ctx),
            HelmReleaseController(ctx),
            VeleroController(ctx),
            GarbageCollector(ctx),
            NamespaceController(ctx),
        ]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def start(self):
        self._thread = threading.Thread(target=self._run, name="controllers", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def reset(self):
        with self.ctx.store.lock:
            for c in self.controllers:
                c.reset()
            self.ctx.events.reset()

    def tick(self):
        now = time.monotonic()
        with self.ctx.store.lock:
            for c in self.controllers:
                try:
                    c.sync(now)
                except Exception:  # a controller bug must not stop the loop
                    self.ctx.log(f"{type(c).__name__} failed:\n{traceback.format_exc()}")
            self.ticks += 1

    def _run(self):
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(max(0.005, self.ctx.config.tick))
