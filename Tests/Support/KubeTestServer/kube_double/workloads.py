"""Simulated kubelet, Deployment, StatefulSet and Job controllers."""

from __future__ import annotations

import copy
import hashlib
import math
import re

from .objects import (controller_ref, meta, omit_zero, owner_ref, pod_is_ready,
                      set_condition, template_hash, terminating, uid_of)
from .resources import DEPLOYMENTS, JOBS, NAMESPACES, PODS, STATEFULSETS
from .simulation import ContainerRun
from .store import now_iso, random_suffix

NODE_NAME = "kts-node-1"
HOST_IP = "10.0.0.1"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PodRuntime:
    """What the simulated kubelet knows about one pod."""

    def __init__(self, pod: dict, now: float, ip: str, sleep_scale: float):
        md, spec = meta(pod), pod.get("spec") or {}
        self.uid, self.namespace, self.name = md["uid"], md.get("namespace", ""), md["name"]
        self.created = now
        self.ip = ip
        self.restart_policy = spec.get("restartPolicy", "Always")
        self.server_mode = self.restart_policy == "Always"
        ref = controller_ref(pod)
        self.workload_name = ref["name"] if ref else md["name"]
        self.containers: list[ContainerRun] = []
        for c in spec.get("containers") or []:
            env = {e["name"]: str(e.get("value", "")) for e in c.get("env") or []
                   if isinstance(e, dict) and e.get("name")}
            self.containers.append(ContainerRun(c.get("name", ""), c.get("image", ""), c.get("command"),
                                                c.get("args"), env, self.server_mode, sleep_scale))
        self.started: float | None = None
        self.start_wall = now_iso()
        self.c_started_wall: dict[str, str] = {}
        self.c_started: dict[str, float] = {}
        self.c_finished_wall: dict[str, str] = {}
        self.last_state: dict[str, dict] = {}
        self.crash_until: dict[str, float] = {}
        self.pull: list | None = None          # [image, since, message]
        self.done = False
        self.terminating_since: float | None = None
        self.events_sent: set = set()

    def container(self, name: str | None) -> ContainerRun | None:
        for c in self.containers:
            if name is None or c.name == name:
                return c
        return None


class Kubelet:
    """Runs every pod: scheduling, image pulls, container programs, readiness,
    graceful termination."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.pods: dict[str, PodRuntime] = {}
        self._ip = 0

    def reset(self):
        self.pods.clear()

    def _next_ip(self) -> str:
        self._ip += 1
        return f"10.244.{(self._ip // 250) % 250}.{self._ip % 250 + 2}"

    def sync(self, now: float):
        store, cfg = self.ctx.store, self.ctx.config
        seen = set()
        changed = False
        for pod in list(store.items(PODS)):
            uid = uid_of(pod)
            seen.add(uid)
            rt = self.pods.get(uid)
            if rt is None:
                rt = self.pods[uid] = PodRuntime(pod, now, self._next_ip(), cfg.sleep_scale)
            if terminating(pod):
                changed |= self._terminate(pod, rt, now)
                continue
            if rt.done:
                continue
            changed |= self._advance(pod, rt, now)
            self._write(pod, rt, now)
        for uid in [u for u in self.pods if u not in seen]:
            del self.pods[uid]
            changed = True
        if changed:
            store.notify()

    def _advance(self, pod, rt: PodRuntime, now) -> bool:
        cfg, behaviours = self.ctx.config, self.ctx.behaviours
        changed = False
        if rt.started is None:
            hit = behaviours.find_image([c.image for c in rt.containers], rt.namespace, target=rt.uid)
            if hit:
                b, img = hit
                if rt.pull is None or rt.pull[0] != img:
                    msg = b["message"] or (f'failed to pull and unpack image "{img}": failed to resolve '
                                           f'reference "{img}": not found')
                    rt.pull = [img, now, msg]
                    self.ctx.events.record(pod, "Warning", "Failed",
                                           f'Failed to pull image "{img}": {msg}', key="pull-failed")
                elif now - rt.pull[1] >= cfg.image_pull_error_delay:
                    self.ctx.events.record(pod, "Warning", "BackOff", f'Back-off pulling image "{img}"',
                                           key="pull-backoff")
                return False
            rt.pull = None
            if now - rt.created < cfg.pod_start_delay:
                return False
            rt.started = now
            for c in rt.containers:
                rt.c_started_wall[c.name] = now_iso()
                rt.c_started[c.name] = now
            changed = True
        for c in rt.containers:
            if c.name in rt.crash_until:
                if now < rt.crash_until[c.name]:
                    continue
                del rt.crash_until[c.name]
                c.restart_count += 1
                c.reset_program()
                rt.c_started_wall[c.name] = now_iso()
                rt.c_started[c.name] = now
                rt.c_finished_wall.pop(c.name, None)
                changed = True
            if c.finished:
                continue
            changed |= c.step(now)
            if c.finished:
                rt.c_finished_wall[c.name] = now_iso()
                if rt.server_mode:
                    rt.last_state[c.name] = self._terminated(rt, c)
                    rt.crash_until[c.name] = now + cfg.crash_backoff
        if not rt.server_mode and rt.containers and all(c.finished for c in rt.containers):
            rt.done = True
        return changed

    def _terminated(self, rt, c) -> dict:
        return {"exitCode": c.exit_code, "reason": "Completed" if c.exit_code == 0 else "Error",
                "startedAt": rt.c_started_wall.get(c.name), "finishedAt": rt.c_finished_wall.get(c.name),
                "containerID": self._container_id(rt, c)}

    @staticmethod
    def _container_id(rt, c) -> str:
        return "containerd://" + _sha(f"{rt.uid}/{c.name}/{c.restart_count}")[:64]

    def _container_ready(self, pod, rt, c, now, never_ready) -> bool:
        if rt.started is None or c.finished or c.name in rt.crash_until:
            return False
        if not rt.server_mode:
            return True
        return not never_ready and now - rt.created >= self.ctx.config.pod_ready_delay

    def _status(self, pod, rt: PodRuntime, now) -> dict:
        cfg = self.ctx.config
        old = pod.get("status") or {}
        never_ready = rt.server_mode and self.ctx.behaviours.find(
            "never_ready", rt.workload_name, rt.namespace, target=rt.uid) is not None
        statuses = []
        for c in rt.containers:
            st = {"name": c.name, "image": c.image, "imageID": "", "ready": False,
                  "restartCount": c.restart_count, "started": False, "lastState": {}}
            if rt.started is None:
                if rt.pull:
                    backoff = now - rt.pull[1] >= cfg.image_pull_error_delay
                    st["state"] = {"waiting": {
                        "reason": "ImagePullBackOff" if backoff else "ErrImagePull",
                        "message": (f'Back-off pulling image "{rt.pull[0]}"' if backoff else rt.pull[2])}}
                else:
                    st["state"] = {"waiting": {"reason": "ContainerCreating"}}
            else:
                st["imageID"] = f"{c.image.split(':')[0]}@sha256:{_sha(c.image)}"
                st["containerID"] = self._container_id(rt, c)
                if c.name in rt.crash_until:
                    st["state"] = {"waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off {cfg.crash_backoff:g}s restarting failed container={c.name} "
                                   f"pod={rt.name}_{rt.namespace}({rt.uid})"}}
                elif c.finished:
                    st["state"] = {"terminated": self._terminated(rt, c)}
                else:
                    st["state"] = {"running": {"startedAt": rt.c_started_wall.get(c.name)}}
                    st["started"] = True
                    st["ready"] = self._container_ready(pod, rt, c, now, never_ready)
            if c.name in rt.last_state:
                st["lastState"] = {"terminated": rt.last_state[c.name]}
            statuses.append(st)
        if rt.done:
            phase = "Succeeded" if all(c.exit_code == 0 for c in rt.containers) else "Failed"
        elif rt.started is not None:
            phase = "Running"
        else:
            phase = "Pending"
        conds = old.get("conditions")
        conds = set_condition(conds, "PodReadyToStartContainers", "True" if rt.started is not None else "False",
                              None, None)
        conds = set_condition(conds, "Initialized", "True", None, None)
        unready = [s["name"] for s in statuses if not s["ready"]]
        if rt.done:
            ready, reason, msg = "False", "PodCompleted", None
        elif unready:
            ready, reason = "False", "ContainersNotReady"
            msg = f"containers with unready status: [{' '.join(unready)}]"
        else:
            ready, reason, msg = "True", None, None
        conds = set_condition(conds, "Ready", ready, reason, msg)
        conds = set_condition(conds, "ContainersReady", ready, reason, msg)
        conds = set_condition(conds, "PodScheduled", "True", None, None)
        for cnd in conds:
            cnd.setdefault("lastProbeTime", None)
            for k in ("reason", "message"):
                if cnd.get(k) is None:
                    cnd.pop(k, None)
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        conds.sort(key=lambda x: order.index(x["type"]) if x["type"] in order else 99)
        status = {"phase": phase, "conditions": conds, "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}],
                  "startTime": rt.start_wall, "containerStatuses": statuses, "qosClass": "BestEffort"}
        if rt.started is not None:
            status["podIP"] = rt.ip
            status["podIPs"] = [{"ip": rt.ip}]
        return status

    def _write(self, pod, rt, now):
        store = self.ctx.store
        status = self._status(pod, rt, now)
        if (pod.get("spec") or {}).get("nodeName") == NODE_NAME and pod.get("status") == status:
            return
        new = copy.deepcopy(pod)
        new.setdefault("spec", {})["nodeName"] = NODE_NAME
        new["status"] = status
        store.write(store.rtype(PODS), new, pod)

    def _terminate(self, pod, rt: PodRuntime, now) -> bool:
        store, cfg = self.ctx.store, self.ctx.config
        changed = False
        if rt.terminating_since is None:
            rt.terminating_since = now
            for c in rt.containers:
                if not c.finished and rt.started is not None:
                    c._finish(0 if rt.server_mode else 143)
                    rt.c_finished_wall[c.name] = now_iso()
                    changed = True
                rt.crash_until.pop(c.name, None)
            if rt.started is not None:
                rt.done = rt.done or not rt.server_mode
            status = self._status(pod, rt, now)
            if rt.server_mode and rt.started is not None:
                status["phase"] = "Running"
            new = copy.deepcopy(pod)
            new["status"] = status
            pod = store.write(store.rtype(PODS), new, pod)
        md = meta(pod)
        wait = min(cfg.pod_terminate_delay, float(md.get("deletionGracePeriodSeconds") or 0))
        if now - rt.terminating_since >= wait and not md.get("finalizers"):
            store.remove(PODS, pod)
            self.pods.pop(rt.uid, None)
            changed = True
        return changed


def _pods_by_owner(store) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in store.items(PODS):
        ref = controller_ref(p)
        if ref:
            out.setdefault(ref["uid"], []).append(p)
    return out


def _namespace_active(store, ns) -> bool:
    n = store.peek(NAMESPACES, "", ns)
    return n is not None and not terminating(n)


def _make_pod(store, owner, name, labels, extra_spec=None) -> dict:
    template = owner["spec"]["template"]
    tmd = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec.update(extra_spec or {})
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(tmd.get("labels") or {}, **labels),
                         "ownerReferences": [owner_ref(owner)]},
            "spec": spec}
    if tmd.get("annotations"):
        body["metadata"]["annotations"] = dict(tmd["annotations"])
    return store.create_internal(PODS, meta(owner)["namespace"], body)


def _delete_pod(store, pod):
    if not terminating(pod):
        md = meta(pod)
        store.delete(store.rtype(PODS), md["namespace"], md["name"])


def _max_unavailable(strategy: dict, desired: int) -> int:
    v = ((strategy or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(v, str) and v.endswith("%"):
        try:
            return math.floor(desired * int(v[:-1]) / 100)
        except ValueError:
            return 0
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


class _WorkloadBase:
    def __init__(self, ctx):
        self.ctx = ctx
        self.gen_seen: dict = {}
        self.rollout: dict = {}

    def reset(self):
        self.gen_seen.clear()
        self.rollout.clear()

    def lagging(self, obj, now) -> bool:
        md = meta(obj)
        gen = md.get("generation", 1)
        key = (md["uid"], gen)
        self.gen_seen.setdefault(key, now)
        if (obj.get("status") or {}).get("observedGeneration") == gen:
            return False
        b = self.ctx.behaviours.find("observed_generation_lag", md["name"], md["namespace"], target=key)
        return b is not None and now - self.gen_seen[key] < b["seconds"]

    def deadline_exceeded(self, obj, signature, now) -> bool:
        uid = uid_of(obj)
        cur = self.rollout.get(uid)
        if cur is None or cur[0] != signature:
            self.rollout[uid] = (signature, now)
            return False
        limit = (obj.get("spec") or {}).get("progressDeadlineSeconds", 600)
        return now - cur[1] > float(limit)


class DeploymentController(_WorkloadBase):
    def sync(self, now):
        store = self.ctx.store
        by_owner = _pods_by_owner(store)
        for d in list(store.items(DEPLOYMENTS)):
            if terminating(d) or self.lagging(d, now):
                continue
            self._sync_one(d, by_owner.get(uid_of(d), []), now)

    def _sync_one(self, d, pods, now):
        store = self.ctx.store
        md, spec = meta(d), d["spec"]
        desired = int(spec.get("replicas", 1))
        h = template_hash(spec["template"])
        rs_name = f"{md['name']}-{h}"
        live = [p for p in pods if not terminating(p)]
        new = [p for p in live if (meta(p).get("labels") or {}).get("pod-template-hash") == h]
        old = [p for p in live if p not in new]
        old_terminating = [p for p in pods if terminating(p) and
                           (meta(p).get("labels") or {}).get("pod-template-hash") != h]
        can_create = _namespace_active(store, md["namespace"])
        if not spec.get("paused"):
            recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
            if recreate and (old or old_terminating):
                for p in old:
                    _delete_pod(store, p)
                old = []
            else:
                if len(new) < desired and can_create:
                    for _ in range(desired - len(new)):
                        new.append(_make_pod(store, d, f"{rs_name}-{random_suffix()}", {"pod-template-hash": h}))
                elif len(new) > desired:
                    extra = sorted(new, key=lambda p: (pod_is_ready(p), meta(p).get("creationTimestamp", ""),
                                                       meta(p)["name"]))[: len(new) - desired]
                    for p in extra:
                        _delete_pod(store, p)
                    new = [p for p in new if p not in extra]
                if old and sum(1 for p in new if pod_is_ready(p)) >= desired:
                    for p in old:
                        _delete_pod(store, p)
                    old = []
        current = new + old
        ready = sum(1 for p in current if pod_is_ready(p))
        updated = len(new)
        complete = updated == desired and len(current) == desired and ready == desired
        old_status = d.get("status") or {}
        conds = old_status.get("conditions")
        available_ok = ready >= desired - _max_unavailable(spec.get("strategy"), desired)
        conds = set_condition(conds, "Available", "True" if available_ok else "False",
                              "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                              "Deployment has minimum availability." if available_ok
                              else "Deployment does not have minimum availability.", update_time=True)
        if complete:
            self.rollout.pop(uid_of(d), None)
            conds = set_condition(conds, "Progressing", "True", "NewReplicaSetAvailable",
                                  f'ReplicaSet "{rs_name}" has successfully progressed.', update_time=True)
        elif self.deadline_exceeded(d, (h, desired), now):
            conds = set_condition(conds, "Progressing", "False", "ProgressDeadlineExceeded",
                                  f'ReplicaSet "{rs_name}" has timed out progressing.', update_time=True)
        else:
            conds = set_condition(conds, "Progressing", "True", "ReplicaSetUpdated",
                                  f'ReplicaSet "{rs_name}" is progressing.', update_time=True)
        order = {"Available": 0, "Progressing": 1}
        conds.sort(key=lambda c: order.get(c["type"], 9))
        status = {"observedGeneration": md.get("generation", 1), "replicas": len(current),
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(0, max(desired, len(current)) - ready), "conditions": conds}
        omit_zero(status, "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                  "unavailableReplicas")
        store.set_status(DEPLOYMENTS, d, status)


class StatefulSetController(_WorkloadBase):
    def sync(self, now):
        store = self.ctx.store
        by_owner = _pods_by_owner(store)
        for s in list(store.items(STATEFULSETS)):
            if terminating(s) or self.lagging(s, now):
                continue
            self._sync_one(s, by_owner.get(uid_of(s), []), now)

    def _ensure_claims(self, s, ordinal):
        store = self.ctx.store
        md = meta(s)
        for tpl in s["spec"].get("volumeClaimTemplates") or []:
            tname = (tpl.get("metadata") or {}).get("name")
            if not tname:
                continue
            cname = f"{tname}-{md['name']}-{ordinal}"
            if store.peek(("", "persistentvolumeclaims"), md["namespace"], cname) is None:
                labels = dict((s["spec"].get("selector") or {}).get("matchLabels") or {})
                store.create_internal(("", "persistentvolumeclaims"), md["namespace"], {
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": cname, "labels": labels},
                    "spec": copy.deepcopy(tpl.get("spec") or {}),
                    "status": {"phase": "Bound", "accessModes": (tpl.get("spec") or {}).get("accessModes", []),
                               "capacity": ((tpl.get("spec") or {}).get("resources") or {}).get("requests", {})}})

    def _sync_one(self, s, pods, now):
        store = self.ctx.store
        md, spec = meta(s), s["spec"]
        name = md["name"]
        desired = int(spec.get("replicas", 1))
        rev = f"{name}-{template_hash(spec['template'])}"
        parallel = spec.get("podManagementPolicy") == "Parallel"
        by_ord: dict[int, dict] = {}
        for p in pods:
            m = re.match(rf"^{re.escape(name)}-(\d+)$", meta(p)["name"])
            if m:
                by_ord[int(m.group(1))] = p
        can_create = _namespace_active(store, md["namespace"])

        def ready(i):
            p = by_ord.get(i)
            return p is not None and not terminating(p) and pod_is_ready(p)

        # scale up, in order
        for i in range(desired):
            p = by_ord.get(i)
            if p is not None:
                if terminating(p) and not parallel:
                    break
                continue
            if not can_create:
                break
            if not parallel and not all(ready(j) for j in range(i)):
                break
            self._ensure_claims(s, i)
            by_ord[i] = _make_pod(store, s, f"{name}-{i}", {
                "controller-revision-hash": rev, "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                "apps.kubernetes.io/pod-index": str(i)},
                {"hostname": f"{name}-{i}", "subdomain": spec.get("serviceName", name)})
            if not parallel:
                break
        # scale down, highest ordinal first
        extra = sorted((i for i in by_ord if i >= desired), reverse=True)
        for i in extra:
            p = by_ord[i]
            if not terminating(p):
                _delete_pod(store, p)
            if not parallel:
                break
        # rolling update, highest ordinal first, one at a time
        if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
            partition = int(((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0))
            in_range = [by_ord.get(i) for i in range(desired)]
            if all(p is not None and not terminating(p) for p in in_range) and all(ready(i) for i in range(desired)):
                for i in range(desired - 1, partition - 1, -1):
                    p = by_ord[i]
                    if (meta(p).get("labels") or {}).get("controller-revision-hash") != rev:
                        _delete_pod(store, p)
                        break
        live = [p for p in by_ord.values() if not terminating(p)]
        updated = [p for p in live if (meta(p).get("labels") or {}).get("controller-revision-hash") == rev]
        n_ready = sum(1 for p in live if pod_is_ready(p))
        old_status = s.get("status") or {}
        current_rev = old_status.get("currentRevision") or rev
        if len(updated) == desired and len(live) == desired:
            current_rev = rev
        current = [p for p in live if (meta(p).get("labels") or {}).get("controller-revision-hash") == current_rev]
        status = {"observedGeneration": md.get("generation", 1), "replicas": len(live),
                  "readyReplicas": n_ready, "currentReplicas": len(current), "updatedReplicas": len(updated),
                  "availableReplicas": n_ready, "currentRevision": current_rev, "updateRevision": rev,
                  "collisionCount": 0}
        omit_zero(status, "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas")
        status["replicas"] = len(live)
        store.set_status(STATEFULSETS, s, status)


class JobMemory:
    def __init__(self, now):
        self.start = now
        self.counted: dict[str, str] = {}      # pod uid -> Succeeded | Failed
        self.known_active: set[str] = set()
        self.next_pod_at = 0.0
        self.finished_at: float | None = None


class JobController:
    def __init__(self, ctx):
        self.ctx = ctx
        self.jobs: dict[str, JobMemory] = {}

    def reset(self):
        self.jobs.clear()

    def sync(self, now):
        store = self.ctx.store
        by_owner = _pods_by_owner(store)
        live_uids = set()
        for j in list(store.items(JOBS)):
            live_uids.add(uid_of(j))
            if terminating(j):
                continue
            self._sync_one(j, by_owner.get(uid_of(j), []), now)
        for uid in [u for u in self.jobs if u not in live_uids]:
            del self.jobs[uid]

    @staticmethod
    def _has(status, type_) -> bool:
        return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])

    def _sync_one(self, j, pods, now):
        store, cfg = self.ctx.store, self.ctx.config
        md, spec = meta(j), j["spec"]
        mem = self.jobs.get(md["uid"])
        if mem is None:
            mem = self.jobs[md["uid"]] = JobMemory(now)
        status = copy.deepcopy(j.get("status") or {})
        if self._has(status, "Complete") or self._has(status, "Failed"):
            ttl = spec.get("ttlSecondsAfterFinished")
            if mem.finished_at is None:
                mem.finished_at = now
            if ttl is not None and now - mem.finished_at >= float(ttl):
                store.delete(store.rtype(JOBS), md["namespace"], md["name"], propagation="Background")
            return
        if spec.get("suspend"):
            return
        status.setdefault("startTime", now_iso())
        present = {uid_of(p) for p in pods}
        for p in pods:
            phase = (p.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed") and uid_of(p) not in mem.counted:
                mem.counted[uid_of(p)] = phase
                if phase == "Failed":
                    mem.next_pod_at = now + cfg.job_backoff_delay
        for uid in list(mem.known_active):
            if uid not in present and uid not in mem.counted:
                mem.counted[uid] = "Failed"      # an active pod that vanished counts as a failure
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                  and not terminating(p)]
        unfinished = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        succeeded = sum(1 for v in mem.counted.values() if v == "Succeeded")
        failed = sum(1 for v in mem.counted.values() if v == "Failed")
        completions, parallelism = int(spec.get("completions", 1)), int(spec.get("parallelism", 1))
        conds = status.get("conditions")
        failure = None
        deadline = spec.get("activeDeadlineSeconds")
        if self._has(status, "FailureTarget"):
            c = next(c for c in conds if c["type"] == "FailureTarget")
            failure = (c["reason"], c["message"])
        elif deadline is not None and now - mem.start >= float(deadline):
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        elif failed > int(spec.get("backoffLimit", 6)):
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        if failure:
            for p in active:
                _delete_pod(store, p)
            if not self._has(status, "FailureTarget"):
                conds = set_condition(conds, "FailureTarget", "True", failure[0], failure[1])
                self.ctx.events.record(j, "Warning", failure[0], failure[1])
            if not unfinished:
                conds = set_condition(conds, "Failed", "True", failure[0], failure[1])
            active = []
        elif succeeded >= completions:
            msg = "Reached expected number of succeeded pods"
            conds = set_condition(conds, "SuccessCriteriaMet", "True", "CompletionsReached", msg)
            if not unfinished:
                conds = set_condition(conds, "Complete", "True", "CompletionsReached", msg)
                status["completionTime"] = now_iso()
                self.ctx.events.record(j, "Normal", "Completed", "Job completed")
        elif now >= mem.next_pod_at and _namespace_active(store, md["namespace"]):
            while len(active) < parallelism and succeeded + len(active) < completions:
                active.append(_make_pod(store, j, f"{md['name']}-{random_suffix()}", {}))
        mem.known_active = {uid_of(p) for p in active}
        if conds:
            status["conditions"] = conds
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if pod_is_ready(p)), "terminating": 0})
        status["uncountedTerminatedPods"] = {}
        omit_zero(status, "active", "succeeded", "failed", "terminating")
        if not status["uncountedTerminatedPods"]:
            status.pop("uncountedTerminatedPods")
        store.set_status(JOBS, j, status)
