"""``pyhost ps``: every container on a host, Docker's and pyhost's, with its isolation."""

from __future__ import annotations

import argparse

from pyhost.cli.common import (
    HelpFormatter,
    add_forks_argument,
    add_json_argument,
    add_remote_host_arguments,
    print_fleet_errors,
    remote_target,
    selected_hosts,
    ssh_options,
)
from pyhost.errors import ExitStatus, UsageError

TYPE_CHECKING = False  # typing costs ~6 ms of every start

if TYPE_CHECKING:
    from typing import Any

    from pyhost.inspect.remote import HostOutcome

EXAMPLES = """\
examples:
  pyhost ps                                 containers on this machine
  pyhost ps --json
  pyhost ps -H admin@host-1                 on one host over SSH (as root through sudo)
  pyhost ps -H lab@[::1]:2222 --ssh-key ~/.ssh/lab -K
  pyhost ps -i inventory.yml --limit web --forks 20
  pyhost ps -i inventory.yml --json         schema "pyhost.ps-fleet/1"

exit codes:
  0  listed (also when a host has no Docker engine: a note says why)
  1  the collector failed on a host (no python3, sudo refused, a crash)
  2  bad usage or inventory
  4  a host could not be reached (the others are still listed)
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ps",
        help="list containers with the namespaces they share with the host and their limits",
        description="List every container on the host, Docker's and pyhost's, with the "
        "namespaces it shares with the host, its limits and usage, and risky flags. "
        "Remote hosts (-H, or -i for an inventory's hosts in parallel) are read in one SSH "
        "round trip each, as root through sudo; they need python3 3.10 or newer.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="also list containers that are not running"
    )
    add_remote_host_arguments(parser, with_inventory=True)
    parser.add_argument(
        "-i",
        "--inventory",
        metavar="INVENTORY",
        help="an Ansible-style YAML inventory: list the containers of its hosts",
    )
    parser.add_argument(
        "-l",
        "--limit",
        metavar="PATTERN",
        help="with -i: select hosts: names, groups, globs, ~regex, &intersection, !exclusion",
    )
    add_forks_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    if args.host is not None and args.inventory is not None:
        raise UsageError("give -H HOST or -i INVENTORY, not both")
    if args.limit is not None and args.inventory is None:
        raise UsageError("--limit selects hosts of an inventory", hint="give -i INVENTORY too")
    if args.inventory is not None:
        return _fleet(args)
    if args.host is not None:
        return _one_host(args)
    from pyhost.inspect.collect.containers import collect

    _show(collect(include_stopped=args.all), json_output=args.json)
    return ExitStatus.OK


def _request(args: argparse.Namespace) -> dict[str, Any]:
    from pyhost.inspect.collect.protocol import make_request

    return make_request("ps", include_stopped=args.all)


def _one_host(args: argparse.Namespace) -> int:
    """``-H``: the plain ``pyhost.ps/1`` document of that host, as a local run prints it."""
    from pyhost.connection import SSHConnection
    from pyhost.inspect import remote

    target = remote_target(args)
    request = _request(args)
    with SSHConnection(target) as conn:
        data = remote.result_of(target.name, remote.collect_on(conn, request))
    _show(data, json_output=args.json, host=target.name)
    return ExitStatus.OK


def _fleet(args: argparse.Namespace) -> int:
    """``-i``: every selected host at once; one table per host, or ``pyhost.ps-fleet/1``."""
    from pyhost.inspect import remote

    options = ssh_options(args)
    hosts = selected_hosts(args)
    outcomes = remote.collect_fleet(hosts, _request(args), forks=args.forks, options=options)
    if args.json:
        import json

        print(json.dumps(remote.fleet_document(outcomes), indent=2, sort_keys=True))
    else:
        _show_fleet(outcomes)
    return remote.fleet_exit(outcomes)


def _show(data: dict[str, Any], *, json_output: bool, host: str | None = None) -> None:
    if json_output:
        import json

        print(json.dumps(data, indent=2, sort_keys=True))
        return
    from pyhost.inspect.report import print_ps

    engine = data["engine"]
    if host is not None and not engine["available"]:
        # the note says which host has no engine
        data = {**data, "engine": {**engine, "error": f"{host}: {engine['error']}"}}
    print_ps(data)


def _show_fleet(outcomes: list[HostOutcome]) -> None:
    """A heading and a table for each host that answered; a line on stderr for the others."""
    import sys

    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    first = True
    for outcome in outcomes:
        if outcome.result is None:
            continue
        if not first:
            console.print()
        first = False
        remote_name = outcome.result.get("host")
        shown = (
            f" [dim]({escape(remote_name)})[/]" if remote_name not in (None, outcome.host) else ""
        )
        console.print(f"[bold]{escape(outcome.host)}[/]{shown}")
        _show(outcome.result, json_output=False, host=outcome.host)
    sys.stdout.flush()
    print_fleet_errors(outcomes)
