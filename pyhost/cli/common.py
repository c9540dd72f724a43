"""Arguments and helpers that several subcommands share."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyhost.inventory import Host


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep the examples in descriptions and epilogs as written."""


def add_inventory_arguments(parser: argparse.ArgumentParser) -> None:
    """``[INVENTORY] [--limit PATTERN]``: no inventory means this machine."""
    parser.add_argument(
        "inventory",
        nargs="?",
        metavar="INVENTORY",
        help="Ansible-style YAML inventory; without one, this machine (implicit localhost)",
    )
    parser.add_argument(
        "-l",
        "--limit",
        metavar="PATTERN",
        help="select hosts: names, groups, globs, ~regex, &intersection, !exclusion",
    )


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (a versioned schema)"
    )


def add_forks_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--forks",
        type=positive_int,
        default=10,
        metavar="N",
        help="work on up to N hosts at once (default 10)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def selected_hosts(args: argparse.Namespace) -> list[Host]:
    """The hosts a command targets: the inventory's (or the implicit localhost), limited."""
    from pyhost.inventory import load_inventory

    inventory = load_inventory(args.inventory)
    return inventory.select(args.limit)
