"""Flatten layers into one root filesystem where overlayfs is missing (user-mode Linux,
rootless): the layers are copied lowest first into ``dest``, applying their whiteouts.

Both whiteout forms are understood: the tar form's ``.wh.NAME`` / ``.wh..wh..opq`` marker
files and the overlay form's 0/0 character devices / ``trusted.overlay.opaque=y``. Every path
in ``dest`` is reached through directory fds without following symlinks: a lower layer's
symlink (``etc -> /etc``) is replaced by an upper layer's directory, never written through.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from pyhost.runtime.images.layout import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX
from pyhost.runtime.stdlite import DIR_FLAGS as _DIR_FLAGS
from pyhost.runtime.stdlite import remove_entry


def materialize_rootfs(layers: Sequence[Path], dest: Path) -> None:
    """Copy ``layers`` (lowest first) into ``dest`` (made when missing), whiteouts applied."""
    dest.mkdir(parents=True, exist_ok=True)
    as_root = os.geteuid() == 0
    dest_fd = os.open(dest, _DIR_FLAGS)
    try:
        for layer in layers:
            src_fd = os.open(layer, _DIR_FLAGS)
            try:
                _Merge(dest_fd, as_root).merge(src_fd, dest_fd, "")
            finally:
                os.close(src_fd)
    finally:
        os.close(dest_fd)


def _is_opaque(fd: int, names: list[str]) -> bool:
    if OPAQUE_MARKER in names:
        return True
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


class _Merge:
    """One layer onto ``dest``; hardlinks inside the layer stay hardlinks."""

    def __init__(self, dest_root: int, as_root: bool) -> None:
        self.dest_root = dest_root
        self.as_root = as_root
        self.links: dict[tuple[int, int], str] = {}

    def merge(self, src: int, dst: int, rel: str) -> None:
        names = os.listdir(src)
        if _is_opaque(src, names):
            for child in os.listdir(dst):
                remove_entry(dst, child)
        # whiteouts first: they delete what the lower layers put here, never this layer's
        entries = []
        for name in names:
            if name == OPAQUE_MARKER:
                continue
            if name.startswith(WHITEOUT_PREFIX):
                target = name[len(WHITEOUT_PREFIX) :]
                if target not in ("", ".", "..") and "/" not in target:
                    remove_entry(dst, target)
                continue
            st = os.stat(name, dir_fd=src, follow_symlinks=False)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                remove_entry(dst, name)
                continue
            entries.append((name, st))
        for name, st in entries:
            self._entry(src, dst, f"{rel}{name}", name, st)

    def _entry(self, src: int, dst: int, rel: str, name: str, st: os.stat_result) -> None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            try:
                existing = os.stat(name, dir_fd=dst, follow_symlinks=False)
                if not stat.S_ISDIR(existing.st_mode):
                    os.unlink(name, dir_fd=dst)
                    os.mkdir(name, 0o700, dir_fd=dst)
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=dst)
            child_src = os.open(name, _DIR_FLAGS, dir_fd=src)
            try:
                child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst)
                try:
                    self.merge(child_src, child_dst, f"{rel}/")
                    self._attrs(child_dst, st)
                finally:
                    os.close(child_dst)
            finally:
                os.close(child_src)
            return
        remove_entry(dst, name)
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                try:
                    os.link(
                        self.links[key],
                        name,
                        src_dir_fd=self.dest_root,
                        dst_dir_fd=dst,
                        follow_symlinks=False,
                    )
                    return
                except OSError:
                    pass  # copy instead
            self._copy(src, dst, name, st)
            if st.st_nlink > 1:
                self.links[key] = rel
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            if self.as_root:
                os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
            os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst, follow_symlinks=False)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(name, 0o600, dir_fd=dst)
            if self.as_root:
                os.chown(name, st.st_uid, st.st_gid, dir_fd=dst, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst)
        # device nodes: the extractor never stores any (whiteouts were handled above)

    def _copy(self, src: int, dst: int, name: str, st: os.stat_result) -> None:
        fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fout = os.open(name, flags, 0o600, dir_fd=dst)
            try:
                left = st.st_size
                offset = 0
                while left > 0:
                    try:
                        sent = os.sendfile(fout, fin, offset, min(left, 1 << 30))
                    except OSError as e:
                        if e.errno != errno.EINVAL:
                            raise
                        sent = os.write(fout, os.pread(fin, min(left, 1 << 20), offset))
                    if sent == 0:
                        break
                    offset += sent
                    left -= sent
                self._attrs(fout, st)
            finally:
                os.close(fout)
        finally:
            os.close(fin)

    def _attrs(self, fd: int, st: os.stat_result) -> None:
        if self.as_root:
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
