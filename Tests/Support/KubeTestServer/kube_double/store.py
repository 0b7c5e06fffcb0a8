"""The object store: objects, resourceVersions, the bounded event history
that watches read from, and the API verbs with their Kubernetes semantics."""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

from . import errors
from .errors import ApiError
from .resources import NAMESPACES, PODS, REGISTRY, Registry, ResourceType
from .selectors import FieldSelector, LabelSelector

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_NAME_CHARS) for _ in range(n))


def spec_part(obj: dict) -> dict:
    """Everything a generation bump looks at: all but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


def ordered(obj: dict) -> dict:
    """kind, apiVersion, metadata, ..., status: the order the API server writes."""
    out = {k: obj[k] for k in ("kind", "apiVersion", "metadata") if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out and k != "status")
    if "status" in obj:
        out["status"] = obj["status"]
    return out


@dataclass
class WatchEvent:
    rv: int
    key: tuple[str, str]
    type: str               # ADDED | MODIFIED | DELETED
    obj: dict               # the object after the change (before, for DELETED)
    old: dict | None        # the object before the change


class Store:
    """All state lives here, guarded by one re-entrant lock; ``cond`` wakes
    watchers and log followers whenever something changes."""

    def __init__(self, registry: Registry = REGISTRY, history: int = 1000,
                 default_namespaces=("default", "kube-system", "kube-public")):
        self.registry = registry
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.history = max(1, int(history))
        self.default_namespaces = tuple(default_namespaces)
        # admission[key] = [fn(op, rtype, new, old)], op in create|update|status
        self.admission: dict[tuple[str, str], list] = {}
        self.closing = False
        with self.lock:
            self._reset_state()

    # ------------------------------------------------------------ state

    def _reset_state(self):
        # resourceVersions never go backwards, not even across a reset: a
        # client's old RV then gets 410 Expired, as after an etcd compaction
        self.rv = getattr(self, "rv", 1000)
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self.uids: dict[str, tuple[tuple[str, str], str, str]] = {}
        self.events: deque[WatchEvent] = deque()
        self.compacted_rv = self.rv
        for ns in self.default_namespaces:
            self._commit(self.registry.by_key(NAMESPACES), self._new_object(
                self.registry.by_key(NAMESPACES), None,
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}), None)

    def reset(self):
        with self.lock:
            self._reset_state()
            self.cond.notify_all()

    def compact(self):
        """Forget the event history: any watch from an older RV gets 410."""
        with self.lock:
            self.events.clear()
            self.compacted_rv = self.rv
            self.cond.notify_all()

    def notify(self):
        with self.lock:
            self.cond.notify_all()

    # ------------------------------------------------------------ helpers

    def rtype(self, key) -> ResourceType:
        return self.registry.by_key(key)

    def peek(self, key, namespace, name) -> dict | None:
        """The stored object itself (never mutate it), or None."""
        return self.objects.get(key, {}).get((namespace or "", name))

    def items(self, key, namespace=None) -> list[dict]:
        """Stored objects of a type (never mutate them), sorted."""
        bucket = self.objects.get(key, {})
        return [bucket[k] for k in sorted(bucket) if namespace is None or k[0] == namespace]

    def exists_uid(self, uid: str) -> bool:
        return uid in self.uids

    def _add_admission(self, key, fn):
        self.admission.setdefault(key, []).append(fn)

    def _admit(self, op, rtype, new, old):
        for fn in self.admission.get(rtype.key, []):
            fn(op, rtype, new, old)

    def _emit(self, rtype, type_, obj, old):
        self.events.append(WatchEvent(int(obj["metadata"]["resourceVersion"]), rtype.key, type_, obj, old))
        while len(self.events) > self.history:
            gone = self.events.popleft()
            self.compacted_rv = max(self.compacted_rv, gone.rv)
        self.cond.notify_all()

    def _commit(self, rtype, obj, old, type_=None):
        """Store ``obj`` (a fresh dict nobody else holds) with a new RV."""
        self.rv += 1
        md = obj["metadata"]
        md["resourceVersion"] = str(self.rv)
        ns = md.get("namespace", "") if rtype.namespaced else ""
        self.objects.setdefault(rtype.key, {})[(ns, md["name"])] = obj
        self.uids[md["uid"]] = (rtype.key, ns, md["name"])
        self._emit(rtype, type_ or ("MODIFIED" if old is not None else "ADDED"), obj, old)
        return obj

    def _remove(self, rtype, obj):
        md = obj["metadata"]
        ns = md.get("namespace", "") if rtype.namespaced else ""
        bucket = self.objects.get(rtype.key, {})
        if bucket.get((ns, md["name"])) is not obj:
            return
        del bucket[(ns, md["name"])]
        self.uids.pop(md.get("uid"), None)
        self.rv += 1
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = str(self.rv)
        self._emit(rtype, "DELETED", final, obj)
        return final

    def _new_object(self, rtype, namespace, body, keep_status=False):
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if rtype.namespaced:
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = md["generateName"] + random_suffix()
            else:
                raise errors.invalid(rtype, "", [("metadata.name", "FieldValueRequired",
                                                  "Required value: name or generateName is required")])
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_iso()
        for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink", "managedFields"):
            md.pop(f, None)
        if rtype.has_generation:
            md["generation"] = 1
        else:
            md.pop("generation", None)
        obj["apiVersion"] = rtype.api_version()
        obj["kind"] = rtype.kind
        if "status" in rtype.subresources and not keep_status:
            obj.pop("status", None)
        if rtype.key == NAMESPACES:
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
        return ordered(obj)

    def _validate_meta(self, rtype, obj, namespace):
        md = obj.get("metadata")
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        name = md.get("name", "")
        pattern = _DNS_LABEL if rtype.key == NAMESPACES else _DNS_SUBDOMAIN
        limit = 63 if rtype.key == NAMESPACES else 253
        if name and (len(name) > limit or not pattern.match(name)):
            raise errors.invalid(rtype, name, [("metadata.name", "FieldValueInvalid",
                                                f'Invalid value: "{name}": a lowercase RFC 1123 '
                                                f'name must consist of lower case alphanumeric characters, '
                                                f"'-' or '.', and must start and end with an "
                                                f"alphanumeric character")])
        for fld in ("labels", "annotations"):
            m = md.get(fld)
            if m is None:
                continue
            if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
                raise errors.bad_request(f"metadata.{fld} must be a map of string to string")
        for k, v in (md.get("labels") or {}).items():
            try:
                LabelSelector.parse(f"{k}={v}")
            except ApiError:
                raise errors.invalid(rtype, name, [(f"metadata.labels", "FieldValueInvalid",
                                                    f'Invalid value: "{k}={v}": not a valid label')])
        for ref in md.get("ownerReferences") or []:
            if not isinstance(ref, dict) or not ref.get("uid") or not ref.get("name"):
                raise errors.invalid(rtype, name, [("metadata.ownerReferences", "FieldValueRequired",
                                                    "Required value: uid and name must be set")])

    def _check_namespace(self, rtype, namespace, name):
        if not rtype.namespaced:
            return
        ns = self.peek(NAMESPACES, "", namespace)
        if ns is None:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f'{rtype.qualified} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated", rtype, name)

    # ------------------------------------------------------------ verbs

    def get(self, rtype, namespace, name) -> dict:
        with self.lock:
            obj = self.peek(rtype.key, namespace, name)
            if obj is None:
                raise errors.not_found(rtype, name)
            return copy.deepcopy(obj)

    def list(self, rtype, namespace=None, label_selector: LabelSelector | None = None,
             field_selector: FieldSelector | None = None, limit: int | None = None,
             continue_token: str | None = None):
        """Returns (items, list resourceVersion, continue token, remaining)."""
        with self.lock:
            start = None
            if continue_token:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(continue_token.encode()).decode())
                    start, tok_rv = tuple(tok["start"]), int(tok["rv"])
                except Exception:
                    raise errors.bad_request("continue key is not valid: malformed token")
                if tok_rv < self.compacted_rv:
                    raise errors.expired("The provided continue parameter is too old to display a "
                                         "consistent list result. You can start a new list without "
                                         "the continue parameter.")
            bucket = self.objects.get(rtype.key, {})
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            out = []
            for k in keys:
                if start is not None and k <= start:
                    continue
                obj = bucket[k]
                if label_selector and not label_selector.matches(obj["metadata"].get("labels")):
                    continue
                if field_selector and not field_selector.matches(obj):
                    continue
                out.append(k)
            token, remaining = None, None
            if limit and limit > 0 and len(out) > limit:
                remaining = len(out) - limit
                out = out[:limit]
                token = base64.urlsafe_b64encode(json.dumps(
                    {"start": list(out[-1]), "rv": self.rv}).encode()).decode()
            return [copy.deepcopy(bucket[k]) for k in out], str(self.rv), token, remaining

    def create(self, rtype, namespace, body, dry_run=False, keep_status=False) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if kind and kind != rtype.kind:
            raise errors.bad_request(f"the kind of the object ({kind}) does not match the "
                                     f"resource ({rtype.kind})")
        if api_version and rtype.group and not api_version.startswith(rtype.group + "/"):
            raise errors.bad_request(f"the apiVersion {api_version} does not match the group {rtype.group}")
        with self.lock:
            self._validate_meta(rtype, body, namespace)
            body_ns = (body.get("metadata") or {}).get("namespace")
            if rtype.namespaced and body_ns and body_ns != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            obj = self._new_object(rtype, namespace, body, keep_status=keep_status)
            name = obj["metadata"]["name"]
            self._check_namespace(rtype, namespace, name)
            if self.peek(rtype.key, namespace, name) is not None:
                raise errors.already_exists(rtype, name)
            self._admit("create", rtype, obj, None)
            if dry_run:
                return obj
            return copy.deepcopy(self._commit(rtype, obj, None))

    def update(self, rtype, namespace, name, body, subresource=None, dry_run=False) -> dict:
        """PUT semantics: the body replaces the object (or its status)."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        with self.lock:
            old = self.peek(rtype.key, namespace, name)
            if old is None:
                raise errors.not_found(rtype, name)
            md = body.get("metadata")
            if not isinstance(md, dict):
                raise errors.bad_request("metadata must be an object")
            if md.get("name") and md["name"] != name:
                raise errors.bad_request(f'the name of the object ({md["name"]}) does not match the '
                                         f"name on the URL ({name})")
            if rtype.namespaced and md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            want_rv = md.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            return self._replace(rtype, old, body, subresource, dry_run)

    def patch(self, rtype, namespace, name, content_type, patch, subresource=None,
              dry_run=False, apply_fn=None) -> dict:
        from .patching import apply_patch
        with self.lock:
            old = self.peek(rtype.key, namespace, name)
            if old is None:
                raise errors.not_found(rtype, name)
            patched = (apply_fn or apply_patch)(content_type, old, patch)
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
                raise errors.bad_request("the patched object is not a valid object")
            pmd = patched["metadata"]
            if pmd.get("name") != name or (rtype.namespaced and pmd.get("namespace") != namespace):
                raise errors.invalid(rtype, name, [("metadata.name", "FieldValueInvalid",
                                                    "Invalid value: field is immutable")])
            want_rv = pmd.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            return self._replace(rtype, old, patched, subresource, dry_run)

    def _replace(self, rtype, old, body, subresource, dry_run):
        self._validate_meta(rtype, body, None)
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            op = "status"
        else:
            new = copy.deepcopy(body)
            new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
            md, omd = new["metadata"], old["metadata"]
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "namespace", "name", "generateName"):
                if f in omd:
                    md[f] = omd[f]
                else:
                    md.pop(f, None)
            md.pop("managedFields", None)
            if "status" in rtype.subresources:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            if rtype.key == NAMESPACES:
                new["spec"] = copy.deepcopy(old.get("spec", {}))
            op = "update"
        if rtype.has_generation:
            gen = old["metadata"].get("generation", 1)
            if spec_part(new) != spec_part(old):
                gen += 1
            new["metadata"]["generation"] = gen
        self._admit(op, rtype, new, old)
        if dry_run:
            return new
        if self._unchanged(new, old):
            return copy.deepcopy(old)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                and rtype.key != NAMESPACES and rtype.key != PODS:
            self._commit(rtype, new, old)
            final = self._remove(rtype, new)
            return copy.deepcopy(final)
        return copy.deepcopy(self._commit(rtype, new, old))

    @staticmethod
    def _unchanged(new, old) -> bool:
        a = dict(new, metadata={k: v for k, v in new["metadata"].items() if k != "resourceVersion"})
        b = dict(old, metadata={k: v for k, v in old["metadata"].items() if k != "resourceVersion"})
        return a == b

    def delete(self, rtype, namespace, name, propagation=None, grace_seconds=None,
               preconditions=None, dry_run=False):
        """Returns (http code, body, extra headers)."""
        with self.lock:
            obj = self.peek(rtype.key, namespace, name)
            if obj is None:
                raise errors.not_found(rtype, name)
            md = obj["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != md["uid"]:
                raise errors.conflict(rtype, name, f"Precondition failed: UID in precondition: "
                                                   f"{pre['uid']}, UID in object meta: {md['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != md["resourceVersion"]:
                raise errors.conflict(rtype, name, f"Precondition failed: ResourceVersion in "
                                                   f"precondition: {pre['resourceVersion']}, "
                                                   f"ResourceVersion in object meta: {md['resourceVersion']}")
            if propagation not in (None, "Orphan", "Background", "Foreground"):
                raise errors.invalid(rtype, name, [("propagationPolicy", "FieldValueNotSupported",
                                                    f'Unsupported value: "{propagation}": supported values: '
                                                    f'"Foreground", "Background", "Orphan"')])
            headers = {}
            if propagation is None:
                if rtype.key == ("batch", "jobs"):
                    propagation = "Orphan"
                    headers["Warning"] = ('299 - "child pods are preserved by default when jobs are '
                                          'deleted; set propagationPolicy=Background to remove them or '
                                          'set propagationPolicy=Orphan to suppress this warning"')
                else:
                    propagation = "Background"
            if dry_run:
                return 200, copy.deepcopy(obj), headers
            if md.get("deletionTimestamp"):
                return 200, copy.deepcopy(obj), headers
            if rtype.key == NAMESPACES:
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_iso()
                new["status"] = dict(new.get("status") or {}, phase="Terminating")
                return 200, copy.deepcopy(self._commit(rtype, new, obj)), headers
            if propagation == "Orphan":
                self._orphan_dependents(md["uid"])
            finalizers = list(md.get("finalizers") or [])
            if propagation == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            if rtype.key == PODS:
                grace = grace_seconds
                if grace is None:
                    grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                if grace == 0 and not finalizers:
                    return 200, copy.deepcopy(self._remove(rtype, obj)), headers
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_iso()
                new["metadata"]["deletionGracePeriodSeconds"] = int(grace)
                if finalizers:
                    new["metadata"]["finalizers"] = finalizers
                return 200, copy.deepcopy(self._commit(rtype, new, obj)), headers
            if finalizers:
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_iso()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new["metadata"]["finalizers"] = finalizers
                if rtype.has_generation:
                    new["metadata"]["generation"] = new["metadata"].get("generation", 1) + 1
                return 200, copy.deepcopy(self._commit(rtype, new, obj)), headers
            final = self._remove(rtype, obj)
            if rtype.returns_deleted_object:
                return 200, copy.deepcopy(final), headers
            details = {"name": name, "kind": rtype.resource, "uid": md["uid"]}
            if rtype.group:
                details["group"] = rtype.group
            return 200, errors.success_status(details), headers

    def _orphan_dependents(self, owner_uid):
        for key, bucket in self.objects.items():
            rt = self.rtype(key)
            for obj in list(bucket.values()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == owner_uid for r in refs):
                    new = copy.deepcopy(obj)
                    left = [r for r in refs if r.get("uid") != owner_uid]
                    if left:
                        new["metadata"]["ownerReferences"] = left
                    else:
                        new["metadata"].pop("ownerReferences", None)
                    self._commit(rt, new, obj)

    # ------------------------------------------------------------ internal writes (controllers)

    def write(self, rtype, obj, old) -> dict:
        """Controller write of a modified copy of ``old``; no-op if unchanged."""
        with self.lock:
            current = self.peek(rtype.key, old["metadata"].get("namespace", ""), old["metadata"]["name"])
            if current is not old:
                return current          # changed underneath; the next tick sees the new one
            if self._unchanged(obj, old):
                return old
            if rtype.has_generation and spec_part(obj) != spec_part(old) \
                    and obj["metadata"].get("generation") == old["metadata"].get("generation"):
                obj["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            if obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers") \
                    and rtype.key not in (NAMESPACES, PODS):
                self._commit(rtype, obj, old)
                return self._remove(rtype, obj)
            return self._commit(rtype, obj, old)

    def set_status(self, key, obj, status: dict) -> dict:
        if obj.get("status") == status:
            return obj
        new = copy.deepcopy(obj)
        new["status"] = copy.deepcopy(status)
        return self.write(self.rtype(key), new, obj)

    def remove(self, key, obj):
        with self.lock:
            return self._remove(self.rtype(key), obj)

    def create_internal(self, key, namespace, body) -> dict:
        """A controller's create: no admission of the namespace's phase."""
        rtype = self.rtype(key)
        with self.lock:
            obj = self._new_object(rtype, namespace, body, keep_status=True)
            self._admit("create", rtype, obj, None)
            return self._commit(rtype, obj, None)

    # ------------------------------------------------------------ watch support

    def events_since(self, from_rv: int) -> list[WatchEvent]:
        """Events after ``from_rv`` (caller holds the lock); raises 410 when the
        history no longer reaches back that far."""
        if from_rv < self.compacted_rv:
            raise errors.expired(f"too old resource version: {from_rv} ({self.compacted_rv + 1})")
        out = []
        for ev in reversed(self.events):
            if ev.rv <= from_rv:
                break
            out.append(ev)
        out.reverse()
        return out

    def wait(self, timeout: float):
        self.cond.wait(timeout)

    def dump(self) -> list[dict]:
        with self.lock:
            out = []
            for key in sorted(self.objects):
                out.extend(copy.deepcopy(o) for o in self.items(key))
            return out
