"""Ansible-style YAML inventories: hosts, groups, variables and ``--limit`` patterns.

Importing this package does not import ``yaml``; ``load_inventory`` does, when called.
"""

from .connection import CONNECTION_TYPES, ConnectionType, InvalidHostVariable
from .loader import load_inventory
from .localhost import LOCALHOST_NAMES, localhost_inventory
from .model import Group, Host, Inventory
from .patterns import split_limit
from .pyhost_vars import DOCKER_FINGERPRINT, PyhostSettings
from .variables import Vars

__all__ = [
    "CONNECTION_TYPES",
    "DOCKER_FINGERPRINT",
    "LOCALHOST_NAMES",
    "ConnectionType",
    "Group",
    "Host",
    "InvalidHostVariable",
    "Inventory",
    "PyhostSettings",
    "Vars",
    "load_inventory",
    "localhost_inventory",
    "split_limit",
]
