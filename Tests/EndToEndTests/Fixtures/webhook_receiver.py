"""A webhook endpoint for the end-to-end tests, on the standard library only.

    python3 webhook_receiver.py SECRET_FILE LOG_FILE PORT_FILE [--fail N] [--slow-first]

Listens on a free port of 127.0.0.1 (written to PORT_FILE), answers the first
N posts with 503 and the rest with 204, and appends one JSON line per post
to LOG_FILE: the Standard Webhooks headers, whether the signature checks out
against SECRET_FILE (verified here, independently of FlowRunner's signer),
the Authorization header, the answer given and the parsed body. With
--slow-first the first post is answered 200 with a body that trickles in a
byte every 2 seconds (a sender must not wait for it).
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time


def key_of(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def main():
    secret_file, log_file, port_file = sys.argv[1:4]
    fail = int(sys.argv[sys.argv.index("--fail") + 1]) if "--fail" in sys.argv else 0
    slow_first = "--slow-first" in sys.argv
    key = key_of(open(secret_file).read().strip())
    lock = threading.Lock()
    seen = {"posts": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            webhook_id = self.headers.get("webhook-id", "")
            timestamp = self.headers.get("webhook-timestamp", "")
            signed = f"{webhook_id}.{timestamp}.".encode() + body
            expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            given = self.headers.get("webhook-signature", "")
            with lock:
                seen["posts"] += 1
                slow = slow_first and seen["posts"] == 1
                status = 200 if slow else 503 if seen["posts"] <= fail else 204
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                entry = {
                    "id": webhook_id, "timestamp": timestamp, "signature_ok": hmac.compare_digest(expected, given),
                    "content_type": self.headers.get("content-type"), "authorization": self.headers.get("authorization"),
                    "answered": "slow" if slow else status, "body": parsed,
                }
                with open(log_file, "a") as log:
                    log.write(json.dumps(entry) + "\n")
            self.send_response(status)
            self.send_header("content-length", "60" if slow else "0")
            self.end_headers()
            if slow:
                try:
                    for _ in range(60):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(2)
                except OSError:
                    pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file + ".tmp", "w") as out:
        out.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
