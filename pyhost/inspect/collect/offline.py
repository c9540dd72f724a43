"""Offline forensics: a copy of a host's disk, read without a daemon (docker-explorer's job).

``root`` is where the disk is mounted (``/mnt/evidence``) or its Docker root itself. From
``var/lib/docker`` come the containers (``containers/<id>/config.v2.json`` and
``hostconfig.json``), the images (``image/<driver>/repositories.json`` and ``imagedb``), the
layer chains (``layerdb``), the containers' layers and the volumes. Nothing is written and
nothing is run: every path is read relative to ``root``, and host paths recorded in the
configs are shown both as recorded and where they are in the copy.
"""

from __future__ import annotations

import json
import os

from . import storage

TYPE_CHECKING = False  # typing costs ~6 ms of every collector run
if TYPE_CHECKING:
    from typing import Any

SCHEMA = "pyhost.offline/1"


class OfflineError(Exception):
    """The directory holds no Docker root; a usage error."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def docker_root(root: str) -> str:
    """The Docker root inside ``root``: ``root/var/lib/docker``, or ``root`` itself."""
    for candidate in (os.path.join(root, "var/lib/docker"), root):
        if os.path.isdir(os.path.join(candidate, "containers")) or os.path.isdir(
            os.path.join(candidate, "image")
        ):
            return os.path.normpath(candidate)
    raise OfflineError(
        f"no Docker root under {root}: neither {root}/var/lib/docker nor {root} has "
        "containers/ or image/",
        hint="give the mount point of the host's disk, or its /var/lib/docker",
    )


def _json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _in_copy(path: str | None, original: str, docker: str) -> str | None:
    """Where a host path recorded on the original host lies in the copy, when it is known."""
    if not path:
        return None
    if path == original or path.startswith(original + "/"):
        return docker + path[len(original) :]
    return None


class OfflineDocker:
    """Docker's records on a disk copy, answered in the Engine API's shapes."""

    def __init__(self, root: str) -> None:
        self.root = os.path.normpath(root)
        self.docker = docker_root(root)
        self.original = "/var/lib/docker"  # where these files lived on their host

    def driver(self) -> str:
        image_dir = os.path.join(self.docker, "image")
        drivers = sorted(os.listdir(image_dir)) if os.path.isdir(image_dir) else []
        return drivers[0] if drivers else "overlay2"

    def image_names(self) -> dict[str, list[str]]:
        """image id -> its names, from repositories.json."""
        data = _json(os.path.join(self.docker, "image", self.driver(), "repositories.json"))
        names: dict[str, list[str]] = {}
        for refs in ((data or {}).get("Repositories") or {}).values():
            for name, image_id in refs.items():
                names.setdefault(str(image_id), []).append(str(name))
        return names

    def container_ids(self) -> list[str]:
        directory = os.path.join(self.docker, "containers")
        try:
            return sorted(n for n in os.listdir(directory) if len(n) == 64)
        except OSError:
            return []

    def container(self, ident: str) -> dict[str, Any]:
        base = os.path.join(self.docker, "containers", ident)
        v2 = _json(os.path.join(base, "config.v2.json"))
        if v2 is None:
            raise KeyError(ident)
        host = _json(os.path.join(base, "hostconfig.json")) or {}
        mounts = []
        for point in (v2.get("MountPoints") or {}).values():
            mounts.append(
                {
                    "Type": point.get("Type") or ("volume" if point.get("Name") else "bind"),
                    "Name": point.get("Name") or None,
                    "Source": point.get("Source"),
                    "Destination": point.get("Destination"),
                    "RW": bool(point.get("RW", True)),
                    "Propagation": point.get("Propagation") or "",
                }
            )
        state = dict(v2.get("State") or {})
        state["Status"] = "running" if state.get("Running") else "exited"
        return {
            "Id": v2.get("ID", ident),
            "Name": v2.get("Name", ""),
            "Created": v2.get("Created"),
            "Path": v2.get("Path", ""),
            "Args": v2.get("Args") or [],
            "Config": v2.get("Config") or {},
            "Image": v2.get("Image", ""),
            "State": state,
            "HostConfig": host,
            "NetworkSettings": v2.get("NetworkSettings") or {},
            "Mounts": mounts,
            "Driver": v2.get("Driver") or self.driver(),
        }

    def summaries(self) -> list[dict[str, Any]]:
        out = []
        for ident in self.container_ids():
            try:
                config = self.container(ident)
            except KeyError:
                continue
            out.append(
                {
                    "Id": config["Id"],
                    "Names": [config["Name"]],
                    "Image": (config["Config"] or {}).get("Image") or config["Image"],
                    "State": config["State"]["Status"],
                }
            )
        return out

    def info(self) -> dict[str, Any]:
        return {"DockerRootDir": self.docker, "Driver": self.driver()}


def overview(root: str) -> dict[str, Any]:
    """Everything on the copy: images with their layers, containers, volumes."""
    disk = OfflineDocker(root)
    driver = disk.driver()
    names = disk.image_names()
    images = []
    content = os.path.join(disk.docker, "image", driver, "imagedb", "content", "sha256")
    for hex_id in sorted(os.listdir(content)) if os.path.isdir(content) else []:
        image_id = f"sha256:{hex_id}"
        chain = storage.layers(image_id, disk.docker, driver) or []
        config = _json(os.path.join(content, hex_id)) or {}
        images.append(
            {
                "id": image_id,
                "names": sorted(names.get(image_id, [])),
                "created": config.get("created"),
                "layers": chain,
                "size": sum(layer["size"] or 0 for layer in chain),
            }
        )
    containers = []
    for summary in disk.summaries():
        config = disk.container(summary["Id"])
        containers.append(_container_entry(disk, config, driver))
    volumes = []
    volume_dir = os.path.join(disk.docker, "volumes")
    for name in sorted(os.listdir(volume_dir)) if os.path.isdir(volume_dir) else []:
        data = os.path.join(volume_dir, name, "_data")
        if os.path.isdir(data):
            size, files, truncated = storage.dir_size(data)
            users = [c["name"] for c in containers if name in c["volumes"]]
            volumes.append(
                {
                    "name": name,
                    "path": data,
                    "size": size,
                    "files": files,
                    "truncated": truncated,
                    "used_by": users,
                }
            )
    return {
        "schema": SCHEMA,
        "root": disk.root,
        "docker_root": disk.docker,
        "driver": driver,
        "images": images,
        "containers": containers,
        "volumes": volumes,
    }


def _container_entry(disk: OfflineDocker, config: dict[str, Any], driver: str) -> dict[str, Any]:
    layer = storage.container_layer(config["Id"], disk.docker, driver)
    mounts = []
    for m in config["Mounts"]:
        mounts.append(
            {
                "destination": m["Destination"],
                "kind": m["Type"],
                "recorded_source": m["Source"],
                "in_copy": _in_copy(m["Source"], disk.original, disk.docker),
                "volume": m["Name"],
                "readonly": not m["RW"],
            }
        )
    host = config["HostConfig"]
    return {
        "id": config["Id"],
        "name": str(config["Name"]).lstrip("/"),
        "image": (config["Config"] or {}).get("Image"),
        "image_id": config["Image"],
        "status_at_copy": config["State"]["Status"],
        "started_at": config["State"].get("StartedAt"),
        "command": [config["Path"], *config["Args"]],
        "privileged": bool(host.get("Privileged")),
        "network_mode": host.get("NetworkMode"),
        "memory": host.get("Memory") or None,
        "ports": host.get("PortBindings") or {},
        "mounts": mounts,
        "volumes": [m["volume"] for m in mounts if m["volume"]],
        "container_layer": layer,
    }
