"""Terminal rendering of an offline overview (``pyhost inspect --root DIR``)."""

from __future__ import annotations

import sys
from typing import Any

from pyhost.inspect.report import human_bytes


def print_overview(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"offline: {data['docker_root']} (driver {data['driver']}), no daemon asked")
    images = Table(title="images", box=None, header_style="bold", title_justify="left")
    for column in ("NAME", "IMAGE ID", "LAYERS", "SIZE", "CREATED"):
        images.add_column(column, no_wrap=column != "NAME", overflow="fold")
    for image in data["images"]:
        images.add_row(
            ", ".join(image["names"]) or "<none>",
            image["id"].removeprefix("sha256:")[:12],
            str(len(image["layers"])),
            human_bytes(image["size"]),
            str(image["created"] or "-")[:19],
        )
    console.print(images)
    containers = Table(title="containers", box=None, header_style="bold", title_justify="left")
    for column in ("NAME", "IMAGE", "AT COPY", "WRITABLE LAYER", "MOUNTS"):
        containers.add_column(column, overflow="fold")
    for c in data["containers"]:
        layer = c["container_layer"] or {}
        mounts = [
            f"{m['destination']} <- {m['volume'] or m['recorded_source']}"
            + (" (ro)" if m["readonly"] else "")
            for m in c["mounts"]
        ]
        containers.add_row(
            c["name"],
            c["image"] or c["image_id"][:19],
            c["status_at_copy"],
            human_bytes(layer.get("upper_size")) if layer else "-",
            "\n".join(mounts) or "-",
        )
    console.print(containers)
    volumes = Table(title="volumes", box=None, header_style="bold", title_justify="left")
    for column in ("NAME", "SIZE", "FILES", "USED BY"):
        volumes.add_column(column, overflow="fold")
    for v in data["volumes"]:
        volumes.add_row(v["name"], human_bytes(v["size"]), str(v["files"]), ", ".join(v["used_by"]))
    console.print(volumes)
    sys.stdout.flush()
