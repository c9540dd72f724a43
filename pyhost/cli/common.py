"""Arguments and helpers that several subcommands share."""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing costs ~5 ms of every start

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyhost.connection import SSHTarget
    from pyhost.inspect.remote import HostOutcome, SSHOptions
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


def percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 100")
    return value


def selected_hosts(args: argparse.Namespace) -> list[Host]:
    """The hosts a command targets: the inventory's (or the implicit localhost), limited."""
    from pyhost.inventory import load_inventory

    inventory = load_inventory(args.inventory)
    return inventory.select(args.limit)


def add_host_key_arguments(parser: argparse.ArgumentParser) -> None:
    """``--known-hosts FILE`` and ``--accept-new-host-keys``, as ``pyhost provision`` has."""
    parser.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="an extra known_hosts file (~/.ssh/known_hosts is always read)",
    )
    parser.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust hosts whose key is not known yet (first contact); a changed key is "
        "refused always",
    )


def add_remote_host_arguments(
    parser: argparse.ArgumentParser, *, with_inventory: bool = False
) -> None:
    """``-H [USER@]HOST[:PORT]``, ``--ssh-key FILE``, ``-K`` and the host key arguments;
    ``with_inventory`` when the command also takes ``-i`` (the key and password are then
    defaults for the inventory's hosts)."""
    also = " (with -i: for hosts that set no {})" if with_inventory else ""
    parser.add_argument(
        "-H",
        "--host",
        metavar="[USER@]HOST[:PORT]",
        help="a remote host over SSH (IPv6 in brackets: [::1]:2222); the user and port "
        "default to ~/.ssh/config's, else the local user and 22",
    )
    parser.add_argument(
        "--ssh-key",
        metavar="FILE",
        help="the SSH private key" + also.format("ansible_ssh_private_key_file"),
    )
    parser.add_argument(
        "-K",
        "--ask-become-pass",
        action="store_true",
        help="ask for the sudo password (read from stdin when it is not a terminal)"
        + also.format("ansible_become_password"),
    )
    add_host_key_arguments(parser)


def check_ssh_files(args: argparse.Namespace) -> None:
    """``--known-hosts`` and ``--ssh-key`` must name readable files (a usage error)."""
    import os

    from pyhost.errors import UsageError

    for flag, path in (("--known-hosts", args.known_hosts), ("--ssh-key", args.ssh_key)):
        if path is not None and not os.path.isfile(os.path.expanduser(path)):
            raise UsageError(f"{flag} {path}: no such file", hint="give an existing file")


def remote_target(args: argparse.Namespace) -> SSHTarget:
    """The SSH target ``-H`` names, with ``--ssh-key``, ``-K`` and the host key options."""
    from pyhost.inspect import remote

    check_ssh_files(args)
    return remote.target_from_spec(
        args.host,
        key_file=args.ssh_key,
        become_password=become_password(args),
        known_hosts=args.known_hosts,
        accept_new_host_key=args.accept_new_host_keys,
    )


def ssh_options(args: argparse.Namespace) -> SSHOptions:
    """The SSH settings a fleet command (-i) applies to hosts that do not set their own."""
    from pyhost.inspect.remote import SSHOptions

    check_ssh_files(args)
    return SSHOptions(
        known_hosts=args.known_hosts,
        accept_new_host_keys=args.accept_new_host_keys,
        key_file=args.ssh_key,
        become_password=become_password(args),
    )


def print_fleet_errors(outcomes: Sequence[HostOutcome]) -> None:
    """One ``pyhost: error:`` line per host that failed or was unreachable, naming it."""
    import sys

    for outcome in outcomes:
        if outcome.error is not None:
            # connection errors already start with the host's name; the others name it
            text = outcome.error
            if outcome.host not in text:
                text = f"{outcome.host}: {text}"
            print(f"pyhost: error: {text}", file=sys.stderr)


def become_password(args: argparse.Namespace) -> str | None:
    """The sudo password ``-K`` asks for: from the terminal, or one line of stdin."""
    if not args.ask_become_pass:
        return None
    import sys

    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("BECOME password: ")
    return sys.stdin.readline().rstrip("\r\n")
