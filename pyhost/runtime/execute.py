"""`pyhost exec`: a new process inside a running container.

It joins every namespace of the container's PID 1 and its cgroup, then drops to the same
capabilities, seccomp filter and user as the container before execve, so an exec'd shell
is no more privileged than the container itself.
"""

from __future__ import annotations

import os

from pyhost.inspect.collect import jsonc
from pyhost.runtime import cgroups, launch, linux, state
from pyhost.runtime.errors import RunError, RunUsageError
from pyhost.runtime.stdlite import suppress

# joined in this order; mnt last (it changes what /proc paths mean), pid applies to children
NAMESPACES = (
    ("cgroup", linux.CLONE_NEWCGROUP),
    ("ipc", linux.CLONE_NEWIPC),
    ("uts", linux.CLONE_NEWUTS),
    ("net", linux.CLONE_NEWNET),
    ("pid", linux.CLONE_NEWPID),
    ("mnt", linux.CLONE_NEWNS),
)


def exec_in(
    ref: str,
    argv: list[str],
    *,
    env: list[str],
    user: str = "",
    workdir: str = "",
    interactive: bool = False,
    tty: bool = False,
) -> int:
    st = state.find(ref)
    if st.status != "running" or not st.supervisor_alive():
        raise RunUsageError(f"container {st.name} is not running")
    from pyhost.runtime.spec import merge_env

    cg = cgroups.Cgroup.from_json(st.cgroup) if st.cgroup else cgroups.Cgroup(1)
    plan = launch.Plan(
        hostname=st.hostname,
        argv=argv,
        env=merge_env(st.env, env),
        user=user or st.user,
        workdir=workdir or st.workdir,
        lowers=[],
        upper="",
        work="",
        merged="",
        copy_rootfs=True,
        cgroup=cg,
        network=st.network.get("mode", "none"),
        caps=frozenset(st.security.get("capabilities", [])),
        seccomp=st.security.get("seccomp", "default") != "unconfined",
        no_new_privileges=bool(st.security.get("no_new_privileges")),
    )
    fds = []
    try:
        for name, flag in NAMESPACES:
            path = f"/proc/{st.pid}/ns/{name}"
            if (
                os.path.exists(path)
                and os.stat(path).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino
            ):
                fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), flag))
    except OSError as e:
        for fd, _ in fds:
            os.close(fd)
        raise RunError(f"cannot open the namespaces of {st.name}: {e}") from e
    ours = master = None
    if tty:
        ours, plan.console = launch.console_pair()
    stdin = 0 if interactive or tty else os.open(os.devnull, os.O_RDONLY)
    plan.stdin = stdin
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    launch.load_inside()  # nothing can be imported once in the container's mount namespace
    pid = os.fork()
    if pid == 0:  # pragma: no cover - joins the container, forks the process, relays its code
        os.close(err_r)
        _joiner(plan, fds, err_w)
    os.close(err_w)
    for fd, _ in fds:
        os.close(fd)
    if plan.console is not None:
        os.close(plan.console)
    if stdin != 0:
        os.close(stdin)
    report = launch.read_all(err_r)
    os.close(err_r)
    if ours is not None:
        if not report:
            master = launch.receive_console(ours)
            launch.copy_window_size(0, master)
        else:
            os.close(ours)
    code = launch.watch(pid, master, interactive)
    if report:
        data = jsonc.loads(report)
        from pyhost.runtime.errors import CommandNotExecutable, CommandNotFound

        error = {126: CommandNotExecutable, 127: CommandNotFound}.get(data["code"], RunError)
        raise error(data["message"])
    return code


def _joiner(plan: launch.Plan, fds: list[tuple[int, int]], err_w: int) -> None:
    try:
        cgroups.join(plan.cgroup, 0)
        for fd, flag in fds:
            linux.setns(fd, flag)
        linux.prctl(linux.PR_SET_PDEATHSIG, 9)
        child = os.fork()
        if child == 0:
            launch.enter_and_exec(plan, err_w)
        os.close(err_w)
        _, status = os.waitpid(child, 0)
        os._exit(launch.exit_code(status))
    except BaseException as e:
        with suppress(OSError):
            os.write(err_w, jsonc.dumps({"code": 125, "message": f"exec failed: {e}"}).encode())
        os._exit(125)
