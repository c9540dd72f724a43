"""Entry point: parse arguments, dispatch to a subcommand, turn errors into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from pyhost import __version__
from pyhost.cli import (
    cmd_audit,
    cmd_images,
    cmd_inspect,
    cmd_load,
    cmd_provision,
    cmd_ps,
    cmd_pull,
    cmd_rmi,
    cmd_run,
)
from pyhost.cli.common import HelpFormatter
from pyhost.errors import ExitStatus, PyhostError

SUBCOMMANDS = (
    cmd_provision,
    cmd_inspect,
    cmd_ps,
    cmd_run,
    cmd_images,
    cmd_load,
    cmd_pull,
    cmd_rmi,
    cmd_audit,
)

DESCRIPTION = """\
Install, inspect, run and audit Docker CE hosts.

With no inventory, every command targets this machine (an implicit `localhost`,
as Ansible does).
"""

EPILOG = """\
exit codes:
  0    everything went well
  1    a host failed, or an audit found problems
  2    usage error: bad flag, inventory or input file (nothing was changed)
  4    a host could not be reached
  130  interrupted

examples:
  pyhost ps                          containers on this machine
  pyhost provision inventory.yml --check
  pyhost inspect web-1 --json
  pyhost COMMAND --help              examples for each command
"""


class Parser(argparse.ArgumentParser):
    """argparse that exits with ExitStatus.USAGE (2) and one line on bad usage."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"pyhost: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pyhost",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pyhost {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when something fails"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=Parser, required=True
    )
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    for sub in subparsers.choices.values():
        # also accepted after the subcommand; SUPPRESS keeps a --debug given before it
        sub.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback when something fails",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run pyhost with ``argv``; return the exit status instead of exiting."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.execute(args))
    except PyhostError as e:
        if args.debug:
            raise
        print(f"pyhost: error: {e.one_line()}", file=sys.stderr)
        return int(e.exit_status)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("pyhost: interrupted", file=sys.stderr)
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:
        # `pyhost ps | head`: the reader went away; that is not an error of ours.
        sys.stderr.close()
        return int(ExitStatus.OK)


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())
