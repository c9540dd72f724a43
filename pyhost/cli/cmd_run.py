"""``pyhost run``: run a container without Docker (namespaces, pivot_root, cgroups).

This module must stay free of Fabric, paramiko, docker and rich imports: the runtime is for
hosts that may have none of them, and its start-up time is measured.
"""

from __future__ import annotations

import os

from pyhost.cli.fastargs import APPEND, FLAG, Option, Positional, add_to_parser

TYPE_CHECKING = False  # typing costs ~5 ms of every `pyhost run`
if TYPE_CHECKING:
    from typing import Any

    from pyhost.cli.fastargs import Namespace

EXAMPLES = """\
examples:
  pyhost run --rm busybox echo hello
  pyhost run -d --name web --memory 64m -p 127.0.0.1:8080:80 web-image
  pyhost run --rm -it --network none debian:bookworm sh
  pyhost run --rm ./rootfs /bin/sh -c 'id; hostname'   a plain rootfs directory

exit status: the container's (128+N when killed by signal N, 137 after an OOM kill);
125 when pyhost cannot start it, 126 when the command cannot be executed, 127 when it
is not found, 2 for a bad flag. Nothing is left behind in any of these cases.
"""


OPTIONS = (
    Option("--name", default="", help="the container's name"),
    Option("--rm", kind=FLAG, help="remove the container when it exits"),
    Option("-d", "--detach", kind=FLAG, help="run in the background"),
    Option("-i", "--interactive", kind=FLAG, help="keep stdin open"),
    Option("-t", "--tty", kind=FLAG, help="give the container a terminal"),
    Option("-e", "--env", kind=APPEND, metavar="KEY[=VALUE]"),
    Option("--env-file", kind=APPEND, metavar="FILE"),
    Option("-w", "--workdir", default="", metavar="DIR"),
    Option("-u", "--user", default="", metavar="USER[:GROUP]"),
    Option("--hostname", default=""),
    Option("--entrypoint", metavar="CMD"),
    Option("-v", "--volume", kind=APPEND, metavar="HOST:CTR[:ro]"),
    Option("--tmpfs", kind=APPEND, metavar="CTR[:OPTIONS]"),
    Option("--read-only", kind=FLAG, help="mount the root read-only"),
    Option("-m", "--memory", metavar="SIZE", help="memory limit, e.g. 64m", group="resources"),
    Option(
        "--memory-swap",
        metavar="SIZE",
        help="memory + swap; -1 = unlimited swap",
        group="resources",
    ),
    Option("--cpus", metavar="N", help="CPU quota in CPUs, e.g. 0.5", group="resources"),
    Option(
        "-c", "--cpu-shares", type=int, metavar="N", help="relative CPU weight", group="resources"
    ),
    Option("--cpuset-cpus", metavar="LIST", help="CPUs allowed, e.g. 0-1", group="resources"),
    Option(
        "--pids-limit",
        type=int,
        metavar="N",
        help="maximum number of processes",
        group="resources",
    ),
    Option(
        "--network",
        "--net",
        choices=("bridge", "host", "none"),
        help="bridge as root (Docker's default); none when rootless",
        group="network",
    ),
    Option("-p", "--publish", kind=APPEND, metavar="[IP:]HOST:CTR[/PROTO]", group="network"),
    Option("--cap-add", kind=APPEND, metavar="CAP", group="security"),
    Option("--cap-drop", kind=APPEND, metavar="CAP", group="security"),
    Option(
        "--security-opt",
        kind=APPEND,
        metavar="OPT",
        help="no-new-privileges, seccomp=unconfined",
        group="security",
    ),
    Option("--init", kind=FLAG, help="run an init that reaps zombies as PID 1", group="security"),
    Option("--userns", metavar="MODE", hidden=True, group="security"),
)
POSITIONALS = (
    Positional("image", metavar="IMAGE", help="an image, or a rootfs directory"),
    Positional("cmd", metavar="CMD", help="command and args", remainder=True),
)


def add_parser(subparsers: Any) -> None:
    from pyhost.cli.common import HelpFormatter

    p = subparsers.add_parser(
        "run",
        help="run a container with Docker's isolation, without Docker",
        description="Run a command in a new container with the isolation Docker applies "
        "(namespaces, pivot_root, overlayfs, cgroups, capabilities, seccomp), without Docker.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_to_parser(p, OPTIONS, POSITIONALS)
    p.set_defaults(execute=execute)


def build_spec(args: Namespace) -> Any:
    from pyhost.runtime import capabilities, spec
    from pyhost.runtime.errors import RunUsageError

    rootless = os.geteuid() != 0
    if args.userns not in (None, "host", ""):
        raise RunUsageError(
            f"--userns {args.userns} is not supported",
            hint="as a normal user pyhost run always uses a user namespace; as root it uses none",
        )
    network = args.network or ("none" if rootless else "bridge")
    limits = spec.parse_limits(
        args.memory, args.memory_swap, args.cpus, args.cpu_shares, args.cpuset_cpus, args.pids_limit
    )
    if rootless:
        why = None
        if network == "bridge" or args.publish:
            why = "--network bridge and -p need root (use --network none or host)"
        elif limits.to_json():
            why = "resource limits need root: a rootless container gets no cgroup of its own"
        if why:
            raise RunUsageError(f"rootless run: {why}", hint="or run pyhost as root")
    no_new_privs, use_seccomp = False, True
    for opt in args.security_opt:
        key, _, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            no_new_privs = True
        elif key == "no-new-privileges" and value == "false":
            no_new_privs = False
        elif key == "seccomp" and value == "unconfined":
            use_seccomp = False
        elif key in ("apparmor", "label"):
            continue  # pyhost loads no LSM profile; inspect shows what applies
        else:
            raise RunUsageError(
                f"unsupported --security-opt {opt!r}",
                hint="no-new-privileges or seccomp=unconfined",
            )
    if args.tty and args.detach:
        raise RunUsageError("-t with -d is not supported: pyhost keeps no terminal for later")
    if args.detach and args.rm and args.interactive:
        raise RunUsageError("-i with -d has no terminal to read from")
    return spec.Spec(
        image=args.image,
        argv=list(args.cmd),
        name=args.name,
        env=spec.parse_env(args.env, args.env_file),
        workdir=args.workdir,
        user=args.user,
        hostname=args.hostname,
        entrypoint=args.entrypoint,
        mounts=[spec.parse_volume(v) for v in args.volume]
        + [spec.parse_tmpfs(t) for t in args.tmpfs],
        read_only=args.read_only,
        limits=limits,
        network=network,
        ports=[spec.parse_port(p) for p in args.publish],
        caps=capabilities.resolve(args.cap_add, args.cap_drop),
        no_new_privileges=no_new_privs,
        seccomp=use_seccomp,
        init=args.init,
        tty=args.tty,
        interactive=args.interactive,
        detach=args.detach,
        auto_remove=args.rm,
    )


def execute(args: Namespace) -> int:
    if os.geteuid() == 0:
        from pyhost.runtime import grace, netns

        grace.start()  # first: these overlap the imports below
        if args.network != "host":
            netns.prepare()
    spec = build_spec(args)
    from pyhost.runtime import containers

    return containers.run(spec)
