"""``pyhost pull``: fetch an image from a registry (HTTP API v2) into pyhost's store."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter
from pyhost.cli.images_common import STORE_NOTE, open_store
from pyhost.errors import ExitStatus

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = f"""\
examples:
  pyhost pull busybox                         docker.io/library/busybox:latest
  pyhost pull 127.0.0.1:5000/team/app:1.2     a local registry (http on 127.0.0.0/8)
  pyhost pull debian:bookworm --platform linux/arm64
  pyhost pull registry.lan:5000/app --insecure-registry

Anonymous pulls (bearer tokens as Docker Hub hands out); every manifest and layer is
verified against its digest. {STORE_NOTE}.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pull",
        help="pull an image from a registry",
        description="Pull an image from a registry into pyhost's store, choosing this "
        "machine's platform from a multi-platform index.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("ref", metavar="REF", help="NAME[:TAG] or NAME@sha256:DIGEST")
    parser.add_argument(
        "--platform", metavar="OS/ARCH[/VARIANT]", help="the platform (default: this machine's)"
    )
    parser.add_argument(
        "--insecure-registry",
        action="store_true",
        help="speak plain http to the registry (always so for 127.0.0.0/8 and localhost)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per request (default 30)"
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    image = open_store().pull(
        args.ref, platform=args.platform, insecure=args.insecure_registry, timeout=args.timeout
    )
    print(f"Pulled: {', '.join(image.names) or args.ref} ({image.id})")
    return ExitStatus.OK
