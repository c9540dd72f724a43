"""``pyhost load``: add images to pyhost's store from files (no registry, no Docker)."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter
from pyhost.cli.images_common import STORE_NOTE, open_store
from pyhost.errors import ExitStatus, UsageError

TYPE_CHECKING = False  # typing costs ~6 ms of every start
if TYPE_CHECKING:
    from typing import Any

EXAMPLES = f"""\
examples:
  pyhost load -i busybox.tar                a docker save archive (legacy or Docker >= 25)
  pyhost load -i ./oci-layout-dir           an OCI image layout, a directory or a tar
  pyhost load -i alpine-rootfs.tar.gz       a rootfs tarball: named alpine-rootfs:latest
  pyhost load -i rootfs.tar --tag base:1    ... or named with --tag
  pyhost load -i /srv/rootfs --tag mine     a rootfs directory

Layers are unpacked once, verified against their digests, and refused when a member would
escape the layer (absolute paths, .., symlinks, device nodes, decompression bombs).
{STORE_NOTE}.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "load",
        help="load images from a docker save tar, an OCI layout or a rootfs",
        description="Load images into pyhost's store from a docker save archive, an OCI "
        "image layout, a rootfs tarball or a rootfs directory.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "-i", "--input", required=True, metavar="FILE", help="the archive, layout or rootfs"
    )
    parser.add_argument(
        "-t",
        "--tag",
        metavar="NAME[:TAG]",
        help="name for a rootfs (default: from the file name), or an extra name for the image",
    )
    parser.set_defaults(execute=execute)


def execute(args: argparse.Namespace) -> int:
    from pathlib import Path

    source = Path(args.input)
    if not source.exists():
        raise UsageError(f"{args.input}: no such file or directory")
    for image in open_store().load(source, tag=args.tag):
        if image.names:
            for name in image.names:
                print(f"Loaded image: {name}")
        else:
            print(f"Loaded image ID: {image.id}")
    return ExitStatus.OK
