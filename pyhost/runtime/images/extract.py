"""Safe layer extraction: the security boundary between an image and this host.

A layer is hostile input (CVE-2014-6407, CVE-2014-9356, CVE-2018-15664, CVE-2021-32760,
tarfile's CVE-2007-4559 and CVE-2025-4517). ``TarFile.extract`` is never used: every member
is checked and written here, with these rules:

- names: no NUL, not absolute, no ``..`` component; ``.`` and ``/`` only as directories;
- parents are walked one component at a time with ``O_NOFOLLOW | O_DIRECTORY`` from a
  directory fd, and every entry is made with a *at call relative to its parent's fd, so no
  symlink (from this layer or planted by a race) is ever followed out of the root. An
  O_NOFOLLOW walk rather than openat2(RESOLVE_IN_ROOT): it needs no ctypes, works on every
  kernel Python runs on, and refusing a symlinked parent outright is stricter than
  resolving it inside the root (a layer that writes through its own symlink is refused);
- symlink targets are stored verbatim and never followed;
- hardlinks only to regular files this layer already extracted;
- no device nodes: refused, except under ``dev/``, where they are skipped (the runtime
  mounts its own /dev) and the overlay whiteout form (a 0/0 character device);
- setuid/setgid bits and ownership kept only as root; ``security.*``, ``trusted.*`` and
  ``system.*`` xattrs dropped (only ``user.*`` is applied);
- caps on the uncompressed size and the number of entries (decompression bombs).

Whiteouts (``.wh.NAME`` deletes NAME from lower layers, ``.wh..wh..opq`` makes a directory
opaque) are written in overlayfs form where the store can (real root: a 0/0 character device
and ``trusted.overlay.opaque=y``), else kept as the tar form's marker files, which
`materialize_rootfs` understands. They never delete anything of the layer being extracted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from collections import OrderedDict
from dataclasses import dataclass, field

from pyhost.runtime.images.errors import ImageError
from pyhost.runtime.images.layout import (
    OPAQUE_MARKER,
    OPAQUE_XATTR,
    OVERLAY,
    TARFORM,
    WHITEOUT_PREFIX,
    Limits,
)
from pyhost.runtime.images.streams import Readable, as_file
from pyhost.runtime.stdlite import DIR_FLAGS as _DIR_FLAGS

_META_PREFIX = WHITEOUT_PREFIX + WHITEOUT_PREFIX
_FD_CACHE = 32


@dataclass
class LayerStats:
    """What an extraction produced (kept in the layer's metadata)."""

    entries: int = 0
    size: int = 0
    whiteouts: int = 0
    whiteout_form: str = TARFORM
    skipped_devices: int = 0


@dataclass
class _DirAttrs:
    comps: tuple[str, ...]
    mode: int
    mtime: float
    xattrs: dict[str, bytes] = field(default_factory=dict)


class _Refused(Exception):
    """A member broke a rule: ``reason`` completes "member 'NAME' ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_root() -> bool:
    return os.geteuid() == 0


def components(name: str, *, allow_root: bool) -> tuple[str, ...]:
    """The path components of a member name, or _Refused. ``()`` is the layer root itself,
    allowed only for directories (``allow_root``)."""
    if "\x00" in name:
        raise _Refused("has a NUL byte in its name")
    comps = tuple(c for c in name.split("/") if c not in ("", "."))
    if not comps:
        if allow_root:
            return ()
        raise _Refused("names the layer root but is not a directory")
    if name.startswith("/"):
        raise _Refused("has an absolute name")
    if ".." in comps:
        raise _Refused("escapes the layer root")
    return comps


def _kept_xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    """``user.*`` xattrs from PAX headers; security.*, trusted.* (overlayfs reads those),
    system.* (ACLs) are dropped."""
    kept: dict[str, bytes] = {}
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr.user."):
            kept[key[len("SCHILY.xattr.") :]] = value.encode("utf-8", "surrogateescape")
    return kept


_METADATA_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
MAX_METADATA_HEADER = 1 << 20


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a PAX or GNU long-name header whole into memory: refuse a huge one
    before it does (a memory bomb the size caps on file content would not see)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _METADATA_TYPES and self.size > MAX_METADATA_HEADER:
            raise _Refused(
                f"is a metadata header of {self.size} bytes (more than {MAX_METADATA_HEADER})"
            )
        return super()._proc_member(tar)  # type: ignore[misc,no-any-return]


class Extractor:
    """Extract one layer's tar stream into an empty directory ``dest_fd`` refers to."""

    def __init__(
        self,
        dest_fd: int,
        *,
        label: str,
        limits: Limits,
        overlay_whiteouts: bool,
    ) -> None:
        self.root_fd = dest_fd
        self.label = label
        self.limits = limits
        self.overlay = overlay_whiteouts
        self.as_root = is_root()
        self.stats = LayerStats(whiteout_form=OVERLAY if overlay_whiteouts else TARFORM)
        self.kinds: dict[tuple[str, ...], str] = {}  # what this layer made at each path
        self.dirs: dict[tuple[str, ...], _DirAttrs] = {}
        self._fds: OrderedDict[tuple[str, ...], int] = OrderedDict()

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stream: Readable) -> LayerStats:
        try:
            tar = tarfile.open(  # noqa: SIM115 (closed below)
                fileobj=as_file(stream), mode="r|", errorlevel=2, tarinfo=_BoundedTarInfo
            )
        except tarfile.TarError as e:
            raise ImageError(
                f"layer {self.label}: not a tar archive ({e}); refusing this image"
            ) from e
        except _Refused as e:
            raise ImageError(
                f"layer {self.label}: the first member {e.reason}; refusing this image"
            ) from None
        try:
            while True:
                try:
                    member = tar.next()
                except tarfile.TarError as e:
                    raise ImageError(
                        f"layer {self.label}: broken tar archive ({e}); refusing this image"
                    ) from e
                except _Refused as e:
                    raise ImageError(
                        f"layer {self.label}: member {self.stats.entries + 1} {e.reason}; "
                        "refusing this image"
                    ) from None
                if member is None:
                    break
                tar.members.clear()  # type: ignore[attr-defined]  # a stream: keeping every header would grow without bound
                self.stats.entries += 1
                if self.stats.entries > self.limits.max_entries:
                    raise ImageError(
                        f"layer {self.label}: member {member.name!r}: more than "
                        f"{self.limits.max_entries} entries (an entry-count bomb?); "
                        "refusing this image"
                    )
                try:
                    self._member(tar, member)
                except _Refused as e:
                    raise ImageError(
                        f"layer {self.label}: member {member.name!r} {e.reason}; "
                        "refusing this image"
                    ) from None
                except OSError as e:
                    raise ImageError(
                        f"layer {self.label}: member {member.name!r}: "
                        f"{e.strerror or e}; refusing this image"
                    ) from e
                except tarfile.TarError as e:
                    raise ImageError(
                        f"layer {self.label}: member {member.name!r}: broken tar archive "
                        f"({e}); refusing this image"
                    ) from e
                except (OverflowError, ValueError) as e:  # absurd times, ids, names
                    raise ImageError(
                        f"layer {self.label}: member {member.name!r} has a value out of "
                        f"range ({e}); refusing this image"
                    ) from e
            self._finish_dirs()
        finally:
            self._close_fds()
            tar.close()
        return self.stats

    # -- directory fds ----------------------------------------------------------------------

    def _dir(self, comps: tuple[str, ...], *, create: bool) -> int:
        """An fd of the directory at ``comps``, walked without following anything."""
        if not comps:
            return self.root_fd
        cached = self._fds.get(comps)
        if cached is not None:
            self._fds.move_to_end(comps)
            return cached
        parent = self._dir(comps[:-1], create=create)
        name = comps[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(name, 0o755, dir_fd=parent)
            self.kinds[comps] = "dir"
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a directory"
                raise _Refused(f"goes through {'/'.join(comps)!r}, which is {what}") from None
            raise
        self._fds[comps] = fd
        while len(self._fds) > _FD_CACHE:
            _, old = self._fds.popitem(last=False)
            os.close(old)
        return fd

    def _forget(self, comps: tuple[str, ...]) -> None:
        """``comps`` was removed or replaced: drop cached fds at and below it."""
        n = len(comps)
        for key in [k for k in self._fds if k[:n] == comps]:
            os.close(self._fds.pop(key))
        for key in [k for k in self.kinds if k[:n] == comps]:
            del self.kinds[key]

    def _close_fds(self) -> None:
        while self._fds:
            _, fd = self._fds.popitem()
            os.close(fd)

    # -- one member -------------------------------------------------------------------------

    def _member(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        comps = components(m.name, allow_root=m.isdir())
        if not comps:
            return  # "./": the layer root exists already
        parent_comps, name = comps[:-1], comps[-1]
        if any(c.startswith(_META_PREFIX) and c != OPAQUE_MARKER for c in comps):
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs) in old layers: not content
        if name == OPAQUE_MARKER:
            self._opaque(parent_comps)
            return
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent_comps, name[len(WHITEOUT_PREFIX) :])
            return
        if m.ischr() and m.devmajor == 0 and m.devminor == 0:
            self._whiteout(parent_comps, name)  # a layer that carries the overlay form
            return
        if m.ischr() or m.isblk():
            if comps[0] == "dev" and len(comps) > 1:
                # rootfs images (docker import of a debootstrap tree) carry /dev/null and
                # friends; the runtime mounts its own /dev over them, so they are skipped,
                # never made: no device node from an image ever lands on this host
                self.stats.skipped_devices += 1
                return
            raise _Refused("is a device node")
        parent = self._dir(parent_comps, create=True)
        if m.isdir():
            self._directory(parent, comps, m)
        elif m.isreg():
            self._regular(tar, parent, comps, m)
        elif m.issym():
            self._symlink(parent, comps, m)
        elif m.islnk():
            self._hardlink(parent, comps, m)
        elif m.isfifo():
            self._make_room(parent, comps, directory=False)
            os.mkfifo(name, 0o600, dir_fd=parent)
            self.kinds[comps] = "fifo"
            self._owner(parent, name, m)
            os.chmod(name, self._mode(m, directory=False), dir_fd=parent)
        else:
            raise _Refused(f"has an unsupported type {m.type!r}")

    def _make_room(self, parent: int, comps: tuple[str, ...], *, directory: bool) -> bool:
        """Clear the way for a new entry at ``comps``; True when a directory is there and a
        directory is wanted (it is kept, as tar does). A later member replaces an earlier one;
        a non-empty directory is never replaced by something else."""
        name = comps[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if directory:
                return True
            try:
                os.rmdir(name, dir_fd=parent)
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise _Refused("would replace a directory that has entries") from None
                raise
        else:
            os.unlink(name, dir_fd=parent)
        self._forget(comps)
        return False

    def _mode(self, m: tarfile.TarInfo, *, directory: bool) -> int:
        mode = m.mode & 0o7777
        if not self.as_root:
            mode &= ~(stat.S_ISUID | stat.S_ISGID)
            mode |= 0o700 if directory else 0o600  # the store must stay readable and removable
        return mode

    def _owner(self, parent: int, name: str, m: tarfile.TarInfo) -> None:
        if self.as_root:
            os.chown(name, m.uid, m.gid, dir_fd=parent, follow_symlinks=False)

    def _directory(self, parent: int, comps: tuple[str, ...], m: tarfile.TarInfo) -> None:
        replaced_whiteout = self._is_whiteout_device(parent, comps[-1])
        if not self._make_room(parent, comps, directory=not replaced_whiteout):
            os.mkdir(comps[-1], 0o700, dir_fd=parent)
        self.kinds[comps] = "dir"
        self._owner(parent, comps[-1], m)
        attrs = _DirAttrs(comps, self._mode(m, directory=True), m.mtime, _kept_xattrs(m))
        if replaced_whiteout:
            # this layer deleted the lower entry and made a new directory: hide the lower one
            attrs.xattrs[OPAQUE_XATTR] = b"y"
        self.dirs[comps] = attrs

    def _regular(
        self, tar: tarfile.TarFile, parent: int, comps: tuple[str, ...], m: tarfile.TarInfo
    ) -> None:
        if self.stats.size + m.size > self.limits.max_bytes:
            raise _Refused(
                f"would take the layer past {self.limits.max_bytes} bytes unpacked "
                "(a decompression bomb?)"
            )
        self._make_room(parent, comps, directory=False)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(comps[-1], flags, 0o600, dir_fd=parent)
        self.kinds[comps] = "file"
        try:
            source = tar.extractfile(m)
            remaining = m.size
            if source is not None:
                while remaining > 0:
                    chunk = source.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise _Refused("is cut short (the layer is truncated)")
                    _write_all(fd, chunk)
                    remaining -= len(chunk)
            self.stats.size += m.size
            if self.as_root:
                os.fchown(fd, m.uid, m.gid)  # before chmod: chown clears setuid bits
            os.fchmod(fd, self._mode(m, directory=False))
            for key, value in _kept_xattrs(m).items():
                os.setxattr(fd, key, value)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _symlink(self, parent: int, comps: tuple[str, ...], m: tarfile.TarInfo) -> None:
        if "\x00" in m.linkname:
            raise _Refused("is a symlink whose target has a NUL byte")
        self._make_room(parent, comps, directory=False)
        os.symlink(m.linkname, comps[-1], dir_fd=parent)  # verbatim, never followed
        self.kinds[comps] = "symlink"
        self._owner(parent, comps[-1], m)
        os.utime(comps[-1], (m.mtime, m.mtime), dir_fd=parent, follow_symlinks=False)

    def _hardlink(self, parent: int, comps: tuple[str, ...], m: tarfile.TarInfo) -> None:
        try:
            target = components(m.linkname, allow_root=False)
        except _Refused:
            raise _Refused(f"is a hardlink to {m.linkname!r}, outside the layer") from None
        if target == comps:
            return
        if self.kinds.get(target) != "file":
            raise _Refused(
                f"is a hardlink to {m.linkname!r}, which is not a regular file of this layer"
            )
        target_parent = self._dir(target[:-1], create=False)
        st = os.stat(target[-1], dir_fd=target_parent, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(f"is a hardlink to {m.linkname!r}, which is not a regular file")
        parent = self._dir(comps[:-1], create=True)  # the lookup above may have evicted it
        self._make_room(parent, comps, directory=False)
        target_parent = self._dir(target[:-1], create=False)
        os.link(
            target[-1],
            comps[-1],
            src_dir_fd=target_parent,
            dst_dir_fd=parent,
            follow_symlinks=False,
        )
        self.kinds[comps] = "file"

    # -- whiteouts --------------------------------------------------------------------------

    def _is_whiteout_device(self, parent: int, name: str) -> bool:
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0

    def _whiteout(self, parent_comps: tuple[str, ...], target: str) -> None:
        if target in ("", ".", "..") or target.startswith(WHITEOUT_PREFIX):
            raise _Refused(f"is a whiteout of {target!r}, which is no entry of a lower layer")
        self.stats.whiteouts += 1
        parent = self._dir(parent_comps, create=True)
        comps = (*parent_comps, target)
        if not self.overlay:
            marker = WHITEOUT_PREFIX + target
            self._touch(parent, marker)
            return
        try:
            os.stat(target, dir_fd=parent, follow_symlinks=False)
            # this layer has its own entry there: it hides the lower one already, and a
            # whiteout never deletes the layer's own content
            return
        except FileNotFoundError:
            pass
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)
        self.kinds[comps] = "whiteout"

    def _opaque(self, parent_comps: tuple[str, ...]) -> None:
        self.stats.whiteouts += 1
        parent = self._dir(parent_comps, create=True)
        if self.overlay:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
        else:
            self._touch(parent, OPAQUE_MARKER)

    def _touch(self, parent: int, name: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, 0o600, dir_fd=parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.EISDIR):
                raise _Refused("is a whiteout marker where the layer has another entry") from e
            raise
        os.close(fd)

    # -- at the end -------------------------------------------------------------------------

    def _finish_dirs(self) -> None:
        """Directory modes and times last (deepest first): entries written into a directory
        change its mtime, and a read-only mode would stop a non-root extraction."""
        for comps in sorted(self.dirs, key=len, reverse=True):
            attrs = self.dirs[comps]
            if self.kinds.get(comps) != "dir":
                continue  # replaced later in the layer
            try:
                fd = self._dir(comps, create=False)
            except (FileNotFoundError, _Refused):
                continue
            for key, value in attrs.xattrs.items():
                os.setxattr(fd, key, value)
            os.fchmod(fd, attrs.mode)
            os.utime(fd, (attrs.mtime, attrs.mtime))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def probe_overlay_whiteouts(scratch: str) -> bool:
    """Can this process write the overlay whiteout form (a 0/0 character device, a
    trusted.* xattr)? Real root can; root in a user namespace and normal users cannot."""
    if not is_root():
        return False
    probe = os.path.join(scratch, f".probe-{os.getpid()}")
    try:
        os.mkdir(probe, 0o700)
        os.mknod(os.path.join(probe, "w"), stat.S_IFCHR, os.makedev(0, 0))
        os.setxattr(probe, OPAQUE_XATTR, b"y")
        return True
    except OSError:
        return False
    finally:
        for path in (os.path.join(probe, "w"),):
            with contextlib.suppress(OSError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(probe)
