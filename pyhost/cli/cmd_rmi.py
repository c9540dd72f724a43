"""``pyhost rmi``: untag or delete images in pyhost's store."""

from __future__ import annotations

import argparse
import sys

from pyhost.cli.common import HelpFormatter
from pyhost.cli.images_common import STORE_NOTE, open_store
from pyhost.errors import ExitStatus, PyhostError

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = f"""\
examples:
  pyhost rmi busybox                untag busybox:latest (and delete it if it was the last name)
  pyhost rmi 3f2a91c0 app:1 app:2   by id prefix or name; each in turn
  pyhost images -q | xargs pyhost rmi

Layers other images share stay. {STORE_NOTE}.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rmi",
        help="remove images from pyhost's store",
        description="Untag images, and delete those left without a name, with the layers "
        "no other image uses.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("refs", nargs="+", metavar="REF", help="image name or id (prefix)")
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pyhost.runtime.containers import image_in_use

    store = open_store()
    status = ExitStatus.OK
    for ref in args.refs:
        try:
            lines = store.remove(ref, in_use=image_in_use)
        except PyhostError as e:
            if getattr(args, "debug", False):
                raise
            print(f"pyhost: error: {e.one_line()}", file=sys.stderr)
            status = max(status, e.exit_status)
            continue
        for line in lines:
            print(line)
    return status
