"""`-u USER[:GROUP]` resolved against the container's own /etc/passwd and /etc/group."""

from __future__ import annotations

from pyhost.runtime.errors import RunError


class Identity:
    def __init__(self, uid: int, gid: int, groups: tuple[int, ...], home: str) -> None:
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.home = home


def _entries(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and line[0] != "#"]
    except OSError:
        return []


def resolve(
    spec: str,
    passwd: str = "/etc/passwd",  # noqa: S107 - a path, not a password
    group: str = "/etc/group",
) -> Identity:
    """Docker's rules: names or numbers; a number unknown to passwd is still valid."""
    user, _, grp = (spec or "0").partition(":")
    users = [e for e in _entries(passwd) if len(e) >= 7]
    groups = [e for e in _entries(group) if len(e) >= 4]
    entry = next((e for e in users if e[0] == user), None)
    if entry is None and user.isdigit():
        entry = next((e for e in users if e[2] == user), None)
        uid, gid, name, home = int(user), 0, "", "/"
        if entry is not None:
            gid, name, home = int(entry[3]), entry[0], entry[5]
    elif entry is None:
        raise RunError(f"unable to find user {user}: no matching entries in passwd file")
    else:
        uid, gid, name, home = int(entry[2]), int(entry[3]), entry[0], entry[5]
    if grp:
        g = next((e for e in groups if e[0] == grp), None)
        if g is not None:
            gid = int(g[2])
        elif grp.isdigit():
            gid = int(grp)
        else:
            raise RunError(f"unable to find group {grp}: no matching entries in group file")
    extra = sorted({int(e[2]) for e in groups if name and name in e[3].split(",")} - {gid})
    return Identity(uid, gid, (gid, *extra), home or "/")


def subordinate_ranges(
    uid: int, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid"
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The caller's first subordinate uid and gid ranges, when newuidmap/newgidmap exist."""
    import pwd
    import shutil

    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        return None
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    found = []
    for path in (subuid, subgid):
        entry = next(
            (
                e
                for e in _entries(path)
                if len(e) >= 3 and e[0] in (name, str(uid)) and e[1].isdigit() and e[2].isdigit()
            ),
            None,
        )
        if entry is None:
            return None
        found.append((int(entry[1]), int(entry[2])))
    return found[0], found[1]
