"""The supervisor: create, run, watch and clean up containers; stop, kill, remove, prune.

Facts, then changes: every command first collects what killed supervisors left (a record
whose supervisor is gone), then acts. The supervisor is the `pyhost run` process itself in
the foreground, or a forked child of it with ``-d``; it is the only process that writes a
running container's record, and it removes everything the container had (cgroup, veth,
rules, and with ``--rm`` the record and the writable layer) when the container ends.
"""

from __future__ import annotations

import os
import sys
import time

from pyhost.inspect.collect import jsonc
from pyhost.runtime import cgroups, grace, launch, rootfs, state
from pyhost.runtime.errors import RunError, RunUsageError
from pyhost.runtime.spec import NAME_HINT, merge_env, valid_name
from pyhost.runtime.state import ContainerState
from pyhost.runtime.stdlite import Background, remove_tree, signal, suppress

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run`
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from pyhost.runtime.spec import Spec

STOP_TIMEOUT = 10.0


class ImageInfo:
    """What the launcher needs of an image (from the store, or a plain rootfs directory)."""

    def __init__(
        self,
        ref: str,
        id: str,
        layers: list[str],  # lowest first
        *,
        env: list[str] | None = None,
        cmd: list[str] | None = None,
        entrypoint: list[str] | None = None,
        workdir: str = "",
        user: str = "",
        stop_signal: str | None = None,
        overlay_form: bool = True,  # whiteouts stored as overlayfs expects them
    ) -> None:
        self.ref = ref
        self.id = id
        self.layers = layers
        self.env = env or []
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.workdir = workdir
        self.user = user
        self.stop_signal = stop_signal
        self.overlay_form = overlay_form


def resolve_image(ref: str) -> ImageInfo:
    if ("/" in ref and os.path.isdir(ref)) or ref.startswith((".", "/")):
        path = os.path.abspath(ref)
        if not os.path.isdir(path):
            raise RunUsageError(f"rootfs directory {ref} does not exist")
        return ImageInfo(ref=path, id="", layers=[path])
    from pyhost.runtime.images import catalog

    root = catalog.store_root()
    names = catalog.read_names(root)
    image_id = catalog.exact_name(names, ref)
    if image_id is None:  # an id, a digest, a docker.io/ form, or no such image
        from pathlib import Path

        from pyhost.runtime.images import ImageStore

        image = ImageStore(Path(root)).resolve(ref)
        image_id, own_names, cfg = image.id, list(image.names), image.config
        layers, overlay_form = [str(p) for p in image.layers], image.overlay_ready
    else:
        doc = catalog.read_image(root, image_id)
        diff_ids = catalog.diff_ids_of(doc)
        own_names = sorted(n for n, i in names.items() if i == image_id)
        layers = [os.path.join(catalog.layer_dir(root, d), "diff") for d in diff_ids]
        cfg = catalog.ImageConfig.from_json(doc.get("config") or {})
        overlay_form = catalog.overlay_ready(root, diff_ids)
    return ImageInfo(
        ref=own_names[0] if own_names else image_id[:19],
        id=image_id,
        layers=layers,
        env=list(cfg.env),
        cmd=list(cfg.cmd) if cfg.cmd is not None else None,
        entrypoint=list(cfg.entrypoint) if cfg.entrypoint is not None else None,
        workdir=cfg.working_dir,
        user=cfg.user,
        stop_signal=cfg.stop_signal,
        overlay_form=overlay_form,
    )


def command_of(spec: Spec, image: ImageInfo) -> list[str]:
    """Docker's rule: ENTRYPOINT + (CMD args or the image's CMD)."""
    entrypoint = image.entrypoint or []
    if spec.entrypoint is not None:
        entrypoint = [spec.entrypoint] if spec.entrypoint else []
        cmd = spec.argv
    else:
        cmd = spec.argv or (image.cmd or [])
    argv = [*entrypoint, *cmd]
    if not argv:
        raise RunUsageError(
            f"no command given and image {image.ref} has none", hint="pass a command after IMAGE"
        )
    return argv


def image_in_use(image_id: str) -> bool:
    """Whether a pyhost container (running or not) was made from ``image_id``."""
    return any(st.image_id == image_id for st in state.all_states())


def collect_dead() -> list[str]:
    """Clean up after supervisors that were killed; return the ids collected."""
    collected = []
    for st in state.all_states():
        if st.status in ("created", "running") and not st.supervisor_alive():
            _release(st, exit_code=137 if st.status == "running" else None)
            collected.append(st.id)
    return collected


def _host_files(st: ContainerState, spec: Spec, address: str | None) -> dict[str, str]:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf for the container, in its state dir."""
    files = {}
    if spec.network == "host":
        hostname = os.uname().nodename
        hosts = _read("/etc/hosts") or f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n"
        resolv = _read("/etc/resolv.conf")
    else:
        hostname = st.hostname
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        if address:
            hosts += f"{address}\t{hostname}\n"
        # nameservers on the host's loopback cannot be reached from another net namespace
        resolv = "".join(
            line + "\n"
            for line in _read("/etc/resolv.conf").splitlines()
            if not (line.split()[:1] == ["nameserver"] and _loopback(line.split()[1:2]))
        )
    for name, text in (("hosts", hosts), ("hostname", hostname + "\n"), ("resolv.conf", resolv)):
        path = os.path.join(st.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            data = text.encode()
            if os.write(fd, data) != len(data):  # a regular file takes it all, but when full
                raise OSError(28, f"{path}: short write (no space left on device?)")
        finally:
            os.close(fd)
        files[f"/etc/{name}"] = path
    return files


def _loopback(values: list[str]) -> bool:
    return bool(values) and (values[0].startswith("127.") or values[0] == "::1")


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def create(spec: Spec, image: ImageInfo) -> tuple[ContainerState, Any]:
    """Allocate the record, name, address and ports; nothing else exists yet."""
    with state.locked():
        existing = state.all_states()
        if spec.name:
            if not valid_name(spec.name):
                raise RunUsageError(f"invalid container name {spec.name!r}", hint=NAME_HINT)
            if any(s.name == spec.name for s in existing):
                raise RunUsageError(
                    f'the container name "{spec.name}" is already in use',
                    hint=f"remove it with `pyhost rm {spec.name}` or choose another --name",
                )
        cid = state.new_id()
        name = spec.name or _generated_name(cid, {s.name for s in existing})
        bridge = None
        if spec.network == "bridge":
            from pyhost.runtime import network

            used = {s.network.get("address", "") for s in existing}
            taken = {
                (p["host_ip"], p["host_port"], p["proto"])
                for s in existing
                if s.status == "running"
                for p in s.network.get("ports", [])
            }
            network.check_ports_free(spec.ports, taken)
            bridge = network.Bridge(cid, network.allocate(used), spec.ports)
        elif spec.ports:
            raise RunUsageError("-p needs --network bridge (the default)")
        st = ContainerState(
            id=cid,
            name=name,
            image=image.ref,
            image_id=image.id,
            command=command_of(spec, image),
            created=time.time(),
            auto_remove=spec.auto_remove,
            detached=spec.detach,
            hostname=spec.hostname or cid[:12],
            network=bridge.to_json() if bridge else {"mode": spec.network},
            limits=spec.limits.to_json(),
            security={
                "capabilities": sorted(spec.caps),
                "seccomp": "default" if spec.seccomp else "unconfined",
                "no_new_privileges": spec.no_new_privileges,
                "read_only": spec.read_only,
            },
            mounts=[m.to_json() for m in spec.mounts],
            env=merge_env(image.env, spec.env),
            user=spec.user or image.user,
            workdir=spec.workdir or image.workdir or "/",
            tty=spec.tty,
            init=spec.init,
            stop_signal=image.stop_signal or "SIGTERM",
            supervisor_pid=os.getpid(),
            supervisor_start=state.process_start(os.getpid()),
        )
        # where its writable layer and cgroup will be: named before they exist, so that
        # whoever collects a killed supervisor's record removes them (one write of the record
        # before the container starts)
        st.bundle = os.path.join(state.data_root(), "containers", cid)
        st.rootfs = os.path.join(st.bundle, "merged")
        root = os.geteuid() == 0  # rootless: no cgroup of its own
        st.cgroup = (cgroups.planned(cid) if root else cgroups.Cgroup(cgroups.version())).to_json()
        st.save()
    return st, bridge


_ADJECTIVES = [
    "brave",
    "calm",
    "eager",
    "fond",
    "keen",
    "lucid",
    "merry",
    "noble",
    "quick",
    "sharp",
    "sleepy",
    "witty",
]
_NAMES = [
    "babbage",
    "curie",
    "darwin",
    "euler",
    "fermi",
    "gauss",
    "hopper",
    "lovelace",
    "noether",
    "turing",
]


def _generated_name(cid: str, taken: set[str]) -> str:
    n = int(cid[:8], 16)
    for i in range(100):
        name = f"{_ADJECTIVES[(n + i) % len(_ADJECTIVES)]}_{_NAMES[(n // 7 + i) % len(_NAMES)]}"
        if name not in taken:
            return name
    return f"pyhost_{cid[:12]}"


def _plan(
    st: ContainerState, spec: Spec, image: ImageInfo, cg: cgroups.Cgroup, files: dict[str, str]
) -> launch.Plan:
    bundle = st.bundle
    merged = st.rootfs
    use_overlay = (
        image.overlay_form
        and rootfs.overlay_supported()
        and not os.environ.get("PYHOST_NO_OVERLAY")
    )
    os.makedirs(bundle, mode=0o700, exist_ok=True)
    for sub in ("upper", "work", "merged") if use_overlay else ("merged",):
        # upper's mode becomes the container's / : 0755, like every image's root
        with suppress(FileExistsError):
            os.mkdir(os.path.join(bundle, sub), 0o700 if sub == "work" else 0o755)
    if not use_overlay:
        _materialize(image, merged)
    plan = launch.Plan(
        hostname=st.hostname,
        argv=st.command,
        env=st.env,
        user=st.user,
        workdir=st.workdir,
        lowers=image.layers,
        upper=os.path.join(bundle, "upper"),
        work=os.path.join(bundle, "work"),
        merged=merged,
        copy_rootfs=not use_overlay,
        cgroup=cg,
        network=spec.network,
        caps=spec.caps,
        seccomp=spec.seccomp,
        no_new_privileges=spec.no_new_privileges,
        read_only=spec.read_only,
        init=spec.init,
        mounts=spec.mounts,
        files=files,
    )
    plan.volatile = spec.auto_remove
    if plan.rootless:
        from pyhost.runtime.users import subordinate_ranges

        plan.id_ranges = subordinate_ranges(os.getuid())
    return plan


def _materialize(image: ImageInfo, dest: str) -> None:
    """Where overlayfs is missing: a private copy of the image for this container."""
    if len(image.layers) == 1 and image.id == "":
        import shutil

        shutil.copytree(image.layers[0], dest, symlinks=True, dirs_exist_ok=True)
        return
    from pathlib import Path

    from pyhost.runtime.images import materialize_rootfs

    materialize_rootfs([Path(p) for p in image.layers], Path(dest))


def userns_problem(sysctl: str = "/proc/sys") -> str | None:
    """Why this kernel refuses unprivileged user namespaces, and the setting that decides."""
    checks = (
        (
            "kernel/unprivileged_userns_clone",
            "0",
            "kernel.unprivileged_userns_clone is 0: `sysctl -w kernel.unprivileged_userns_clone=1`",
        ),
        (
            "user/max_user_namespaces",
            "0",
            "user.max_user_namespaces is 0: `sysctl -w user.max_user_namespaces=15000`",
        ),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1): set it to 0 with sysctl, or give "
            "pyhost's python an AppArmor profile with `userns,`",
        ),
    )
    for path, bad, why in checks:
        if _read(f"{sysctl}/{path}").strip() == bad:
            return why
    return None


def run(spec: Spec) -> int:
    """`pyhost run`: the container's exit code (foreground), or 0 once started (``-d``)."""
    if os.geteuid() != 0:
        problem = userns_problem()
        if problem:
            raise RunError(f"rootless run impossible here: {problem}", hint="or run as root")
    collect_dead()
    image = resolve_image(spec.image)
    st, bridge = create(spec, image)
    if spec.detach:
        return _detach(st, spec, image, bridge)
    return _supervise(st, spec, image, bridge)


def _prepared_netns(spec: Spec) -> int | None:
    """The network namespace made while pyhost started (runtime/netns.py), if any."""
    if spec.network == "host":
        return None
    from pyhost.runtime import netns

    return netns.take()


def _start(
    st: ContainerState,
    spec: Spec,
    image: ImageInfo,
    bridge: Any,
    stdio: tuple[int, int, int],
    console: int | None = None,
) -> launch.Started:
    """Everything up to a running command; on failure everything is undone."""
    plan: launch.Plan | None = None
    try:
        root = os.geteuid() == 0
        cg = cgroups.Cgroup.from_json(st.cgroup)  # planned by create(), made below
        files = _host_files(st, spec, bridge.address if bridge else None)
        plan = _plan(st, spec, image, cg, files)
        plan.stdin, plan.stdout, plan.stderr = stdio
        plan.console = console
        if bridge is not None:
            bridge.prepare()
        plan.netns = _prepared_netns(spec)

        def make_cgroup() -> None:
            cgroups.create(cg, spec.limits)

        launch.block_forwarded()
        started = launch.spawn(plan, bridge, make_cgroup if root else None)
        grace.used()
    except BaseException:
        grace.used()
        launch.unblock_forwarded()
        _release(st, exit_code=None, discard=True)
        raise
    finally:
        if plan is not None and plan.netns is not None:
            os.close(plan.netns)  # the container holds it now (or never will)
    st.pid = started.pid
    st.status = "running"
    st.started_at = time.time()
    st.save()
    return started


def _supervise(st: ContainerState, spec: Spec, image: ImageInfo, bridge: Any) -> int:
    stdin = os.open(os.devnull, os.O_RDONLY) if not spec.interactive else 0
    ours = theirs = master = None
    if spec.tty:
        ours, theirs = launch.console_pair()
    try:
        started = _start(st, spec, image, bridge, (stdin, 1, 2), theirs)
        if ours is not None:
            sock, ours = ours, None  # receive_console closes it
            try:
                master = launch.receive_console(sock)
            except BaseException:
                with suppress(ProcessLookupError):
                    os.kill(started.pid, signal.SIGKILL)
                _release(st, exit_code=launch.exit_code(os.waitpid(started.waiter, 0)[1]))
                raise
            launch.copy_window_size(0, master)
    finally:
        for fd in (stdin if stdin != 0 else None, theirs, ours):
            if fd is not None:
                os.close(fd)
    code: int | None = None
    try:
        code = launch.watch(started.pid, master, spec.interactive, started.waiter)
    finally:
        final = _release(st, exit_code=code)
    code = final.exit_code if final.exit_code is not None else 137
    if final.oom_killed:
        print(
            f"pyhost: container {st.name} was killed: out of memory "
            f"(limit {_human(spec.limits.memory)})",
            file=sys.stderr,
        )
    return code


def _human(size: int | None) -> str:
    if not size:
        return "none"
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"


def _detach(st: ContainerState, spec: Spec, image: ImageInfo, bridge: Any) -> int:
    """Fork a supervisor that outlives this command; print the id once the command runs."""
    if spec.network != "host":
        from pyhost.runtime import netns

        netns.settle()  # its thread does not cross the fork; what it made does
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover - the background supervisor
        os.close(report_r)
        code = 0
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            st.supervisor_pid = os.getpid()
            st.supervisor_start = state.process_start(os.getpid())
            st.save()
            log = os.open(st.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                started = _start(st, spec, image, bridge, (null, log, log))
            except BaseException as e:
                message = e.one_line() if hasattr(e, "one_line") else str(e)
                status = int(getattr(e, "exit_status", 125))
                os.write(report_w, jsonc.dumps({"code": status, "message": message}).encode())
                os._exit(status)
            os.close(log)
            os.write(report_w, b"{}")
            os.close(report_w)
            exit_status: int | None = None
            try:
                exit_status = launch.watch(started.pid, waiter=started.waiter)
            finally:
                _release(st, exit_code=exit_status)
        except BaseException:
            code = 125
        os._exit(code)
    os.close(report_w)
    with os.fdopen(report_r, "rb") as f:
        report = f.read()
    data = jsonc.loads(report or b'{"code": 125, "message": "the supervisor died while starting"}')
    if data:
        from pyhost.runtime.errors import CommandNotExecutable, CommandNotFound

        error = {126: CommandNotExecutable, 127: CommandNotFound}.get(data["code"], RunError)
        raise error(data["message"])
    print(st.id)
    return 0


def _release(st: ContainerState, *, exit_code: int | None, discard: bool = False) -> ContainerState:
    """Undo everything the container had; record how it ended (or drop the record)."""
    drop = discard or st.auto_remove
    # the writable layer goes on a thread from the start while the cgroup and the record go
    # here: both are mostly system calls (ext4 and cgroup rmdirs), so they overlap (~2 ms of
    # every --rm). The layer is mounted nowhere by now: the container's mount namespace went
    # with its last process.
    dropping = Background(remove_tree, st.bundle) if drop and st.bundle else None
    current = state.load(st.id) or st
    cg = cgroups.Cgroup.from_json(current.cgroup) if current.cgroup else None
    oom = False
    if cg is not None:
        oom = cgroups.oom_killed(cg)
        cgroups.remove(cg)
    if current.pid and exit_code is None:
        exit_code = _reap(current.pid)
    if current.network.get("mode") == "bridge":
        from pyhost.runtime import network

        others = [
            s
            for s in state.all_states()
            if s.id != st.id and s.status == "running" and s.network.get("mode") == "bridge"
        ]
        with suppress(RunError):
            bridge = network.Bridge(current.id, current.network.get("address", ""))
            bridge.release(last=not others)
    current.status = "exited"
    current.finished_at = time.time()
    current.oom_killed = oom
    current.exit_code = 137 if oom else exit_code
    if drop:
        remove_tree(current.dir)  # the record and the logs
        if dropping is not None:
            dropping.wait(timeout=60)
        if current.bundle:
            remove_tree(current.bundle)  # what the thread left, if anything
    else:
        current.save()
    return current


def _reap(pid: int, timeout: float = 5.0) -> int | None:
    """The exit code of our own child ``pid`` (killed with its cgroup); None when not ours."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return launch.exit_code(status)
        if time.monotonic() > deadline:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return launch.exit_code(os.waitpid(pid, 0)[1])
        time.sleep(0.005)


def _signal_number(name: str | int) -> int:
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    text = str(name).upper()
    text = text if text.startswith("SIG") else f"SIG{text}"
    import signal as signals  # its enum is the name table (kill/stop only, not run)

    try:
        return int(signals.Signals[text])
    except KeyError:
        raise RunUsageError(f"unknown signal {name!r}", hint="e.g. TERM, KILL, HUP or 9") from None


def _running(st: ContainerState) -> bool:
    return st.status == "running" and st.supervisor_alive()


def kill(ref: str, sig: str | int = "KILL") -> ContainerState:
    number = _signal_number(sig)
    collect_dead()
    st = state.find(ref)
    if not _running(st):
        raise RunUsageError(f"container {st.name} is not running")
    with suppress(ProcessLookupError):
        os.kill(st.pid, number)
    return st


def stop(ref: str, timeout: float = STOP_TIMEOUT) -> ContainerState:
    """The stop signal, then SIGKILL after ``timeout`` seconds; wait for the clean-up."""
    collect_dead()
    st = state.find(ref)
    if not _running(st):
        return st
    with suppress(ProcessLookupError):
        os.kill(st.pid, _signal_number(st.stop_signal or "SIGTERM"))
    if _wait_gone(st.pid, timeout):
        return state.wait_exited(st, 10.0)
    with suppress(ProcessLookupError):
        os.kill(st.pid, signal.SIGKILL)
    _wait_gone(st.pid, 10.0)
    return state.wait_exited(st, 10.0)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_running(pid):
            return True
        time.sleep(0.02)
    return not _pid_running(pid)


def _pid_running(pid: int) -> bool:
    """Alive and not a zombie waiting for its supervisor."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] not in (b"Z", b"X")


def remove(ref: str, *, force: bool = False) -> ContainerState:
    collect_dead()
    st = state.find(ref)
    if _running(st):
        if not force:
            raise RunUsageError(
                f"container {st.name} is running",
                hint=f"stop it first, or use `pyhost rm -f {st.name}`",
            )
        with suppress(ProcessLookupError):
            os.kill(st.pid, signal.SIGKILL)
        _wait_gone(st.pid, 10.0)
        st = state.wait_exited(st, 10.0)
        if st.supervisor_alive():
            raise RunError(f"the supervisor of {st.name} did not finish in time")
    current = state.load(st.id)
    if current is not None:
        state.remove_files(current)
    return st


def logs(ref: str, *, follow: bool = False, out: Any = None) -> None:
    """Print what the container wrote; with ``follow``, until it ends."""
    st = state.find(ref)
    if not st.detached:
        raise RunUsageError(
            f"container {st.name} ran in the foreground: its output went to the terminal",
            hint="`pyhost run -d` keeps the output for `pyhost logs`",
        )
    stream = out or sys.stdout.buffer
    try:
        f = open(st.log_path, "rb")  # noqa: SIM115 - held open while following
    except FileNotFoundError:
        return
    with f:
        while True:
            chunk = f.read(65536)
            if chunk:
                stream.write(chunk)
                stream.flush()
                continue
            if not follow:
                return
            current = state.load(st.id)
            if current is None or not _running(current):
                rest = f.read()
                if rest:
                    stream.write(rest)
                    stream.flush()
                return
            time.sleep(0.1)


def prune() -> list[str]:
    """Remove stopped containers and anything a killed supervisor left behind."""
    removed = collect_dead()
    for st in state.all_states():
        if st.status != "running":
            state.remove_files(st)
            removed.append(st.id)
    known = {st.id for st in state.all_states()}
    # orphaned writable layers and cgroups of containers with no record at all
    bundles = os.path.join(state.data_root(), "containers")
    if os.path.isdir(bundles):
        for name in os.listdir(bundles):
            if name not in known:
                remove_tree(os.path.join(bundles, name))
                removed.append(name)
    for path in _cgroup_dirs():
        if os.path.basename(path) not in known:
            cgroups.remove(cgroups.Cgroup(cgroups.version(), {"orphan": path}))
    prune_network()
    return sorted(set(removed))


def _cgroup_dirs() -> list[str]:
    roots = (
        ["/sys/fs/cgroup"] if cgroups.version() == 2 else sorted(set(cgroups.v1_roots().values()))
    )
    found = []
    for root in roots:
        parent = os.path.join(root, "pyhost")
        with suppress(OSError):
            found += [
                os.path.join(parent, n)
                for n in os.listdir(parent)
                if os.path.isdir(os.path.join(parent, n))
            ]
    return found


def prune_network() -> int:
    """Rules and veths of containers that no longer run; the bridge when none uses it."""
    running = {st.id[:12] for st in state.all_states() if _running(st)}
    bridge_users = [
        st for st in state.all_states() if _running(st) and st.network.get("mode") == "bridge"
    ]
    if not os.path.exists("/sys/class/net/pyhost0") and not shutil_which("iptables"):
        return 0
    from pyhost.runtime import network

    tags = network.pyhost_tags()
    stale = [t for t in tags if t != network.BRIDGE_TAG and t.split(":", 1)[1] not in running]
    if not bridge_users and network.BRIDGE_TAG in tags:
        stale.append(network.BRIDGE_TAG)
    removed = network.remove_rules(*stale) if stale else 0
    for link in os.listdir("/sys/class/net"):
        if link.startswith("ph") and len(link) == 13 and link[2:] not in {r[:11] for r in running}:
            network.delete_link(link)
            removed += 1
    if not bridge_users and os.path.exists(f"/sys/class/net/{network.BRIDGE}"):
        network.delete_link(network.BRIDGE)
        removed += 1
    return removed


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)
