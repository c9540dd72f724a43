"""Facts for the audit: gathered up front, one round trip per host, all hosts in parallel.

Each host runs the collector's ``audit`` request (``pyhost.inspect.collect.hostfacts``):
the same stdlib-only code locally and, over SSH, as the zipapp ``pyhost ps`` sends. The
answer is wrapped here in `HostFacts` and `ContainerFacts`, which the checks read; the daemon's
settings are the running dockerd's command line and daemon.json read together
(`DaemonConfig`), with the engine's own answer (``/info``) preferred where it has one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyhost.errors import PyhostError, UnreachableError

if TYPE_CHECKING:
    from pyhost.connection import Connection
    from pyhost.inspect.remote import SSHOptions
    from pyhost.inventory import Host


# --------------------------------------------------------------------------- the daemon


def _bool_text(text: str) -> bool | None:
    low = text.strip().lower()
    if low in ("true", "1", "t"):
        return True
    if low in ("false", "0", "f"):
        return False
    return None


@dataclass
class Setting:
    """One daemon setting: its effective value and where it came from."""

    value: Any
    source: str  # "dockerd --icc=false", "daemon.json", "engine /info", "default"

    def __str__(self) -> str:
        return f"{self.value!r} ({self.source})"


@dataclass
class DaemonConfig:
    """The running daemon's settings from its argv and daemon.json (flags win, as dockerd
    refuses the same option in both)."""

    argv: list[str]
    json: dict[str, Any]
    json_error: str | None
    json_path: str

    def flag(self, name: str) -> list[str]:
        """Values of ``--name`` (``--name=v``, ``--name v``; a bare bool flag is "true")."""
        out = []
        for i, arg in enumerate(self.argv):
            if arg == f"--{name}":
                nxt = self.argv[i + 1] if i + 1 < len(self.argv) else None
                if nxt is not None and not nxt.startswith("-") and _bool_text(nxt) is None:
                    out.append(nxt)
                else:
                    out.append("true")
            elif arg.startswith(f"--{name}="):
                out.append(arg.split("=", 1)[1])
        return out

    def get(self, name: str, default: Any = None, *, json_key: str | None = None) -> Setting:
        values = self.flag(name)
        if values:
            return Setting(values[-1], f"dockerd --{name}={values[-1]}")
        key = json_key or name
        if key in self.json:
            return Setting(self.json[key], f"{self.json_path}: {json.dumps(key)}")
        return Setting(default, "default")

    def boolean(self, name: str, default: bool, *, json_key: str | None = None) -> Setting:
        found = self.get(name, default, json_key=json_key)
        if isinstance(found.value, str):
            parsed = _bool_text(found.value)
            found.value = default if parsed is None else parsed
        return found

    def many(self, name: str, *, json_key: str | None = None, short: str | None = None) -> Setting:
        """A list option: every flag value, else the daemon.json list."""
        values = self.flag(name)
        if short:
            values += [self.argv[i + 1] for i, a in enumerate(self.argv[:-1]) if a == short]
        if values:
            return Setting(values, f"dockerd --{name}")
        key = json_key or name
        found = self.json.get(key)
        if isinstance(found, list):
            return Setting([str(v) for v in found], f"{self.json_path}: {json.dumps(key)}")
        return Setting([], "default")


def daemon_config(raw: dict[str, Any]) -> DaemonConfig:
    dockerds = raw.get("dockerd") or []
    argv = list(dockerds[0]["argv"]) if dockerds else []
    dj = raw.get("daemon_json") or {}
    data: dict[str, Any] = {}
    error = dj.get("error")
    text = dj.get("text")
    if text is not None and error is None:
        try:
            parsed = json.loads(text) if text.strip() else {}
        except ValueError as e:
            error = f"{dj.get('path')} is not valid JSON: {e}"
        else:
            if isinstance(parsed, dict):
                data = parsed
            else:
                error = f"{dj.get('path')} is not a JSON object"
    return DaemonConfig(argv, data, error, str(dj.get("path") or "/etc/docker/daemon.json"))


# --------------------------------------------------------------------------- the facts


@dataclass
class ContainerFacts:
    """One container: ``config`` from the Engine API, ``kernel`` from /proc and /sys (None
    when it is not running)."""

    host: str
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    @property
    def running(self) -> bool:
        return self.raw.get("kernel") is not None

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.raw.get("config") or {}
        return config

    @property
    def host_config(self) -> dict[str, Any]:
        hc: dict[str, Any] = self.config.get("HostConfig") or {}
        return hc

    @property
    def kernel(self) -> dict[str, Any]:
        kernel: dict[str, Any] = self.raw.get("kernel") or {}
        return kernel

    @property
    def security(self) -> dict[str, Any]:
        sec: dict[str, Any] = self.kernel.get("security") or {}
        return sec

    @property
    def limits(self) -> dict[str, Any]:
        lim: dict[str, Any] = self.kernel.get("limits") or {}
        return lim

    @property
    def mounts(self) -> list[dict[str, Any]]:
        mounts: list[dict[str, Any]] = self.kernel.get("mounts") or []
        return mounts

    def shared(self, kind: str) -> bool | None:
        value: bool | None = (self.kernel.get("namespaces") or {}).get(kind)
        return value

    def ports(self) -> list[tuple[str, str, str]]:
        """(container port, host ip, host port) of each published port."""
        out = []
        ports = (self.config.get("NetworkSettings") or {}).get("Ports") or {}
        for inside, bindings in sorted(ports.items()):
            for b in bindings or []:
                out.append((inside, str(b.get("HostIp") or ""), str(b.get("HostPort") or "")))
        return out


@dataclass
class HostFacts:
    """One inventory host: the collector's document, or why there is none."""

    name: str
    raw: dict[str, Any] | None = None
    error: str | None = None
    status: str = "ok"  # ok | unreachable | failed
    policy: dict[str, Any] = field(default_factory=dict)
    fleet_versions: dict[str, str | None] = field(default_factory=dict)
    connection: Connection | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.raw is not None

    @property
    def engine(self) -> dict[str, Any]:
        engine: dict[str, Any] = (self.raw or {}).get("engine") or {}
        return engine

    @property
    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.engine.get("info") or {}
        return info

    @property
    def docker_version(self) -> str | None:
        version = (self.engine.get("version") or {}).get("Version")
        return str(version) if version else None

    @property
    def daemon(self) -> DaemonConfig:
        return daemon_config(self.raw or {})

    @property
    def rootless(self) -> bool:
        options = self.info.get("SecurityOptions") or []
        if any("name=rootless" in str(o) for o in options):
            return True
        dockerds = (self.raw or {}).get("dockerd") or []
        return bool(dockerds) and all(d.get("uid") != 0 for d in dockerds)

    @property
    def userns_remap(self) -> bool:
        options = self.info.get("SecurityOptions") or []
        return any("name=userns" in str(o) for o in options)

    def file(self, path: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = ((self.raw or {}).get("files") or {}).get(path)
        return found

    @property
    def containers(self) -> list[ContainerFacts]:
        return [ContainerFacts(self.name, c) for c in (self.raw or {}).get("containers") or []]


# -------------------------------------------------------------------------- gathering


def _gather_one(host: Host, options: SSHOptions) -> HostFacts:
    from pyhost.inspect import remote
    from pyhost.inspect.collect.protocol import make_request

    policy = {
        "min_docker_version": host.pyhost.audit_min_docker_version,
        "trusted_users": list(host.pyhost.docker_users),
    }
    conn = remote.connection_for(host, options)
    try:
        if host.ansible_connection == "local" and conn.is_root:
            from pyhost.inspect.collect import hostfacts

            raw = hostfacts.collect()  # in process: no interpreter to start
        else:
            raw = remote.result_of(host.name, remote.collect_on(conn, make_request("audit")))
    except UnreachableError as e:
        conn.close()
        return HostFacts(host.name, error=e.one_line(), status="unreachable", policy=policy)
    except PyhostError as e:
        conn.close()
        return HostFacts(host.name, error=e.one_line(), status="failed", policy=policy)
    return HostFacts(host.name, raw=raw, policy=policy, connection=conn)


def gather(
    hosts: Sequence[Host], *, forks: int = 10, options: SSHOptions | None = None
) -> list[HostFacts]:
    """Every host's facts, in inventory order; up to ``forks`` hosts at once. The SSH
    connections stay open for the ``host`` fixture: `close_all` when done."""
    from pyhost.inspect import remote

    options = options or remote.SSHOptions()
    remote.stdin_payload()  # build the zipapp once, before the threads want it
    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        facts = list(pool.map(lambda h: _gather_one(h, options), hosts))
    versions = {f.name: f.docker_version for f in facts if f.ok}
    for f in facts:
        f.fleet_versions = versions
    return facts


def close_all(facts: Sequence[HostFacts]) -> None:
    for f in facts:
        if f.connection is not None:
            f.connection.close()
