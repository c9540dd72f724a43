"""The local machine as a host, when no inventory names it (as Ansible's implicit localhost)."""

from __future__ import annotations

from collections.abc import Mapping

from .model import Group, Host, Inventory

# The names that stand for this machine without being in an inventory, as in Ansible.
LOCALHOST_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")


def implicit_localhost(
    name: str = "localhost", all_vars: Mapping[str, object] | None = None
) -> Host:
    """The local host: the ``all`` group's vars, then ``ansible_connection: local``."""
    variables = {**(all_vars or {}), "ansible_connection": "local"}
    return Host(name=name, vars=variables, groups=("all", "ungrouped"), implicit=True)


def localhost_inventory() -> Inventory:
    """The inventory used when the user gives none: just ``localhost``, reached locally.

    Unlike Ansible's implicit localhost, this one is a member of ``all``: without an
    inventory, ``all`` means this machine.
    """
    host = implicit_localhost()
    groups = {
        "all": Group("all", children=("ungrouped",)),
        "ungrouped": Group("ungrouped", hosts=(host.name,)),
    }
    return Inventory(hosts=(host,), groups=groups, path=None)
