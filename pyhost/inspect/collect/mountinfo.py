"""/proc/PID/mountinfo: the mounts a process sees, and where their sources lie on the host."""

from __future__ import annotations

import os

from .fs import read_bytes

_OCTAL = "01234567"


def unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040)."""
    if "\\" not in text:
        return text
    out, at = [], 0
    while True:
        found = text.find("\\", at)
        if found < 0:
            out.append(text[at:])
            return "".join(out)
        digits = text[found + 1 : found + 4]
        if len(digits) == 3 and not digits.strip(_OCTAL):
            out.append(text[at:found])
            out.append(chr(int(digits, 8)))
            at = found + 4
        else:
            out.append(text[at : found + 1])
            at = found + 1


class Mount:
    """One line of mountinfo (a plain class: see inspection.Context)."""

    __slots__ = (
        "dev",
        "fstype",
        "mount_id",
        "optional",
        "options",
        "parent_id",
        "point",
        "root",
        "source",
        "super_options",
    )

    def __init__(
        self,
        mount_id: int,
        parent_id: int,
        dev: str,  # "major:minor"
        root: str,  # the path inside the source filesystem that is mounted
        point: str,  # where it is mounted, as the process sees it
        options: tuple[str, ...],
        optional: tuple[str, ...],  # shared:N master:N propagate_from:N unbindable
        fstype: str,
        source: str,
        super_options: tuple[str, ...],
    ) -> None:
        self.mount_id = mount_id
        self.parent_id = parent_id
        self.dev = dev
        self.root = root
        self.point = point
        self.options = options
        self.optional = optional
        self.fstype = fstype
        self.source = source
        self.super_options = super_options

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mount) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Mount({self.mount_id}, {self.point!r}, {self.fstype!r})"

    @property
    def readonly(self) -> bool:
        return "ro" in self.options

    @property
    def propagation(self) -> str:
        tags = {item.split(":")[0] for item in self.optional}
        if "shared" in tags:
            return "shared"
        if "master" in tags:
            return "slave"
        return "unbindable" if "unbindable" in tags else "private"

    def super_option(self, name: str) -> str | None:
        for item in self.super_options:
            key, _, value = item.partition("=")
            if key == name:
                return value
        return None


def parse_line(line: str) -> Mount | None:
    left, sep, right = line.rstrip("\n").partition(" - ")
    fields, tail = left.split(), right.split()
    if not sep or len(fields) < 6 or len(tail) < 2:
        return None
    return Mount(
        mount_id=int(fields[0]),
        parent_id=int(fields[1]),
        dev=fields[2],
        root=unescape(fields[3]),
        point=unescape(fields[4]),
        options=tuple(fields[5].split(",")),
        optional=tuple(fields[6:]),
        fstype=tail[0],
        source=unescape(tail[1]),
        super_options=tuple(tail[2].split(",")) if len(tail) > 2 else (),
    )


def parse(text: str) -> list[Mount]:
    return [m for m in (parse_line(line) for line in text.splitlines()) if m is not None]


def read(pid: int | str, proc: str = "/proc") -> list[Mount]:
    return parse(read_bytes(f"{proc}/{pid}/mountinfo", records=True).decode(errors="replace"))


def host_mounts(proc: str = "/proc") -> list[Mount]:
    """The host's mount table: PID 1's, or pyhost's own where PID 1's cannot be read."""
    for pid in ("1", "self"):
        try:
            return read(pid, proc)
        except OSError:
            continue
    return []


def root_mount(mounts: list[Mount]) -> Mount | None:
    """The mount at "/" that is visible (the last one mounted there)."""
    roots = [m for m in mounts if m.point == "/"]
    return roots[-1] if roots else None


def host_path(mount: Mount, host: list[Mount]) -> str | None:
    """Where the mount's source lies in the host's tree, or None (a filesystem of its own).

    A bind mount shows the device and the path inside that device's filesystem; the host
    path is where the host mounts that same device, plus the rest of the path.
    """
    best: tuple[int, str] | None = None
    for h in host:
        if h.dev != mount.dev:
            continue
        if h.root == "/":
            rest = mount.root
        elif mount.root == h.root or mount.root.startswith(h.root + "/"):
            rest = mount.root[len(h.root) :]
        else:
            continue
        path = os.path.normpath(h.point.rstrip("/") + "/" + rest.lstrip("/"))
        if best is None or len(h.root) > best[0]:
            best = (len(h.root), path)
    return best[1] if best else None
