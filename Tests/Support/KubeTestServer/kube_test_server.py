#!/usr/bin/env python3
"""kube-test-server: a test double of the Kubernetes API server for FlowRunner.

    kube_test_server.py certs --dir D [--token T] [--key-type rsa|ec] [--server URL]
    kube_test_server.py serve --dir D [--host 127.0.0.1] [--port 0] [--ready-file F]
                              [--charts FILE] [--token T]... [--set KEY=VALUE]...
                              [--history N] [--kubeconfig PATH] [--verbose] [--no-watchdog]

Standard library only (Python 3.11+); certificates are made with `openssl`.
See README.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kube_double import certs  # noqa: E402
from kube_double.charts import ChartCatalogue  # noqa: E402
from kube_double.controllers import Context, ControllerLoop  # noqa: E402
from kube_double.server import App  # noqa: E402
from kube_double.transport import KubeHTTPServer, make_ssl_context  # noqa: E402
from kube_double.store import Store  # noqa: E402
from kube_double.testing_api import Behaviours, Faults, RequestLog, SimConfig  # noqa: E402


def cmd_certs(args) -> int:
    if os.path.exists(os.path.join(args.dir, "ca.crt")) and not args.force:
        print(f"{args.dir} already has certificates (use --force to replace them)", file=sys.stderr)
        return 1
    try:
        out = certs.generate(args.dir, token=args.token, key_type=args.key_type, days=args.days,
                             server_url=args.server)
    except certs.CertError as e:
        print(str(e), file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


def _write_ready(path: str, info: dict):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".ready-")
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)


def build(args):
    """Everything but the socket: returns (ctx, loop, app)."""
    config = SimConfig()
    overrides = {}
    for item in args.set or []:
        if "=" not in item:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    try:
        config.update(overrides)
    except ValueError as e:
        raise SystemExit(str(e))
    try:
        charts = ChartCatalogue.load(args.charts) if args.charts else ChartCatalogue()
    except (OSError, ValueError) as e:
        raise SystemExit(f"--charts {args.charts}: {e}")
    store = Store(history=args.history)
    ctx = Context(store, config, Behaviours(), charts)
    loop = ControllerLoop(ctx)
    tokens = list(args.token or [])
    file_token = certs.read_token(args.dir)
    if file_token:
        tokens.append(file_token)
    app = App(ctx, loop, Faults(), RequestLog(), tokens, verbose=args.verbose)
    return ctx, loop, app


def cmd_serve(args) -> int:
    files = certs.files(args.dir)
    if not os.path.exists(files["ca.crt"]):
        try:
            certs.generate(args.dir, token=(args.token or [None])[0])
        except certs.CertError as e:
            print(str(e), file=sys.stderr)
            return 1
    ctx, loop, app = build(args)
    ssl_ctx = make_ssl_context(files["server.crt"], files["server.key"], files["ca.crt"])
    server = KubeHTTPServer((args.host, args.port), app, ssl_ctx)
    port = server.server_address[1]
    app.port = port
    host = args.host if ":" not in args.host else f"[{args.host}]"
    url = f"https://{host}:{port}"
    kubeconfig, kubeconfig_json = certs.write_kubeconfig(args.dir, url, args.kubeconfig)
    loop.start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                               name="http", daemon=True)
    serving.start()
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A parent may start us with signals blocked (a thread of a Swift test runner does):
    # SIGTERM must reach us, or a test's clean-up never stops the server.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
    info = {"port": port, "url": url, "pid": os.getpid(), "kubeconfig": kubeconfig,
            "kubeconfig_json": kubeconfig_json, "ca": files["ca.crt"], "token_file": files["token"],
            "admin": f"{url}/_test/"}
    if args.ready_file:
        _write_ready(args.ready_file, info)
    print(f"kube-test-server listening on {url}", flush=True)
    parent = os.getppid()
    cert_dir = os.path.abspath(args.dir)
    while not stop.is_set():
        stop.wait(0.5)
        if args.watchdog and ((parent != 1 and os.getppid() != parent) or not os.path.isdir(cert_dir)):
            # the test that started us is gone (its process exited or its temp dir was removed)
            print("kube-test-server: parent process or --dir gone, stopping", flush=True)
            break
    # Clean shutdown: stop accepting, end open watch/log streams, stop the controllers.
    server.shutdown()
    with ctx.store.lock:
        ctx.store.closing = True
        ctx.store.cond.notify_all()
    deadline = time.monotonic() + 3
    while app.streams.open > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    server.server_close()
    print("kube-test-server stopped", flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kube_test_server.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("certs", help="make a CA, server and client certificates, a token and a kubeconfig")
    c.add_argument("--dir", required=True)
    c.add_argument("--token", help="the bearer token to accept (default: random)")
    c.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    c.add_argument("--days", type=int, default=3650)
    c.add_argument("--server", default="https://127.0.0.1:6443",
                   help="server URL written to the kubeconfig (serve rewrites it with the real port)")
    c.add_argument("--force", action="store_true")
    s = sub.add_parser("serve", help="run the API server")
    s.add_argument("--dir", required=True, help="certificate directory (made with `certs` if empty)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="0 picks a free port")
    s.add_argument("--ready-file", help="written (atomically) with {port, url, ...} once listening")
    s.add_argument("--charts", help="chart catalogue JSON file")
    s.add_argument("--token", action="append", help="an extra accepted bearer token (repeatable)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="a timing setting (repeatable)")
    s.add_argument("--history", type=int, default=1000, help="watch event history length")
    s.add_argument("--kubeconfig", help="where to write the kubeconfig (default DIR/kubeconfig)")
    s.add_argument("--verbose", action="store_true")
    s.add_argument("--watchdog", action=argparse.BooleanOptionalAction, default=True,
                   help="stop when the parent process exits or --dir is removed (default: on)")
    args = p.parse_args(argv)
    return cmd_certs(args) if args.command == "certs" else cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
