"""Reading an Ansible-style YAML inventory file into an ``Inventory``.

The file is composed into YAML nodes first (not plain Python data) so that every
structural error can name the line of the offending key; only variable values are
turned into Python objects. ``yaml`` is imported when a file is loaded, not before:
the CLI's start-up time matters.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from pyhost.errors import InventoryError

from .connection import InvalidHostVariable
from .hostnames import HostKeyError, parse_host_key
from .localhost import localhost_inventory
from .model import Group, Host, Inventory

if TYPE_CHECKING:
    from yaml import SafeLoader
    from yaml.error import MarkedYAMLError
    from yaml.nodes import MappingNode, Node

SECTIONS = ("hosts", "vars", "children")
_NULL_TAG = "tag:yaml.org,2002:null"

_EMPTY_HINT = "start it with `all:` and list the hosts under `hosts:`"

# A variable's value and the line of its key, so that a bad value can be pointed at.
_Var = tuple[object, int]


def load_inventory(path: str | os.PathLike[str] | None) -> Inventory:
    """Load the YAML inventory at ``path``; None gives ``localhost_inventory()``.

    Raises ``InventoryError`` (with the file and line) for anything wrong in it.
    """
    if path is None:
        return localhost_inventory()
    shown = os.fspath(path)
    text = _read_text(shown)

    import yaml

    try:
        loader = yaml.SafeLoader(text)  # checks the characters already
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if root is None or _is_null(root):  # no document, or an empty one ("---")
            raise InventoryError("the inventory file is empty", path=shown, hint=_EMPTY_HINT)
        return _Builder(shown, loader).build(root)
    except yaml.MarkedYAMLError as e:
        raise _yaml_error(shown, text, e) from e
    except yaml.reader.ReaderError as e:  # a character YAML does not allow
        raise InventoryError(
            f"not valid YAML: character U+{e.character:04X} is not allowed",
            path=shown,
            line=text.count("\n", 0, e.position) + 1,
            hint="remove control characters from the file",
        ) from e


def _read_text(path: str) -> str:
    if os.path.isdir(path):
        raise InventoryError(
            "is a directory, not an inventory file",
            path=path,
            hint="give the path of a YAML inventory file",
        )
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError as e:
        raise InventoryError(
            "inventory file not found", path=path, hint="check the path (and the current directory)"
        ) from e
    except PermissionError as e:
        raise InventoryError(
            "cannot read the inventory file: permission denied",
            path=path,
            hint="make it readable for this user (chmod/chown) or run as a user who can read it",
        ) from e
    except OSError as e:
        raise InventoryError(
            f"cannot read the inventory file: {e.strerror or e}", path=path, hint="check the path"
        ) from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InventoryError(
            "the inventory file is not UTF-8 text",
            path=path,
            line=data.count(b"\n", 0, e.start) + 1,
            hint="save it as UTF-8",
        ) from e
    if not text.strip():
        raise InventoryError("the inventory file is empty", path=path, hint=_EMPTY_HINT)
    return text


def _yaml_error(path: str, text: str, error: MarkedYAMLError) -> InventoryError:
    end = len(text.rstrip())
    line = None
    for mark in (error.problem_mark, error.context_mark):
        if mark is not None and mark.index < end:
            line = mark.line + 1
            break
    else:
        # The parser ran off the end (an unclosed bracket or quote): the last line with
        # text on it is where the user has to look.
        lines = text[:end].splitlines()
        while len(lines) > 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
            lines.pop()
        line = len(lines)
    problem = " ".join((error.problem or str(error)).split())
    hint = "check the indentation and the quoting on this line and the one before"
    if "!vault" in problem:
        problem = "Ansible Vault values (!vault) are not supported"
        hint = "pyhost cannot decrypt them; remove this value from the inventory"
    elif "'\\t'" in problem:
        hint = "indent with spaces: YAML does not allow tabs"
    return InventoryError(f"not valid YAML: {problem}", path=path, line=line, hint=hint)


def _kind(node: Node) -> str:
    """'mapping', 'sequence' or 'scalar' (checked by name: yaml is not imported here)."""
    return str(getattr(node, "id", ""))


def _is_null(node: Node) -> bool:
    return _kind(node) == "scalar" and node.tag == _NULL_TAG


def _describe(node: Node) -> str:
    if _is_null(node):
        return "nothing"
    return {"mapping": "a mapping", "sequence": "a list"}.get(_kind(node), "a single value")


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _GroupDraft:
    """A group while the file is read; dicts keep first-seen order without duplicates."""

    __slots__ = ("children", "hosts", "name", "parents", "vars")

    def __init__(self, name: str) -> None:
        self.name = name
        self.hosts: dict[str, None] = {}
        self.children: dict[str, None] = {}
        self.parents: dict[str, None] = {}
        self.vars: dict[str, _Var] = {}


class _HostDraft:
    __slots__ = ("groups", "name", "vars")

    def __init__(self, name: str) -> None:
        self.name = name
        self.groups: dict[str, None] = {}  # direct membership only
        self.vars: dict[str, _Var] = {}


class _Builder:
    """Walks the node tree of one file, then merges variables the way Ansible does."""

    def __init__(self, path: str, loader: SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.groups: dict[str, _GroupDraft] = {}
        self.hosts: dict[str, _HostDraft] = {}
        self._group("all")
        self._group("ungrouped")

    def error(self, node: Node, message: str, hint: str | None = None) -> InventoryError:
        return InventoryError(message, path=self.path, line=_line(node), hint=hint)

    # -- the walk ------------------------------------------------------------------------

    def build(self, root: Node) -> Inventory:
        if _kind(root) != "mapping":
            raise self.error(
                root,
                f"the inventory must be a mapping of group names, not {_describe(root)}",
                hint=_EMPTY_HINT,
            )
        for key, value in self._pairs(root):
            name = self._group_name(key)
            self._parse_group(self._group(name), key, value)
        return self._finish()

    def _pairs(self, node: Node) -> list[tuple[Node, Node]]:
        """The key/value nodes of a mapping, with YAML merge keys (``<<``) applied."""
        self.loader.flatten_mapping(cast("MappingNode", node))
        return cast("list[tuple[Node, Node]]", node.value)

    def _name(self, node: Node, what: str) -> str:
        if _kind(node) != "scalar":
            raise self.error(node, f"expected a {what} name, found {_describe(node)}")
        name = str(node.value).strip()
        if not name or _is_null(node):
            raise self.error(node, f"a {what} name is missing before ':'")
        return name

    def _group_name(self, node: Node) -> str:
        name = self._name(node, "group")
        if name in SECTIONS:
            raise self.error(
                node,
                f"{name!r} is not a group name: `{name}:` belongs inside a group",
                hint=f"indent `{name}:` under a group, e.g. under `all:`",
            )
        return name

    def _parse_group(self, group: _GroupDraft, key: Node, node: Node) -> None:
        if _is_null(node):
            return
        if _kind(node) != "mapping":
            raise self.error(
                key,
                f"group {group.name!r} must be a mapping of hosts, vars and children, "
                f"not {_describe(node)}",
                hint="indent `hosts:`, `vars:` or `children:` under the group name",
            )
        for section_key, value in self._pairs(node):
            section = self._name(section_key, "key")
            if section == "hosts":
                self._parse_hosts(group, section_key, value)
            elif section == "vars":
                group.vars.update(self._parse_vars(section_key, value, f"group {group.name!r}"))
            elif section == "children":
                self._parse_children(group, section_key, value)
            else:
                raise self._unknown_key(group.name, section, section_key)

    def _unknown_key(self, group: str, key: str, node: Node) -> InventoryError:
        import difflib

        close = difflib.get_close_matches(key, SECTIONS, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean `{close[0]}:`? A group holds only hosts, vars and children"
        else:
            hint = (
                "a group holds only hosts, vars and children: put a host under `hosts:`, "
                "a child group under `children:`"
            )
        return self.error(node, f"unknown key {key!r} in group {group!r}", hint=hint)

    def _parse_children(self, group: _GroupDraft, key: Node, node: Node) -> None:
        if _is_null(node):
            return
        if _kind(node) != "mapping":
            raise self.error(
                key,
                f"children of group {group.name!r} must be a mapping of group names, "
                f"not {_describe(node)}",
                hint="write each child group as `name:` on its own line (no dash)",
            )
        for child_key, value in self._pairs(node):
            child = self._group(self._group_name(child_key))
            self._link(group, child, child_key)
            self._parse_group(child, child_key, value)

    def _parse_hosts(self, group: _GroupDraft, key: Node, node: Node) -> None:
        if _is_null(node):
            return
        if _kind(node) != "mapping":
            raise self.error(
                key,
                f"hosts of group {group.name!r} must be a mapping of host names, "
                f"not {_describe(node)}",
                hint="write each host as `name:` on its own line (no dash), "
                "with its variables indented under it",
            )
        for host_key, value in self._pairs(node):
            written = self._name(host_key, "host")
            try:
                names, port = parse_host_key(written)
            except HostKeyError as e:
                raise self.error(host_key, f"invalid host {written!r}: {e.message}", e.hint) from e
            if _is_null(value):
                host_vars: dict[str, _Var] = {}
            elif _kind(value) == "mapping":
                host_vars = self._parse_vars(host_key, value, f"host {written!r}")
            else:
                raise self.error(
                    host_key,
                    f"variables of host {written!r} must be a mapping, not {_describe(value)}",
                    hint=f"put them on lines indented under `{written}:`, "
                    "e.g. `ansible_host: 192.0.2.10`",
                )
            for name in names:
                host = self._host(name)
                host.groups[group.name] = None
                group.hosts[name] = None
                if port is not None:
                    host.vars["ansible_port"] = (port, _line(host_key))
                host.vars.update(host_vars)

    def _parse_vars(self, key: Node, node: Node, owner: str) -> dict[str, _Var]:
        if _is_null(node):
            return {}
        if _kind(node) != "mapping":
            raise self.error(
                key,
                f"vars of {owner} must be a mapping of names to values, not {_describe(node)}",
                hint="write each variable as `name: value` on its own line",
            )
        result: dict[str, _Var] = {}
        for var_key, value in self._pairs(node):
            name = self._name(var_key, "variable")
            result[name] = (self.loader.construct_document(value), _line(var_key))
        return result

    # -- the graph -----------------------------------------------------------------------

    def _group(self, name: str) -> _GroupDraft:
        if name not in self.groups:
            self.groups[name] = _GroupDraft(name)
        return self.groups[name]

    def _host(self, name: str) -> _HostDraft:
        if name not in self.hosts:
            self.hosts[name] = _HostDraft(name)
        return self.hosts[name]

    def _link(self, parent: _GroupDraft, child: _GroupDraft, key: Node) -> None:
        if child.name == "all":
            raise self.error(
                key,
                f"group 'all' cannot be a child of {parent.name!r}: it holds every group",
                hint="remove `all:` from these children",
            )
        loop = self._path_down(child.name, parent.name)
        if loop is not None:
            chain = " -> ".join([parent.name, *loop])
            raise self.error(
                key,
                f"group {child.name!r} would be its own ancestor ({chain})",
                hint=f"remove {child.name!r} from the children of {parent.name!r} "
                "or break the loop elsewhere",
            )
        parent.children[child.name] = None
        child.parents[parent.name] = None

    def _path_down(self, start: str, goal: str) -> list[str] | None:
        """Group names from ``start`` down to ``goal`` through children, if it is reachable."""
        seen: set[str] = set()

        def walk(name: str) -> list[str] | None:
            if name == goal:
                return [name]
            seen.add(name)
            for child in self.groups[name].children:
                if child not in seen and (rest := walk(child)) is not None:
                    return [name, *rest]
            return None

        return walk(start)

    # -- the result ----------------------------------------------------------------------

    def _finish(self) -> Inventory:
        all_group, ungrouped = self.groups["all"], self.groups["ungrouped"]
        for group in list(self.groups.values()):
            if group.name != "all" and not group.parents:
                all_group.children[group.name] = None
                group.parents["all"] = None

        depths: dict[str, int] = {}

        def depth(name: str) -> int:
            """The longest path from ``all``: a child's vars beat its parent's."""
            if name not in depths:
                parents = self.groups[name].parents
                depths[name] = 1 + max(map(depth, parents)) if parents else 0
            return depths[name]

        def ancestry(names: dict[str, None]) -> set[str]:
            found: set[str] = set()
            todo = list(names)
            while todo:
                name = todo.pop()
                if name not in found:
                    found.add(name)
                    todo.extend(self.groups[name].parents)
            return found

        hosts: list[Host] = []
        for draft in self.hosts.values():
            member_of = ancestry(draft.groups) | {"all"}
            # As Ansible: "ungrouped" holds exactly the hosts that are in no other group.
            if member_of <= {"all", "ungrouped"}:
                member_of.add("ungrouped")
                ungrouped.hosts[draft.name] = None
            elif "ungrouped" in draft.groups:
                member_of.discard("ungrouped")
                ungrouped.hosts.pop(draft.name, None)
            ordered = sorted(member_of, key=lambda name: (depth(name), name))
            merged: dict[str, _Var] = {}
            for name in ordered:
                merged.update(self.groups[name].vars)
            merged.update(draft.vars)
            hosts.append(self._make_host(draft.name, merged, tuple(ordered)))

        groups = {
            group.name: Group(
                group.name,
                hosts=tuple(group.hosts),
                children=tuple(group.children),
                vars={name: value for name, (value, _) in group.vars.items()},
            )
            for group in self.groups.values()
        }
        return Inventory(hosts=tuple(hosts), groups=groups, path=self.path)

    def _make_host(self, name: str, merged: dict[str, _Var], groups: tuple[str, ...]) -> Host:
        try:
            return Host(
                name,
                vars={key: value for key, (value, _) in merged.items()},
                groups=groups,
            )
        except InvalidHostVariable as e:
            line = merged[e.variable][1] if e.variable in merged else None
            raise InventoryError(e.message, path=self.path, line=line, hint=e.hint) from e
