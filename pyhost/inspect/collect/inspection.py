"""`inspect` data: one container (or any process) in depth, as one JSON-able dict.

Schema "pyhost.inspect/1" (documented in the README; held by tests/unit/test_inspect_schema.py):
top-level keys in ``TOP_KEYS``; each section in ``SECTIONS`` is a dict with ``available``
(False when it could not be read: container not running, process gone, permission denied),
``reason`` (why not, else None), ``findings`` (one line each) and the keys in
``SECTION_KEYS`` (None where unavailable). Adding keys is compatible; removing or renaming
them needs "pyhost.inspect/2".
"""

from __future__ import annotations

import os

from . import (
    cache,
    cgroups,
    components,
    mountinfo,
    namespaces,
    network,
    processes,
    proctable,
    security,
    storage,
)
from .engine import Engine, EngineUnavailable, Request
from .fs import hostname, pyhost_state_dir
from .proctable import Proc

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SCHEMA = "pyhost.inspect/1"
TOP_KEYS = (
    "schema",
    "host",
    "root",
    "cgroup_version",
    "namespace_reference",
    "target",
    "engine",
    "namespaces",
    "cgroups",
    "storage",
    "network",
    "security",
    "processes",
    "components",
    "findings",
    "notes",
)
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "namespaces": ("reference", "nspid", "types"),
    "cgroups": (
        "version",
        "driver",
        "path",
        "controllers",
        "memory",
        "cpu",
        "pids",
        "cpuset",
        "io",
    ),
    "storage": (
        "driver",
        "docker_root",
        "source",
        "image_id",
        "layers",
        "container_layer",
        "rootfs",
        "mounts",
    ),
    "network": (
        "mode",
        "engine_mode",
        "netns",
        "shared_with",
        "interfaces",
        "gateway",
        "addresses_source",
        "engine_networks",
        "ports",
    ),
    "security": (
        "cap_eff",
        "capabilities",
        "caps_added",
        "caps_dropped",
        "privileged",
        "seccomp",
        "seccomp_filters",
        "apparmor",
        "no_new_privs",
        "readonly_rootfs",
        "uid_map",
        "gid_map",
        "user_namespace",
        "docker_sock",
        "verdict",
    ),
    "processes": ("pid_namespace", "scope", "count", "truncated", "tree"),
    "components": (
        "docker_cli",
        "dockerd",
        "containerd",
        "shim",
        "runtime",
        "process",
        "chain",
    ),
}
SECTIONS = tuple(SECTION_KEYS)
NEEDS_PROCESS = ("namespaces", "cgroups", "network", "security", "processes")
NOT_RUNNING = "not running"
GONE = "the process exited during the inspection"
NOT_DOCKER = "not a Docker container"
ENGINE_CACHE = "engine.json"
# A process that is not a container's is measured against Docker's defaults only where
# that means something: what it shares with the host, and its privileges.
PROCESS_FINDINGS = ("namespaces", "security")


class TargetError(Exception):
    """The container or process named cannot be inspected; a usage error (exit 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ProcessGone(Exception):
    """The inspected process exited while a section was read."""


class Context:
    """What every section may need, gathered once.

    Plain classes in the collector (here, Mount, Proc): importing dataclasses costs ~20 ms of
    every `pyhost inspect`, locally and on every remote host.
    """

    def __init__(
        self,
        *,
        pid: int | None,
        config: dict[str, Any] | None,
        known: dict[str, str],  # container id -> name (the engine's, all states)
        version: dict[str, Any] | None,
        info: dict[str, Any] | None,
        proc: str = "/proc",
        sysfs: str = "/sys",
    ) -> None:
        self.pid = pid
        self.config = config
        self.known = known
        self.version = version
        self.info = info
        self.proc = proc
        self.sysfs = sysfs
        self.table: dict[int, Proc] = {}
        self.reference = "pid 1"
        self.host_ns: dict[str, tuple[int, int] | None] = {}
        self.cg_version = 1
        self.gone = False
        self.cli: components.DockerCli | None = None  # `docker --version`, started early
        # the engine's /version and /info, sent early and read where first needed
        self.pending: tuple[Request, Request] | None = None
        self._mounts: list[mountinfo.Mount] | None = None
        self._host_mounts: list[mountinfo.Mount] | None = None
        self.keep: tuple[str | None, list[object]] | None = None  # (cache dir, key) for them

    @property
    def container_id(self) -> str | None:
        return (self.config or {}).get("Id")

    def mounts(self) -> list[mountinfo.Mount]:
        """The process's mount table, read once for the sections that need it."""
        assert self.pid is not None
        if self._mounts is None:
            self._mounts = mountinfo.read(self.pid, self.proc)
        return self._mounts

    def host_mounts(self) -> list[mountinfo.Mount]:
        """The host's mount table, read once (with many containers it is long: the kernel
        takes ~10 us a line to write it, and parsing costs as much again)."""
        if self._host_mounts is None:
            self._host_mounts = mountinfo.host_mounts(self.proc)
        return self._host_mounts

    def v1_hierarchies(self) -> dict[str, tuple[str, str]] | None:
        """Where this process finds the v1 hierarchies: from the host's table when it shares
        PID 1's mount namespace (the same table), else None (cgroups reads its own)."""
        if self.reference != "pid 1" or self.proc != "/proc":
            return None
        if namespaces.ns_id("self", "mnt", self.proc) != self.host_ns.get("mnt"):
            return None
        return cgroups.v1_mounts_of(self.host_mounts())

    def engine_answers(self) -> None:
        """Read /version and /info where they were sent early (EngineUnavailable if the
        engine stopped answering meanwhile)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            try:
                self.version = pending[0].result()
                self.info = pending[1].result()
            finally:
                pending[1].close()
            if self.keep is not None and self.version is not None and self.info is not None:
                entry = cache.engine_subset(self.version, self.info)
                cache.store(self.keep[0], ENGINE_CACHE, {"key": self.keep[1], **entry})


def name_of(summary: dict[str, Any]) -> str:
    names = [n.lstrip("/") for n in summary.get("Names") or []]
    return names[0] if names else str(summary["Id"])[:12]


class Known(dict[str, str]):
    """Container id -> name of the containers the engine knows, as a dict whose lookups of
    an id it was not given ask the engine for its list, once: an inspection compares other
    containers' processes with the inspected one's and needs their names (and whether the
    engine knows an id) only where one shares a namespace, which is rare; the list costs
    the engine ~5 ms with 30 containers."""

    def __init__(self, given: dict[str, str], engine: Engine | None) -> None:
        """``engine``: where to ask for the rest; None when ``given`` is the whole list."""
        super().__init__(given)
        self.engine = engine

    def _ask(self) -> None:
        engine, self.engine = self.engine, None
        if engine is not None:
            summaries = engine.containers(include_stopped=True)
            self.update((s["Id"], name_of(s)) for s in summaries)

    def __contains__(self, ident: object) -> bool:
        if not dict.__contains__(self, ident) and self.engine is not None:
            self._ask()
        return dict.__contains__(self, ident)

    def __missing__(self, ident: str) -> str:
        if self.engine is None:
            raise KeyError(ident)
        self._ask()
        return self[ident]


def resolve(query: str, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Docker's rule: a full id, then an exact name, then a unique id prefix."""
    wanted = query.lstrip("/")
    for test in (lambda s: s["Id"] == wanted, lambda s: name_of(s) == wanted):
        exact = [s for s in summaries if test(s)]
        if exact:
            return exact[0]
    prefix = [s for s in summaries if wanted and s["Id"].startswith(wanted.lower())]
    if len(prefix) == 1:
        return prefix[0]
    if len(prefix) > 1:
        listed = ", ".join(f"{name_of(s)} ({s['Id'][:12]})" for s in prefix[:8])
        raise TargetError(
            f"{query!r} is the start of {len(prefix)} container ids: {listed}",
            hint="give more of the id, or the name",
        )
    import difflib  # only to name the nearest: ~2 ms

    names = [name_of(s) for s in summaries]
    near = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    near += [n for n in names if wanted in n and n not in near][: 3 - len(near)]
    raise TargetError(
        f"no container {query!r} on this machine",
        hint=f"did you mean: {', '.join(near)}" if near else "`pyhost ps --all` lists them",
    )


def engine_block(engine: Engine) -> dict[str, Any]:
    return {
        "socket": engine.path,
        "available": False,
        "error": None,
        "version": None,
        "api_version": None,
        "root_dir": None,
        "storage_driver": None,
        "cgroup_driver": None,
    }


def _fill_engine(block: dict[str, Any], ctx: Context) -> None:
    version, info = ctx.version or {}, ctx.info or {}
    block.update(
        available=True,
        version=version.get("Version"),
        api_version=version.get("ApiVersion"),
        root_dir=info.get("DockerRootDir"),
        storage_driver=info.get("Driver"),
        cgroup_driver=info.get("CgroupDriver"),
    )


def target_block(kind: str, query: str, ctx: Context) -> dict[str, Any]:
    config = ctx.config
    container = None
    if config:
        state = config.get("State") or {}
        container = {
            "id": config.get("Id"),
            "name": str(config.get("Name", "")).lstrip("/"),
            "image": (config.get("Config") or {}).get("Image"),
            "image_id": config.get("Image"),
            "status": state.get("Status"),
            "exit_code": state.get("ExitCode"),
            "started_at": state.get("StartedAt"),
            "finished_at": state.get("FinishedAt"),
            "command": [config.get("Path", ""), *(config.get("Args") or [])],
        }
    return {
        "kind": kind,
        "query": query,
        "pid": ctx.pid,
        "running": ctx.pid is not None,
        "container": container,
    }


def unavailable(name: str, reason: str) -> dict[str, Any]:
    block: dict[str, Any] = {"available": False, "reason": reason}
    block.update(dict.fromkeys(SECTION_KEYS[name]))
    block["findings"] = []
    return block


def _reason(e: OSError) -> str:
    where = e.filename or "a kernel file"
    if isinstance(e, PermissionError):
        return f"{where}: permission denied (run as root)"
    return f"{where}: {e.strerror or e}"


def run_section(name: str, ctx: Context, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section; a missing process, or an unreadable file, makes it unavailable."""
    if name in NEEDS_PROCESS and ctx.pid is None:
        return unavailable(name, NOT_RUNNING)
    if ctx.gone and name in NEEDS_PROCESS:
        return unavailable(name, GONE)
    try:
        data = fn()
    except (FileNotFoundError, ProcessLookupError) as e:
        if ctx.pid is not None and not os.path.exists(f"{ctx.proc}/{ctx.pid}"):
            ctx.gone = True
            return unavailable(name, GONE)
        return unavailable(name, _reason(e))
    except OSError as e:
        return unavailable(name, _reason(e))
    block: dict[str, Any] = {"available": True, "reason": None}
    block.update(data)
    return block


def _sharers(ctx: Context, mine: dict[str, tuple[int, int] | None]) -> dict[str, list[str]]:
    return proctable.sharing_containers(ctx.table, mine, ctx.container_id, ctx.known, ctx.host_ns)


def _nspid(ctx: Context) -> list[int]:
    assert ctx.pid is not None
    return proctable.nspid(ctx.pid, ctx.proc)


def net_owner(ctx: Context, netns: tuple[int, int] | None) -> str | None:
    """The container that made this net namespace, when that is another container: the one
    whose process in it started first (how --network container:X looks to the kernel)."""
    first: dict[str, int] = {}
    if netns is None:
        return None
    private = netns != ctx.host_ns.get("net")
    for entry in proctable.container_candidates(ctx.table):
        if private and entry.kernel:
            continue  # kernel threads live in the initial namespaces
        if not entry.in_namespace("net", netns) or not entry.container_ids:
            continue  # not in this namespace (the link tells, no cgroup read), or no container
        ident = entry.container(ctx.known)
        if ident is not None:
            first[ident] = min(first.get(ident, entry.start), entry.start)
    if not first:
        return None
    owner = min(first, key=lambda ident: first[ident])
    return None if owner == ctx.container_id else ctx.known[owner]


def _live_pid(ctx: Context) -> int | None:
    """The pid for sections that can do without one (storage, components): None once gone."""
    return None if ctx.gone else ctx.pid


def read_namespaces(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    assert ctx.pid is not None
    mine = namespaces.ns_ids(ctx.pid, ctx.proc)
    return namespaces.section(
        ctx.pid,
        reference=ctx.reference,
        host=ctx.host_ns,
        cg_version=ctx.cg_version,
        sharers=_sharers(ctx, mine),
        nspid=_nspid(ctx),
        proc=ctx.proc,
        mine=mine,
    )


def read_cgroups(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    assert ctx.pid is not None
    return cgroups.section(
        ctx.pid,
        config=ctx.config,
        proc=ctx.proc,
        cg_version=ctx.cg_version,
        sysfs=ctx.sysfs,
        v1=ctx.v1_hierarchies() if ctx.cg_version == 1 else None,
    )


def read_storage(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    ctx.engine_answers()
    info = ctx.info or {}
    if ctx.config is not None and "pyhost" in ctx.config:
        # `pyhost run`'s own store: its layers are not under /var/lib/docker
        out = storage.section(pid=_live_pid(ctx), config=None, root="", driver=None, proc=ctx.proc)
        out["pyhost"] = ctx.config["pyhost"]
        if ctx.pid is None:
            out["mounts"] = storage.config_mounts(ctx.config)
        return out
    pid = _live_pid(ctx)
    return storage.section(
        pid=pid,
        config=ctx.config,
        root=info.get("DockerRootDir") or storage.DEFAULT_ROOT,
        driver=info.get("Driver"),
        proc=ctx.proc,
        own_mounts=ctx.mounts() if pid else None,
        host_mounts=ctx.host_mounts(),
    )


def read_network(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    assert ctx.pid is not None
    ns = result["namespaces"]
    if not ns["available"]:
        raise FileNotFoundError(f"{ctx.proc}/{ctx.pid}/ns/net")
    net = ns["types"]["net"]
    netns = None if net["inode"] is None else (net["device"], net["inode"])
    return network.section(
        ctx.pid,
        net=net,
        owner=net_owner(ctx, netns),
        config=ctx.config,
        peer_lookup=namespaces.ns_id("self", "net", ctx.proc) == ctx.host_ns.get("net"),
        proc=ctx.proc,
        sysfs=ctx.sysfs,
    )


def read_security(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    assert ctx.pid is not None
    return security.section(ctx.pid, ctx.proc, ctx.mounts())


def read_processes(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    assert ctx.pid is not None
    entry = ctx.table.get(ctx.pid)
    in_host = entry is not None and entry.nsid("pid") == ctx.host_ns.get("pid")
    return processes.section(ctx.pid, ctx.table, host_pidns=in_host, proc=ctx.proc)


def read_components(ctx: Context, result: dict[str, Any]) -> dict[str, Any]:
    ctx.engine_answers()
    own = ctx.config is not None and "pyhost" in ctx.config
    out = components.section(
        _live_pid(ctx),
        ctx.table,
        host_pidns=ctx.host_ns.get("pid"),
        version=ctx.version,
        container=ctx.config is not None and not own,
        proc=ctx.proc,
        cli=ctx.cli,
    )
    if own and ctx.config is not None:
        # `pyhost run`'s chain: the pyhost supervisor -> the container's process; this
        # machine's dockerd and containerd have nothing to do with it
        supervisor = int(ctx.config["pyhost"].get("supervisor_pid") or 0)
        described = components.describe(ctx.table.get(supervisor), ctx.proc)
        out.update(docker_cli=None, dockerd=None, containerd=None, shim=None)
        out["runtime"] = {"name": "pyhost", "version": None, "pid": described and supervisor}
    return out


READERS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    "namespaces": read_namespaces,
    "cgroups": read_cgroups,
    "storage": read_storage,
    "network": read_network,
    "security": read_security,
    "processes": read_processes,
    "components": read_components,
}


# The order the sections are read in: those that need the engine's answers come last (the
# list of containers: namespaces, network; /version and /info: storage, components), so
# that the engine works on those while /proc is read (results and findings keep the order
# of READERS).
READ_ORDER = ("cgroups", "security", "processes", "namespaces", "network", "storage", "components")


class HostView:
    """What every inspection reads of the host before its sections: the reference
    namespaces, the cgroup version and the process table. A container's inspection reads
    it while the engine answers (no container process is a kernel thread)."""

    def __init__(self, proc: str, *, kernel: bool) -> None:
        self.reference, self.host_ns = namespaces.host_reference(proc)
        self.cg_version = cgroups.version()
        self.table = proctable.scan(proc, kernel=kernel)


def collect_sections(ctx: Context, result: dict[str, Any], host: HostView | None = None) -> None:
    if host is None:
        # kernel threads only where a kernel thread is inspected (its descendants are threads)
        target = proctable.read_proc(ctx.pid, ctx.proc) if ctx.pid is not None else None
        host = HostView(ctx.proc, kernel=target is not None and target.kernel)
    ctx.reference, ctx.host_ns = host.reference, host.host_ns
    ctx.cg_version = host.cg_version
    ctx.table = host.table
    result["cgroup_version"] = ctx.cg_version
    result["namespace_reference"] = ctx.reference
    for name in READ_ORDER:
        reader = READERS[name]
        result[name] = run_section(name, ctx, lambda: reader(ctx, result))  # noqa: B023
        if ctx.config is None and name not in PROCESS_FINDINGS:
            result[name]["findings"] = []
    for name in READERS:
        for line in result[name]["findings"]:
            result["findings"].append({"section": name, "text": line})


def skeleton(ctx: Context, engine: Engine, kind: str, query: str) -> dict[str, Any]:
    block = engine_block(engine)
    if ctx.version is not None or ctx.pending is not None:
        block["available"] = True
    result: dict[str, Any] = dict.fromkeys(TOP_KEYS)
    result.update(
        schema=SCHEMA,
        host=hostname(),
        root=os.geteuid() == 0,
        engine=block,
        target=target_block(kind, query, ctx),
        findings=[],
        notes=[],
    )
    return result


def finish(result: dict[str, Any], ctx: Context) -> dict[str, Any]:
    ctx.engine_answers()
    if ctx.version is not None:
        _fill_engine(result["engine"], ctx)
    what = "container" if ctx.config else "process"
    label = (result["target"]["container"] or {}).get("name") or f"pid {ctx.pid}"
    if ctx.gone:
        result["target"]["running"] = False
        result["notes"].append(
            f"{what} {label} exited during the inspection (pid {ctx.pid} is gone): "
            "sections marked unavailable could not be read"
        )
    if ctx.config is None:
        ids = proctable.container_ids(ctx.pid, ctx.proc) if ctx.pid else ()
        if ids and not result["engine"]["available"]:
            result["notes"].append(
                f"pid {ctx.pid} runs in Docker container {ids[-1][:12]}, but the engine did "
                "not answer: no layers, config or ports"
            )
        else:
            result["notes"].append(f"pid {ctx.pid} is {NOT_DOCKER}: no layers, config or ports")
    return result


def _pyhost_record(query: str) -> dict[str, Any] | None:
    """The `pyhost run` container ``query`` names, if any; pyhost's records (and the ps
    collector that reads them) are looked at only where pyhost run keeps some."""
    try:
        if not os.listdir(pyhost_state_dir()):
            return None
    except OSError:
        return None
    from . import containers

    return containers.find_record(query)


def _plain(query: str) -> bool:
    """A name or id the engine resolves as we do (no "/", nothing to quote)."""
    return bool(query) and all(c.isascii() and (c.isalnum() or c in "_.-") for c in query)


def inspect_container(
    query: str, engine: Engine | None = None, *, cache_dir: str | None = None
) -> dict[str, Any]:
    """A Docker container by name, full id or unique id prefix.

    Raises EngineUnavailable when no engine answers, TargetError when none matches.

    Every request to the engine is sent at once and read where it is needed: the
    container itself by the name given (the engine resolves a plain name by Docker's rule,
    as resolve() does), /version and /info (read last, after /proc). The list of
    containers is asked for only where it is needed: where the engine has no container
    by that name (resolve() then words the error, or a `pyhost run` container answers),
    and where another container shares a namespace with this one (Known). With
    ``cache_dir``, what /version and /info say of the engine is kept there under a key that
    changes with them (see cache), and they are asked only when it did; the docker CLI's
    version too.
    """
    engine = engine or Engine()
    cli = components.DockerCli(cache_dir)
    guess = engine.send(Engine.container_url(query)) if _plain(query) else None
    listing = None if guess is not None else engine.send("/containers/json", all="1")
    first = guess or listing
    key = cache.engine_key(engine.path, first.peer_pid()) if cache_dir and first else None
    kept = cache.load(cache_dir, ENGINE_CACHE) if key is not None else None
    pending = None
    if kept is None or kept.get("key") != key:
        pending = (engine.send("/version"), engine.send("/info"))
        kept = None
    host = HostView("/proc", kernel=False)  # while the engine answers
    config = None
    if guess is not None:
        # the engine resolves a plain name as resolve() does: full id, name, unique prefix
        try:
            config = guess.result()
        except (KeyError, EngineUnavailable):
            config = None
    if config is not None:
        known = Known({config["Id"]: str(config.get("Name", "")).lstrip("/")}, engine)
    else:
        try:
            listing = listing or engine.send("/containers/json", all="1")
            summaries = listing.result()
            summary = resolve(query, summaries)
        except (EngineUnavailable, TargetError):
            for request in pending or ():
                request.close()
            record = _pyhost_record(query)  # not the engine's: a `pyhost run` container?
            if record is None:
                raise
            return inspect_record(record, query, engine)
        try:
            config = engine.container(summary["Id"])
        except KeyError:
            raise TargetError(f"container {query!r} was removed while pyhost read it") from None
        known = Known({s["Id"]: name_of(s) for s in summaries}, None)  # the whole list
    pid = int((config.get("State") or {}).get("Pid") or 0) or None
    ctx = Context(
        pid=pid,
        config=config,
        known=known,
        version=(kept or {}).get("version"),
        info=(kept or {}).get("info"),
    )
    ctx.pending = pending
    if key is not None and pending is not None:
        ctx.keep = (cache_dir, key)
    ctx.cli = cli
    result = skeleton(ctx, engine, "container", query)
    if pid is None:
        state = config.get("State") or {}
        name = str(config.get("Name", "")).lstrip("/") or str(config.get("Id", ""))[:12]
        result["notes"].append(
            f"container {name} is not running (status {state.get('Status')}, "
            f"exit code {state.get('ExitCode')}): showing its config and layers"
        )
    collect_sections(ctx, result, host)
    return finish(result, ctx)


def inspect_record(record: dict[str, Any], query: str, engine: Engine) -> dict[str, Any]:
    """A `pyhost run` container: the same sections, its config taken from pyhost's record."""
    from . import containers

    config = containers.record_as_config(record)
    pid = int(config["State"]["Pid"]) or None
    ctx = Context(pid=pid, config=config, known={}, version=None, info=None)
    result = skeleton(ctx, engine, "container", query)
    result["engine"]["error"] = "a pyhost run container: Docker's engine is not involved"
    result["target"]["container"]["runtime"] = "pyhost"
    if pid is None:
        result["notes"].append(
            f"container {record.get('name')} is not running (exit code "
            f"{record.get('exit_code')}): showing pyhost's record of it"
        )
    collect_sections(ctx, result)
    return finish(result, ctx)


def inspect_offline(query: str, root: str) -> dict[str, Any]:
    """A container on a disk copy (``--root``): config, layers, mounts; no live process."""
    from .offline import OfflineDocker

    disk = OfflineDocker(root)
    summary = resolve(query, disk.summaries())
    config = disk.container(summary["Id"])
    ctx = Context(pid=None, config=config, known={}, version=None, info=disk.info())
    result = skeleton(ctx, Engine(), "container", query)
    result["engine"].update(
        available=False,
        socket=None,
        error=f"offline: read from {disk.docker}, no daemon asked",
        root_dir=disk.docker,
        storage_driver=disk.driver(),
    )
    result["notes"].append(
        f"offline inspection of {disk.root}: {name_of(summary)} was "
        f"{config['State']['Status']} when the copy was made; namespaces, cgroups, network, "
        "security and processes need a live process"
    )
    collect_sections(ctx, result)
    # this machine's dockerd and containerd are not the copy's
    result["components"] = unavailable("components", "offline: no processes to see")
    return finish(result, ctx)


def _engine_view(
    engine: Engine,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, str], str | None]:
    """(version, info, id -> name, error): whatever the engine tells; nothing without one."""
    requests = (engine.send("/version"), engine.send("/containers/json", all="1"))
    info = engine.send("/info")
    try:
        version, summaries = (request.result() for request in requests)
        known = {s["Id"]: name_of(s) for s in summaries}
        return version, info.result(), known, None
    except EngineUnavailable as e:
        return None, None, {}, e.reason
    finally:
        for request in (*requests, info):
            request.close()


def inspect_pid(pid: int, engine: Engine | None = None, proc: str = "/proc") -> dict[str, Any]:
    """Any process; the Docker parts too when its cgroup names a container the engine knows."""
    if pid <= 0 or not os.path.isdir(f"{proc}/{pid}"):
        raise TargetError(f"no process {pid} on this machine", hint="`ps -e` lists them")
    engine = engine or Engine()
    version, info, known, error = _engine_view(engine)
    config = None
    ident = proctable.Proc(pid, 0, "", 0, {}, proctable.container_ids(pid, proc)).container(known)
    if ident is not None:
        try:
            config = engine.container(ident)
        except (KeyError, EngineUnavailable):
            config = None
    ctx = Context(pid=pid, config=config, known=known, version=version, info=info, proc=proc)
    result = skeleton(ctx, engine, "process", str(pid))
    result["engine"]["error"] = error
    collect_sections(ctx, result)
    return finish(result, ctx)
