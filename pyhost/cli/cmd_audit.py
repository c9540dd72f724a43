"""``pyhost audit``: CIS-Docker-Benchmark-style checks of hosts and their containers."""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import (
    HelpFormatter,
    add_forks_argument,
    add_inventory_arguments,
    selected_hosts,
)
from pyhost.errors import ExitStatus, NotAvailableError

EXAMPLES = """\
examples:
  pyhost audit                                   audit this machine
  pyhost audit inventory.yml --format junit --output audit.xml
  pyhost audit inventory.yml --format sarif --output audit.sarif --baseline waivers.yml
"""

FORMATS = ("table", "json", "junit", "sarif")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit hosts and containers (CIS Docker Benchmark) with CI exit codes",
        description="Check hosts, daemons and containers against the CIS Docker Benchmark, "
        "reading the kernel where it knows better than Docker's config.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    add_inventory_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table", help="report format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    add_forks_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> ExitStatus:
    hosts = selected_hosts(args)
    raise NotAvailableError(
        f"auditing is not in this version of pyhost yet ({len(hosts)} host(s) selected)",
        hint="it arrives with the audit feature",
    )
