"""The ``/_test/`` admin API (no authentication): faults, behaviours, the
request log, objects, charts, timing configuration, compaction and reset."""

from __future__ import annotations

import copy

from . import errors
from .errors import ApiError
from .objects import meta
from .resources import NAMESPACES, REGISTRY


class AdminApi:
    def __init__(self, app):
        self.app = app

    def handle(self, req):
        path = req.path.rstrip("/")
        m = req.method
        h = req.h
        parts = path.split("/")[2:]      # after "/_test"
        head = parts[0] if parts else ""
        if head == "requests":
            if m == "GET" and len(parts) == 1:
                since = int(req.params.get("since") or 0)
                found = self.app.requests.list(req.params.get("method"), req.params.get("path"), since)
                h.send_json(req, 200, {"requests": found})
            elif (m == "POST" and parts[1:] == ["reset"]) or (m == "DELETE" and len(parts) == 1):
                self.app.requests.reset()
                h.send_json(req, 200, {"ok": True})
            else:
                raise errors.method_not_allowed(m)
        elif head in ("faults", "behaviours"):
            reg = self.app.faults if head == "faults" else self.app.ctx.behaviours
            if m == "GET" and len(parts) == 1:
                h.send_json(req, 200, {head: reg.list()})
            elif m == "POST" and len(parts) == 1:
                h.send_json(req, 200, {head: reg.add(req.json_body())})
                self.app.store.notify()
            elif m == "DELETE" and len(parts) == 1:
                reg.clear()
                self.app.store.notify()
                h.send_json(req, 200, {"ok": True})
            elif m == "DELETE" and len(parts) == 2:
                if not reg.remove(parts[1]):
                    raise ApiError(404, "NotFound", f"{head[:-1]} {parts[1]!r} not found")
                self.app.store.notify()
                h.send_json(req, 200, {"ok": True})
            else:
                raise errors.method_not_allowed(m)
        elif head == "objects":
            if m == "GET":
                items = self.app.store.dump()
                kind, ns = req.params.get("kind"), req.params.get("namespace")
                items = [o for o in items if (not kind or o.get("kind") == kind)
                         and (not ns or meta(o).get("namespace") == ns)]
                h.send_json(req, 200, {"items": items})
            elif m == "POST":
                h.send_json(req, 200, {"items": self.seed(req.json_body())})
            else:
                raise errors.method_not_allowed(m)
        elif head == "charts":
            if m == "GET":
                h.send_json(req, 200, {"charts": self.app.ctx.charts.as_json()})
            elif m == "POST":
                body = req.json_body()
                self.app.ctx.charts.update(body.get("charts", body) if isinstance(body, dict) else body)
                h.send_json(req, 200, {"charts": self.app.ctx.charts.as_json()})
            else:
                raise errors.method_not_allowed(m)
        elif head == "config":
            if m == "GET":
                h.send_json(req, 200, self.app.ctx.config.as_json())
            elif m == "POST":
                body = req.json_body()
                if not isinstance(body, dict):
                    raise errors.bad_request("expected an object of settings")
                self.app.ctx.config.update(body)
                h.send_json(req, 200, self.app.ctx.config.as_json())
            else:
                raise errors.method_not_allowed(m)
        elif head == "compact" and m == "POST":
            self.app.store.compact()
            h.send_json(req, 200, {"compactedResourceVersion": str(self.app.store.compacted_rv)})
        elif head == "reset" and m == "POST":
            with self.app.store.lock:
                self.app.store.reset()
                self.app.loop.reset()
            self.app.faults.clear()
            self.app.ctx.behaviours.clear()
            self.app.requests.reset()
            h.send_json(req, 200, {"ok": True})
        elif head == "state" and m == "GET":
            with self.app.store.lock:
                store = self.app.store
                h.send_json(req, 200, {"resourceVersion": str(store.rv),
                                       "compactedResourceVersion": str(store.compacted_rv),
                                       "history": len(store.events), "historyLimit": store.history,
                                       "openStreams": self.app.streams.open, "ticks": self.app.loop.ticks})
        else:
            raise ApiError(404, "NotFound", f"unknown admin path {req.path}")

    def seed(self, body) -> list[dict]:
        if isinstance(body, dict):
            body = body["items"] if "items" in body else [body]
        if not isinstance(body, list):
            raise errors.bad_request("expected an object, a list, or {\"items\": [...]}")
        store = self.app.store
        out = []
        with store.lock:
            for obj in body:
                if not isinstance(obj, dict):
                    raise errors.bad_request(f"not an object: {obj!r}")
                rtype = REGISTRY.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
                if rtype is None:
                    raise errors.bad_request(f"unknown apiVersion/kind {obj.get('apiVersion')}/{obj.get('kind')}")
                ns = (obj.get("metadata") or {}).get("namespace") or ("default" if rtype.namespaced else None)
                if rtype.namespaced and store.peek(NAMESPACES, "", ns) is None:
                    store.create(REGISTRY.by_key(NAMESPACES), None, {"metadata": {"name": ns}})
                name = (obj.get("metadata") or {}).get("name")
                body_obj = copy.deepcopy(obj)
                body_obj.get("metadata", {}).pop("resourceVersion", None)
                if name and store.peek(rtype.key, ns or "", name) is not None:
                    res = store.update(rtype, ns, name, body_obj)
                    if "status" in obj:
                        res = store.update(rtype, ns, name, dict(res, status=obj["status"]), "status")
                else:
                    res = store.create(rtype, ns, body_obj, keep_status=True)
                out.append(res)
        return out
