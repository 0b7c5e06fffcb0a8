"""The Kubernetes REST API proper: authentication, fault injection, routing,
and the verbs (get, list, create, update, patch, delete, deletecollection,
scale); watches and logs are in streams.py, the admin API in admin.py."""

from __future__ import annotations

import copy
import json
import ssl
import time
import traceback

from . import errors
from .admin import AdminApi
from .errors import ApiError
from .objects import meta
from .patching import apply_patch
from .resources import REGISTRY, Route, parse_api_path
from .selectors import FieldSelector, LabelSelector
from .streams import Streams
from .transport import Dropped, Request, truthy

PUBLIC_PATHS = {"/healthz", "/livez", "/readyz", "/version"}
KUBE_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0+kube-test-server",
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
                "platform": "linux/amd64"}


class App:
    """Request handling independent of the socket plumbing."""

    def __init__(self, ctx, loop, faults, requests, tokens, verbose=False):
        self.ctx = ctx
        self.store = ctx.store
        self.loop = loop
        self.faults = faults
        self.requests = requests
        self.tokens = set(tokens)
        self.verbose = verbose
        self.streams = Streams(self)
        self.admin_api = AdminApi(self)
        self.port = None

    # ------------------------------------------------------------ plumbing

    def log_request(self, req: Request, code: int):
        if req.logged or req.path.startswith("/_test/"):
            return
        req.logged = True
        entry = {"method": req.method, "path": req.path, "query": req.query, "params": req.params,
                 "status": code, "user": req.user, "fault": req.fault.id if req.fault else None}
        entry.update(req.log_extra)
        self.requests.add(entry)

    def authenticate(self, req: Request) -> str | None:
        auth = req.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            return f"token:{token[:6]}…" if token in self.tokens else None
        try:
            cert = req.h.connection.getpeercert()
        except (ValueError, OSError):
            cert = None
        if cert:
            subject = dict(x[0] for x in cert.get("subject", ()))
            return subject.get("commonName", "client-cert")
        return None

    def fail(self, req, e: ApiError, truncate=False):
        req.h.send_json(req, e.code, e.status(), e.headers, truncate=truncate)

    def handle(self, req: Request):
        if req.path.startswith("/_test/") or req.path == "/_test":
            try:
                self.admin_api.handle(req)
            except ApiError as e:
                self.fail(req, e)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                self.fail(req, errors.bad_request(f"{type(e).__name__}: {e}"))
            except Exception as e:  # never crash
                self.ctx.log(f"admin {req.method} {req.path}: {traceback.format_exc()}")
                self.fail(req, ApiError(500, "InternalError", f"{type(e).__name__}: {e}"))
            return
        is_watch = truthy(req.params.get("watch")) or (req.path.endswith("/log") and truthy(req.params.get("follow")))
        try:
            if req.path not in PUBLIC_PATHS:
                req.user = self.authenticate(req)
                if req.user is None:
                    raise errors.unauthorized()
            delay, rule = self.faults.pick(req.method, req.path, req.query, is_watch)
            if delay > 0:
                time.sleep(delay)
            req.fault = rule
            if rule is not None and rule.action == "status":
                headers = {}
                details = {}
                if rule.retry_after is not None:
                    headers["Retry-After"] = str(int(float(rule.retry_after)) if float(rule.retry_after).is_integer()
                                                 else rule.retry_after)
                    details["retryAfterSeconds"] = int(float(rule.retry_after))
                reason = rule.reason or errors.DEFAULT_REASONS.get(rule.code, "Unknown")
                message = rule.message or {
                    429: "Too many requests, please try again later.",
                    500: "Internal error occurred: injected by kube-test-server",
                    409: "Operation cannot be fulfilled: the object has been modified; please apply your "
                         "changes to the latest version and try again",
                    503: "the server is currently unable to handle the request",
                }.get(rule.code, f"injected failure {rule.code}")
                raise ApiError(rule.code, reason, message, details, headers)
            if rule is not None and rule.action == "expire" and not is_watch:
                if req.params.get("continue"):
                    raise errors.expired("The provided continue parameter is too old to display a consistent "
                                         "list result. You can start a new list without the continue parameter.")
                raise errors.expired(f"too old resource version: {req.params.get('resourceVersion') or 0} "
                                     f"({self.store.rv})")
            self.route(req)
        except ApiError as e:
            self.fail(req, e)
        except Dropped:
            raise
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            raise
        except Exception as e:  # never crash: a bug answers 500
            self.ctx.log(f"{req.method} {req.path}: {traceback.format_exc()}")
            self.fail(req, ApiError(500, "InternalError", f"Internal error occurred: {type(e).__name__}: {e}"))

    # ------------------------------------------------------------ routing

    def route(self, req: Request):
        path = req.path.rstrip("/") or "/"
        if req.method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise errors.method_not_allowed(req.method)
        if path in ("/healthz", "/livez", "/readyz"):
            req.h.send_bytes(req, 200, b"ok", content_type="text/plain; charset=utf-8")
            return
        if path == "/version":
            req.h.send_json(req, 200, KUBE_VERSION)
            return
        disc = self.discovery(path)
        if disc is not None:
            req.h.send_json(req, 200, disc)
            return
        route = parse_api_path(path)
        if route is None:
            raise errors.resource_not_found()
        rtype = route.rtype
        if rtype.namespaced and route.namespace is None and route.name is not None:
            raise errors.resource_not_found()
        req.log_extra = {"resource": rtype.resource, "group": rtype.group, "namespace": route.namespace,
                         "name": route.name, "subresource": route.subresource}
        m = req.method
        if route.name is None:
            if m == "GET":
                if truthy(req.params.get("watch")):
                    req.log_extra["verb"] = "watch"
                    self.streams.watch(req, route)
                else:
                    req.log_extra["verb"] = "list"
                    self.list(req, route)
            elif m == "POST":
                req.log_extra["verb"] = "create"
                if rtype.namespaced and route.namespace is None:
                    raise errors.method_not_allowed(m)
                self.create(req, route)
            elif m == "DELETE":
                req.log_extra["verb"] = "deletecollection"
                self.delete_collection(req, route)
            else:
                raise errors.method_not_allowed(m)
            return
        sub = route.subresource
        if sub == "log":
            if m != "GET":
                raise errors.method_not_allowed(m)
            req.log_extra["verb"] = "get"
            self.streams.pod_log(req, route)
            return
        if sub == "scale":
            self.scale(req, route)
            return
        if m == "GET":
            if truthy(req.params.get("watch")):
                req.log_extra["verb"] = "watch"
                req.params["fieldSelector"] = ",".join(
                    x for x in (req.params.get("fieldSelector"), f"metadata.name={route.name}") if x)
                self.streams.watch(req, route)
                return
            req.log_extra["verb"] = "get"
            obj = self.store.get(rtype, route.namespace, route.name)
            req.h.send_json(req, 200, self.out(obj, route), truncate=self.truncate(req))
        elif m == "PUT":
            req.log_extra["verb"] = "update"
            obj = self.store.update(rtype, route.namespace, route.name, req.json_body(), sub,
                                    dry_run=self._dry_run(req))
            req.h.send_json(req, 200, self.out(obj, route), truncate=self.truncate(req))
        elif m == "PATCH":
            req.log_extra["verb"] = "patch"
            body = req.json_body()
            obj = self.store.patch(rtype, route.namespace, route.name, req.headers.get("Content-Type"),
                                   body, sub, dry_run=self._dry_run(req))
            req.h.send_json(req, 200, self.out(obj, route), truncate=self.truncate(req))
        elif m == "DELETE":
            req.log_extra["verb"] = "delete"
            if sub:
                raise errors.method_not_allowed(m)
            self.delete(req, route)
        else:
            raise errors.method_not_allowed(m)

    def discovery(self, path):
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]}
        if path == "/apis":
            groups = []
            for g, vs in REGISTRY.groups().items():
                groups.append({"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                               "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        parts = [p for p in path.split("/") if p]
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        elif parts[0] == "apis" and len(parts) == 2 and parts[1] in REGISTRY.groups():
            vs = REGISTRY.groups()[parts[1]]
            return {"kind": "APIGroup", "apiVersion": "v1", "name": parts[1],
                    "versions": [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{parts[1]}/{vs[0]}", "version": vs[0]}}
        else:
            return None
        types = REGISTRY.in_group_version(group, version)
        if not types:
            return None
        resources = []
        for t in types:
            verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            resources.append({"name": t.resource, "singularName": t.singular, "namespaced": t.namespaced,
                              "kind": t.kind, "verbs": verbs})
            for s in t.subresources:
                resources.append({"name": f"{t.resource}/{s}", "singularName": "", "namespaced": t.namespaced,
                                  "kind": "Scale" if s == "scale" else t.kind,
                                  "verbs": ["get"] if s == "log" else ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _dry_run(req) -> bool:
        return req.params.get("dryRun") == "All"

    @staticmethod
    def truncate(req) -> bool:
        return req.fault is not None and req.fault.action == "drop"

    @staticmethod
    def out(obj, route: Route, in_list=False):
        if in_list and not route.rtype.custom:
            obj = dict(obj)
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            return obj
        want = route.rtype.api_version(route.version)
        if obj.get("apiVersion") != want:
            obj = dict(obj, apiVersion=want)
        return obj

    def selectors(self, req, route):
        labels = LabelSelector.parse(req.params.get("labelSelector"))
        fields = FieldSelector.parse(req.params.get("fieldSelector"), route.rtype.key)
        return labels, fields

    def expire_fault(self, req) -> bool:
        return req.fault is not None and req.fault.action == "expire"

    # ------------------------------------------------------------ verbs

    def list(self, req, route):
        labels, fields = self.selectors(req, route)
        limit = req.params.get("limit")
        try:
            limit = int(limit) if limit else None
        except ValueError:
            raise errors.bad_request(f"invalid limit {limit!r}")
        rv = req.params.get("resourceVersion")
        if rv and req.params.get("resourceVersionMatch") == "Exact":
            try:
                if int(rv) < self.store.compacted_rv:
                    raise errors.expired(f"too old resource version: {rv} ({self.store.compacted_rv + 1})")
            except ValueError:
                raise errors.bad_request(f"invalid resource version {rv!r}")
        items, list_rv, token, remaining = self.store.list(route.rtype, route.namespace, labels, fields,
                                                           limit, req.params.get("continue"))
        md = {"resourceVersion": list_rv}
        if token:
            md["continue"] = token
            md["remainingItemCount"] = remaining
        body = {"kind": f"{route.rtype.kind}List", "apiVersion": route.rtype.api_version(route.version),
                "metadata": md, "items": [self.out(o, route, in_list=True) for o in items]}
        req.h.send_json(req, 200, body, truncate=self.truncate(req))

    def create(self, req, route):
        body = req.json_body()
        obj = self.store.create(route.rtype, route.namespace, body, dry_run=self._dry_run(req))
        req.h.send_json(req, 201, self.out(obj, route), truncate=self.truncate(req))

    def _delete_options(self, req):
        opts = req.json_body(required=False) or {}
        if not isinstance(opts, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        prop = opts.get("propagationPolicy") or req.params.get("propagationPolicy")
        orphan = opts.get("orphanDependents")
        if orphan is None and "orphanDependents" in req.params:
            orphan = truthy(req.params["orphanDependents"])
        if prop is None and orphan is not None:
            prop = "Orphan" if orphan else "Background"
        grace = opts.get("gracePeriodSeconds", req.params.get("gracePeriodSeconds"))
        try:
            grace = int(grace) if grace is not None else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds {grace!r}")
        dry = self._dry_run(req) or "All" in (opts.get("dryRun") or [])
        return prop, grace, opts.get("preconditions"), dry

    def delete(self, req, route):
        prop, grace, pre, dry = self._delete_options(req)
        req.log_extra["propagationPolicy"] = prop
        code, body, headers = self.store.delete(route.rtype, route.namespace, route.name, prop, grace, pre, dry)
        if body.get("kind") != "Status":
            body = self.out(body, route)
        req.h.send_json(req, code, body, headers, truncate=self.truncate(req))

    def delete_collection(self, req, route):
        prop, grace, _, dry = self._delete_options(req)
        labels, fields = self.selectors(req, route)
        items, _, _, _ = self.store.list(route.rtype, route.namespace, labels, fields)
        deleted = []
        for o in items:
            try:
                _, body, _ = self.store.delete(route.rtype, meta(o).get("namespace"), meta(o)["name"],
                                               prop, grace, None, dry)
                deleted.append(o if body.get("kind") == "Status" else body)
            except ApiError as e:
                if e.code != 404:
                    raise
        req.h.send_json(req, 200, {"kind": f"{route.rtype.kind}List",
                                   "apiVersion": route.rtype.api_version(route.version),
                                   "metadata": {"resourceVersion": str(self.store.rv)},
                                   "items": [self.out(o, route, in_list=True) for o in deleted]})

    # ------------------------------------------------------------ scale

    def _scale_of(self, obj) -> dict:
        md = meta(obj)
        sel = LabelSelector.from_object((obj.get("spec") or {}).get("selector"))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md["uid"],
                             "resourceVersion": md["resourceVersion"],
                             "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
                "status": {"replicas": int((obj.get("status") or {}).get("replicas", 0)),
                           "selector": sel.to_string()}}

    def scale(self, req, route):
        rtype, store = route.rtype, self.store
        m = req.method
        if m == "GET":
            req.log_extra["verb"] = "get"
            req.h.send_json(req, 200, self._scale_of(store.get(rtype, route.namespace, route.name)),
                            truncate=self.truncate(req))
            return
        if m not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(m)
        req.log_extra["verb"] = "update" if m == "PUT" else "patch"
        body = req.json_body()
        with store.lock:
            current = store.get(rtype, route.namespace, route.name)
            scale = self._scale_of(current)
            if m == "PATCH":
                new_scale = apply_patch(req.headers.get("Content-Type"), scale, body)
            else:
                if not isinstance(body, dict):
                    raise errors.bad_request("the body of the request must be a JSON object")
                if body.get("kind") not in (None, "Scale"):
                    raise errors.bad_request(f"expected kind Scale, got {body.get('kind')!r}")
                new_scale = body
            smd = new_scale.get("metadata") or {}
            if smd.get("name") not in (None, route.name):
                raise errors.bad_request("the name of the Scale does not match the name on the URL")
            replicas = (new_scale.get("spec") or {}).get("replicas")
            if isinstance(replicas, bool) or not isinstance(replicas, int):
                raise errors.bad_request(f"spec.replicas: expected an integer, got {json.dumps(replicas)}")
            if replicas < 0:
                raise ApiError(422, "Invalid", f'Scale.autoscaling "{route.name}" is invalid: spec.replicas: '
                               f"Invalid value: {replicas}: must be greater than or equal to 0",
                               {"name": route.name, "group": "autoscaling", "kind": "Scale", "causes": [
                                   {"reason": "FieldValueInvalid", "field": "spec.replicas",
                                    "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}]})
            want_rv = smd.get("resourceVersion")
            if want_rv and want_rv != meta(current)["resourceVersion"]:
                raise errors.conflict(rtype, route.name)
            updated = copy.deepcopy(current)
            updated["spec"]["replicas"] = replicas
            updated["metadata"].pop("resourceVersion", None)
            obj = store.update(rtype, route.namespace, route.name, updated, dry_run=self._dry_run(req))
        req.h.send_json(req, 200, self._scale_of(obj), truncate=self.truncate(req))

    # ------------------------------------------------------------ streams
