"""``pyhost inspect``: how one container is really isolated, read from the kernel."""

from __future__ import annotations

import argparse
from typing import Any

from pyhost.cli.common import HelpFormatter, add_json_argument
from pyhost.errors import ExitStatus, NotAvailableError, PyhostError, UsageError

EXAMPLES = """\
examples:
  pyhost inspect web-1                      a Docker container by name, id or id prefix
  pyhost inspect 3f2a --json                as JSON (schema "pyhost.inspect/1")
  pyhost inspect --pid 4242                 any process, Docker or not

exit codes:
  0  inspected (also a stopped container, or one that exits while it is read)
  1  no Docker engine answers (for CONTAINER; --pid works without one)
  2  no such container or process, an ambiguous id prefix, or bad usage
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
    if (args.container is None) == (args.pid is None) or args.container == "":
        raise UsageError("name one container, or give --pid PID", hint="see pyhost inspect --help")
    if args.host:
        raise NotAvailableError(
            "inspecting remote hosts is not in this version of pyhost yet",
            hint="run pyhost inspect on the host itself meanwhile",
        )
    data = collect(args.container, args.pid)
    if args.json:
        import json

        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        from pyhost.inspect.inspect_report import print_inspect

        print_inspect(data)
    return ExitStatus.OK


def collect(container: str | None, pid: int | None) -> dict[str, Any]:
    """The collector's result; its errors become pyhost's one-line errors."""
    from pyhost.inspect.collect.engine import EngineUnavailable
    from pyhost.inspect.collect.inspection import TargetError, inspect_container, inspect_pid

    try:
        if pid is not None:
            return inspect_pid(pid)
        assert container is not None
        return inspect_container(container)
    except TargetError as e:
        raise UsageError(e.message, hint=e.hint) from e
    except EngineUnavailable as e:
        raise PyhostError(
            f"cannot inspect container {container!r}: {e.reason}",
            hint="`pyhost inspect --pid PID` inspects a process without the engine",
        ) from e
