"""``pyhost kill``: send a signal to pyhost run containers."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter
from pyhost.errors import ExitStatus

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "kill",
        help="send a signal to pyhost run containers (SIGKILL by default)",
        description="Send a signal to the main process of each container.",
        epilog="examples:\n  pyhost kill web\n  pyhost kill -s HUP web\n",
        formatter_class=HelpFormatter,
    )
    p.add_argument("-s", "--signal", default="KILL", metavar="SIGNAL")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pyhost.runtime import containers

    for ref in args.containers:
        containers.kill(ref, args.signal)
        print(ref)
    return ExitStatus.OK
