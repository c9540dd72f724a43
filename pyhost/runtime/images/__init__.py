"""Images for the fallback runtime: load, pull, store and unpack them safely.

The launcher needs only this: ``ImageStore(default_store_root()).resolve(ref)`` gives an
`Image` whose ``layers`` are unpacked directories, lowest first, ready to be overlayfs
lowerdirs (when ``image.overlay_ready``), or to be flattened with `materialize_rootfs`.
"""

from pyhost.runtime.images.errors import (
    ImageError,
    ImageInUse,
    ImageNotFound,
    RegistryError,
)
from pyhost.runtime.images.layout import Limits
from pyhost.runtime.images.rootfs import materialize_rootfs
from pyhost.runtime.images.store import (
    Image,
    ImageConfig,
    ImageStore,
    default_store_root,
)

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
