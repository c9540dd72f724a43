"""What to run: the container's spec, parsed and checked from `pyhost run`'s flags.

Every value is validated here, before anything is created, so that a bad flag costs nothing
and leaves nothing behind.
"""

from __future__ import annotations

import os

from pyhost.runtime.cgroups import Limits
from pyhost.runtime.errors import RunUsageError

# Docker's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}, checked without re (whose
# import is a measurable part of `pyhost run`'s start-up); re is imported only by the parsers
# of options that need it (sizes, cpusets, tmpfs options).
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_CHARS = _ALNUM | frozenset("_.-")
NAME_HINT = "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}"
CPUSET_PATTERN = r"^\d+(-\d+)?(,\d+(-\d+)?)*$"


def valid_name(name: str) -> bool:
    return 0 < len(name) <= 128 and name[0] in _ALNUM and all(c in _NAME_CHARS for c in name)


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MIN_MEMORY = 6 * 1024 * 1024  # Docker's floor: below it the runtime itself cannot start
NETWORK_MODES = ("bridge", "host", "none")
ANY_IP = "0.0.0.0"  # noqa: S104 - Docker's meaning of -p without an address


class Mount:
    def __init__(
        self, kind: str, target: str, source: str = "", readonly: bool = False, options: str = ""
    ) -> None:
        self.kind = kind  # bind | tmpfs
        self.target = target
        self.source = source
        self.readonly = readonly
        self.options = options

    def to_json(self) -> dict[str, object]:
        return dict(vars(self))


class Port:
    def __init__(self, host_ip: str, host_port: int, container_port: int, proto: str = "tcp"):
        self.host_ip = host_ip
        self.host_port = host_port
        self.container_port = container_port
        self.proto = proto

    def to_json(self) -> dict[str, object]:
        return dict(vars(self))

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.proto}"


class Spec:
    """Everything `pyhost run` was asked for (plain class: see cgroups.Limits)."""

    def __init__(
        self,
        image: str,
        argv: list[str],
        *,
        name: str = "",
        env: list[str] | None = None,
        workdir: str = "",
        user: str = "",
        hostname: str = "",
        entrypoint: str | None = None,
        mounts: list[Mount] | None = None,
        read_only: bool = False,
        limits: Limits | None = None,
        network: str = "bridge",
        ports: list[Port] | None = None,
        caps: frozenset[str] = frozenset(),
        no_new_privileges: bool = False,
        seccomp: bool = True,
        init: bool = False,
        tty: bool = False,
        interactive: bool = False,
        detach: bool = False,
        auto_remove: bool = False,
    ) -> None:
        self.image = image
        self.argv = argv
        self.name = name
        self.env = env or []
        self.workdir = workdir
        self.user = user
        self.hostname = hostname
        self.entrypoint = entrypoint
        self.mounts = mounts or []
        self.read_only = read_only
        self.limits = limits or Limits()
        self.network = network
        self.ports = ports or []
        self.caps = caps
        self.no_new_privileges = no_new_privileges
        self.seccomp = seccomp
        self.init = init
        self.tty = tty
        self.interactive = interactive
        self.detach = detach
        self.auto_remove = auto_remove


def parse_size(text: str, what: str) -> int:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*", text.lower())
    if not m:
        raise RunUsageError(
            f"invalid {what} {text!r}", hint="use a number with an optional unit: 64m, 1g, 512k"
        )
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def parse_limits(
    memory: str | None,
    memory_swap: str | None,
    cpus: str | None,
    cpu_shares: int | None,
    cpuset: str | None,
    pids: int | None,
) -> Limits:
    mem = parse_size(memory, "--memory") if memory else None
    if mem is not None and mem < MIN_MEMORY:
        raise RunUsageError(f"--memory {memory} is below the minimum of 6m")
    swap: int | None = None
    if memory_swap:
        if mem is None:
            raise RunUsageError("--memory-swap needs --memory as well")
        swap = -1 if memory_swap.strip() == "-1" else parse_size(memory_swap, "--memory-swap")
        if swap != -1 and swap < mem:
            raise RunUsageError("--memory-swap must be at least --memory (it is memory + swap)")
    elif mem is not None:
        swap = 2 * mem  # Docker's default: as much swap as memory
    n_cpus: float | None = None
    if cpus is not None:
        try:
            n_cpus = float(cpus)
        except ValueError:
            raise RunUsageError(f"invalid --cpus {cpus!r}", hint="a number such as 0.5") from None
        available = os.cpu_count() or 1
        if not 0.01 <= n_cpus <= available:
            raise RunUsageError(f"--cpus {cpus} is out of range: 0.01 to {available} here")
    if cpu_shares is not None and not 2 <= cpu_shares <= 262144:
        raise RunUsageError("--cpu-shares must be between 2 and 262144")
    if cpuset is not None:
        import re

        if not re.match(CPUSET_PATTERN, cpuset):
            raise RunUsageError(f"invalid --cpuset-cpus {cpuset!r}", hint="e.g. 0-1 or 0,2")
        wanted: set[int] = set()
        for part in cpuset.split(","):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            if high < low:
                raise RunUsageError(f"invalid --cpuset-cpus {cpuset!r}: {part} is backwards")
            wanted.update(range(low, high + 1))
        usable = os.sched_getaffinity(0)
        if not wanted <= usable:
            raise RunUsageError(
                f"--cpuset-cpus {cpuset}: CPU {min(wanted - usable)} is not available here",
                hint=f"available: {cpu_list(usable)}",
            )
    if pids is not None and pids == 0:
        raise RunUsageError("--pids-limit must be positive, or -1 for no limit")
    return Limits(mem, swap, n_cpus, cpu_shares, cpuset, pids)


def cpu_list(cpus: set[int]) -> str:
    """{0, 1, 2, 5} -> "0-2,5", as the kernel writes CPU lists."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def parse_volume(text: str) -> Mount:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise RunUsageError(
            f"invalid volume {text!r}", hint="use -v /host/path:/container/path[:ro]"
        )
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise RunUsageError(f"invalid volume mode {mode!r} in {text!r}", hint="ro or rw")
    if not source.startswith("/"):
        raise RunUsageError(
            f"volume source {source!r} is not an absolute path",
            hint="pyhost run binds host paths only; named volumes are Docker's",
        )
    if not target.startswith("/") or target == "/":
        raise RunUsageError(f"volume target {target!r} must be an absolute path other than /")
    return Mount("bind", os.path.normpath(target), os.path.normpath(source), mode == "ro")


def parse_tmpfs(text: str) -> Mount:
    target, _, options = text.partition(":")
    if not target.startswith("/") or target == "/":
        raise RunUsageError(f"--tmpfs {text!r}: the target must be an absolute path other than /")
    import re

    allowed = re.compile(r"^(size=\d+[kmg]?|mode=[0-7]{3,4}|ro|rw|noexec|exec|nosuid|suid|nodev)$")
    for opt in filter(None, options.split(",")):
        if not allowed.match(opt):
            raise RunUsageError(f"--tmpfs option {opt!r} is not supported")
    return Mount("tmpfs", os.path.normpath(target), options=options)


def parse_port(text: str) -> Port:
    spec, _, proto = text.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp"):
        raise RunUsageError(f"invalid protocol in -p {text!r}", hint="tcp or udp")
    parts = spec.rsplit(":", 2)
    if len(parts) == 2:
        host_ip, host_port, ctr_port = ANY_IP, parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host_port, ctr_port = parts
        host_ip = host_ip.strip("[]") or ANY_IP
    else:
        raise RunUsageError(
            f"invalid -p {text!r}", hint="use [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]"
        )
    import ipaddress

    try:
        ip = ipaddress.ip_address(host_ip)
    except ValueError:
        raise RunUsageError(f"invalid address {host_ip!r} in -p {text!r}") from None
    if ip.version != 4:
        raise RunUsageError(f"-p {text!r}: only IPv4 publishing is supported by pyhost run")
    numbers = []
    for value in (host_port, ctr_port):
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise RunUsageError(f"invalid port {value!r} in -p {text!r}", hint="1 to 65535")
        numbers.append(int(value))
    return Port(str(ip), numbers[0], numbers[1], proto)


def parse_env(values: list[str], files: list[str]) -> list[str]:
    env: list[str] = []
    for path in files:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise RunUsageError(f"cannot read --env-file {path}: {e.strerror}") from e
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("=") or any(c.isspace() for c in stripped.split("=")[0]):
                raise RunUsageError(f"{path}:{number}: invalid variable line {line!r}")
            env.append(_env_item(stripped))
    env.extend(_env_item(v) for v in values)
    return env


def _env_item(item: str) -> str:
    if "=" in item:
        if item.startswith("="):
            raise RunUsageError(f"invalid environment variable {item!r}")
        return item
    return f"{item}={os.environ[item]}" if item in os.environ else ""


def merge_env(image_env: list[str], extra: list[str]) -> list[str]:
    """Image environment, then the user's (a later KEY wins), PATH and HOSTNAME filled in."""
    merged: dict[str, str] = {}
    for item in [*image_env, *[e for e in extra if e]]:
        key, _, value = item.partition("=")
        merged[key] = value
    merged.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return [f"{k}={v}" for k, v in merged.items()]
