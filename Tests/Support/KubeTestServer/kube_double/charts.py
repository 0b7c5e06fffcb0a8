"""The chart catalogue: which workloads a (simulated) chart installs.

Catalogue JSON: ``{"<chart name>": [<workload template>, ...], ...}`` or
``{"<chart name>": {"workloads": [...]}}``. A workload template::

    {"kind": "Deployment" | "StatefulSet",
     "name": "{release}-web",
     "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "{release}"},
     "annotations": {...},                      # optional, on the workload
     "replicas": "{values.web.replicas|1}",     # int or placeholder
     "image": "{values.image.repository}:{values.image.tag}",
     "containerName": "web",                   # optional, default: the workload name
     "command": "{values.web.command|}",        # optional
     "args": [...], "env": [...],               # optional
     "serviceName": "{release}-db",             # StatefulSet only, optional
     "volumeClaimTemplates": [...],             # StatefulSet only, optional, as in apps/v1
     "service": "{release}-db" | {"name": ..., "headless": false, "ports": [...]}}
                                                # optional: a Service selecting the pods

Placeholders inside strings: ``{release}``, ``{namespace}``, ``{chart}``,
``{version}`` and ``{values.a.b}`` (a dotted path into ``spec.values``; a
number segment indexes a list) with an optional default after ``|``. A
string that is exactly one placeholder takes the value's own type (so
``"{values.web.env|}"`` may give a list); ``|`` alone defaults to "absent"
(the field is left out). A value path with no default that is not set fails
the release (Helm's ``required``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

_PH = re.compile(r"\{(release|namespace|chart|version|values(?:\.[^{}|]+)?)(?:\|([^{}]*))?\}")
_ABSENT = object()


class RenderError(Exception):
    pass


class ChartCatalogue:
    def __init__(self, charts: dict | None = None):
        self.charts: dict[str, list[dict]] = {}
        if charts:
            self.update(charts)

    @classmethod
    def load(cls, path: str) -> "ChartCatalogue":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def update(self, charts: dict):
        if not isinstance(charts, dict):
            raise ValueError("a chart catalogue is a JSON object: chart name -> workloads")
        for name, entry in charts.items():
            workloads = entry.get("workloads") if isinstance(entry, dict) else entry
            if not isinstance(workloads, list):
                raise ValueError(f"chart {name!r}: expected a list of workload templates")
            for w in workloads:
                if not isinstance(w, dict) or w.get("kind") not in ("Deployment", "StatefulSet") \
                        or not w.get("name"):
                    raise ValueError(f"chart {name!r}: each workload needs kind Deployment|StatefulSet "
                                     f"and a name, got {w!r}")
            self.charts[name] = copy.deepcopy(workloads)

    def get(self, name: str) -> list[dict] | None:
        if name in self.charts:
            return self.charts[name]
        return self.charts.get("*")

    def as_json(self) -> dict:
        return copy.deepcopy(self.charts)


def _lookup(values, path: str):
    cur = values
    for seg in path.split("."):
        if isinstance(cur, dict) and seg in cur:
            cur = cur[seg]
        elif isinstance(cur, list) and seg.isdigit() and int(seg) < len(cur):
            cur = cur[int(seg)]
        else:
            return _ABSENT
    return cur


def _resolve(expr: str, default: str | None, ctx: dict, where: str):
    if expr == "values":
        value = ctx["values"]
    elif expr.startswith("values."):
        value = _lookup(ctx["values"], expr[len("values."):])
    else:
        value = ctx.get(expr, _ABSENT)
    if value is _ABSENT or value is None:
        if default is None:
            raise RenderError(f"{where}: value {expr[len('values.'):] if expr.startswith('values.') else expr}"
                              f" is required but not set")
        if default == "":
            return _ABSENT
        try:
            return json.loads(default)
        except ValueError:
            return default
    return value


def substitute(node, ctx: dict, where: str):
    if isinstance(node, str):
        m = _PH.fullmatch(node)
        if m:
            return _resolve(m.group(1), m.group(2), ctx, where)

        def repl(mm):
            v = _resolve(mm.group(1), mm.group(2), ctx, where)
            if v is _ABSENT:
                return ""
            return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)
        return _PH.sub(repl, node)
    if isinstance(node, list):
        out = [substitute(x, ctx, where) for x in node]
        return [x for x in out if x is not _ABSENT]
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            sv = substitute(v, ctx, where)
            if sv is not _ABSENT:
                out[k] = sv
        return out
    return node


def config_digest(values) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(values or {}, sort_keys=True).encode()).hexdigest()


def render(chart: str, version: str, workloads: list[dict], release: str, namespace: str,
           release_namespace: str, values: dict) -> list[dict]:
    """Render the chart's workload templates to full apps/v1 manifests."""
    ctx = {"release": release, "namespace": namespace, "chart": chart, "version": version or "",
           "values": values or {}}
    out = []
    for i, tpl in enumerate(workloads):
        where = f"{chart}/templates/{tpl.get('kind', '?').lower()}-{i}"
        w = substitute(copy.deepcopy(tpl), ctx, where)
        kind, name = w["kind"], str(w["name"])
        labels = {str(k): str(v) for k, v in (w.get("labels") or {}).items()}
        if not labels:
            labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
        replicas = w.get("replicas", 1)
        try:
            replicas = int(replicas)
        except (TypeError, ValueError):
            raise RenderError(f"{where}: replicas {replicas!r} is not an integer")
        container = {"name": str(w.get("containerName") or name), "image": str(w.get("image") or "busybox")}
        for f in ("command", "args", "env", "ports", "resources"):
            if w.get(f) not in (None, "", []):
                if f in ("command", "args") and isinstance(w[f], str):
                    container[f] = [w[f]]
                elif f in ("command", "args", "env", "ports") and not isinstance(w[f], list):
                    raise RenderError(f"{where}: {f} must be a list, got {w[f]!r}")
                else:
                    container[f] = w[f]
        meta_labels = dict(labels)
        meta_labels.update({"app.kubernetes.io/managed-by": "Helm",
                            "helm.sh/chart": f"{chart}-{version}" if version else chart})
        annotations = {str(k): str(v) for k, v in (w.get("annotations") or {}).items()}
        annotations.update({"meta.helm.sh/release-name": release,
                            "meta.helm.sh/release-namespace": release_namespace})
        spec = {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [container]}},
        }
        if kind == "StatefulSet":
            spec["serviceName"] = str(w.get("serviceName") or name)
            if w.get("volumeClaimTemplates"):
                if not isinstance(w["volumeClaimTemplates"], list):
                    raise RenderError(f"{where}: volumeClaimTemplates must be a list")
                spec["volumeClaimTemplates"] = w["volumeClaimTemplates"]
        out.append({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": meta_labels,
                         "annotations": annotations},
            "spec": spec,
        })
        if w.get("service") not in (None, "", False):
            out.append(_service(w["service"], name, labels, meta_labels, annotations, namespace, where))
    return out


def _service(entry, workload: str, selector: dict, labels: dict, annotations: dict, namespace: str,
             where: str) -> dict:
    """The v1 Service a workload template's ``service`` asks for: a name, or
    ``{"name", "headless", "ports"}``; it selects the workload's pods."""
    if isinstance(entry, str):
        entry = {"name": entry}
    elif entry is True:
        entry = {}
    if not isinstance(entry, dict):
        raise RenderError(f"{where}: service must be a name or an object, got {entry!r}")
    name = str(entry.get("name") or workload)
    ports = entry.get("ports") or [{"name": "main", "port": 80, "targetPort": 80, "protocol": "TCP"}]
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    cluster_ip = "None" if entry.get("headless") else f"10.96.{digest[0]}.{max(1, digest[1])}"
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels),
                     "annotations": dict(annotations)},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "selector": dict(selector), "ports": ports},
    }
