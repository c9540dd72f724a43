"""Ansible's connection variables (``ansible_host``, ``ansible_port``, ...) as typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pyhost.errors import InventoryError

ConnectionType = Literal["ssh", "local"]
CONNECTION_TYPES: tuple[ConnectionType, ...] = ("ssh", "local")
DEFAULT_PORT = 22

# The strings Ansible's boolean filter accepts (compared lower-cased).
_TRUE = frozenset({"yes", "y", "true", "t", "on", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "off", "0"})

_DIGITS = re.compile(r"[0-9]+")


class InvalidHostVariable(InventoryError):
    """A connection variable of one host has a value pyhost cannot use.

    Raised without a place; the loader re-raises it with the file and the line where the
    winning value was set (``variable`` says which one).
    """

    def __init__(self, host: str, variable: str, problem: str, *, hint: str | None = None) -> None:
        super().__init__(f"host {host!r}: {variable} {problem}", hint=hint)
        self.host = host
        self.variable = variable


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach one host, parsed from its merged variables."""

    address: str
    port: int
    user: str | None
    private_key_file: str | None
    become: bool
    become_password: str | None = field(repr=False)
    connection: ConnectionType
    port_given: bool = False  # ansible_port set: it wins over ~/.ssh/config's Port
    become_given: bool = False  # ansible_become set explicitly (true or false)


def parse_connection(host: str, variables: Mapping[str, object]) -> ConnectionSettings:
    """Check and convert the connection variables of ``host``; raise InvalidHostVariable."""
    become_var = "ansible_become_password"
    if become_var not in variables and "ansible_become_pass" in variables:
        become_var = "ansible_become_pass"  # the older name Ansible still accepts
    return ConnectionSettings(
        address=_text(host, variables, "ansible_host") or host,
        port=_port(host, variables.get("ansible_port", DEFAULT_PORT)),
        user=_text(host, variables, "ansible_user"),
        private_key_file=_text(host, variables, "ansible_ssh_private_key_file"),
        become=_boolean(host, "ansible_become", variables.get("ansible_become", False)),
        become_password=_text(host, variables, become_var, secret=True),
        connection=_connection(host, variables.get("ansible_connection", "ssh")),
        port_given="ansible_port" in variables,
        become_given="ansible_become" in variables,
    )


def _text(
    host: str, variables: Mapping[str, object], name: str, *, secret: bool = False
) -> str | None:
    value = variables.get(name)
    if value is None:
        return None
    shown = "" if secret else f", not {value!r}"
    if not isinstance(value, str):
        raise InvalidHostVariable(
            host,
            name,
            f"must be a text value{shown}",
            hint="quote the value in the inventory so YAML keeps it as text",
        )
    if secret:
        return value  # taken as written: pyhost never templates, and "" is a valid password
    if not value.strip():
        raise InvalidHostVariable(host, name, "is empty", hint="set a value or remove the line")
    if "{{" in value or "{%" in value:
        raise InvalidHostVariable(
            host,
            name,
            "holds a Jinja template, which pyhost does not evaluate in an inventory",
            hint="write the value itself",
        )
    return value


def _port(host: str, value: object) -> int:
    port: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        port = int(value)
    if port is None or not 1 <= port <= 65535:
        raise InvalidHostVariable(
            host,
            "ansible_port",
            f"must be a whole number from 1 to 65535, not {value!r}",
            hint="set it to the host's SSH port, e.g. 22",
        )
    return port


def _boolean(host: str, name: str, value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise InvalidHostVariable(
        host, name, f"must be yes/no or true/false, not {value!r}", hint="write yes or no"
    )


def _connection(host: str, value: object) -> ConnectionType:
    for kind in CONNECTION_TYPES:
        if value == kind:
            return kind
    raise InvalidHostVariable(
        host,
        "ansible_connection",
        f"{value!r} is not supported: use 'ssh' or 'local'",
        hint="'ssh' reaches the host over SSH, 'local' runs on this machine",
    )
