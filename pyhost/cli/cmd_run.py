"""``pyhost run``: run a container without Docker (namespaces, pivot_root, cgroups).

This module must stay free of Fabric, paramiko, docker and rich imports: the runtime is for
hosts that may have none of them, and its start-up time is measured.
"""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import HelpFormatter
from pyhost.errors import ExitStatus, NotAvailableError

EXAMPLES = """\
examples:
  pyhost run --rm busybox echo hello
  pyhost run -d --name web --memory 64m -p 127.0.0.1:8080:80 nginx
  pyhost run --rm -it --network none debian:bookworm bash
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a container with Docker's isolation, without Docker",
        description="Run a command in a new container with the isolation Docker applies "
        "(namespaces, pivot_root, overlayfs, cgroups), on hosts without Docker.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--name", help="the container's name")
    parser.add_argument("--rm", action="store_true", help="remove the container when it exits")
    parser.add_argument("-d", "--detach", action="store_true", help="run in the background")
    parser.add_argument("image", metavar="IMAGE", help="an image, or a rootfs directory")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD", help="command and args")
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> ExitStatus:
    raise NotAvailableError(
        "the fallback runtime is not in this version of pyhost yet",
        hint="it arrives with the run feature",
    )
