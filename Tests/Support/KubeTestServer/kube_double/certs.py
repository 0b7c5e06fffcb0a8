"""Test PKI with the ``openssl`` command, and kubeconfig files.

Files written into the directory:

    ca.crt / ca.key                     the cluster CA (trusted by the server)
    server.crt / server.key             the API server (SAN 127.0.0.1, ::1, localhost, kubernetes...)
    client.crt / client.key             a client certificate signed by the CA (CN flowrunner-test,
                                        O system:masters)
    untrusted-ca.crt, untrusted-client.crt / .key
                                        a client certificate from another CA (the server refuses it)
    token                               the bearer token the server accepts
    kubeconfig / kubeconfig.json        two users (cert, token) and two contexts (kube-test,
                                        kube-test-token); rewritten by `serve` with the real URL
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile

SERVER_SANS = ["IP:127.0.0.1", "IP:::1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
               "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"]


class CertError(Exception):
    pass


def _openssl(*args, cwd):
    exe = shutil.which("openssl") or "/usr/bin/openssl"
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CertError(f"openssl {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _key(path, key_type, cwd):
    if key_type == "ec":
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=cwd)
    else:
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path, cwd=cwd)
    os.chmod(os.path.join(cwd, path), 0o600)


def _ca(name, cn, key_type, days, cwd):
    _key(f"{name}.key", key_type, cwd)
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-out", f"{name}.crt", "-days", str(days),
             "-sha256", "-subj", f"/CN={cn}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=cwd)


def _leaf(name, subject, ca, extensions, key_type, days, cwd):
    _key(f"{name}.key", key_type, cwd)
    _openssl("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=cwd)
    ext = os.path.join(cwd, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("\n".join(extensions) + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-set_serial", str(secrets.randbits(63)), "-out", f"{name}.crt", "-days", str(days),
             "-sha256", "-extfile", f"{name}.ext", cwd=cwd)
    os.remove(os.path.join(cwd, f"{name}.csr"))
    os.remove(ext)


def generate(directory: str, token: str | None = None, key_type: str = "rsa", days: int = 3650,
             server_url: str = "https://127.0.0.1:6443", client_cn: str = "flowrunner-test",
             client_org: str = "system:masters", extra_sans: list[str] | None = None) -> dict:
    os.makedirs(directory, exist_ok=True)
    d = os.path.abspath(directory)
    _ca("ca", "kube-test-server-ca", key_type, days, d)
    sans = SERVER_SANS + list(extra_sans or [])
    _leaf("server", "/CN=kube-apiserver", "ca",
          ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(sans)], key_type, days, d)
    _leaf("client", f"/O={client_org}/CN={client_cn}", "ca",
          ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           "extendedKeyUsage=clientAuth"], key_type, days, d)
    _ca("untrusted-ca", "some-other-ca", key_type, days, d)
    _leaf("untrusted-client", "/CN=intruder", "untrusted-ca",
          ["basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth"], key_type, days, d)
    os.remove(os.path.join(d, "untrusted-ca.key"))
    token = token or secrets.token_hex(24)
    with open(os.path.join(d, "token"), "w") as f:
        f.write(token + "\n")
    os.chmod(os.path.join(d, "token"), 0o600)
    write_kubeconfig(d, server_url)
    return files(d)


def files(directory: str) -> dict:
    d = os.path.abspath(directory)
    names = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key",
             "untrusted-ca.crt", "untrusted-client.crt", "untrusted-client.key", "token",
             "kubeconfig", "kubeconfig.json"]
    return {n: os.path.join(d, n) for n in names}


def read_token(directory: str) -> str | None:
    p = os.path.join(directory, "token")
    if os.path.exists(p):
        with open(p) as f:
            return f.read().strip() or None
    return None


def _b64(path) -> str:
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig_dict(directory: str, server_url: str) -> dict:
    d = os.path.abspath(directory)
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kube-test", "cluster": {
            "server": server_url, "certificate-authority-data": _b64(os.path.join(d, "ca.crt"))}}],
        "users": [
            {"name": "kube-test-cert", "user": {
                "client-certificate-data": _b64(os.path.join(d, "client.crt")),
                "client-key-data": _b64(os.path.join(d, "client.key"))}},
            {"name": "kube-test-token", "user": {"token": read_token(d) or ""}},
        ],
        "contexts": [
            {"name": "kube-test", "context": {"cluster": "kube-test", "user": "kube-test-cert",
                                              "namespace": "default"}},
            {"name": "kube-test-token", "context": {"cluster": "kube-test", "user": "kube-test-token",
                                                    "namespace": "default"}},
        ],
        "current-context": "kube-test",
    }


def _yaml(cfg: dict) -> str:
    q = json.dumps   # JSON strings are valid YAML double-quoted scalars
    lines = ["apiVersion: v1", "kind: Config", "preferences: {}", "clusters:"]
    for c in cfg["clusters"]:
        lines += [f"- name: {q(c['name'])}", "  cluster:",
                  f"    server: {q(c['cluster']['server'])}",
                  f"    certificate-authority-data: {c['cluster']['certificate-authority-data']}"]
    lines.append("users:")
    for u in cfg["users"]:
        lines += [f"- name: {q(u['name'])}", "  user:"]
        for k, v in u["user"].items():
            lines.append(f"    {k}: {q(v) if k == 'token' else v}")
    lines.append("contexts:")
    for c in cfg["contexts"]:
        lines += [f"- name: {q(c['name'])}", "  context:",
                  f"    cluster: {q(c['context']['cluster'])}",
                  f"    user: {q(c['context']['user'])}",
                  f"    namespace: {q(c['context']['namespace'])}"]
    lines.append(f"current-context: {q(cfg['current-context'])}")
    return "\n".join(lines) + "\n"


def _atomic_write(path, text, mode=0o600):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_kubeconfig(directory: str, server_url: str, path: str | None = None) -> tuple[str, str]:
    cfg = kubeconfig_dict(directory, server_url)
    path = path or os.path.join(os.path.abspath(directory), "kubeconfig")
    _atomic_write(path, _yaml(cfg))
    json_path = path + ".json" if not path.endswith(".json") else path
    _atomic_write(json_path, json.dumps(cfg, indent=2) + "\n")
    return path, json_path
