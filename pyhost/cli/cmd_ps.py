"""``pyhost ps``: every container on a host, Docker's and pyhost's, with its isolation."""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import HelpFormatter, add_json_argument
from pyhost.errors import ExitStatus, NotAvailableError

EXAMPLES = """\
examples:
  pyhost ps                                 containers on this machine
  pyhost ps --json
  pyhost ps -H admin@host-1
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ps",
        help="list containers with the namespaces they share with the host and their limits",
        description="List every container on the host, Docker's and pyhost's, with the "
        "namespaces it shares with the host, its limits and usage, and risky flags.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="also list containers that are not running"
    )
    parser.add_argument("-H", "--host", metavar="[USER@]HOST[:PORT]", help="a remote host")
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> ExitStatus:
    if args.host:
        raise NotAvailableError(
            "remote hosts are not in this version of pyhost yet",
            hint="run pyhost ps on the host itself meanwhile",
        )
    from pyhost.inspect.collect.containers import collect

    data = collect(include_stopped=args.all)
    if args.json:
        import json

        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        from pyhost.inspect.report import print_ps

        print_ps(data)
    return ExitStatus.OK
