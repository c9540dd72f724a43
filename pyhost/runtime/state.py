"""Where the runtime keeps its containers: one JSON record per container.

State lives under /run/pyhost (gone at reboot, like the processes it describes) and the
containers' writable layers under /var/lib/pyhost; both move with PYHOST_STATE_ROOT and
PYHOST_DATA_ROOT, and under $XDG_RUNTIME_DIR / $XDG_DATA_HOME for a normal user.
A record names the supervisor by pid and start time, so a record whose supervisor died
(``kill -9``) is recognised and collected by the next pyhost call.
"""

from __future__ import annotations

import os
import time

from pyhost.inspect.collect import jsonc
from pyhost.runtime import linux
from pyhost.runtime.errors import NoSuchContainer, RunUsageError
from pyhost.runtime.stdlite import remove_tree

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run`
if TYPE_CHECKING:
    from typing import Any


# Paths are plain strings here: pathlib costs ~4 ms of every `pyhost run`.
def state_root() -> str:
    if os.environ.get("PYHOST_STATE_ROOT"):
        return os.environ["PYHOST_STATE_ROOT"]
    if os.geteuid() == 0:
        return "/run/pyhost"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/pyhost-{os.geteuid()}"
    return os.path.join(runtime, "pyhost")


def data_root() -> str:
    if os.environ.get("PYHOST_DATA_ROOT"):
        return os.environ["PYHOST_DATA_ROOT"]
    if os.geteuid() == 0:
        return "/var/lib/pyhost"
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "pyhost")


def containers_dir() -> str:
    return os.path.join(state_root(), "containers")


_DEFAULTS: dict[str, Any] = {
    "id": "",
    "name": "",
    "image": "",
    "image_id": "",
    "command": [],
    "created": 0.0,
    "status": "created",  # created | running | exited
    "pid": 0,  # the container's PID 1, as the host sees it
    "supervisor_pid": 0,
    "supervisor_start": 0,
    "started_at": 0.0,
    "finished_at": 0.0,
    "exit_code": None,
    "oom_killed": False,
    "auto_remove": False,
    "detached": False,
    "hostname": "",
    "rootfs": "",  # the merged root the container sees
    "bundle": "",  # its directory under the data root (upper, work)
    "cgroup": {},
    "network": {},
    "limits": {},
    "security": {},
    "mounts": [],
    "env": [],
    "user": "",
    "workdir": "/",
    "tty": False,
    "init": False,
    "stop_signal": "SIGTERM",
}


class ContainerState:
    """One container's record (a plain class: importing dataclasses costs ~13 ms)."""

    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    created: float
    status: str
    pid: int
    supervisor_pid: int
    supervisor_start: int
    started_at: float
    finished_at: float
    exit_code: int | None
    oom_killed: bool
    auto_remove: bool
    detached: bool
    hostname: str
    rootfs: str
    bundle: str
    cgroup: dict[str, Any]
    network: dict[str, Any]
    limits: dict[str, Any]
    security: dict[str, Any]
    mounts: list[dict[str, Any]]
    env: list[str]
    user: str
    workdir: str
    tty: bool
    init: bool
    stop_signal: str

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown container state fields: {sorted(unknown)}")
        for key, default in _DEFAULTS.items():
            value = values.get(key, default)
            setattr(self, key, value.copy() if isinstance(value, (dict, list)) else value)

    @property
    def dir(self) -> str:
        return os.path.join(containers_dir(), self.id)

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "container.log")

    def save(self) -> None:
        """Write the record atomically (temporary file, fsync-free rename): never half a file."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(self.dir, f".state.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            jsonc.dump(self.to_json(), f)
        os.replace(tmp, os.path.join(self.dir, "state.json"))

    def supervisor_alive(self) -> bool:
        return bool(self.supervisor_pid) and process_start(self.supervisor_pid) == (
            self.supervisor_start
        )

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _DEFAULTS}


def process_start(pid: int) -> int:
    """The start time of ``pid`` in clock ticks (0 when it is gone): tells reused pids apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else 0


def load(container_id: str) -> ContainerState | None:
    path = os.path.join(containers_dir(), container_id, "state.json")
    try:
        with open(path) as f:
            data = jsonc.load(f)
    except (OSError, ValueError):
        return None
    return ContainerState(**{k: v for k, v in data.items() if k in _DEFAULTS})


def all_states() -> list[ContainerState]:
    root = containers_dir()
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        st = load(name)
        if st is not None:
            found.append(st)
    return sorted(found, key=lambda s: s.created, reverse=True)


def find(ref: str) -> ContainerState:
    """A container by name, full id or unique id prefix (as Docker resolves them)."""
    states = all_states()
    for st in states:
        if ref in (st.name, st.id):
            return st
    matches = [st for st in states if len(ref) >= 1 and st.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunUsageError(f"{ref!r} matches {len(matches)} containers; give more of the id")
    import difflib

    near = difflib.get_close_matches(ref, [st.name for st in states], n=1)
    hint = f"did you mean {near[0]}?" if near else "`pyhost ps -a` lists pyhost's containers"
    raise NoSuchContainer(f"no such container: {ref}", hint=hint)


class locked:
    """One pyhost at a time changes names, addresses and ports (an exclusive flock)."""

    def __enter__(self) -> None:
        root = state_root()
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.fd = os.open(os.path.join(root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            linux.flock_exclusive(self.fd)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)


def new_id() -> str:
    return os.urandom(32).hex()


def remove_files(st: ContainerState) -> None:
    """The record, its logs and the container's writable layer."""
    if st.bundle:
        remove_tree(st.bundle)
    remove_tree(st.dir)


def wait_exited(st: ContainerState, timeout: float) -> ContainerState:
    """Poll the record until its supervisor has finished (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    current: ContainerState | None = st
    while time.monotonic() < deadline:
        current = load(st.id)
        if current is None or (current.status != "running" and not current.supervisor_alive()):
            break
        if not current.supervisor_alive():
            break
        time.sleep(0.02)
    return current or st
