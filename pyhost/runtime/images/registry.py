"""Pull from a registry (Registry HTTP API v2) with the standard library only.

Manifests are asked for with the OCI and Docker Accept types; an index (or Docker manifest
list) is resolved to this machine's platform (or ``--platform``), skipping the
``unknown/unknown`` attestation entries. A 401 carries ``WWW-Authenticate: Bearer
realm=...,service=...,scope=...``: an anonymous token is fetched from the realm, reused, and
the request retried. Every manifest and blob is verified against the digest that named it.
Authorization never follows a redirect to another host (blob downloads are redirected to
storage services), and a redirect from https to http is refused.

Registries on 127.0.0.0/8, ::1 and localhost are spoken to over http, as Docker does; any
other only with ``insecure=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from pyhost.runtime.images.errors import RegistryError, short_digest
from pyhost.runtime.images.platforms import (
    Platform,
    choose_manifest,
    default_platform,
    parse_platform,
)
from pyhost.runtime.images.refs import DIGEST, Reference
from pyhost.runtime.images.sources import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MAX_JSON,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageSource,
    LayerSource,
    check_digest,
    is_index,
    manifest_layers,
    parse_json,
)
from pyhost.runtime.images.streams import Readable

ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
USER_AGENT = "pyhost"
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_www_authenticate(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="https://auth",service="reg",scope="repository:a/b:pull,push"`` →
    ``("bearer", {"realm": ..., "service": ..., "scope": ...})`` (quoted values may hold
    commas)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None:
            break
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key] = value
        pos = match.end()
    return scheme.lower(), params


def is_local_registry(endpoint: str) -> bool:
    """127.0.0.0/8, ::1 and localhost (with or without a port)."""
    host = urllib.parse.urlsplit(f"//{endpoint}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Drop Authorization when a redirect leaves the host; refuse https → http."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        old, nxt = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if old.scheme == "https" and nxt.scheme != "https":
            raise RegistryError(f"refusing a redirect from {req.full_url} to plain http")
        if (old.hostname, old.port) != (nxt.hostname, nxt.port):
            for key in list(new.headers):
                if key.lower() == "authorization":
                    del new.headers[key]
            for key in list(new.unredirected_hdrs):
                if key.lower() == "authorization":
                    del new.unredirected_hdrs[key]
        return new


class RegistryClient:
    """One repository on one registry; keeps the token it got for it."""

    def __init__(self, ref: Reference, *, insecure: bool = False, timeout: float = 30.0) -> None:
        self.ref = ref
        self.timeout = timeout
        local = is_local_registry(ref.endpoint)
        self.scheme = "http" if insecure or local else "https"
        self.base = f"{self.scheme}://{ref.endpoint}/v2/{ref.path}/"
        handlers: list[Any] = [_Redirects()]
        if local:
            handlers.append(urllib.request.ProxyHandler({}))  # never via a proxy
        self.opener = urllib.request.build_opener(*handlers)
        self.tokens: dict[tuple[str, str, str], str] = {}
        self.token: str | None = None

    def _open(self, url: str, accept: str | None, what: str) -> Any:
        authenticated = False
        while True:
            headers = {"User-Agent": USER_AGENT}
            if accept:
                headers["Accept"] = accept
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 (http(s) only)
            try:
                return self.opener.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                challenge = e.headers.get("WWW-Authenticate", "")
                e.close()
                if e.code == 401 and not authenticated and challenge:
                    self._authenticate(challenge)
                    authenticated = True
                    continue
                raise self._http_error(e.code, what) from None
            except urllib.error.URLError as e:
                raise RegistryError(
                    f"cannot reach the registry {self.ref.endpoint}: {e.reason}",
                    hint="check the name, or --insecure-registry for a plain-http one",
                ) from e
            except (TimeoutError, OSError) as e:
                raise RegistryError(f"registry {self.ref.endpoint}: {what}: {e}") from e

    def _http_error(self, code: int, what: str) -> RegistryError:
        if code == 404:
            return RegistryError(f"{what}: not found on {self.ref.endpoint}")
        if code in (401, 403):
            return RegistryError(
                f"{what}: the registry {self.ref.endpoint} refused access ({code})",
                hint="pyhost pulls anonymously: the repository may be private or missing",
            )
        return RegistryError(f"{what}: the registry {self.ref.endpoint} answered {code}")

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_www_authenticate(challenge)
        if scheme != "bearer":
            raise RegistryError(
                f"the registry {self.ref.endpoint} asks for {scheme or 'unknown'} "
                "authentication; pyhost pulls with anonymous bearer tokens only"
            )
        realm = params.get("realm", "")
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"the registry {self.ref.endpoint} names no token realm URL")
        service = params.get("service", "")
        scope = params.get("scope") or f"repository:{self.ref.path}:pull"
        key = (realm, service, scope)
        if key not in self.tokens:
            self.tokens[key] = self._fetch_token(realm, service, scope)
        self.token = self.tokens[key]

    def _fetch_token(self, realm: str, service: str, scope: str) -> str:
        query = {"scope": scope}
        if service:
            query["service"] = service
        sep = "&" if urllib.parse.urlsplit(realm).query else "?"
        url = f"{realm}{sep}{urllib.parse.urlencode(query)}"
        handlers: list[Any] = [_Redirects()]
        if is_local_registry(urllib.parse.urlsplit(realm).netloc):
            handlers.append(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.build_opener(*handlers).open(request, timeout=self.timeout) as r:
                body = r.read(MAX_JSON)
        except urllib.error.HTTPError as e:
            raise RegistryError(f"the token service {realm} answered {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise RegistryError(f"cannot reach the token service {realm}: {e}") from e
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        token = (doc or {}).get("token") or (doc or {}).get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token service {realm} gave no token")
        return token

    # -- API ---------------------------------------------------------------------------------

    def manifest(self, reference: str) -> tuple[bytes, str | None]:
        """The manifest body and the digest the registry says it has."""
        what = f"{self.ref.familiar_name}:{reference}" if ":" not in reference else reference
        with self._open(self.base + f"manifests/{reference}", ACCEPT, what) as response:
            body = response.read(MAX_JSON + 1)
            header = response.headers.get("Docker-Content-Digest")
        if len(body) > MAX_JSON:
            raise RegistryError(f"{what}: the manifest is larger than {MAX_JSON} bytes")
        return body, header

    def blob_bytes(self, digest: str) -> bytes:
        with self._open(self.base + f"blobs/{digest}", None, short_digest(digest)) as response:
            body: bytes = response.read(MAX_JSON + 1)
        if len(body) > MAX_JSON:
            raise RegistryError(f"blob {short_digest(digest)} is larger than {MAX_JSON} bytes")
        _verify(body, digest, f"blob {short_digest(digest)}")
        return body

    @contextlib.contextmanager
    def open_blob(self, digest: str) -> Iterator[Readable]:
        response = self._open(self.base + f"blobs/{digest}", None, short_digest(digest))
        try:
            yield response
        finally:
            response.close()


def _verify(body: bytes, digest: str, what: str) -> None:
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise RegistryError(
            f"{what}: content has digest {short_digest(actual)}, not {short_digest(digest)}; "
            "refusing this image"
        )


def pull_source(
    ref: Reference,
    *,
    platform: str | None = None,
    insecure: bool = False,
    timeout: float = 30.0,
) -> ImageSource:
    """Resolve ``ref`` to one image: its verified config and layers to stream."""
    client = RegistryClient(ref, insecure=insecure, timeout=timeout)
    want: Platform = parse_platform(platform) if platform else default_platform()
    body, header_digest = client.manifest(ref.reference)
    if ref.digest:
        _verify(body, ref.digest, str(ref))
    elif header_digest and DIGEST.fullmatch(header_digest):
        _verify(body, header_digest, f"{ref} manifest")
    doc = parse_json(body, f"{ref} manifest")
    for _ in range(4):
        if not is_index(doc):
            break
        desc = choose_manifest(doc.get("manifests") or [], want, what=str(ref))
        digest = check_digest(desc.get("digest"), f"{ref} index")
        body, _header = client.manifest(digest)
        _verify(body, digest, f"{ref} manifest {short_digest(digest)}")
        doc = parse_json(body, f"{ref} manifest")
    else:
        raise RegistryError(f"{ref}: indexes nested too deep")
    config_digest, layer_digests = manifest_layers(doc, f"{ref} manifest")
    config = client.blob_bytes(config_digest)
    layers = [
        LayerSource(
            open=lambda d=d: client.open_blob(d),  # type: ignore[misc]
            blob_digest=d,
            label=short_digest(d),
        )
        for d in layer_digests
    ]
    names = [ref.name] if ref.tag else []
    return ImageSource(config=config, config_digest=config_digest, names=names, layers=layers)
