"""Start the container process: namespaces, cgroup, filesystem, identity, then execve.

The order is runc's: join the cgroup, unshare, mount (rootfs, kernel filesystems, files,
volumes), pivot_root, mask paths, hostname, drop capabilities, seccomp, user, no_new_privs,
execve; except that on cgroup v1 the supervisor makes the cgroup and moves the child into it
while the child unshares and mounts (the child binds the cgroup directories once they exist,
and goes no further than its mounts before it is in its cgroup).

The child reports any failure before execve through a close-on-exec pipe: an empty read means
the command is running; otherwise the supervisor gets the exit code (125, 126, 127) and one
line. The child never returns into the caller's Python stack.
"""

from __future__ import annotations

import os
import sys

from pyhost.inspect.collect import jsonc
from pyhost.runtime import capabilities, cgroups, linux, rootfs
from pyhost.runtime.errors import CommandNotExecutable, CommandNotFound, RunError
from pyhost.runtime.stdlite import signal, suppress

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run`

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from pyhost.runtime.cgroups import Cgroup
    from pyhost.runtime.spec import Mount
    from pyhost.runtime.users import Identity

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)


class Plan:
    """Everything the container process needs, computed before the fork."""

    def __init__(
        self,
        *,
        hostname: str,
        argv: list[str],
        env: list[str],
        user: str,
        workdir: str,
        lowers: list[str],  # lowest first
        upper: str,
        work: str,
        merged: str,
        copy_rootfs: bool,  # True: ``merged`` already holds a private copy (no overlayfs)
        cgroup: Cgroup,
        network: str,
        caps: frozenset[str],
        seccomp: bool = True,
        no_new_privileges: bool = False,
        read_only: bool = False,
        init: bool = False,
        mounts: list[Mount] | None = None,
        files: dict[str, str] | None = None,  # container path -> host file
    ) -> None:
        self.hostname = hostname
        self.argv = argv
        self.env = env
        self.user = user
        self.workdir = workdir
        self.lowers = lowers
        self.upper = upper
        self.work = work
        self.merged = merged
        self.copy_rootfs = copy_rootfs
        self.cgroup = cgroup
        self.network = network
        self.caps = caps
        self.seccomp = seccomp
        self.no_new_privileges = no_new_privileges
        self.read_only = read_only
        self.init = init
        self.mounts = mounts or []
        self.files = files or {}
        self.stdin, self.stdout, self.stderr = 0, 1, 2
        # a socket to hand the supervisor the master side of a pty opened inside the
        # container's own devpts (so /dev/pts/N exists there, as with Docker's -t)
        self.console: int | None = None
        # rootless: a user namespace mapping root inside to the caller's uid and gid, and
        # uids/gids 1.. to the caller's subordinate ranges when newuidmap can map them
        self.rootless = os.geteuid() != 0
        self.volatile = False  # the writable layer is thrown away at the end (--rm)
        # a network namespace made beforehand (runtime/netns.py) for the child to join
        self.netns: int | None = None
        self.id_ranges: tuple[tuple[int, int], tuple[int, int]] | None = None


class Hooks:
    """Network set-up that needs the supervisor between unshare and the mounts."""

    def attach(self, pid: int) -> None:  # supervisor side, child is in its new netns
        pass

    def inside(self) -> None:  # child side, after attach
        pass


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the code, or 128 + the signal."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Started:
    """A started container: its PID 1 (host view) and the child the supervisor waits for
    (the same process, except rootless, where an intermediate holds the user namespace)."""

    def __init__(self, pid: int, waiter: int) -> None:
        self.pid = pid
        self.waiter = waiter


def spawn(
    plan: Plan, hooks: Hooks | None = None, prepare: Callable[[], None] | None = None
) -> Started:
    """Start the container; return once its command runs (or raise what went wrong).

    ``prepare`` makes the container's cgroup (at ``plan.cgroup``'s paths). Where the
    supervisor moves the child into it (cgroup v1), that happens after the fork, while the
    child unshares and mounts; the child binds the directories only after "c" and goes no
    further than its mounts before "g". Otherwise it happens before the fork: on v2 the child
    joins its cgroup itself, first thing."""
    late = supervisor_joins(plan)
    if prepare is not None and not late:
        prepare()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    up_r, up_w = os.pipe2(os.O_CLOEXEC)  # child -> supervisor: namespaces made
    go_r, go_w = os.pipe2(os.O_CLOEXEC)  # supervisor -> child: network attached, cgroup joined
    if plan.rootless:
        started = _spawn_rootless(plan, err_r, err_w, up_r, up_w, go_r, go_w)
        pid = started.pid
    else:
        own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.unshare(linux.CLONE_NEWPID)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the container's PID 1; ends in execve or _exit
                for fd in (err_r, up_r, go_w, own_pidns):
                    os.close(fd)
                _child(plan, err_w, up_w, go_r, hooks)
            linux.setns(own_pidns, linux.CLONE_NEWPID)  # later forks (iptables) stay in ours
        except OSError as e:
            for fd in (err_r, err_w, up_r, up_w, go_r, go_w):
                os.close(fd)
            raise RunError(f"cannot create the container's namespaces: {e}") from e
        finally:
            os.close(own_pidns)
        started = Started(pid, pid)
    for fd in (err_w, up_w, go_r):
        os.close(fd)
    try:
        try:
            if prepare is not None and late:
                prepare()
            _tell(go_w, b"c")
            if os.read(up_r, 1) == b"u":
                if hooks is not None:
                    hooks.attach(pid)
                if late:
                    cgroups.join(plan.cgroup, pid)
        except BaseException:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(started.waiter, 0)
            raise
        _tell(go_w, b"g")
        report = read_all(err_r)
    finally:
        for fd in (err_r, up_r, go_w):
            with suppress(OSError):
                os.close(fd)
    if report:
        os.waitpid(started.waiter, 0)
        try:
            data = jsonc.loads(report)
            code, message = int(data["code"]), str(data["message"])
        except (ValueError, KeyError, TypeError):
            code, message = 125, report.decode(errors="replace")
        error = {126: CommandNotExecutable, 127: CommandNotFound}.get(code, RunError)
        raise error(message)
    return started


def _tell(go_w: int, token: bytes) -> None:
    """Write to the child; a child that already failed has closed its end, and its report
    (read next) says why: that is no error of the supervisor's (nor an EPIPE to hide)."""
    with suppress(BrokenPipeError):
        os.write(go_w, token)


def _spawn_rootless(
    plan: Plan, err_r: int, err_w: int, up_r: int, up_w: int, go_r: int, go_w: int
) -> Started:
    """An intermediate child makes the user namespace (root inside = the caller outside)
    and a PID namespace, forks the container's PID 1, reports its pid and relays its end."""
    pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
    ns_r, ns_w = os.pipe2(os.O_CLOEXEC)  # middle -> supervisor: user namespace made
    map_r, map_w = os.pipe2(os.O_CLOEXEC)  # supervisor -> middle: ranges mapped
    uid, gid = os.getuid(), os.getgid()
    middle = os.fork()
    if middle == 0:  # pragma: no cover - the intermediate; ends in _exit
        for fd in (err_r, up_r, go_w, pid_r, ns_r, map_w):
            os.close(fd)
        try:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
            linux.unshare(linux.CLONE_NEWUSER)
            if plan.id_ranges is None:
                for name, text in (
                    ("setgroups", "deny"),
                    ("uid_map", f"0 {uid} 1"),
                    ("gid_map", f"0 {gid} 1"),
                ):
                    with open(f"/proc/self/{name}", "w") as f:
                        f.write(text)
            else:
                os.write(ns_w, b"u")
                if os.read(map_r, 1) != b"g":
                    raise RunError("newuidmap/newgidmap could not map the subordinate ids")
            os.close(ns_w)
            os.close(map_r)
            linux.setuid_root()
            linux.unshare(linux.CLONE_NEWPID)
            child = os.fork()
            if child == 0:
                os.close(pid_w)
                _child(plan, err_w, up_w, go_r, None)
            os.write(pid_w, str(child).encode())
            os.close(pid_w)
            for fd in (err_w, up_w, go_r):
                os.close(fd)
            for sig in FORWARDED:  # the supervisor signals the container directly
                signal.signal(sig, signal.SIG_IGN)
            _, status = os.waitpid(child, 0)
            if os.WIFSIGNALED(status):
                signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
                os.kill(os.getpid(), os.WTERMSIG(status))
            os._exit(exit_code(status))
        except BaseException as e:
            _fail(err_w, 125, f"cannot create a user namespace: {e}")
        os._exit(125)
    for fd in (pid_w, ns_w, map_r):
        os.close(fd)
    try:
        if plan.id_ranges is not None and os.read(ns_r, 1) == b"u":
            _map_ranges(middle, uid, gid, plan.id_ranges)
            os.write(map_w, b"g")
    except (OSError, RunError):
        os.close(map_w)  # the middle reads EOF and reports
        map_w = -1
    finally:
        os.close(ns_r)
        if map_w >= 0:
            os.close(map_w)
    raw = read_all(pid_r)
    os.close(pid_r)
    return Started(int(raw) if raw else middle, middle)


def _map_ranges(
    pid: int, uid: int, gid: int, ranges: tuple[tuple[int, int], tuple[int, int]]
) -> None:
    """root -> the caller, 1..count -> the caller's subordinate ids (setuid helpers)."""
    import subprocess

    (ustart, ucount), (gstart, gcount) = ranges
    for tool, own, start, count in (
        ("newuidmap", uid, ustart, ucount),
        ("newgidmap", gid, gstart, gcount),
    ):
        result = subprocess.run(
            [tool, str(pid), "0", str(own), "1", "1", str(start), str(count)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            raise RunError(f"{tool} failed: {result.stderr.strip()}")


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _report(err_w: int, e: BaseException) -> NoReturn:
    """A set-up failure as the supervisor reads it (exit code and one line); never returns."""
    if isinstance(e, RunError):
        _fail(err_w, int(e.exit_status), e.one_line())
    elif isinstance(e, OSError):
        _fail(err_w, 125, f"container set-up failed: {e}")
    _fail(err_w, 125, f"container set-up failed: {type(e).__name__}: {e}")


def _fail(err_w: int, code: int, message: str) -> NoReturn:
    with suppress(OSError):
        os.write(err_w, jsonc.dumps({"code": code, "message": message}).encode())
    os._exit(code)


def _child(plan: Plan, err_w: int, up_w: int, go_r: int, hooks: Hooks | None) -> None:
    try:
        for sig in (*FORWARDED, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the supervisor blocks some
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        _setup(plan, up_w, go_r, hooks)
    except BaseException as e:  # never unwind into the supervisor's code
        _report(err_w, e)
    enter_and_exec(plan, err_w)


def load_inside() -> None:
    """Import what the container's side needs once inside (users, the seccomp filter): after
    pivot_root or setns nothing can be imported, and the supervisor's start need not pay."""
    from pyhost.runtime import seccomp, users  # noqa: F401


def enter_and_exec(plan: Plan, err_w: int) -> None:
    """Inside the container's namespaces and root: identity, workdir, privileges, execve
    (``load_inside`` first)."""
    from pyhost.runtime import users

    try:
        _stdio(plan)
        _close_other_fds(err_w)
        identity = users.resolve(plan.user)
        if plan.rootless and plan.id_ranges is None and (identity.uid or identity.gid):
            raise RunError(
                f"user {plan.user!r} is not root: a rootless container maps only your own "
                "uid (to root inside)",
                hint="drop -u, or run pyhost as root",
            )
        _enter_workdir(plan.workdir, identity)
        path = _lookup(plan.argv[0], plan.env)
        _drop_privileges(plan, identity)
        if plan.init:
            _run_init(plan, path, err_w)
        _exec(plan, path, err_w)
    except BaseException as e:  # never unwind into the caller's code
        _report(err_w, e)
    os._exit(125)


def _close_other_fds(keep: int) -> None:
    """Nothing of the supervisor's reaches the command but stdio (and the close-on-exec
    error pipe): runc does the same before execve."""
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


def receive_console(sock: int) -> int:
    """The pty master the container sent over ``sock`` (see Plan.console)."""
    import socket

    with socket.socket(fileno=sock) as s:
        _, fds, _, _ = socket.recv_fds(s, 16, 1)
    if not fds:
        raise RunError("the container did not send its terminal")
    return fds[0]


def console_pair() -> tuple[int, int]:
    """(supervisor end, container end) of the socket a pty master travels over."""
    import fcntl  # noqa: F401 - loaded here: after pivot_root nothing more can be imported
    import socket
    import termios  # noqa: F401

    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return a.detach(), b.detach()


def copy_window_size(source: int, target: int) -> None:
    import fcntl
    import termios

    with suppress(OSError):
        size = fcntl.ioctl(source, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(target, termios.TIOCSWINSZ, size)


def relay(master: int, interactive: bool, timeout: float | None = None) -> None:
    """Copy between this terminal and the container's pty until the container closes it.

    The loop ends when the pty's last writer goes (EIO/EOF on the master): the container's
    life bounds it.
    """
    import select
    import termios
    import tty

    saved = None
    if interactive and os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
    sources = [master, 0] if interactive else [master]
    try:
        while True:
            ready, _, _ = select.select(sources, [], [], timeout)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                os.write(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    sources.remove(0)
                    continue
                os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)


def supervisor_joins(plan: Plan) -> bool:
    """Whether the supervisor moves the child into its cgroup while the child mounts.

    Moving a task between cgroups waits for an RCU grace period (~13 ms here); on cgroup v1
    the supervisor does it in parallel with the child's mounts. On v2 the child joins first
    itself, since its cgroup namespace must be made inside its cgroup."""
    return plan.cgroup.version == 1 and bool(plan.cgroup.paths)


class _FromSupervisor:
    """The child's end of the supervisor's pipe, which carries "c" once the cgroup exists,
    then "g" once the network is attached and the child is in its cgroup; EOF before that
    means the supervisor gave up (or died)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = b""

    def wait(self, token: bytes) -> None:
        while token not in self.seen:  # at most two bytes come, then EOF
            byte = os.read(self.fd, 1)
            if not byte:
                raise RunError("the supervisor went away during set-up")
            self.seen += byte


def _setup(plan: Plan, up_w: int, go_r: int, hooks: Hooks | None) -> None:
    if not supervisor_joins(plan):
        cgroups.join(plan.cgroup, 0)
    flags = linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC
    if plan.network != "host" and plan.netns is not None:
        linux.setns(plan.netns, linux.CLONE_NEWNET)  # new, loopback up (runtime/netns.py)
        os.close(plan.netns)
    elif plan.network != "host":
        flags |= linux.CLONE_NEWNET
    if plan.cgroup.version == 2 and plan.cgroup.paths:
        flags |= linux.CLONE_NEWCGROUP
    linux.unshare(flags)
    os.write(up_w, b"u")
    os.close(up_w)
    supervisor = _FromSupervisor(go_r)
    if hooks is not None:
        supervisor.wait(b"g")  # the network hook runs before the mounts
    if plan.network != "host":
        if plan.netns is None:
            linux.link_up("lo")
        if hooks is not None:
            hooks.inside()
    _mount_before_the_cgroup(plan)
    load_inside()
    supervisor.wait(b"c")  # v1: the supervisor made the cgroup while we mounted
    _mount_the_rest(plan)
    supervisor.wait(b"g")  # in our cgroup before anything of the command runs
    os.close(go_r)


def _mount_before_the_cgroup(plan: Plan) -> None:
    """The root, the kernel filesystems, the files and volumes, the masked paths: all but what
    needs the cgroup's directories (v1 binds them), which the supervisor may still be making.
    Docker's order otherwise (masks after volumes); volumes under /sys/fs/cgroup wait too."""
    rootfs.make_private()
    root = plan.merged
    if plan.copy_rootfs:
        linux.mount(root, root, None, linux.MS_BIND | linux.MS_REC)
    else:
        rootfs.mount_overlay(
            plan.lowers,
            plan.upper,
            plan.work,
            root,
            rootless=plan.rootless,
            volatile=plan.volatile,
        )
    rootfs.mount_kernel_filesystems(root, rootless=plan.rootless)
    for target, source in plan.files.items():
        rootfs.bind_file(root, source, target)
    for m in plan.mounts:
        if not _under_cgroup_fs(m):
            _mount_volume(root, m)
    rootfs.mask_paths(root)


def _mount_the_rest(plan: Plan) -> None:
    """Once the cgroup exists: /sys/fs/cgroup (and volumes below it), then pivot_root."""
    root = plan.merged
    rootfs.mount_cgroups(root, plan.cgroup.version, plan.cgroup.paths)
    for m in plan.mounts:
        if _under_cgroup_fs(m):
            _mount_volume(root, m)
    rootfs.pivot(root)
    if plan.read_only:
        rootfs.read_only_root()
    if plan.network != "host":
        linux.sethostname(plan.hostname)


def _under_cgroup_fs(m: Mount) -> bool:
    target = "/" + m.target.strip("/")
    return target == "/sys/fs/cgroup" or target.startswith("/sys/fs/cgroup/")


def _mount_volume(root: str, m: Mount) -> None:
    if m.kind == "tmpfs":
        rootfs.mount_tmpfs(root, m.target, m.options)
    else:
        rootfs.bind_volume(root, m.source, m.target, m.readonly)


_TIOCSPTLCK = 0x40045431
_TIOCGPTN = 0x80045430


def _stdio(plan: Plan) -> None:
    if plan.console is not None:
        import fcntl
        import socket
        import termios

        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
        fcntl.ioctl(master, _TIOCSPTLCK, bytes(4))  # unlock: an int 0
        number = int.from_bytes(fcntl.ioctl(master, _TIOCGPTN, bytes(4)), sys.byteorder)
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR)
        with socket.socket(fileno=plan.console) as sock:
            socket.send_fds(sock, [b"pty"], [master])
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(slave)
        return
    for source, target in ((plan.stdin, 0), (plan.stdout, 1), (plan.stderr, 2)):
        if source != target:
            os.dup2(source, target)
    for fd in {plan.stdin, plan.stdout, plan.stderr} - {0, 1, 2}:
        with suppress(OSError):
            os.close(fd)


def _enter_workdir(workdir: str, identity: Identity) -> None:
    path = workdir or "/"
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o755, exist_ok=True)  # Docker creates WORKDIR too
        if identity.uid:
            os.chown(path, identity.uid, identity.gid)
    os.chdir(path)


def _lookup(command: str, env: list[str]) -> str:
    """The executable for ``command``, searched in the container's PATH."""
    if "/" in command:
        return _check_executable(command, command)
    path_var = next((e[5:] for e in env if e.startswith("PATH=")), "/usr/bin:/bin")
    denied = None
    for directory in path_var.split(":"):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            denied = candidate
    if denied:
        raise CommandNotExecutable(f'exec: "{command}": permission denied')
    raise CommandNotFound(f'exec: "{command}": executable file not found in $PATH')


def _check_executable(path: str, command: str) -> str:
    if not os.path.exists(path):
        raise CommandNotFound(f'exec: "{command}": stat {path}: no such file or directory')
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise CommandNotExecutable(f'exec: "{command}": permission denied')
    return path


def _drop_privileges(plan: Plan, identity: Identity) -> None:
    """Bounding set, seccomp, groups and ids, capability sets, no_new_privs."""
    from pyhost.runtime import seccomp as seccomp_filter

    last = capabilities.last_cap()
    keep = capabilities.mask(plan.caps, last)
    for bit in range(last + 1):
        if not keep & (1 << bit):
            linux.prctl(linux.PR_CAPBSET_DROP, bit)
    with suppress(OSError):
        linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    if plan.seccomp and seccomp_filter.supported():
        # installed while CAP_SYS_ADMIN is still held, so no_new_privs is not required
        linux.seccomp_filter(seccomp_filter.program(plan.caps))
    if not plan.rootless or plan.id_ranges:  # denied in a single-id user namespace
        os.setgroups(list(identity.groups))
    os.setgid(identity.gid)
    os.setuid(identity.uid)  # a non-root uid loses every capability here, as in Docker
    if identity.uid == 0:
        linux.capset(keep, keep, 0)
    if plan.no_new_privileges:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)


def _environ(plan: Plan) -> dict[str, str]:
    env = {}
    for item in plan.env:
        key, _, value = item.partition("=")
        env[key] = value
    env.setdefault("HOSTNAME", plan.hostname)
    if plan.console is not None:
        env.setdefault("TERM", "xterm")
    return env


def _exec(plan: Plan, path: str, err_w: int) -> None:
    try:
        os.execve(path, plan.argv, _environ(plan))  # noqa: S606 - the container's command
    except PermissionError:
        _fail(err_w, 126, f'exec: "{plan.argv[0]}": permission denied')
    except OSError as e:
        _fail(err_w, 126, f'exec: "{plan.argv[0]}": {e.strerror}')


def _run_init(plan: Plan, path: str, err_w: int) -> None:
    """``--init``: PID 1 stays here, reaps every zombie and forwards signals to the command."""
    child = os.fork()
    if child == 0:
        _exec(plan, path, err_w)
    # the init never execs: drop every inherited descriptor (pipes of whoever started us)
    os.closerange(3, 1 << 16)

    def forward(sig: int, _frame: object) -> None:
        with suppress(ProcessLookupError):
            os.kill(child, sig)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            sys.stdout.flush()
            os._exit(exit_code(status))


def block_forwarded() -> None:
    """Hold the signals to forward while the container starts: a SIGTERM that arrives before
    the supervisor can forward it is delivered (forwarded) as soon as it can."""
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)


def unblock_forwarded() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)


class forwarding:
    """While inside: the supervisor's signals go to the container's PID 1."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.previous: dict[int, Any] = {}

    def _forward(self, sig: int, _frame: object) -> None:
        with suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def __enter__(self) -> None:
        self.previous = {sig: signal.signal(sig, self._forward) for sig in FORWARDED}

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def watch(
    pid: int, master: int | None = None, interactive: bool = False, waiter: int | None = None
) -> int:
    """Forward signals (and a terminal) to the container; return its exit code."""
    import gc

    gc.enable()  # off during start-up (pyhost.cli.main.run); this process may live long
    with forwarding(pid):
        unblock_forwarded()
        if master is not None:
            relay(master, interactive)
        _, status = os.waitpid(waiter or pid, 0)
    return exit_code(status)
