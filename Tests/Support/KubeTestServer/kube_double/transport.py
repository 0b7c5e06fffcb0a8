"""HTTP/1.1 over TLS: the request object, the handler (bodies, chunked
streams, cut connections) and the threaded server with per-connection TLS
handshakes."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import errors
from .errors import ApiError

MAX_BODY = 3 * 1024 * 1024


class Dropped(Exception):
    """The connection was cut on purpose (a ``drop`` fault) or by the client."""


def dumps(obj) -> bytes:
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def truthy(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes")


class Request:
    """One parsed request, handed from the HTTP handler to the application."""

    def __init__(self, handler: "Handler", method: str):
        self.h = handler
        self.method = method
        parts = urlsplit(handler.path)
        self.path = unquote(parts.path) or "/"
        self.query = parts.query
        self.params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = handler.headers
        self.body_bytes = b""
        self.user: str | None = None
        self.fault = None
        self.logged = False
        self.log_extra: dict = {}
        self.started = time.monotonic()

    def json_body(self, required=True):
        if not self.body_bytes.strip():
            if required:
                raise errors.bad_request("the request body is empty; expected a JSON object")
            return None
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if self.method != "PATCH" and ctype not in ("application/json", "*/*", "text/plain", ""):
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types "
                           f"include: application/json (got {ctype})")
        try:
            return json.loads(self.body_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise errors.bad_request(f"the body of the request could not be decoded as JSON: {e}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-test-server"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            super().log_message(fmt, *args)

    def _dispatch(self):
        req = Request(self, self.command)
        try:
            req.body_bytes = self._read_body()
        except ApiError as e:
            self.close_connection = True
            self.send_json(req, e.code, e.status(), e.headers)
            return
        except (OSError, ValueError):
            self.close_connection = True
            return
        try:
            self.server.app.handle(req)
        except Dropped:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, TimeoutError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(out) + size > MAX_BODY:
                    raise ApiError(413, "RequestEntityTooLarge", "the request body is too large")
                out += self.rfile.read(size)
                self.rfile.readline(65537)
            return bytes(out)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "RequestEntityTooLarge",
                           f"the request body of {length} bytes is larger than the limit of {MAX_BODY}")
        return self.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------ responses

    def send_head(self, req, code, headers, content_type, length=None, chunked=False):
        self.server.app.log_request(req, code)
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", f"{threading.get_ident():x}-{time.monotonic_ns():x}")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length or 0))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send_bytes(self, req, code, body: bytes, headers=None, content_type="application/json",
                   truncate=False):
        self.send_head(req, code, headers, content_type, length=len(body))
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.drop()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, req, code, obj, headers=None, truncate=False):
        self.send_bytes(req, code, dumps(obj), headers, truncate=truncate)

    def write_chunk(self, data: bytes):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise Dropped()


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app, ssl_context: ssl.SSLContext):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a
        # slow or broken client never blocks the accept loop.
        try:
            request.settimeout(30)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            if self.app.verbose:
                self.app.ctx.log(f"TLS handshake with {client_address} failed: {e}")
            try:
                request.close()
            except OSError:
                pass
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


def make_ssl_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    try:
        ctx.set_alpn_protocols(["http/1.1"])
    except NotImplementedError:
        pass
    return ctx
