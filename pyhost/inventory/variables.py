"""Read-only variable mappings whose printed form never shows a secret."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

REDACTED = "<redacted>"

# Names that hold secrets: ansible_become_password, ansible_ssh_pass, vault tokens, ...
# Over-matching only hides a value from a printout, so the net is wide on purpose.
_SECRET_NAME = re.compile(r"pass|secret|token|credential|private_key(?!_file)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a variable of this name may hold a secret (and must never be printed)."""
    return bool(_SECRET_NAME.search(name))


def redact(value: object) -> object:
    """A copy of ``value`` fit for printing: secret-named entries of mappings are replaced."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and is_secret_name(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


class Vars(Mapping[str, object]):
    """An immutable mapping of variable names to values.

    It prints (repr/str) with the values of secret-named variables redacted, so that a
    host or group can be logged or shown in a traceback without leaking a password.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, object] | None = None) -> None:
        self._data: dict[str, object] = dict(data or {})

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Vars({redact(self._data)!r})"

    __str__ = __repr__
