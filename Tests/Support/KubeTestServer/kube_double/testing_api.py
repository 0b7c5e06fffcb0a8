"""State behind the ``/_test/`` admin API: timing configuration, fault rules,
scripted behaviours, and the request log."""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from dataclasses import asdict, dataclass, fields


@dataclass
class SimConfig:
    """Controller timings, in seconds (``--set KEY=VALUE`` / ``POST /_test/config``)."""
    tick: float = 0.05                    # controller loop period
    pod_start_delay: float = 0.1          # Pending -> Running
    pod_ready_delay: float = 0.3          # creation -> Ready, long-running pods
    pod_terminate_delay: float = 0.2      # deletionTimestamp -> gone (capped by the grace period)
    image_pull_error_delay: float = 0.3   # ErrImagePull -> ImagePullBackOff
    crash_backoff: float = 1.0            # CrashLoopBackOff wait before a restart
    job_backoff_delay: float = 0.2        # failed Job pod -> its replacement
    gc_delay: float = 0.1                 # owner gone -> dependents deleted
    release_delay: float = 0.3            # HelmRelease reconcile time
    source_delay: float = 0.1             # HelmRepository/OCIRepository -> Ready
    velero_delay: float = 0.5             # Velero Backup/Restore -> Completed
    sleep_scale: float = 1.0              # multiplier for simulated `sleep S`
    bookmark_interval: float = 1.0        # BOOKMARK period when allowWatchBookmarks
    default_watch_timeout: float = 1800.0 # watch without timeoutSeconds

    def update(self, values: dict) -> None:
        known = {f.name for f in fields(self)}
        for k, v in values.items():
            if k not in known:
                raise ValueError(f"unknown setting {k!r}; known: {', '.join(sorted(known))}")
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"setting {k!r} must be a number, got {v!r}")
            if v < 0:
                raise ValueError(f"setting {k!r} must not be negative")
            setattr(self, k, v)

    def as_json(self) -> dict:
        return asdict(self)


FAULT_ACTIONS = ("status", "drop", "expire", "delay")


class FaultRule:
    def __init__(self, spec: dict, rule_id: int):
        if not isinstance(spec, dict):
            raise ValueError(f"a fault rule is an object, got {spec!r}")
        unknown = set(spec) - {"id", "method", "path", "query", "skip", "nth", "count", "action",
                               "code", "reason", "message", "retry_after", "after_events", "delay",
                               "watch"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        self.id = str(spec.get("id") or f"fault-{rule_id}")
        method = spec.get("method", "*")
        self.methods = {m.upper() for m in ([method] if isinstance(method, str) else method)}
        self.path_text = spec.get("path", ".*")
        self.query_text = spec.get("query")
        try:
            self.path = re.compile(self.path_text)
            self.query = re.compile(self.query_text) if self.query_text is not None else None
        except re.error as e:
            raise ValueError(f"fault {self.id}: bad regular expression: {e}")
        self.action = spec.get("action", "status")
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"fault {self.id}: action must be one of {', '.join(FAULT_ACTIONS)}")
        self.watch = spec.get("watch")         # None: any; True/False: only (non-)watch requests
        skip = spec.get("skip")
        if skip is None and spec.get("nth") is not None:
            skip = int(spec["nth"]) - 1
        self.skip = int(skip or 0)
        self.count = int(spec.get("count", 1))
        self.code = int(spec.get("code", 429 if spec.get("retry_after") is not None else 500))
        self.reason = spec.get("reason")
        self.message = spec.get("message")
        self.retry_after = spec.get("retry_after")
        self.after_events = int(spec.get("after_events", 0))
        self.delay = float(spec.get("delay", 0))
        if self.action == "status" and not (100 <= self.code <= 599):
            raise ValueError(f"fault {self.id}: code must be an HTTP status")
        self.seen = 0
        self.fired = 0

    def matches(self, method: str, path: str, query: str, is_watch: bool) -> bool:
        if "*" not in self.methods and method.upper() not in self.methods:
            return False
        if self.watch is not None and bool(self.watch) != is_watch:
            return False
        if not self.path.search(path):
            return False
        if self.query is not None and not self.query.search(query or ""):
            return False
        return True

    @property
    def exhausted(self) -> bool:
        return self.count >= 0 and self.fired >= self.count

    def as_json(self) -> dict:
        return {"id": self.id, "method": sorted(self.methods), "path": self.path_text,
                "query": self.query_text, "watch": self.watch, "skip": self.skip, "count": self.count,
                "action": self.action, "code": self.code, "reason": self.reason,
                "message": self.message, "retry_after": self.retry_after,
                "after_events": self.after_events, "delay": self.delay,
                "seen": self.seen, "fired": self.fired}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self._next = 1

    def add(self, specs) -> list[dict]:
        if isinstance(specs, dict):
            if "faults" in specs or "rules" in specs:
                specs = specs.get("faults", specs.get("rules"))
            else:
                specs = [specs]
        if not isinstance(specs, list):
            raise ValueError("expected a fault rule, a list of them, or {\"faults\": [...]}")
        with self.lock:
            new = []
            for s in specs:
                new.append(FaultRule(s, self._next))
                self._next += 1
            ids = {r.id for r in new}
            self.rules = [r for r in self.rules if r.id not in ids] + new
            return [r.as_json() for r in new]

    def pick(self, method, path, query, is_watch) -> tuple[float, FaultRule | None]:
        """(seconds to delay, the rule that acts on this request or None)."""
        delay = 0.0
        with self.lock:
            for r in self.rules:
                if r.exhausted or not r.matches(method, path, query, is_watch):
                    continue
                r.seen += 1
                if r.seen <= r.skip:
                    continue
                r.fired += 1
                if r.action == "delay":
                    delay += r.delay
                    continue
                return delay, r
        return delay, None

    def list(self) -> list[dict]:
        with self.lock:
            return [r.as_json() for r in self.rules]

    def remove(self, rule_id: str) -> bool:
        with self.lock:
            before = len(self.rules)
            self.rules = [r for r in self.rules if r.id != rule_id]
            return len(self.rules) != before

    def clear(self):
        with self.lock:
            self.rules = []


BEHAVIOUR_KINDS = {
    # kind: {parameter: default}
    "helmrelease_stale_ready_then_fail": {"name": "*", "namespace": "*", "stale_seconds": 2.0,
                                          "reason": "UpgradeFailed", "message": None,
                                          "stalled": True, "count": None},
    "helmrelease_stuck": {"name": "*", "namespace": "*", "message": None, "count": None},
    "image_pull_backoff": {"image": "*", "namespace": "*", "message": None, "count": None},
    "observed_generation_lag": {"name": "*", "namespace": "*", "seconds": 3.0, "count": None},
    "never_ready": {"name": "*", "namespace": "*", "count": None},
    "velero_fails": {"name": "*", "namespace": "*", "resource": "backups", "phase": "Failed",
                     "reason": None, "count": None},
}

BEHAVIOUR_CHOICES = {
    ("velero_fails", "resource"): ("backups", "restores"),
    ("velero_fails", "phase"): ("Failed", "PartiallyFailed", "FailedValidation"),
}


class Behaviour:
    def __init__(self, spec: dict, bid: int):
        if not isinstance(spec, dict) or spec.get("kind") not in BEHAVIOUR_KINDS:
            raise ValueError(f"a behaviour needs kind, one of: {', '.join(sorted(BEHAVIOUR_KINDS))}")
        self.kind = spec["kind"]
        defaults = BEHAVIOUR_KINDS[self.kind]
        unknown = set(spec) - set(defaults) - {"kind", "id"}
        if unknown:
            raise ValueError(f"behaviour {self.kind}: unknown fields {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sorted(defaults))}")
        self.id = str(spec.get("id") or f"behaviour-{bid}")
        self.params = {k: spec.get(k, v) for k, v in defaults.items()}
        for (kind, k), allowed in BEHAVIOUR_CHOICES.items():
            if kind == self.kind and self.params[k] not in allowed:
                raise ValueError(f"behaviour {self.kind}: {k} must be one of {', '.join(allowed)}")
        for k in ("stale_seconds", "seconds"):
            if k in self.params:
                self.params[k] = float(self.params[k])
        self.targets: set = set()

    def __getitem__(self, k):
        return self.params[k]

    def matches(self, name: str, namespace: str) -> bool:
        return fnmatch.fnmatchcase(name or "", self.params.get("name", "*")) and \
            fnmatch.fnmatchcase(namespace or "", self.params.get("namespace", "*"))

    def claim(self, target) -> bool:
        """Whether this behaviour applies to ``target`` (bounded by ``count``)."""
        if target in self.targets:
            return True
        count = self.params.get("count")
        if count is not None and len(self.targets) >= int(count):
            return False
        self.targets.add(target)
        return True

    def as_json(self) -> dict:
        return dict(self.params, kind=self.kind, id=self.id, applied_to=len(self.targets))


class Behaviours:
    def __init__(self):
        self.lock = threading.Lock()
        self.items: list[Behaviour] = []
        self._next = 1

    def add(self, specs) -> list[dict]:
        if isinstance(specs, dict):
            specs = specs["behaviours"] if "behaviours" in specs else [specs]
        if not isinstance(specs, list):
            raise ValueError("expected a behaviour, a list of them, or {\"behaviours\": [...]}")
        with self.lock:
            new = []
            for s in specs:
                new.append(Behaviour(s, self._next))
                self._next += 1
            ids = {b.id for b in new}
            self.items = [b for b in self.items if b.id not in ids] + new
            return [b.as_json() for b in new]

    def find(self, kind: str, name: str, namespace: str, target=None, where: dict | None = None) -> Behaviour | None:
        """The first behaviour of ``kind`` matching the object (and the parameters in ``where``) that claims ``target``."""
        with self.lock:
            for b in self.items:
                if b.kind == kind and b.matches(name, namespace) \
                        and all(b.params.get(k) == v for k, v in (where or {}).items()) \
                        and (target is None or b.claim(target)):
                    return b
        return None

    def find_image(self, images: list[str], namespace: str, target=None) -> tuple[Behaviour, str] | None:
        with self.lock:
            for b in self.items:
                if b.kind != "image_pull_backoff" or not fnmatch.fnmatchcase(namespace, b["namespace"]):
                    continue
                for img in images:
                    if fnmatch.fnmatchcase(img, b["image"]) and (target is None or b.claim(target)):
                        return b, img
        return None

    def list(self) -> list[dict]:
        with self.lock:
            return [b.as_json() for b in self.items]

    def remove(self, bid: str) -> bool:
        with self.lock:
            before = len(self.items)
            self.items = [b for b in self.items if b.id != bid]
            return len(self.items) != before

    def clear(self):
        with self.lock:
            self.items = []


class RequestLog:
    def __init__(self, limit: int = 100000):
        self.lock = threading.Lock()
        self.limit = limit
        self.entries: list[dict] = []
        self._seq = 0

    def add(self, entry: dict) -> dict:
        with self.lock:
            self._seq += 1
            entry = dict(entry, seq=self._seq, time=time.time())
            self.entries.append(entry)
            if len(self.entries) > self.limit:
                del self.entries[: len(self.entries) - self.limit]
            return entry

    def list(self, method: str | None = None, path: str | None = None, since: int = 0) -> list[dict]:
        rx = re.compile(path) if path else None
        with self.lock:
            return [dict(e) for e in self.entries
                    if e["seq"] > since and (not method or e["method"] == method.upper())
                    and (rx is None or rx.search(e["path"]))]

    def reset(self):
        with self.lock:
            self.entries = []
