"""Long-lived responses: watches (newline-delimited JSON events) and pod log
follows (plain text), both chunked, both able to be cut by a ``drop`` fault."""

from __future__ import annotations

import ssl
import threading
import time
from datetime import datetime, timedelta, timezone

from . import errors
from .errors import ApiError
from .objects import meta
from .transport import Dropped, dumps, truthy


class Streams:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.open = 0

    def _start(self, req, content_type):
        req.h.send_head(req, 200, {}, content_type, chunked=True)
        with self.lock:
            self.open += 1

    def _end(self, req, clean=True):
        with self.lock:
            self.open -= 1
        if clean:
            req.h.end_chunks()

    def watch(self, req, route):
        """GET ...?watch=1: events after resourceVersion until timeoutSeconds."""
        store, cfg = self.app.store, self.app.ctx.config
        rtype, ns = route.rtype, route.namespace
        labels, fields = self.app.selectors(req, route)
        try:
            timeout = float(req.params["timeoutSeconds"]) if req.params.get("timeoutSeconds") else \
                cfg.default_watch_timeout
        except ValueError:
            raise errors.bad_request(f"invalid timeoutSeconds {req.params.get('timeoutSeconds')!r}")
        bookmarks = truthy(req.params.get("allowWatchBookmarks"))
        send_initial = truthy(req.params.get("sendInitialEvents"))
        rv_param = req.params.get("resourceVersion") or ""
        drop_after = req.fault.after_events if self.app.truncate(req) else None
        deadline = time.monotonic() + timeout

        def matches(obj):
            if obj is None:
                return False
            if ns is not None and meta(obj).get("namespace") != ns:
                return False
            return labels.matches(meta(obj).get("labels")) and fields.matches(obj)

        def event(type_, obj):
            return {"type": type_, "object": self.app.out(obj, route)}

        initial = []
        expired_msg = None
        with store.lock:
            if rv_param in ("", "0") or send_initial:
                for o in store.items(rtype.key, ns):
                    if matches(o):
                        initial.append(event("ADDED", o))
                cursor = store.rv
            else:
                try:
                    cursor = int(rv_param)
                except ValueError:
                    raise errors.bad_request(f"invalid resource version {rv_param!r}")
                if cursor < store.compacted_rv:
                    expired_msg = f"too old resource version: {cursor} ({store.compacted_rv + 1})"
        if self.app.expire_fault(req):
            expired_msg = f"too old resource version: {rv_param or 0} ({store.rv})"
        self._start(req, "application/json")
        h = req.h
        sent = 0
        clean = True
        try:
            def emit(ev):
                nonlocal sent
                if drop_after is not None and sent >= drop_after:
                    h.drop()
                h.write_chunk(dumps(ev))
                sent += 1

            if expired_msg:
                emit({"type": "ERROR", "object": errors.expired(expired_msg).status()})
                return
            for ev in initial:
                emit(ev)
            if send_initial:
                emit({"type": "BOOKMARK", "object": {
                    "kind": rtype.kind, "apiVersion": rtype.api_version(route.version),
                    "metadata": {"resourceVersion": str(cursor),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}}})
            if drop_after is not None and sent >= drop_after:
                h.drop()
            next_bookmark = time.monotonic() + cfg.bookmark_interval
            while True:
                out = []
                error = None
                with store.lock:
                    while True:
                        now = time.monotonic()
                        if store.closing or now >= deadline:
                            break
                        if store.rv > cursor or store.compacted_rv > cursor:
                            break
                        if bookmarks and now >= next_bookmark:
                            break
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, next_bookmark - now)
                        store.wait(max(0.01, min(wait, 1.0)))
                    try:
                        evs = store.events_since(cursor)
                    except ApiError as e:
                        evs, error = [], e
                    for ev in evs:
                        if ev.key != rtype.key:
                            continue
                        now_m, was_m = matches(ev.obj), matches(ev.old)
                        if ev.type == "DELETED":
                            if was_m or now_m:
                                out.append(event("DELETED", ev.obj))
                        elif now_m and was_m:
                            out.append(event("MODIFIED", ev.obj))
                        elif now_m:
                            out.append(event("ADDED", ev.obj))
                        elif was_m:
                            out.append(event("DELETED", ev.obj))
                    if error is None:
                        cursor = max(cursor, store.rv)
                    closing = store.closing
                for ev in out:
                    emit(ev)
                if error is not None:
                    emit({"type": "ERROR", "object": error.status()})
                    return
                now = time.monotonic()
                if bookmarks and now >= next_bookmark:
                    emit({"type": "BOOKMARK", "object": {"kind": rtype.kind,
                                                         "apiVersion": rtype.api_version(route.version),
                                                         "metadata": {"resourceVersion": str(cursor)}}})
                    next_bookmark = now + cfg.bookmark_interval
                if closing or now >= deadline:
                    return
        except (Dropped, BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            clean = False
            raise
        finally:
            self._end(req, clean)

    def pod_log(self, req, route):
        """GET pods/{name}/log[?follow=true]."""
        store = self.app.store
        kubelet = self.app.loop.kubelet
        with store.lock:
            pod = store.get(route.rtype, route.namespace, route.name)
            names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            cname = req.params.get("container")
            if not cname:
                if len(names) != 1:
                    raise errors.bad_request(f"a container name must be specified for pod {route.name}, "
                                             f"choose one of: [{' '.join(names)}]")
                cname = names[0]
            elif cname not in names:
                raise errors.bad_request(f"container {cname} is not valid for pod {route.name}")
            rt = kubelet.pods.get(meta(pod)["uid"])
            c = rt.container(cname) if rt else None
            if rt is None or c is None or rt.started is None:
                why = "trying and failing to pull image" if rt is not None and rt.pull else "ContainerCreating"
                raise errors.bad_request(f'container "{cname}" in pod "{route.name}" is waiting to start: {why}')
            if truthy(req.params.get("previous")) and c.restart_count == 0:
                raise errors.bad_request(f'previous terminated container "{cname}" in pod "{route.name}" not found')
            lines = list(c.log)
            start_index = len(lines)
        follow = truthy(req.params.get("follow"))
        timestamps = truthy(req.params.get("timestamps"))
        try:
            tail = int(req.params["tailLines"]) if req.params.get("tailLines") else None
            since = float(req.params["sinceSeconds"]) if req.params.get("sinceSeconds") else None
            limit_bytes = int(req.params["limitBytes"]) if req.params.get("limitBytes") else None
        except ValueError:
            raise errors.bad_request("tailLines, sinceSeconds and limitBytes must be numbers")
        if since is not None:
            cutoff = (datetime.now(timezone.utc) - timedelta(seconds=since)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            lines = [ln for ln in lines if ln[0] >= cutoff]
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []

        def fmt(entry):
            ts, text = entry
            return ((ts + " ") if timestamps else "") + text + "\n"

        if not follow:
            data = "".join(fmt(x) for x in lines).encode()
            if limit_bytes is not None:
                data = data[:limit_bytes]
            req.h.send_bytes(req, 200, data, content_type="text/plain", truncate=self.app.truncate(req))
            return
        drop_after = req.fault.after_events if self.app.truncate(req) else None
        self._start(req, "text/plain")
        h = req.h
        sent = 0
        clean = True
        uid = meta(pod)["uid"]
        try:
            def emit(entry):
                nonlocal sent
                if drop_after is not None and sent >= drop_after:
                    h.drop()
                h.write_chunk(fmt(entry).encode())
                sent += 1

            for x in lines:
                emit(x)
            index = start_index
            while True:
                with store.lock:
                    while True:
                        alive = kubelet.pods.get(uid) is rt
                        if len(c.log) > index or not alive or c.finished or store.closing:
                            break
                        store.wait(1.0)
                    new = c.log[index:]
                    index += len(new)
                    done = not alive or c.finished or store.closing
                for x in new:
                    emit(x)
                if done:
                    return
        except (Dropped, BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            clean = False
            raise
        finally:
            self._end(req, clean)

    # ------------------------------------------------------------ admin API
