"""Defaulting and validation of the built-in types, as the API server's
registry strategies do before an object is stored."""

from __future__ import annotations

import copy
import json

from . import errors
from .resources import DEPLOYMENTS, HELMRELEASES, JOBS, PODS, STATEFULSETS
from .selectors import LabelSelector


def _containers_causes(spec: dict, prefix: str) -> list[tuple[str, str, str]]:
    causes = []
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{prefix}.containers", "FieldValueRequired", "Required value")]
    names = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append((f"{prefix}.containers[{i}]", "FieldValueInvalid", "Invalid value: not an object"))
            continue
        if not c.get("name"):
            causes.append((f"{prefix}.containers[{i}].name", "FieldValueRequired", "Required value"))
        elif c["name"] in names:
            causes.append((f"{prefix}.containers[{i}].name", "FieldValueDuplicate",
                           f'Duplicate value: "{c["name"]}"'))
        names.add(c.get("name"))
        if not c.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "FieldValueRequired", "Required value"))
        for f in ("command", "args"):
            if f in c and c[f] is not None and (not isinstance(c[f], list)
                                                or not all(isinstance(a, str) for a in c[f])):
                raise errors.bad_request(f"{prefix}.containers[{i}].{f}: expected a list of strings")
        if "env" in c and c["env"] is not None and not isinstance(c["env"], list):
            raise errors.bad_request(f"{prefix}.containers[{i}].env: expected a list")
    return causes


def _default_pod_spec(spec: dict):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for c in spec.get("containers") or []:
        if isinstance(c, dict) and isinstance(c.get("image"), str):
            img = c["image"]
            tagless = ":" not in img.rsplit("/", 1)[-1] and "@" not in img
            c.setdefault("imagePullPolicy", "Always" if tagless or img.endswith(":latest") else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})


def _int_field(rtype, name, spec, field, default, minimum=0):
    v = spec.get(field, default)
    if v is None:
        v = default
    if isinstance(v, bool) or not isinstance(v, int):
        raise errors.bad_request(f"spec.{field}: expected an integer, got {json.dumps(v)}")
    if v < minimum:
        raise errors.invalid(rtype, name, [(f"spec.{field}", "FieldValueInvalid",
                                            f"Invalid value: {v}: must be greater than or equal to {minimum}")])
    spec[field] = v


def workload(op, rtype, new, old):
    if op == "status":
        return
    name = new["metadata"]["name"]
    spec = new.get("spec")
    if not isinstance(spec, dict):
        raise errors.invalid(rtype, name, [("spec", "FieldValueRequired", "Required value")])
    _int_field(rtype, name, spec, "replicas", 1)
    causes = []
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(template, dict):
        raise errors.invalid(rtype, name, [("spec.template", "FieldValueRequired", "Required value")])
    tlabels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or not isinstance(selector, dict) or not (selector.get("matchLabels") or
                                                               selector.get("matchExpressions")):
        causes.append(("spec.selector", "FieldValueRequired", "Required value"))
    elif not LabelSelector.from_object(selector).matches(tlabels):
        causes.append(("spec.template.metadata.labels", "FieldValueInvalid",
                       f"Invalid value: {json.dumps(tlabels, sort_keys=True)}: `selector` does not "
                       f"match template `labels`"))
    tspec = template.get("spec")
    if not isinstance(tspec, dict):
        causes.append(("spec.template.spec", "FieldValueRequired", "Required value"))
    else:
        causes += _containers_causes(tspec, "spec.template.spec")
        rp = tspec.get("restartPolicy", "Always")
        if rp != "Always":
            causes.append(("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                           f'Unsupported value: "{rp}": supported values: "Always"'))
    if old is not None and old.get("spec", {}).get("selector") != spec.get("selector"):
        causes.append(("spec.selector", "FieldValueInvalid",
                       f"Invalid value: {json.dumps(spec.get('selector'), sort_keys=True)}: field is immutable"))
    if causes:
        raise errors.invalid(rtype, name, causes)
    _default_pod_spec(tspec)
    if rtype.key == DEPLOYMENTS:
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    else:
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})


def job(op, rtype, new, old):
    if op == "status":
        return
    name = new["metadata"]["name"]
    spec = new.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("template"), dict):
        raise errors.invalid(rtype, name, [("spec.template", "FieldValueRequired", "Required value")])
    for f, d in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6)):
        _int_field(rtype, name, spec, f, d)
    if "activeDeadlineSeconds" in spec and spec["activeDeadlineSeconds"] is not None:
        _int_field(rtype, name, spec, "activeDeadlineSeconds", None, minimum=1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec["template"]
    tspec = template.get("spec")
    causes = []
    if not isinstance(tspec, dict):
        raise errors.invalid(rtype, name, [("spec.template.spec", "FieldValueRequired", "Required value")])
    causes += _containers_causes(tspec, "spec.template.spec")
    rp = tspec.get("restartPolicy", "Always")
    if rp not in ("Never", "OnFailure"):
        causes.append(("spec.template.spec.restartPolicy", "FieldValueRequired",
                       'Required value: valid values: "OnFailure", "Never"'))
    if old is None:
        uid = new["metadata"]["uid"]
        if not spec.get("manualSelector"):
            if spec.get("selector"):
                causes.append(("spec.selector", "FieldValueInvalid",
                               "Invalid value: `selector` will be auto-generated"))
            spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            tmd = template.setdefault("metadata", {})
            labels = tmd.setdefault("labels", {})
            labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                           "controller-uid": uid, "job-name": name})
    else:
        ospec = old.get("spec", {})
        for f in ("template", "selector", "completions", "completionMode"):
            if f == "template":
                a, b = dict(ospec.get(f) or {}), dict(spec.get(f) or {})
                _default_pod_spec(b.setdefault("spec", {}))
            else:
                a, b = ospec.get(f), spec.get(f)
            if a != b:
                causes.append((f"spec.{f}", "FieldValueInvalid", "Invalid value: field is immutable"))
    if causes:
        raise errors.invalid(rtype, name, causes)
    _default_pod_spec(tspec)


def pod(op, rtype, new, old):
    if op == "status":
        return
    name = new["metadata"]["name"]
    spec = new.get("spec")
    if not isinstance(spec, dict):
        raise errors.invalid(rtype, name, [("spec", "FieldValueRequired", "Required value")])
    causes = _containers_causes(spec, "spec")
    if causes:
        raise errors.invalid(rtype, name, causes)
    if old is None:
        _default_pod_spec(spec)
        new.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
    else:
        a, b = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(spec)
        _default_pod_spec(b)

        def strip(s):
            return [{k: v for k, v in c.items() if k != "image"} for c in s.get("containers", [])]

        def rest(s):
            return {k: v for k, v in s.items() if k not in ("containers", "activeDeadlineSeconds")}
        if strip(a) != strip(b) or rest(a) != rest(b):
            raise errors.invalid(rtype, name, [("spec", "FieldValueForbidden",
                                                "Forbidden: pod updates may not change fields other than "
                                                "`spec.containers[*].image`, `spec.activeDeadlineSeconds`")])


def helmrelease(op, rtype, new, old):
    if op == "status":
        return
    spec = new.get("spec")
    name = new["metadata"]["name"]
    if not isinstance(spec, dict):
        raise errors.invalid(rtype, name, [("spec", "FieldValueRequired", "Required value")])
    if not spec.get("chart") and not spec.get("chartRef"):
        raise errors.invalid(rtype, name, [("spec", "FieldValueInvalid",
                                            "Invalid value: \"object\": either chart or chartRef must be set")])
    if spec.get("chart") and spec.get("chartRef"):
        raise errors.invalid(rtype, name, [("spec", "FieldValueInvalid", "Invalid value: \"object\": "
                                            "either chart or chartRef must be set, not both")])
    if "values" in spec and spec["values"] is not None and not isinstance(spec["values"], dict):
        raise errors.bad_request("spec.values: expected an object")


def register(store):
    store._add_admission(DEPLOYMENTS, workload)
    store._add_admission(STATEFULSETS, workload)
    store._add_admission(JOBS, job)
    store._add_admission(PODS, pod)
    store._add_admission(HELMRELEASES, helmrelease)
