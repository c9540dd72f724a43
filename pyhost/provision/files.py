"""Files on a host: rendered from templates, compared, written atomically with a mode."""

from __future__ import annotations

import base64
import difflib
import shlex
from functools import cache
from typing import Any

from pyhost.connection import Connection


@cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("pyhost", "templates"),
        undefined=jinja2.StrictUndefined,  # a missing value is an error, never an empty field
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 (apt and systemd files, not HTML)
    )


def render(name: str, **values: Any) -> str:
    """Render the template ``name`` (e.g. ``docker.sources.j2``) with ``values``."""
    result: str = _environment().get_template(name).render(**values)
    return result


def unified_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    a = (old or b"").decode(errors="replace").splitlines(keepends=True)
    b = (new or b"").decode(errors="replace").splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            a,
            b,
            fromfile=path if old is not None else "/dev/null",
            tofile=path if new is not None else "/dev/null",
        )
    )


def write_file(
    conn: Connection, path: str, content: bytes, *, mode: int, owner: str = "root:root"
) -> None:
    """Write ``content`` to ``path`` atomically: a temporary file beside it, then rename.

    A reader (apt, dockerd) sees the old file or the new one, never half of one; the mode
    and owner are set before the rename, so the file is never readable with looser ones.
    """
    directory, _, name = path.rpartition("/")
    q = shlex.quote
    script = (
        f"tmp=$(mktemp {q(f'{directory}/.{name}.XXXXXX')}) && "
        f"trap 'rm -f \"$tmp\"' EXIT && "
        f'base64 -d > "$tmp" && chmod {mode:04o} "$tmp" && chown {q(owner)} "$tmp" && '
        f'mv -f "$tmp" {q(path)} && trap - EXIT'
    )
    conn.run(script, sudo=True, stdin=base64.b64encode(content).decode() + "\n")
