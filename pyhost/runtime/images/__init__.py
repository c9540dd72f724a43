"""Images for the fallback runtime: load, pull, store and unpack them safely.

The launcher needs only this: ``ImageStore(default_store_root()).resolve(ref)`` gives an
`Image` whose ``layers`` are unpacked directories, lowest first, ready to be overlayfs
lowerdirs (when ``image.overlay_ready``), or to be flattened with `materialize_rootfs`.
`pyhost run IMAGE` reads the store through the light `catalog` module first.

The names below are loaded on first use (PEP 562): importing `catalog` must not pull in the
store's heavier modules (pathlib, re, json, tarfile), which `pyhost run` cannot afford.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyhost.runtime.images.catalog import ImageConfig
    from pyhost.runtime.images.errors import (
        ImageError,
        ImageInUse,
        ImageNotFound,
        RegistryError,
    )
    from pyhost.runtime.images.layout import Limits
    from pyhost.runtime.images.rootfs import materialize_rootfs
    from pyhost.runtime.images.store import Image, ImageStore, default_store_root

_WHERE = {
    "Image": "store",
    "ImageConfig": "catalog",
    "ImageError": "errors",
    "ImageInUse": "errors",
    "ImageNotFound": "errors",
    "ImageStore": "store",
    "Limits": "layout",
    "RegistryError": "errors",
    "default_store_root": "store",
    "materialize_rootfs": "rootfs",
}

__all__ = [
    "Image",
    "ImageConfig",
    "ImageError",
    "ImageInUse",
    "ImageNotFound",
    "ImageStore",
    "Limits",
    "RegistryError",
    "default_store_root",
    "materialize_rootfs",
]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
