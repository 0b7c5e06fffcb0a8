"""Simulated Velero (velero.io/v1): Backup, Restore and DeleteBackupRequest.

A Backup holds copies of the PersistentVolumeClaims it selects (its
"snapshots"); a Restore re-creates those of its Backup that match its filters
and do not exist; a DeleteBackupRequest deletes a Backup, its Restores and
what it holds. The ``velero_fails`` behaviour makes a Backup or Restore end
in a failed phase.
"""

from __future__ import annotations

import copy

from .errors import ApiError
from .objects import meta, terminating, uid_of
from .resources import (NAMESPACES, PVCS, VELERO_BACKUPS, VELERO_DELETE_REQUESTS,
                        VELERO_RESTORES)
from .selectors import LabelSelector
from .store import now_iso

DONE_PHASES = ("Completed", "Failed", "PartiallyFailed", "FailedValidation")


def _selected(spec: dict, obj: dict) -> bool:
    """Whether ``obj`` passes a Backup's or Restore's namespace, resource and label filters."""
    md = meta(obj)
    namespaces = spec.get("includedNamespaces") or ["*"]
    if "*" not in namespaces and md.get("namespace") not in namespaces:
        return False
    if md.get("namespace") in (spec.get("excludedNamespaces") or []):
        return False
    resources = spec.get("includedResources") or ["*"]
    if "*" not in resources and not ({"persistentvolumeclaims", "pvc"} & set(resources)):
        return False
    labels = md.get("labels") or {}
    if spec.get("labelSelector"):
        return LabelSelector.from_object(spec["labelSelector"]).matches(labels)
    if spec.get("orLabelSelectors"):
        return any(LabelSelector.from_object(s).matches(labels) for s in spec["orLabelSelectors"])
    return True


def _validation_errors(spec: dict) -> list[str]:
    if spec.get("labelSelector") and spec.get("orLabelSelectors"):
        return ["encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified"]
    return []


class VeleroController:
    """Backup/Restore: New -> InProgress -> Completed after ``velero_delay``
    (or the phase a ``velero_fails`` behaviour names); DeleteBackupRequest:
    the Backup goes ``Deleting``, then it and its Restores are deleted and the
    request is ``Processed``."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.seen: dict = {}
        self.contents: dict[tuple[str, str], list[dict]] = {}   # (velero ns, backup) -> PVCs

    def reset(self):
        self.seen.clear()
        self.contents.clear()

    def sync(self, now):
        store = self.ctx.store
        present = set()
        for key, step in ((VELERO_BACKUPS, self._backup), (VELERO_RESTORES, self._restore),
                          (VELERO_DELETE_REQUESTS, self._delete_request)):
            for obj in list(store.items(key)):
                present.add(uid_of(obj))
                if terminating(obj):
                    continue
                try:
                    step(obj, now)
                except ApiError as e:
                    self.ctx.log(f"velero {meta(obj)['name']}: {e.message}")
        for uid in [u for u in self.seen if u not in present]:
            del self.seen[uid]

    def _due(self, key, obj, now) -> bool:
        """Marks a new object InProgress; True once ``velero_delay`` has passed."""
        first = self.seen.setdefault(uid_of(obj), now)
        if now - first >= self.ctx.config.velero_delay:
            return True
        status = obj.get("status") or {}
        if status.get("phase") != "InProgress":
            self.ctx.store.set_status(key, obj, dict(status, phase="InProgress", startTimestamp=now_iso()))
        return False

    def _finish(self, key, obj, status: dict, resource: str):
        """Writes the final status, or the failure a ``velero_fails`` behaviour asks for."""
        md = meta(obj)
        b = self.ctx.behaviours.find("velero_fails", md["name"], md.get("namespace", ""),
                                     target=uid_of(obj), where={"resource": resource})
        if b is not None:
            phase = b["phase"]
            reason = b["reason"] or "simulated failure (velero_fails behaviour)"
            status = {k: v for k, v in status.items() if k not in ("progress",)}
            status["phase"] = phase
            if phase == "FailedValidation":
                status["validationErrors"] = [reason]
            elif phase == "PartiallyFailed":
                status["errors"] = 1
            else:
                status["failureReason"] = reason
        status.setdefault("startTimestamp", now_iso())
        status["completionTimestamp"] = now_iso()
        self.ctx.store.set_status(key, obj, status)
        return status["phase"]

    # ------------------------------------------------------------ Backup

    def _backup(self, obj, now):
        status = obj.get("status") or {}
        if status.get("phase") in DONE_PHASES or status.get("phase") == "Deleting":
            return
        spec = obj.get("spec") or {}
        invalid = _validation_errors(spec)
        if invalid:
            self.ctx.store.set_status(VELERO_BACKUPS, obj, dict(status, phase="FailedValidation",
                                                                validationErrors=invalid))
            return
        if not self._due(VELERO_BACKUPS, obj, now):
            return
        claims = [copy.deepcopy(c) for c in self.ctx.store.items(PVCS) if _selected(spec, c)]
        n = len(claims)
        final = dict(status, phase="Completed", version=1, formatVersion="1.1.0",
                     progress={"totalItems": n, "itemsBackedUp": n})
        if n:
            final.update(volumeSnapshotsAttempted=n, volumeSnapshotsCompleted=n)
        md = meta(obj)
        if self._finish(VELERO_BACKUPS, obj, final, "backups") in ("Completed", "PartiallyFailed"):
            self.contents[(md["namespace"], md["name"])] = claims

    # ------------------------------------------------------------ Restore

    def _restore(self, obj, now):
        store = self.ctx.store
        status = obj.get("status") or {}
        if status.get("phase") in DONE_PHASES:
            return
        md, spec = meta(obj), obj.get("spec") or {}
        name = spec.get("backupName")
        backup = store.peek(VELERO_BACKUPS, md["namespace"], name) if name else None
        invalid = _validation_errors(spec)
        if not name:
            invalid.append("Either a backup or schedule must be specified as a source for the restore, but not both")
        elif backup is None:
            invalid.append(f'Error retrieving backup: backups.velero.io "{name}" not found')
        elif (backup.get("status") or {}).get("phase") not in ("Completed", "PartiallyFailed"):
            invalid.append(f"backup {name} is not in phase Completed or PartiallyFailed")
        if invalid:
            store.set_status(VELERO_RESTORES, obj, dict(status, phase="FailedValidation", validationErrors=invalid))
            return
        if not self._due(VELERO_RESTORES, obj, now):
            return
        mapping = spec.get("namespaceMapping") or {}
        restored = skipped = 0
        wanted = [c for c in self.contents.get((md["namespace"], name), []) if _selected(spec, c)]
        for claim in wanted:
            cmd = meta(claim)
            ns = mapping.get(cmd["namespace"], cmd["namespace"])
            if store.peek(PVCS, ns, cmd["name"]) is not None:
                skipped += 1            # Velero does not overwrite what exists
                continue
            ns_obj = store.peek(NAMESPACES, "", ns)
            if ns_obj is not None and terminating(ns_obj):
                skipped += 1
                continue
            if ns_obj is None:
                store.create_internal(NAMESPACES, None, {"metadata": {"name": ns}})
            labels = dict(cmd.get("labels") or {}, **{"velero.io/backup-name": name,
                                                      "velero.io/restore-name": md["name"]})
            store.create_internal(PVCS, ns, {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": cmd["name"], "labels": labels,
                             "annotations": dict(cmd.get("annotations") or {})},
                "spec": copy.deepcopy(claim.get("spec") or {}),
                "status": {"phase": "Bound"}})
            restored += 1
        final = dict(status, phase="Completed", progress={"totalItems": len(wanted), "itemsRestored": restored})
        if skipped:
            final["warnings"] = skipped
        self._finish(VELERO_RESTORES, obj, final, "restores")

    # ------------------------------------------------------------ DeleteBackupRequest

    def _delete_request(self, obj, now):
        store = self.ctx.store
        status = obj.get("status") or {}
        if status.get("phase") == "Processed":
            return
        md = meta(obj)
        name = (obj.get("spec") or {}).get("backupName")
        backup = store.peek(VELERO_BACKUPS, md["namespace"], name) if name else None
        if backup is None:
            store.set_status(VELERO_DELETE_REQUESTS, obj, {"phase": "Processed", "errors": ["backup not found"]})
            return
        if (backup.get("status") or {}).get("phase") != "Deleting":
            store.set_status(VELERO_BACKUPS, backup, dict(backup.get("status") or {}, phase="Deleting"))
        if not self._due(VELERO_DELETE_REQUESTS, obj, now):
            return
        for restore in list(store.items(VELERO_RESTORES, md["namespace"])):
            if (restore.get("spec") or {}).get("backupName") == name and not terminating(restore):
                store.delete(store.rtype(VELERO_RESTORES), md["namespace"], meta(restore)["name"])
        backup = store.peek(VELERO_BACKUPS, md["namespace"], name)
        if backup is not None and not terminating(backup):
            store.delete(store.rtype(VELERO_BACKUPS), md["namespace"], name)
        self.contents.pop((md["namespace"], name), None)
        store.set_status(VELERO_DELETE_REQUESTS, obj, {"phase": "Processed"})
