"""``pyhost logs``: the output of a detached pyhost run container."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter
from pyhost.errors import ExitStatus

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "logs",
        help="print the output of a detached pyhost run container",
        description="Print what a container started with `pyhost run -d` wrote (stdout and "
        "stderr, in order); -f follows until it ends.",
        epilog="examples:\n  pyhost logs web\n  pyhost logs -f web\n",
        formatter_class=HelpFormatter,
    )
    p.add_argument("-f", "--follow", action="store_true", help="follow until the container ends")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pyhost.runtime import containers

    containers.logs(args.container, follow=args.follow)
    return ExitStatus.OK
