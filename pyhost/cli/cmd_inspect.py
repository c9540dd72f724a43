"""``pyhost inspect``: how one container is really isolated, read from the kernel.

`pyhost inspect NAME --json` is held to twice the time of `docker inspect NAME`
(bench/inspect_bench.py): its path imports no argparse, json, re, enum, socket, rich or
typing. Its options are also a table (OPTIONS, POSITIONALS) that pyhost.cli.fastargs reads
without argparse; argparse is built as before, with the shared helpers' help texts, and
tests/unit/test_cli_inspect_fast.py holds the two to the same options and results. The
helpers of the remote and offline modes are imported where those are used.
"""

from __future__ import annotations

from pyhost.cli.fastargs import FLAG, Option, Positional
from pyhost.errors import ExitStatus, PyhostError, UsageError

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    import argparse
    from typing import Any

EXAMPLES = """\
examples:
  pyhost inspect web-1                      a Docker container by name, id or id prefix
  pyhost inspect 3f2a --json                as JSON (schema "pyhost.inspect/1")
  pyhost inspect --pid 4242                 any process, Docker or not
  pyhost inspect --root /mnt/evidence       offline: images, containers, volumes of a disk copy
  pyhost inspect web --root /mnt/evidence   one container of it: config, layers, mounts
  pyhost inspect web-1 -H admin@host-1      on a remote host over SSH (as root through sudo)
  pyhost inspect web-1 -H lab@[::1]:2222 --ssh-key ~/.ssh/lab -K --json
  pyhost inspect web-1 -i inventory.yml --limit web   on every selected host, in parallel

exit codes:
  0  inspected (also a stopped container, or one that exits while it is read)
  1  no Docker engine answers (for CONTAINER; --pid works without one); with -H: the
     collector failed on the host (no python3, sudo refused, a crash)
  2  no such container or process, an ambiguous id prefix, or bad usage
  4  the host could not be reached (network, SSH authentication, host key)
  with -i: 1 when it failed (or is missing) on a host, else 4 when a host was unreachable
"""


def _forks(text: str) -> int:
    """--forks for the fast path: a whole number of 1 or more; anything else is left to
    argparse (common.positive_int words the error)."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


# What argparse declares below (add_parser), as fastargs reads it.
OPTIONS = (
    Option("--pid", type=int),
    Option("--root"),
    Option("-H", "--host"),
    Option("--ssh-key"),
    Option("-K", "--ask-become-pass", kind=FLAG),
    Option("--known-hosts"),
    Option("--accept-new-host-keys", kind=FLAG),
    Option("-i", "--inventory"),
    Option("-l", "--limit"),
    Option("-f", "--forks", type=_forks, default=10),
    Option("--json", kind=FLAG),
)
POSITIONALS = (Positional("container", metavar="CONTAINER", help="name or id", optional=True),)


def add_parser(subparsers: Any) -> None:
    from pyhost.cli.common import (
        HelpFormatter,
        add_forks_argument,
        add_json_argument,
        add_remote_host_arguments,
    )

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
    parser.add_argument(
        "--root",
        metavar="DIR",
        help="offline: read a mounted copy of a host's disk (its var/lib/docker), no daemon; "
        "without CONTAINER, list its images, containers and volumes",
    )
    add_remote_host_arguments(parser, with_inventory=True)
    parser.add_argument(
        "-i", "--inventory", metavar="INVENTORY", help="inspect CONTAINER on an inventory's hosts"
    )
    parser.add_argument(
        "-l", "--limit", metavar="PATTERN", help="with -i: select hosts (names, groups, globs)"
    )
    add_forks_argument(parser)
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    if args.inventory is not None or args.host is not None:
        import gc

        gc.enable()  # off for the local start-up (pyhost.cli.main.run); SSH sessions live long
    if args.root is not None:
        return _offline(args)
    if args.inventory is not None:
        return _fleet(args)
    if args.limit is not None:
        raise UsageError("--limit selects hosts of an inventory", hint="give -i INVENTORY too")
    if (args.container is None) == (args.pid is None) or args.container == "":
        raise UsageError("name one container, or give --pid PID", hint="see pyhost inspect --help")
    data = collect_remote(args) if args.host is not None else collect(args.container, args.pid)
    if args.json:
        print_json(data)
    else:
        from pyhost.inspect.inspect_report import print_inspect

        print_inspect(data)
    return ExitStatus.OK


def _fleet(args: argparse.Namespace) -> int:
    """``-i``: CONTAINER on every selected host at once; one report per host, or
    ``pyhost.inspect-fleet/1``."""
    import sys

    from pyhost.cli.common import print_fleet_errors, selected_hosts, ssh_options
    from pyhost.inspect import remote
    from pyhost.inspect.collect.protocol import make_request

    if args.host is not None or args.pid is not None or not args.container:
        raise UsageError("with -i INVENTORY give one CONTAINER (and neither -H nor --pid)")
    options = ssh_options(args)
    hosts = selected_hosts(args)
    request = make_request("inspect", target=args.container, pid=None)
    outcomes = remote.collect_fleet(hosts, request, forks=args.forks, options=options)
    if args.json:
        print_json(remote.fleet_document(outcomes, schema="pyhost.inspect-fleet/1"))
    else:
        from pyhost.inspect.inspect_report import print_inspect

        for outcome in outcomes:
            if outcome.result is not None:
                print(f"== {outcome.host}")
                print_inspect(outcome.result)
        sys.stdout.flush()
        print_fleet_errors(outcomes)
    return remote.fleet_exit(outcomes)


def _offline(args: argparse.Namespace) -> int:
    """``--root DIR``: a disk copy, read without any daemon."""
    from pyhost.inspect.collect.inspection import TargetError, inspect_offline
    from pyhost.inspect.collect.offline import OfflineError, overview

    if args.pid is not None or args.host is not None:
        raise UsageError("--root reads a disk copy: it goes with neither --pid nor -H")
    try:
        data = inspect_offline(args.container, args.root) if args.container else overview(args.root)
    except (TargetError, OfflineError) as e:
        raise UsageError(e.message, hint=e.hint) from e
    if args.json:
        print_json(data)
    elif args.container:
        from pyhost.inspect.inspect_report import print_inspect

        print_inspect(data)
    else:
        from pyhost.inspect.offline_report import print_overview

        print_overview(data)
    return ExitStatus.OK


def print_json(data: dict[str, Any]) -> None:
    """The document as `json.dumps(data, indent=2, sort_keys=True)` writes it."""
    import sys

    from pyhost.inspect.collect import jsonc

    sys.stdout.write(jsonc.dumps(data, indent=2, sort_keys=True) + "\n")


def cache_dir() -> str | None:
    """pyhost's cache (what the docker CLI and the engine say of their versions, under keys
    that change with them: see pyhost.inspect.collect.cache): $XDG_CACHE_HOME/pyhost or
    ~/.cache/pyhost; None without a home of this user's own (root under a sudo that kept
    the user's HOME writes nothing there)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):
        home = os.environ.get("HOME") or ""
        try:
            if not os.path.isabs(home) or os.stat(home).st_uid != os.geteuid():
                return None
        except OSError:
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "pyhost")


def collect(container: str | None, pid: int | None) -> dict[str, Any]:
    """The collector's result; its errors become pyhost's one-line errors."""
    from pyhost.inspect.collect.engine import EngineUnavailable
    from pyhost.inspect.collect.inspection import TargetError, inspect_container, inspect_pid

    try:
        if pid is not None:
            return inspect_pid(pid)
        assert container is not None
        return inspect_container(container, cache_dir=cache_dir())
    except TargetError as e:
        raise UsageError(e.message, hint=e.hint) from e
    except EngineUnavailable as e:
        raise PyhostError(
            f"cannot inspect container {container!r}: {e.reason}",
            hint="`pyhost inspect --pid PID` inspects a process without the engine",
        ) from e


def collect_remote(args: argparse.Namespace) -> dict[str, Any]:
    """The same document from the host ``-H`` names, in one SSH round trip."""
    from pyhost.cli.common import remote_target
    from pyhost.connection import SSHConnection
    from pyhost.inspect import remote
    from pyhost.inspect.collect.protocol import make_request

    target = remote_target(args)
    if args.pid is not None:
        request = make_request("inspect", target=None, pid=args.pid)
    else:
        request = make_request("inspect", target=args.container, pid=None)
    with SSHConnection(target) as conn:
        envelope = remote.collect_on(conn, request)
    error = envelope.get("error") or {}
    if error.get("kind") == "engine":
        raise PyhostError(
            f"cannot inspect container {args.container!r} on {target.name}: {error['message']}",
            hint="`pyhost inspect --pid PID -H HOST` inspects a process without the engine",
        )
    return remote.result_of(target.name, envelope)
