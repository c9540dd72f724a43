"""``pyhost exec``: run a command inside a running pyhost run container."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "exec",
        help="run a command in a running pyhost run container",
        description="Run a command in every namespace and the cgroup of a running container, "
        "with the container's capabilities, seccomp filter and user.",
        epilog="examples:\n  pyhost exec web ps\n  pyhost exec -it web sh\n"
        "  pyhost exec -u app -w /srv web ls\n\nexit status: the command's (126, 127 as run).",
        formatter_class=HelpFormatter,
    )
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")
    p.add_argument("-e", "--env", action="append", default=[], metavar="KEY[=VALUE]")
    p.add_argument("-u", "--user", default="", metavar="USER[:GROUP]")
    p.add_argument("-w", "--workdir", default="", metavar="DIR")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD")
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pyhost.runtime.errors import RunUsageError

    if not args.cmd:
        raise RunUsageError("pyhost exec needs a command", hint="e.g. pyhost exec web sh")
    from pyhost.runtime.execute import exec_in
    from pyhost.runtime.spec import parse_env

    return exec_in(
        args.container,
        list(args.cmd),
        env=parse_env(args.env, []),
        user=args.user,
        workdir=args.workdir,
        interactive=args.interactive,
        tty=args.tty,
    )
