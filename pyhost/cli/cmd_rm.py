"""``pyhost rm``: remove pyhost run containers (their record and writable layer)."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter
from pyhost.errors import ExitStatus

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "rm",
        help="remove pyhost run containers",
        description="Remove stopped containers; -f kills running ones first.",
        epilog="examples:\n  pyhost rm web\n  pyhost rm -f web\n",
        formatter_class=HelpFormatter,
    )
    p.add_argument("-f", "--force", action="store_true", help="kill a running container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pyhost.runtime import containers

    for ref in args.containers:
        containers.remove(ref, force=args.force)
        print(ref)
    return ExitStatus.OK
