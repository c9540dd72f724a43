"""``pyhost provision``: install and configure Docker CE from Docker's apt repository."""

from __future__ import annotations

import argparse

from pyhost.cli.common import (
    HelpFormatter,
    add_forks_argument,
    add_host_key_arguments,
    add_inventory_arguments,
    add_json_argument,
    percent,
    positive_int,
    selected_hosts,
)
from pyhost.errors import UsageError

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """\
examples:
  pyhost provision --check                  what would change on this machine
  pyhost provision inventory.yml            every host in the inventory
  pyhost provision inventory.yml --limit 'web:!web-3' --forks 20
  pyhost provision inventory.yml --check --diff
  pyhost provision inventory.yml --limit old-host --state absent
  pyhost provision inventory.yml --serial 2 --max-fail-percent 0   a rolling change
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
    add_host_key_arguments(parser)
    parser.add_argument(
        "--state",
        choices=("present", "absent"),
        help="absent removes Docker's packages, repository and key (overrides pyhost_docker_state)",
    )
    parser.add_argument(
        "--purge",
        action="store_true",
        help="with --state absent, also delete /var/lib/docker, /var/lib/containerd "
        "and /etc/docker",
    )
    parser.add_argument(
        "--serial",
        type=positive_int,
        metavar="N",
        help="rolling change: N hosts at a time, the next batch only if this one went well",
    )
    parser.add_argument(
        "--max-fail-percent",
        type=percent,
        metavar="P",
        help="stop when more than P%% of a batch fails (default with --serial: 0)",
    )
    add_forks_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    if args.purge and args.state != "absent":
        raise UsageError("--purge goes with --state absent", hint="add --state absent")
    hosts = selected_hosts(args)
    from pyhost.cli.provision_output import Printer
    from pyhost.provision.fleet import as_json, exit_status, provision_fleet

    printer = (
        None if args.json else Printer([h.name for h in hosts], diff=args.diff, check=args.check)
    )
    if printer:
        printer.start()
    try:
        reports = provision_fleet(
            hosts,
            check=args.check,
            forks=args.forks,
            known_hosts=args.known_hosts,
            accept_new_host_keys=args.accept_new_host_keys,
            progress=printer.progress if printer else None,
            state=args.state,
            purge=args.purge,
            serial=args.serial,
            max_fail_percent=args.max_fail_percent,
        )
    finally:
        if printer:
            printer.stop()
    if args.json:
        import json

        print(json.dumps(as_json(reports, check=args.check), indent=2))
    else:
        assert printer is not None
        printer.finish(reports)
    return exit_status(reports)
