"""A real registry for pull tests: Debian's docker-registry (distribution 2.8) run as a
subprocess on 127.0.0.1, optionally with token auth against a tiny token server in this
process (RS256 JWTs, the signing certificate in the registry's rootcertbundle)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGISTRY_BINARY = "docker-registry"
SERVICE = "pyhost-test-registry"
ISSUER = "pyhost-test-issuer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def why_no_registry() -> str | None:
    if shutil.which(REGISTRY_BINARY) is None:
        return "no docker-registry binary: apt-get install docker-registry"
    return None


@dataclass
class Registry:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_registry(
    workdir: Path, storage: Path, *, auth: dict[str, Any] | None = None, timeout: float = 30
) -> Registry:
    """Start a registry with filesystem storage at ``storage``; wait until /v2/ answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {secrets.token_hex(16)}",
    ]
    if auth is not None:
        lines += [
            "auth:",
            "  token:",
            f"    realm: {auth['realm']}",
            f"    service: {SERVICE}",
            f"    issuer: {ISSUER}",
            f"    rootcertbundle: {auth['bundle']}",
        ]
    config = workdir / f"config-{port}.yml"
    config.write_text("\n".join(lines) + "\n")
    log = workdir / f"registry-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [REGISTRY_BINARY, "serve", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    registry = Registry(port, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{registry.address}/v2/", timeout=2):
                return registry
        except urllib.error.HTTPError:
            return registry  # 401 from a token registry: it answers
        except OSError:
            time.sleep(0.1)
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer within {timeout} s")


# -- token auth ------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """Hands out anonymous pull/push tokens for any scope, counting the requests."""

    workdir: Path
    port: int = 0
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    _server: Any = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyhost test token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bundle = self.workdir / "token-signer.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self._cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                server.requests.append(query)
                token = server.token(query.get("scope", []), query.get("service", [""])[0])
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, scopes: list[str], service: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for scope in scopes:
            for one in scope.split(" "):
                kind, _, rest = one.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self._cert_der).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": "",
            "aud": service or SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


# -- pushing by hand (for indexes docker cannot push) ---------------------------------------------


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(address: str, repo: str, data: bytes) -> str:
    digest = sha256(data)
    start = urllib.request.Request(
        f"http://{address}/v2/{repo}/blobs/uploads/", method="POST", data=b""
    )
    with urllib.request.urlopen(start, timeout=30) as r:
        location = r.headers["Location"]
    url = urllib.parse.urljoin(f"http://{address}/", location)
    sep = "&" if "?" in url else "?"
    put = urllib.request.Request(
        f"{url}{sep}digest={digest}",
        method="PUT",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(put, timeout=30):
        pass
    return digest


def push_manifest(address: str, repo: str, reference: str, body: bytes, media_type: str) -> str:
    put = urllib.request.Request(
        f"http://{address}/v2/{repo}/manifests/{reference}",
        method="PUT",
        data=body,
        headers={"Content-Type": media_type},
    )
    with urllib.request.urlopen(put, timeout=30):
        pass
    return sha256(body)
