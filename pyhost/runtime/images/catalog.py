"""Reading the image store: names, image configs and layer metadata (see store.py's layout).

Kept light on purpose, as layout.py is: `pyhost run IMAGE` resolves its image through this
module alone (no pathlib, re, json or tarfile: together ~40 ms of start-up on a small
machine). `ImageStore` reads through it too, so there is one reader of the store's files.
"""

from __future__ import annotations

import os

from pyhost.inspect.collect import jsonc
from pyhost.runtime.images.layout import OVERLAY

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_TAG = "latest"


def store_root() -> str:
    """``$PYHOST_DATA_ROOT``, else /var/lib/pyhost as root, else $XDG_DATA_HOME/pyhost."""
    env = os.environ.get("PYHOST_DATA_ROOT")
    if env:
        return env
    if os.geteuid() == 0:
        return "/var/lib/pyhost"
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return os.path.join(xdg, "pyhost")


def hex_of(digest: str) -> str:
    return digest.removeprefix("sha256:")


def names_file(root: str) -> str:
    return os.path.join(root, "images", "names.json")


def image_file(root: str, image_id: str) -> str:
    return os.path.join(root, "images", "sha256", f"{hex_of(image_id)}.json")


def layer_dir(root: str, diff_id: str) -> str:
    return os.path.join(root, "layers", "sha256", hex_of(diff_id))


def read_names(root: str) -> dict[str, str]:
    """name -> image id; {} for a store without images."""
    path = names_file(root)
    try:
        with open(path, "rb") as f:
            data = jsonc.loads(f.read())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        from pyhost.runtime.images.errors import ImageError

        raise ImageError(f"{path} is not valid JSON ({e})") from e
    names = data.get("names") if isinstance(data, dict) else None
    if not isinstance(names, dict):
        from pyhost.runtime.images.errors import ImageError

        raise ImageError(f"{path} has no names mapping")
    return {str(k): str(v) for k, v in names.items()}


def read_image(root: str, image_id: str) -> dict[str, Any]:
    """The image's config JSON (the document its id is the digest of)."""
    path = image_file(root, image_id)
    try:
        with open(path, "rb") as f:
            doc = jsonc.loads(f.read())
    except (OSError, ValueError) as e:
        from pyhost.runtime.images.errors import ImageError, short_digest

        raise ImageError(f"image {short_digest(image_id)}: cannot read {path} ({e})") from e
    return doc if isinstance(doc, dict) else {}


def diff_ids_of(doc: dict[str, Any]) -> tuple[str, ...]:
    return tuple((doc.get("rootfs") or {}).get("diff_ids") or ())


def layer_meta(root: str, diff_id: str) -> dict[str, Any]:
    try:
        with open(os.path.join(layer_dir(root, diff_id), "meta.json"), "rb") as f:
            meta = jsonc.loads(f.read())
    except (OSError, ValueError) as e:
        from pyhost.runtime.images.errors import ImageError, short_digest

        raise ImageError(
            f"layer {short_digest(diff_id)} is missing from the store {root}",
            hint="load or pull the image again",
        ) from e
    return meta if isinstance(meta, dict) else {}


def overlay_ready(root: str, diff_ids: tuple[str, ...]) -> bool:
    """Whether every layer stores its whiteouts as overlayfs reads them (else the launcher
    flattens the layers into a private copy)."""
    return all(layer_meta(root, d).get("whiteout_form", "tar") == OVERLAY for d in diff_ids)


def exact_name(names: dict[str, str], ref: str) -> str | None:
    """The image id ``ref`` names when it is written as the store writes names (``busybox``
    or ``busybox:1.36``, ``host:5000/ns/app``), else None: then `ImageStore.resolve` applies
    the full reference rules (docker.io/library/ prefixes, ids, digests) and words errors.
    Stored names are normalized, so an exact match is the image normalization would find."""
    if "@" in ref or not ref:
        return None
    if ref in names:
        return names[ref]
    if ":" not in ref.rsplit("/", 1)[-1]:
        return names.get(f"{ref}:{DEFAULT_TAG}")
    return None


class ImageConfig:
    """The run settings of an image (its config JSON's ``config`` object).

    Plain classes here and for `Image`: dataclasses would cost `pyhost run` ~13 ms.
    """

    def __init__(
        self,
        *,
        env: tuple[str, ...],
        cmd: tuple[str, ...] | None,
        entrypoint: tuple[str, ...] | None,
        working_dir: str,
        user: str,
        labels: dict[str, str],
        exposed_ports: tuple[str, ...],
        stop_signal: str | None,
    ) -> None:
        self.env = env
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.working_dir = working_dir
        self.user = user
        self.labels = labels
        self.exposed_ports = exposed_ports
        self.stop_signal = stop_signal

    @classmethod
    def from_json(cls, config: dict[str, Any]) -> ImageConfig:
        def strings(value: Any) -> tuple[str, ...] | None:
            if value is None:
                return None
            if isinstance(value, str):  # docker accepts a string; it means ["/bin/sh","-c",s]
                return ("/bin/sh", "-c", value)
            return tuple(str(v) for v in value)

        labels = config.get("Labels") or {}
        return cls(
            env=tuple(str(e) for e in config.get("Env") or ()),
            cmd=strings(config.get("Cmd")),
            entrypoint=strings(config.get("Entrypoint")),
            working_dir=str(config.get("WorkingDir") or ""),
            user=str(config.get("User") or ""),
            labels={str(k): str(v) for k, v in labels.items()},
            exposed_ports=tuple(sorted(str(p) for p in config.get("ExposedPorts") or {})),
            stop_signal=config.get("StopSignal") or None,
        )
