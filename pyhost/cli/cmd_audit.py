"""``pyhost audit``: CIS-Docker-Benchmark-style checks of hosts and their containers."""

from __future__ import annotations

import argparse
import sys

from pyhost.cli.common import (
    HelpFormatter,
    add_forks_argument,
    add_host_key_arguments,
    selected_hosts,
)
from pyhost.errors import UsageError

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = """\
examples:
  pyhost audit                                   audit this machine
  pyhost audit inventory.yml --format junit --output audit.xml
  pyhost audit inventory.yml --report junit:audit.xml --report sarif:audit.sarif
  pyhost audit inventory.yml --baseline waivers.yml --checks ./our-checks
  pyhost audit inventory.yml --shard 2/4 --format json --output shard-2.json
  pyhost audit merge shard-*.json --format sarif --output audit.sarif

exit codes:
  0  every check passed (or its failure is waived)
  1  a check failed, or could not run on a host that answered
  2  bad usage: a flag, the inventory, the baseline, or a check file that does not load
  4  a host could not be reached (its checks are errors; the other hosts are audited)
"""

FORMATS = ("table", "json", "junit", "sarif")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="audit hosts and containers (CIS Docker Benchmark) with CI exit codes",
        description="Check hosts, daemons and containers against the CIS Docker Benchmark\n"
        "v1.6.0, reading the kernel where it knows better than Docker's config. The checks\n"
        "are pytest tests (testinfra's `host` fixture is there for your own).\n"
        "`pyhost audit merge FILES...` combines the JSON reports of sharded runs.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "inventory",
        nargs="?",
        metavar="INVENTORY",
        help="Ansible-style YAML inventory; without one, this machine (implicit localhost)",
    )
    parser.add_argument("files", nargs="*", metavar="FILES", help=argparse.SUPPRESS)
    parser.add_argument(
        "-l",
        "--limit",
        metavar="PATTERN",
        help="select hosts: names, groups, globs, ~regex, &intersection, !exclusion",
    )
    parser.add_argument(
        "--checks",
        action="append",
        default=[],
        metavar="DIR",
        help="also run the checks (pytest files) in DIR; may be given more than once",
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="report format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT:FILE",
        help="also write a report in FORMAT to FILE (e.g. junit:audit.xml); repeatable",
    )
    parser.add_argument(
        "--baseline", metavar="FILE", help="YAML waivers: check, host, container, reason, expires"
    )
    parser.add_argument(
        "--shard", metavar="K/N", help="audit only the K-th of N equal parts of the hosts"
    )
    parser.add_argument(
        "--all", action="store_true", help="table: list passed and skipped checks too"
    )
    parser.add_argument(
        "--ssh-key", metavar="FILE", help="the SSH key for hosts that set none in the inventory"
    )
    parser.add_argument(
        "-K",
        "--ask-become-pass",
        action="store_true",
        help="ask for the sudo password (for hosts that set no ansible_become_password)",
    )
    add_host_key_arguments(parser)
    add_forks_argument(parser)
    parser.set_defaults(execute=execute)


def _reports(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(format, file or None for stdout): the main one, then each --report."""
    wanted: list[tuple[str, str | None]] = [(args.format, args.output)]
    for spec in args.report:
        fmt, sep, path = spec.partition(":")
        if not sep or fmt not in FORMATS or not path:
            raise UsageError(
                f"--report {spec!r}: write FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}"
            )
        wanted.append((fmt, path))
    return wanted


def execute(args: argparse.Namespace) -> int:
    if args.inventory == "merge":
        return _merge(args)
    if args.files:
        raise UsageError(
            f"unexpected argument {args.files[0]!r}", hint="one INVENTORY, or `audit merge FILES`"
        )
    import os
    import tempfile

    from pyhost.audit.runner import run_audit
    from pyhost.cli.common import check_ssh_files, ssh_options

    wanted = _reports(args)
    check_ssh_files(args)
    baseline = None
    if args.baseline:
        from pyhost.audit.baseline import load_baseline

        baseline = load_baseline(args.baseline)
    hosts = selected_hosts(args)
    shard_text = None
    if args.shard:
        from pyhost.audit.shard import parse_shard, shard

        k, n = parse_shard(args.shard)
        hosts = shard(hosts, k, n)
        shard_text = f"{k}/{n}"
        if not hosts:
            print(f"pyhost: note: shard {shard_text} has no hosts", file=sys.stderr)
    options = ssh_options(args)
    junit_paths = [path for fmt, path in wanted if fmt == "junit"]
    with tempfile.TemporaryDirectory(prefix="pyhost-audit-") as tmp:
        junit = os.path.join(tmp, "junit.xml") if junit_paths else None
        run = run_audit(
            hosts,
            checks=args.checks,
            baseline=baseline,
            forks=args.forks,
            options=options,
            junit=junit,
            inventory=args.inventory,
            shard=shard_text,
        )
        if args.debug:
            print(run.pytest_output, file=sys.stderr)
        junit_text = open(junit).read() if junit else None  # noqa: SIM115
    _write(run.document, wanted, junit_text=junit_text, show_passed=args.all)
    return int(run.document["exit_status"])


def _write(
    doc: dict[str, Any],
    wanted: list[tuple[str, str | None]],
    *,
    junit_text: str | None = None,
    show_passed: bool = False,
) -> None:
    from pyhost.audit import report

    for fmt, path in wanted:
        if fmt == "table" and path is None:
            report.print_table(doc, show_passed=show_passed)
            continue
        if fmt == "table":
            import io

            from rich.console import Console

            buf = io.StringIO()
            console = Console(file=buf, width=120, highlight=False, color_system=None)
            report.print_table(doc, show_passed=show_passed, console=console)
            text = buf.getvalue()
        elif fmt == "json":
            text = report.dumps(doc)
        elif fmt == "sarif":
            text = report.dumps(report.sarif(doc))
        else:
            text = junit_text if junit_text is not None else report.junit(doc)
        if path is None:
            sys.stdout.write(text)
        else:
            try:
                with open(path, "w") as fh:
                    fh.write(text)
            except OSError as e:
                raise UsageError(f"cannot write {path}: {e.strerror or e}") from e


def _merge(args: argparse.Namespace) -> int:
    import json

    from pyhost.audit import report

    if not args.files:
        raise UsageError("audit merge needs the JSON reports to merge")
    docs = []
    for path in args.files:
        try:
            with open(path) as fh:
                docs.append((path, json.load(fh)))
        except OSError as e:
            raise UsageError(f"{path}: {e.strerror or e}") from e
        except ValueError as e:
            raise UsageError(f"{path}: not JSON ({e})") from e
    doc = report.merge(docs)
    _write(doc, _reports(args), show_passed=args.all)
    return int(doc["exit_status"])
