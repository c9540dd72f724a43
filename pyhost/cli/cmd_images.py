"""``pyhost images``: the images in pyhost's own store (for ``pyhost run``)."""

from __future__ import annotations

import argparse

from pyhost.cli.common import HelpFormatter, add_json_argument
from pyhost.cli.images_common import STORE_NOTE, human_age, human_size, open_store
from pyhost.errors import ExitStatus

TYPE_CHECKING = False  # typing costs ~6 ms of every start

if TYPE_CHECKING:
    from typing import Any

    from pyhost.runtime.images import Image

SCHEMA = "pyhost.images/1"

EXAMPLES = f"""\
examples:
  pyhost images                             REPOSITORY TAG IMAGE ID CREATED SIZE
  pyhost images -q                          only the ids (for xargs pyhost rmi)
  pyhost images --json                      schema "{SCHEMA}"

{STORE_NOTE}.
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "images",
        help="list the images pyhost run can use",
        description="List the images in pyhost's image store (loaded with pyhost load or "
        "pulled with pyhost pull), newest first.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only print image ids")
    add_json_argument(parser)
    parser.set_defaults(execute=execute)


def image_document(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "names": list(image.names),
        "created": image.created,
        "size": image.size,
        "architecture": image.architecture,
        "os": image.os,
        "layers": [str(p) for p in image.layers],
        "diff_ids": list(image.diff_ids),
        "overlay_ready": image.overlay_ready,
        "config": {
            "env": list(image.config.env),
            "cmd": list(image.config.cmd) if image.config.cmd is not None else None,
            "entrypoint": (
                list(image.config.entrypoint) if image.config.entrypoint is not None else None
            ),
            "working_dir": image.config.working_dir,
            "user": image.config.user,
            "labels": image.config.labels,
            "exposed_ports": list(image.config.exposed_ports),
            "stop_signal": image.config.stop_signal,
        },
    }


def rows(images: list[Image]) -> list[tuple[str, str, str, str, str]]:
    """One row per name (an image with two tags has two rows, as in docker images)."""
    out = []
    for image in images:
        names = image.names or ("<none>:<none>",)
        for name in names:
            repo, _, tag = name.rpartition(":")
            out.append(
                (repo, tag, image.short_id, human_age(image.created), human_size(image.size))
            )
    return out


def execute(args: argparse.Namespace) -> int:
    images = open_store().images()
    if args.json:
        import json

        doc = {"schema": SCHEMA, "images": [image_document(i) for i in images]}
        print(json.dumps(doc, indent=2, sort_keys=True))
    elif args.quiet:
        for image in images:
            print(image.short_id)
    else:
        table = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"), *rows(images)]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        for row in table:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
            print("   ".join([*cells, row[4]]))
    return ExitStatus.OK
