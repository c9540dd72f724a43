"""``pyhost inspect``: how one container is really isolated, read from the kernel."""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import HelpFormatter, add_json_argument
from pyhost.errors import ExitStatus, NotAvailableError, UsageError

EXAMPLES = """\
examples:
  pyhost inspect web-1                      a Docker container by name or id
  pyhost inspect --pid 4242                 any process
  pyhost inspect web-1 -H admin@host-1 --json
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="show a container's namespaces, cgroups, layers, network and security",
        description="Show how a container is really isolated: namespaces, cgroups and limits, "
        "layers, network and security posture, measured from the kernel.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("container", nargs="?", metavar="CONTAINER", help="name or id")
    parser.add_argument("--pid", type=int, metavar="PID", help="inspect any process instead")
    parser.add_argument("-H", "--host", metavar="[USER@]HOST[:PORT]", help="a remote host")
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> ExitStatus:
    if (args.container is None) == (args.pid is None):
        raise UsageError("name one container, or give --pid PID", hint="see pyhost inspect --help")
    raise NotAvailableError(
        "inspection is not in this version of pyhost yet",
        hint="it arrives with the inspect feature; `docker inspect` shows Docker's config",
    )
