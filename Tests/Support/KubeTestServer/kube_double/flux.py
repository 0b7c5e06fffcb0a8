"""Simulated Flux source-controller and helm-controller (Velero is in velero.py)."""

from __future__ import annotations

import copy
import hashlib

from .charts import RenderError, config_digest, render
from .errors import ApiError
from .objects import find_condition, meta, remove_condition, set_condition, terminating, uid_of
from .resources import (DEPLOYMENTS, HELMRELEASES, HELMREPOSITORIES, NAMESPACES, OCIREPOSITORIES,
                        SERVICES, STATEFULSETS)
from .store import now_iso

FLUX_FINALIZER = "finalizers.fluxcd.io"
REQUESTED_AT = "reconcile.fluxcd.io/requestedAt"
WORKLOAD_KEYS = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "Service": SERVICES}


class SourceController:
    """HelmRepository / OCIRepository become Ready with an artifact."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.seen: dict = {}

    def reset(self):
        self.seen.clear()

    def sync(self, now):
        store = self.ctx.store
        for key in (HELMREPOSITORIES, OCIREPOSITORIES):
            for src in list(store.items(key)):
                md = meta(src)
                if terminating(src):
                    if md.get("finalizers"):
                        new = copy.deepcopy(src)
                        new["metadata"]["finalizers"] = []
                        store.write(store.rtype(key), new, src)
                    continue
                gen = md.get("generation", 1)
                if (src.get("status") or {}).get("observedGeneration") == gen:
                    continue
                first = self.seen.setdefault((md["uid"], gen), now)
                if now - first < self.ctx.config.source_delay:
                    continue
                self._ready(key, src)

    def _ready(self, key, src):
        spec = src.get("spec") or {}
        url = spec.get("url", "")
        digest = "sha256:" + hashlib.sha256(f"{url}|{spec.get('ref')}".encode()).hexdigest()
        if key == OCIREPOSITORIES:
            ref = spec.get("ref") or {}
            tag = ref.get("tag") or ref.get("semver") or "latest"
            revision = f"{tag}@{digest}"
        else:
            revision = digest
        md = meta(src)
        status = copy.deepcopy(src.get("status") or {})
        status.update({
            "observedGeneration": md.get("generation", 1), "url": url,
            "artifact": {"revision": revision, "digest": digest, "lastUpdateTime": now_iso(),
                         "path": f"{key[1][:-1]}/{md['namespace']}/{md['name']}/{digest[7:19]}.tar.gz",
                         "url": f"http://source-controller.flux-system.svc.cluster.local./"
                                f"{key[1][:-1]}/{md['namespace']}/{md['name']}/index.yaml"}})
        status["conditions"] = set_condition(status.get("conditions"), "Ready", "True", "Succeeded",
                                             f"stored artifact for revision '{revision}'",
                                             md.get("generation", 1))
        status["conditions"] = remove_condition(status["conditions"], "Reconciling")
        self.ctx.store.set_status(key, src, status)


class SourceError(Exception):
    def __init__(self, reason, message):
        super().__init__(message)
        self.reason, self.message = reason, message


class ReleaseMemory:
    def __init__(self):
        self.target = None          # (generation, requestedAt) of the attempt in progress
        self.started = 0.0
        self.done_target = None
        self.manifests: dict = {}   # (kind, name) -> manifest last applied
        self.namespace = None
        self.revision = 0


class HelmReleaseController:
    def __init__(self, ctx):
        self.ctx = ctx
        self.mem: dict[str, ReleaseMemory] = {}

    def reset(self):
        self.mem.clear()

    def sync(self, now):
        store = self.ctx.store
        present = set()
        for hr in list(store.items(HELMRELEASES)):
            present.add(uid_of(hr))
            try:
                self._sync_one(hr, now)
            except ApiError as e:  # a conflicting write: try again next tick
                self.ctx.log(f"helmrelease {meta(hr)['name']}: {e.message}")
        for uid in [u for u in self.mem if u not in present]:
            del self.mem[uid]

    # -------------------------------------------------------------- names

    @staticmethod
    def release_name(hr) -> str:
        spec = hr.get("spec") or {}
        if spec.get("releaseName"):
            return spec["releaseName"]
        if spec.get("targetNamespace"):
            return f"{spec['targetNamespace']}-{meta(hr)['name']}"
        return meta(hr)["name"]

    @staticmethod
    def target_namespace(hr) -> str:
        return (hr.get("spec") or {}).get("targetNamespace") or meta(hr)["namespace"]

    def resolve_chart(self, hr) -> tuple[str, str, str]:
        """(chart name, chart version, artifact revision) or SourceError."""
        store = self.ctx.store
        spec, ns = hr.get("spec") or {}, meta(hr)["namespace"]
        ref = spec.get("chartRef")
        if ref:
            kind, name = ref.get("kind"), ref.get("name")
            if kind != "OCIRepository":
                raise SourceError("InvalidChartReference",
                                  f"unsupported chartRef kind {kind!r} (this test double serves OCIRepository)")
            src = store.peek(OCIREPOSITORIES, ref.get("namespace") or ns, name)
            if src is None:
                raise SourceError("ArtifactFailed", f"could not get Source object: ocirepositories."
                                  f"source.toolkit.fluxcd.io \"{name}\" not found")
            if (find_condition(src, "Ready") or {}).get("status") != "True":
                raise SourceError("ArtifactFailed", f"OCIRepository '{ref.get('namespace') or ns}/{name}' "
                                  f"is not ready")
            url = (src.get("spec") or {}).get("url", "")
            chart = url.rstrip("/").rsplit("/", 1)[-1].split(":")[0]
            r = (src.get("spec") or {}).get("ref") or {}
            version = r.get("tag") or r.get("semver") or "latest"
            revision = ((src.get("status") or {}).get("artifact") or {}).get("revision", version)
            return chart, version, revision
        cspec = ((spec.get("chart") or {}).get("spec") or {})
        chart = cspec.get("chart")
        if not chart:
            raise SourceError("InvalidChartReference", "spec.chart.spec.chart is not set")
        sref = cspec.get("sourceRef") or {}
        if sref.get("kind", "HelmRepository") == "HelmRepository":
            sname = sref.get("name")
            src = store.peek(HELMREPOSITORIES, sref.get("namespace") or ns, sname)
            if src is None:
                raise SourceError("ArtifactFailed", f"could not get Source object: helmrepositories."
                                  f"source.toolkit.fluxcd.io \"{sname}\" not found")
            if (find_condition(src, "Ready") or {}).get("status") != "True":
                raise SourceError("ArtifactFailed", f"HelmRepository '{sref.get('namespace') or ns}/{sname}' "
                                  f"is not ready")
        version = cspec.get("version") or "*"
        return chart, version, version

    # -------------------------------------------------------------- reconcile

    def _sync_one(self, hr, now):
        store = self.ctx.store
        md = meta(hr)
        mem = self.mem.setdefault(md["uid"], ReleaseMemory())
        if terminating(hr):
            self._uninstall(hr, mem)
            return
        if FLUX_FINALIZER not in (md.get("finalizers") or []):
            new = copy.deepcopy(hr)
            new["metadata"]["finalizers"] = list(md.get("finalizers") or []) + [FLUX_FINALIZER]
            hr = store.write(store.rtype(HELMRELEASES), new, hr)
            md = meta(hr)
        if (hr.get("spec") or {}).get("suspend"):
            return
        gen = md.get("generation", 1)
        target = (gen, (md.get("annotations") or {}).get(REQUESTED_AT))
        if target == mem.done_target:
            return
        if target != mem.target:
            mem.target, mem.started = target, now
        upgrade = mem.revision > 0 or bool((hr.get("status") or {}).get("history"))
        action = "upgrade" if upgrade else "install"
        name, ns = md["name"], md["namespace"]
        b = self.ctx.behaviours
        stuck = b.find("helmrelease_stuck", name, ns, target=(md["uid"], target))
        if stuck:
            self._progressing(hr, target, stuck["message"] or
                              f"Running '{action}' action with timeout of 5m0s")
            return
        stale = b.find("helmrelease_stale_ready_then_fail", name, ns, target=(md["uid"], target))
        if stale:
            if now - mem.started < stale["stale_seconds"]:
                return                       # the old Ready=True stays, at the old generation
            self._fail(hr, mem, target, stale["reason"] if upgrade or stale["reason"] != "UpgradeFailed"
                       else "InstallFailed", stale["message"], stale["stalled"], action)
            return
        if now - mem.started < self.ctx.config.release_delay:
            self._progressing(hr, target, "Fulfilling prerequisites")
            return
        try:
            chart, version, revision = self.resolve_chart(hr)
        except SourceError as e:
            self._not_ready(hr, e.reason, e.message)
            return
        workloads = self.ctx.charts.get(chart)
        if workloads is None:
            self._not_ready(hr, "ArtifactFailed", f"chart '{chart}' not found in the test server's "
                                                  f"chart catalogue")
            return
        try:
            self._apply(hr, mem, chart, version, workloads)
        except (RenderError, ApiError, SourceError) as e:
            msg = getattr(e, "message", str(e))
            reason = "UpgradeFailed" if upgrade else "InstallFailed"
            self._fail(hr, mem, target, reason,
                       f"Helm {action} failed for release {self.target_namespace(hr)}/{self.release_name(hr)} "
                       f"with chart {chart}@{version}: {msg}", True, action, chart, version)
            return
        self._succeed(hr, mem, target, chart, version, revision, action)

    def _base_status(self, hr, target) -> dict:
        status = copy.deepcopy(hr.get("status") or {})
        gen, requested = target
        status["lastAttemptedGeneration"] = gen
        if requested:
            status["lastHandledReconcileAt"] = requested
        return status

    def _progressing(self, hr, target, message):
        gen = target[0]
        status = self._base_status(hr, target)
        conds = set_condition(status.get("conditions"), "Ready", "Unknown", "Progressing", message, gen, first=True)
        conds = set_condition(conds, "Reconciling", "True", "Progressing", message, gen)
        conds = remove_condition(conds, "Stalled")
        status["conditions"] = conds
        self.ctx.store.set_status(HELMRELEASES, hr, status)

    def _not_ready(self, hr, reason, message):
        gen = meta(hr).get("generation", 1)
        status = copy.deepcopy(hr.get("status") or {})
        conds = set_condition(status.get("conditions"), "Ready", "False", reason, message, gen, first=True)
        conds = set_condition(conds, "Reconciling", "True", "ProgressingWithRetry", message, gen)
        status["conditions"] = conds
        self.ctx.store.set_status(HELMRELEASES, hr, status)

    def _fail(self, hr, mem, target, reason, message, stalled, action, chart=None, version=None):
        gen = target[0]
        if chart is None:
            try:
                chart, version, _ = self.resolve_chart(hr)
            except SourceError:
                chart, version = "unknown", "unknown"
        if not message:
            message = (f"Helm {action} failed for release {self.target_namespace(hr)}/{self.release_name(hr)} "
                       f"with chart {chart}@{version}: context deadline exceeded")
        status = self._base_status(hr, target)
        status["observedGeneration"] = gen
        status["lastAttemptedRevision"] = version
        status["lastAttemptedConfigDigest"] = config_digest((hr.get("spec") or {}).get("values"))
        status["lastAttemptedReleaseAction"] = action
        status["failures"] = int(status.get("failures", 0)) + 1
        key = "upgradeFailures" if action == "upgrade" else "installFailures"
        status[key] = int(status.get(key, 0)) + 1
        conds = set_condition(status.get("conditions"), "Ready", "False", reason, message, gen, first=True)
        conds = set_condition(conds, "Released", "False", reason, message, gen)
        conds = remove_condition(conds, "Reconciling")
        if stalled:
            conds = set_condition(conds, "Stalled", "True", "RetriesExceeded",
                                  f"Failed to {action} after 1 attempt(s)", gen)
        status["conditions"] = conds
        history = status.get("history") or []
        entry = {"name": self.release_name(hr), "namespace": self.target_namespace(hr),
                 "version": mem.revision + 1, "status": "failed", "chartName": chart, "chartVersion": version,
                 "configDigest": status["lastAttemptedConfigDigest"], "firstDeployed": now_iso(),
                 "lastDeployed": now_iso()}
        status["history"] = ([entry] + history)[:5]
        mem.revision += 1
        mem.done_target = target
        self.ctx.store.set_status(HELMRELEASES, hr, status)

    def _succeed(self, hr, mem, target, chart, version, revision, action):
        gen = target[0]
        md = meta(hr)
        rel, tns = self.release_name(hr), self.target_namespace(hr)
        mem.revision += 1
        verb = "Helm upgrade" if action == "upgrade" else "Helm install"
        reason = "UpgradeSucceeded" if action == "upgrade" else "InstallSucceeded"
        message = f"{verb} succeeded for release {tns}/{rel}.v{mem.revision} with chart {chart}@{version}"
        status = self._base_status(hr, target)
        digest = config_digest((hr.get("spec") or {}).get("values"))
        status.update({"observedGeneration": gen, "lastAttemptedRevision": version,
                       "lastAttemptedConfigDigest": digest, "lastAttemptedReleaseAction": action,
                       "storageNamespace": tns})
        for k in ("failures", "installFailures", "upgradeFailures"):
            status.pop(k, None)
        if (hr.get("spec") or {}).get("chart"):
            status["helmChart"] = f"{md['namespace']}/{md['namespace']}-{md['name']}"
        history = [dict(h, status="superseded") if h.get("status") == "deployed" else h
                   for h in status.get("history") or []]
        entry = {"name": rel, "namespace": tns, "version": mem.revision, "status": "deployed",
                 "chartName": chart, "chartVersion": version, "appVersion": version,
                 "configDigest": digest, "digest": "sha256:" + hashlib.sha256(
                     f"{rel}{mem.revision}{digest}".encode()).hexdigest(),
                 "firstDeployed": (history[-1].get("firstDeployed") if history else now_iso()),
                 "lastDeployed": now_iso()}
        status["history"] = ([entry] + history)[:5]
        conds = set_condition(status.get("conditions"), "Ready", "True", reason, message, gen, first=True)
        conds = set_condition(conds, "Released", "True", reason, message, gen)
        conds = remove_condition(conds, "Reconciling")
        conds = remove_condition(conds, "Stalled")
        status["conditions"] = conds
        mem.done_target = target
        self.ctx.store.set_status(HELMRELEASES, hr, status)

    # -------------------------------------------------------------- workloads

    def _apply(self, hr, mem, chart, version, workloads):
        store = self.ctx.store
        md = meta(hr)
        rel, tns = self.release_name(hr), self.target_namespace(hr)
        ns_obj = store.peek(NAMESPACES, "", tns)
        if ns_obj is None:
            if ((hr.get("spec") or {}).get("install") or {}).get("createNamespace"):
                store.create_internal(NAMESPACES, None, {"metadata": {"name": tns}})
            else:
                raise SourceError("InstallFailed", f'create: failed to create: namespaces "{tns}" not found')
        manifests = render(chart, version, workloads, rel, tns, tns, (hr.get("spec") or {}).get("values") or {})
        new_map = {(m["kind"], m["metadata"]["name"]): m for m in manifests}
        # ownership check first: nothing is changed when one fails
        for (kind, name), m in new_map.items():
            live = store.peek(WORKLOAD_KEYS[kind], tns, name)
            if live is not None:
                ann = meta(live).get("annotations") or {}
                if ann.get("meta.helm.sh/release-name") != rel or \
                        ann.get("meta.helm.sh/release-namespace") != tns:
                    raise SourceError("InstallFailed", (
                        f'Unable to continue with install: {kind} "{name}" in namespace "{tns}" exists and '
                        f"cannot be imported into the current release: invalid ownership metadata; "
                        f'annotation validation error: key "meta.helm.sh/release-name" must equal "{rel}"'))
        for (kind, name), m in new_map.items():
            key = WORKLOAD_KEYS[kind]
            rtype = store.rtype(key)
            live = store.peek(key, tns, name)
            if live is None:
                store.create(rtype, tns, m)
                continue
            new = copy.deepcopy(live)
            nmd = new["metadata"]
            nmd["labels"] = dict(nmd.get("labels") or {}, **m["metadata"]["labels"])
            nmd["annotations"] = dict(nmd.get("annotations") or {}, **m["metadata"]["annotations"])
            spec = new.setdefault("spec", {})
            if kind == "Service":
                spec.update({k: m["spec"][k] for k in ("selector", "ports", "type")})
                store.update(rtype, tns, name, new)
                continue
            spec["template"] = m["spec"]["template"]
            spec["selector"] = m["spec"]["selector"]
            if "serviceName" in m["spec"]:
                spec["serviceName"] = m["spec"]["serviceName"]
            prev = mem.manifests.get((kind, name))
            if prev is None or prev["spec"].get("replicas") != m["spec"]["replicas"]:
                spec["replicas"] = m["spec"]["replicas"]    # Helm's three-way merge
            store.update(rtype, tns, name, new)
        for (kind, name), m in mem.manifests.items():
            if (kind, name) not in new_map:
                self._delete_workload(kind, mem.namespace or tns, name, rel)
        mem.manifests = new_map
        mem.namespace = tns

    def _delete_workload(self, kind, ns, name, rel):
        store = self.ctx.store
        key = WORKLOAD_KEYS[kind]
        live = store.peek(key, ns, name)
        if live is not None and (meta(live).get("annotations") or {}).get("meta.helm.sh/release-name") == rel:
            store.delete(store.rtype(key), ns, name, propagation="Background")

    def _uninstall(self, hr, mem):
        store = self.ctx.store
        rel = self.release_name(hr)
        for (kind, name) in list(mem.manifests):
            self._delete_workload(kind, mem.namespace or self.target_namespace(hr), name, rel)
        mem.manifests = {}
        fins = [f for f in meta(hr).get("finalizers") or [] if f != FLUX_FINALIZER]
        if fins != (meta(hr).get("finalizers") or []):
            new = copy.deepcopy(hr)
            new["metadata"]["finalizers"] = fins
            store.write(store.rtype(HELMRELEASES), new, hr)
