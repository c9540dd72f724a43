"""``pyhost provision``: install and configure Docker CE from Docker's apt repository."""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import (
    HelpFormatter,
    add_forks_argument,
    add_inventory_arguments,
    add_json_argument,
    selected_hosts,
)
from pyhost.errors import ExitStatus, NotAvailableError

EXAMPLES = """\
examples:
  pyhost provision --check                  what would change on this machine
  pyhost provision inventory.yml            every host in the inventory
  pyhost provision inventory.yml --limit 'web:!web-3' --forks 20
  pyhost provision inventory.yml --check --diff
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "provision",
        help="install and configure Docker CE on hosts (idempotent)",
        description="Install and configure Docker CE from Docker's apt repository, over SSH, "
        "on every selected host at once; only the changes still needed are made.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_inventory_arguments(parser)
    parser.add_argument("--check", action="store_true", help="show the plan; change nothing")
    parser.add_argument("--diff", action="store_true", help="show the changes to files")
    add_forks_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> ExitStatus:
    hosts = selected_hosts(args)
    raise NotAvailableError(
        f"provisioning is not in this version of pyhost yet ({len(hosts)} host(s) selected)",
        hint="it arrives with the provision feature; use get.docker.com meanwhile",
    )
