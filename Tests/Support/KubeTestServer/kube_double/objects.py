"""Small helpers over object dicts shared by the controllers."""

from __future__ import annotations

import copy
import hashlib
import json

from .store import now_iso


def meta(obj) -> dict:
    return obj.get("metadata") or {}


def uid_of(obj) -> str:
    return meta(obj).get("uid", "")


def owner_ref(owner: dict, controller: bool = True) -> dict:
    md = meta(owner)
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"],
            "uid": md["uid"], "controller": controller, "blockOwnerDeletion": True}


def owned_by(obj: dict, uid: str) -> bool:
    return any(r.get("uid") == uid for r in meta(obj).get("ownerReferences") or [])


def controller_ref(obj: dict) -> dict | None:
    for r in meta(obj).get("ownerReferences") or []:
        if r.get("controller"):
            return r
    return None


def terminating(obj: dict) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def template_hash(template: dict) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def pod_is_ready(pod: dict) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def find_condition(obj: dict, type_: str) -> dict | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def set_condition(conditions: list | None, type_: str, status: str, reason: str, message: str,
                  observed_generation: int | None = None, update_time: bool = False,
                  first: bool = False) -> list:
    """Return a copy of ``conditions`` with ``type_`` set; lastTransitionTime
    only moves when the status changes (and lastUpdateTime when anything does)."""
    conds = copy.deepcopy(conditions or [])
    now = now_iso()
    existing = next((c for c in conds if c.get("type") == type_), None)
    new = {"type": type_, "status": status}
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    if existing and existing.get("status") == status:
        new["lastTransitionTime"] = existing.get("lastTransitionTime", now)
    else:
        new["lastTransitionTime"] = now
    if update_time:
        same = existing and existing.get("status") == status and existing.get("reason") == reason \
            and existing.get("message") == message
        new["lastUpdateTime"] = existing.get("lastUpdateTime", now) if same else now
    new["reason"] = reason
    new["message"] = message
    if existing:
        conds[conds.index(existing)] = new
    elif first:
        conds.insert(0, new)
    else:
        conds.append(new)
    return conds


def remove_condition(conditions: list | None, type_: str) -> list:
    return [c for c in copy.deepcopy(conditions or []) if c.get("type") != type_]


def omit_zero(status: dict, *fields) -> dict:
    """Integer status fields are omitempty in the API: 0 is left out."""
    for f in fields:
        if not status.get(f):
            status.pop(f, None)
    return status
