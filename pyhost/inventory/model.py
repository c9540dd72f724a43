"""What an inventory holds: hosts, groups and the inventory itself (all immutable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .connection import ConnectionSettings, ConnectionType, parse_connection
from .pyhost_vars import PyhostSettings, parse_pyhost_vars
from .variables import Vars


@dataclass(frozen=True, eq=False, repr=False)
class Host:
    """One host with its merged variables and the connection settings taken from them.

    ``groups`` holds every group the host belongs to, directly or through a parent, in
    precedence order: ``all`` first, then by depth and name (the last one's vars won).
    Building a Host checks its connection variables and raises ``InvalidHostVariable``
    (an ``InventoryError``) when one cannot be used.
    """

    name: str
    vars: Mapping[str, object] = field(default_factory=Vars)
    groups: tuple[str, ...] = ("all",)
    implicit: bool = False  # the local host pyhost made up, not one from an inventory file
    _settings: ConnectionSettings = field(init=False)
    _pyhost: PyhostSettings = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.vars, Vars):
            object.__setattr__(self, "vars", Vars(self.vars))
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "_settings", parse_connection(self.name, self.vars))
        object.__setattr__(self, "_pyhost", parse_pyhost_vars(self.name, self.vars))

    @property
    def pyhost(self) -> PyhostSettings:
        """The host's ``pyhost_*`` variables, checked, with defaults filled in."""
        return self._pyhost

    @property
    def ansible_host(self) -> str:
        """The address to connect to; the host's name unless ``ansible_host`` is set."""
        return self._settings.address

    @property
    def ansible_port(self) -> int:
        return self._settings.port

    @property
    def ansible_port_given(self) -> bool:
        """Whether the inventory sets ansible_port (else ~/.ssh/config may say)."""
        return self._settings.port_given

    @property
    def ansible_user(self) -> str | None:
        """The SSH user; None leaves the choice to the SSH configuration."""
        return self._settings.user

    @property
    def ansible_ssh_private_key_file(self) -> str | None:
        """The key file as written (``~`` not expanded)."""
        return self._settings.private_key_file

    @property
    def ansible_become(self) -> bool:
        return self._settings.become

    @property
    def become_refused(self) -> bool:
        """``ansible_become: false`` written in the inventory: no sudo for this host."""
        return self._settings.become_given and not self._settings.become

    @property
    def ansible_become_password(self) -> str | None:
        """The sudo password (``ansible_become_pass`` is read too). Never print it."""
        return self._settings.become_password

    @property
    def ansible_connection(self) -> ConnectionType:
        return self._settings.connection

    def __repr__(self) -> str:
        # Only non-secret fields: a Host must be safe to log or show in a traceback.
        return (
            f"Host(name={self.name!r}, ansible_host={self.ansible_host!r}, "
            f"ansible_port={self.ansible_port!r}, ansible_user={self.ansible_user!r}, "
            f"ansible_connection={self.ansible_connection!r}, groups={self.groups!r}"
            + (", implicit=True)" if self.implicit else ")")
        )

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host):
            return NotImplemented
        return (self.name, self.groups, self.implicit, dict(self.vars)) == (
            other.name,
            other.groups,
            other.implicit,
            dict(other.vars),
        )

    def __hash__(self) -> int:
        return hash((self.name, self.groups))


@dataclass(frozen=True, eq=False)
class Group:
    """A group as written: its direct hosts and child groups (names) and its own vars."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    vars: Mapping[str, object] = field(default_factory=Vars)

    def __post_init__(self) -> None:
        if not isinstance(self.vars, Vars):
            object.__setattr__(self, "vars", Vars(self.vars))
        object.__setattr__(self, "hosts", tuple(self.hosts))
        object.__setattr__(self, "children", tuple(self.children))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Group):
            return NotImplemented
        return (self.name, self.hosts, self.children, dict(self.vars)) == (
            other.name,
            other.hosts,
            other.children,
            dict(other.vars),
        )

    def __hash__(self) -> int:
        return hash((self.name, self.hosts, self.children))


@dataclass(frozen=True, eq=False)
class Inventory:
    """Hosts in inventory order (first appearance in the file), groups by name, the source.

    ``path`` is None for the implicit local inventory.
    """

    hosts: tuple[Host, ...]
    groups: Mapping[str, Group]
    path: str | None = None
    _order: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hosts", tuple(self.hosts))
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        order = {host.name: index for index, host in enumerate(self.hosts)}
        object.__setattr__(self, "_order", MappingProxyType(order))

    def host(self, name: str) -> Host:
        """The host of this name; KeyError when the inventory has none."""
        return self.hosts[self._order[name]]

    def hosts_in(self, group: str) -> tuple[Host, ...]:
        """The hosts of a group and of all its descendants, in inventory order."""
        if group not in self.groups:
            raise KeyError(group)
        return tuple(host for host in self.hosts if group in host.groups)

    def position(self, host: Host) -> int:
        """The host's place in inventory order; hosts from elsewhere sort last."""
        return self._order.get(host.name, len(self.hosts))

    def select(self, limit: str | None) -> list[Host]:
        """The hosts a ``--limit`` pattern picks (all hosts for None), in inventory order.

        Raises ``UsageError`` for a pattern that matches nothing. See ``patterns``.
        """
        from .patterns import select_hosts

        return select_hosts(self, limit)
