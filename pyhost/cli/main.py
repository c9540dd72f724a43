"""Entry point: parse arguments, dispatch to a subcommand, turn errors into exit codes."""

from __future__ import annotations

import sys

from pyhost.errors import ExitStatus, PyhostError

TYPE_CHECKING = False  # typing costs ~5 ms of every start
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, NoReturn

# subcommand -> module under pyhost.cli; only the one asked for is imported and built
SUBCOMMANDS = {
    "provision": "cmd_provision",
    "inspect": "cmd_inspect",
    "ps": "cmd_ps",
    "run": "cmd_run",
    "stop": "cmd_stop",
    "kill": "cmd_kill",
    "rm": "cmd_rm",
    "logs": "cmd_logs",
    "exec": "cmd_exec",
    "prune": "cmd_prune",
    "images": "cmd_images",
    "load": "cmd_load",
    "pull": "cmd_pull",
    "rmi": "cmd_rmi",
    "audit": "cmd_audit",
}
# Commands whose options are a table (pyhost.cli.fastargs): their usual command lines are read
# without importing argparse, whose ~20 ms would be most of `pyhost run`'s start-up.
FAST = ("run", "inspect")

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


def _requested(argv: Sequence[str] | None) -> str | None:
    """The subcommand named on the command line (top-level options take no values)."""
    args = sys.argv[1:] if argv is None else argv
    word = next((a for a in args if not a.startswith("-")), None)
    return word if word in SUBCOMMANDS else None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the subcommand it names is built (start-up time)."""
    import argparse

    from pyhost import __version__
    from pyhost.cli.common import HelpFormatter

    class Parser(argparse.ArgumentParser):
        """argparse that exits with ExitStatus.USAGE (2) and one line on bad usage."""

        def error(self, message: str) -> NoReturn:
            self.print_usage(sys.stderr)
            self.exit(ExitStatus.USAGE, f"pyhost: error: {message}\n")

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
    wanted = _requested(argv) if argv is not None else None
    for name, module in SUBCOMMANDS.items():
        if wanted is None or wanted == name:
            _command_module(module).add_parser(subparsers)
    for sub in subparsers.choices.values():
        # also accepted after the subcommand; SUPPRESS keeps a --debug given before it
        sub.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback when something fails",
        )
    return parser


def _command_module(name: str) -> Any:
    """pyhost.cli.<name>, imported (``__import__``: importlib would bring warnings along)."""
    qualified = f"pyhost.cli.{name}"
    __import__(qualified)
    return sys.modules[qualified]


def _parse_fast(words: list[str]) -> Any:
    """The parsed command line of a FAST command, or None where argparse must read it."""
    debug = words[:1] == ["--debug"]
    if debug:
        words = words[1:]
    if not words or words[0] not in FAST:
        return None
    from pyhost.cli import fastargs

    module = _command_module(SUBCOMMANDS[words[0]])
    args = fastargs.parse(words[1:], module.OPTIONS, module.POSITIONALS)
    if args is None:
        return None
    args.debug = args.debug or debug
    args.command = words[0]
    args.execute = module.execute
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run pyhost with ``argv``; return the exit status instead of exiting."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = _parse_fast(words)
    if args is None:
        import gc

        gc.enable()  # see run(): only the FAST commands start with the collector off
        args = build_parser(words).parse_args(words)
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
        if not _stdout_gone():
            raise  # a pipe of pyhost's own: a bug to see, not a quiet exit 0
        # `pyhost ps | head`: the reader went away; that is not an error of ours.
        sys.stderr.close()
        return int(ExitStatus.OK)


def _stdout_gone() -> bool:
    """Whether standard output is a pipe whose reader went away (poll reports POLLERR)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def run() -> NoReturn:
    """Console-script entry point."""
    import gc

    # Start-up makes thousands of long-lived objects (modules, functions, classes) and no
    # garbage: the cyclic collector's passes over them are wasted (~1.5 ms of `pyhost run`).
    # `pyhost run` turns it back on once the supervisor outlives its start (launch.watch),
    # `pyhost inspect` where it goes to other hosts; every other command at once, in main().
    gc.disable()
    code = main()
    if _requested(sys.argv[1:]) == "run":
        # The runtime holds no threads, buffers or atexit work: skipping the interpreter's
        # tear-down saves ~30 ms of every `pyhost run` (measured in bench/run_bench.py).
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
