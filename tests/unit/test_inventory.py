"""Inventories as a user writes them: Ansible's YAML format, precedence, --limit, errors."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyhost.errors import InventoryError, UsageError
from pyhost.inventory import Host, Inventory, load_inventory, localhost_inventory
from pyhost.inventory import loader as loader_module

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "inventory"
EXAMPLE = Path(__file__).parents[2] / "inventory" / "example.yml"
FLEET_ALL = [
    "bastion.example.com",
    "2001:db8::10",
    "web01.example.com",
    "web02.example.com",
    "web03.example.com",
    "ci-a.internal",
    "ci-b.internal",
    "db01.example.com",
]


def write(tmp_path: Path, text: str, name: str = "hosts.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load(tmp_path: Path, text: str) -> Inventory:
    return load_inventory(write(tmp_path, text))


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the only line of ``path`` that holds ``needle``."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}"
    return found[0]


def load_error(path: Path) -> InventoryError:
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    return info.value


def assert_points_at(error: InventoryError, path: Path, line: int | None) -> str:
    """The one-line message names the file and, when given, the line; it is returned."""
    text = error.one_line()
    assert "\n" not in text
    assert error.path == str(path)
    assert error.line == line
    if line is None:
        assert text.startswith(f"{path}: ")
    else:
        assert text.startswith(f"{path}:{line}: ")
    return text


def names(hosts: list[Host] | tuple[Host, ...]) -> list[str]:
    return [host.name for host in hosts]


@pytest.fixture(scope="module")
def fleet() -> Inventory:
    return load_inventory(DATA / "fleet.yml")


# -- structure and precedence ------------------------------------------------------------


def test_precedence_all_then_parent_then_child_then_host(tmp_path: Path) -> None:
    # The parent sorts after the child by name: depth, not name, must decide.
    inv = load(
        tmp_path,
        """
        all:
          vars: {a: all, b: all, c: all, d: all}
          children:
            zeta:
              vars: {b: zeta, c: zeta, d: zeta}
              children:
                alpha:
                  vars: {c: alpha, d: alpha}
                  hosts:
                    web1:
                      d: host
        """,
    )
    host = inv.host("web1")
    assert {k: host.vars[k] for k in "abcd"} == {"a": "all", "b": "zeta", "c": "alpha", "d": "host"}
    assert host.groups == ("all", "zeta", "alpha")


def test_groups_of_equal_depth_apply_in_name_order_later_wins(tmp_path: Path) -> None:
    # "blue" comes first in the file but sorts after "amber": blue's value wins.
    inv = load(
        tmp_path,
        """
        all:
          children:
            blue:
              vars: {color: blue, only_blue: 1}
              hosts: {web1: }
            amber:
              vars: {color: amber, only_amber: 2}
              hosts: {web1: }
        """,
    )
    host = inv.host("web1")
    assert host.vars["color"] == "blue"
    assert (host.vars["only_blue"], host.vars["only_amber"]) == (1, 2)
    assert host.groups == ("all", "amber", "blue")


def test_a_deeper_group_wins_even_when_also_listed_higher(tmp_path: Path) -> None:
    # "deep" sits at depth 1 (directly under all) and at depth 3: the longest path counts,
    # so it beats "zz" (depth 2) although "zz" sorts later.
    inv = load(
        tmp_path,
        """
        all:
          children:
            deep:
            top:
              children:
                mid:
                  children:
                    deep:
                      vars: {v: deep}
                      hosts: {h1: }
            top2:
              children:
                zz:
                  vars: {v: zz}
                  hosts: {h1: }
        """,
    )
    assert inv.host("h1").vars["v"] == "deep"
    assert inv.host("h1").groups == ("all", "top", "top2", "mid", "zz", "deep")


def test_nested_children_any_depth(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          children:
            l1:
              children:
                l2:
                  children:
                    l3:
                      children:
                        l4:
                          hosts:
                            bottom:
              hosts:
                top:
        """,
    )
    assert inv.host("bottom").groups == ("all", "l1", "l2", "l3", "l4")
    assert names(inv.hosts_in("l1")) == ["bottom", "top"]
    assert names(inv.hosts_in("l3")) == ["bottom"]
    assert inv.groups["l2"].children == ("l3",)
    assert inv.groups["l1"].hosts == ("top",)
    assert names(inv.select("l2")) == ["bottom"]


def test_host_in_two_groups_is_one_host_with_both_groups_vars(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          children:
            web:
              vars: {role: web}
              hosts:
                box:
                  ansible_port: 2201
                  first: 1
            db:
              vars: {engine: postgres}
              hosts:
                box:
                  ansible_port: 2202
        """,
    )
    assert names(inv.hosts) == ["box"]
    box = inv.host("box")
    assert box.groups == ("all", "db", "web")
    assert (box.vars["role"], box.vars["engine"], box.vars["first"]) == ("web", "postgres", 1)
    assert box.ansible_port == 2202  # host vars written twice: the later one wins per key
    assert inv.groups["web"].hosts == ("box",) and inv.groups["db"].hosts == ("box",)


def test_group_under_two_parents(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          children:
            web:
              children:
                monitored:
                  vars: {agent: node_exporter}
                  hosts: {web1: }
            ci:
              children:
                monitored:
                  vars: {interval: 15}
                  hosts: {ci1: }
        """,
    )
    assert inv.groups["web"].children == ("monitored",)
    assert inv.groups["ci"].children == ("monitored",)
    assert inv.groups["monitored"].hosts == ("web1", "ci1")
    assert dict(inv.groups["monitored"].vars) == {"agent": "node_exporter", "interval": 15}
    assert names(inv.hosts_in("web")) == ["web1", "ci1"]
    assert inv.host("ci1").vars["agent"] == "node_exporter"
    assert inv.host("web1").groups == ("all", "ci", "web", "monitored")


def test_implicit_all_and_ungrouped(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          hosts:
            lone:
            both:
          children:
            web:
              hosts:
                both:
                web1:
        other:
          hosts:
            elsewhere:
        """,
    )
    assert set(inv.groups) == {"all", "ungrouped", "web", "other"}
    assert inv.groups["ungrouped"].hosts == ("lone",)
    assert inv.host("lone").groups == ("all", "ungrouped")
    assert inv.host("both").groups == ("all", "web")
    # A top-level group other than all is a child of all, as in Ansible.
    assert "other" in inv.groups["all"].children
    assert inv.host("elsewhere").groups == ("all", "other")
    assert names(inv.select("ungrouped")) == ["lone"]
    assert names(inv.hosts) == ["lone", "both", "web1", "elsewhere"]


def test_a_file_without_all_and_empty_groups(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        web:
          hosts:
            web1:
          vars:
        spare:
        """,
    )
    assert names(inv.hosts) == ["web1"]
    assert inv.groups["spare"].hosts == ()
    assert inv.groups["ungrouped"].hosts == ()


def test_yaml_anchors_and_merge_keys_in_vars(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          vars:
            common: &common {ansible_user: deploy, ansible_port: 2222}
          hosts:
            web1:
              <<: *common
              ansible_port: 2200
            web2: *common
        """,
    )
    assert (inv.host("web1").ansible_user, inv.host("web1").ansible_port) == ("deploy", 2200)
    assert (inv.host("web2").ansible_user, inv.host("web2").ansible_port) == ("deploy", 2222)


def test_names_are_kept_as_written(tmp_path: Path) -> None:
    # YAML would read these keys as numbers or booleans; a host name is the text as written.
    inv = load(
        tmp_path,
        """
        all:
          hosts:
            007:
            yes:
            10.0.0.1:
        """,
    )
    assert names(inv.hosts) == ["007", "yes", "10.0.0.1"]


# -- host ranges and host keys -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("web[01:03].example.com", ["web01.example.com", "web02.example.com", "web03.example.com"]),
        ("db-[a:c]", ["db-a", "db-b", "db-c"]),
        ("node[1:10:4]", ["node1", "node5", "node9"]),
        ("n[8:10]", ["n8", "n9", "n10"]),
        ("n[:2]", ["n0", "n1", "n2"]),
        ("n[008:010]", ["n008", "n009", "n010"]),
        ("r[1:2]-[A:B]", ["r1-A", "r1-B", "r2-A", "r2-B"]),
        ("plain.example.com", ["plain.example.com"]),
    ],
)
def test_host_ranges_expand_like_ansible(tmp_path: Path, key: str, expected: list[str]) -> None:
    inv = load(tmp_path, f"all:\n  hosts:\n    {key}:\n      ansible_user: ops\n")
    assert names(inv.hosts) == expected
    assert all(host.ansible_user == "ops" for host in inv.hosts)


def test_host_keys_with_port_and_ipv6(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          hosts:
            2001:db8::10:
            "::1":
            "[2001:db8::11]:2222":
            web[1:2]:2200:
            db1:2201:
              ansible_port: 2300
        """,
    )
    assert names(inv.hosts) == ["2001:db8::10", "::1", "2001:db8::11", "web1", "web2", "db1"]
    ports = {host.name: host.ansible_port for host in inv.hosts}
    assert ports == {
        "2001:db8::10": 22,
        "::1": 22,
        "2001:db8::11": 2222,
        "web1": 2200,
        "web2": 2200,
        "db1": 2300,  # explicit ansible_port beats the port in the key
    }


# -- connection variables ------------------------------------------------------------------


def test_connection_defaults(tmp_path: Path) -> None:
    host = load(tmp_path, "all:\n  hosts:\n    web1:\n").host("web1")
    assert host.ansible_host == "web1"
    assert host.ansible_port == 22
    assert host.ansible_user is None
    assert host.ansible_ssh_private_key_file is None
    assert host.ansible_become is False
    assert host.ansible_become_password is None
    assert host.ansible_connection == "ssh"
    assert host.implicit is False


def test_connection_variables_are_typed(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          vars:
            ansible_user: deploy
            ansible_become: "yes"
          hosts:
            web1:
              ansible_host: 192.0.2.10
              ansible_port: "2222"
              ansible_ssh_private_key_file: ~/.ssh/id_ed25519
              ansible_become_password: s3cret
            local1:
              ansible_connection: local
              ansible_become: no
            old:
              ansible_become_pass: legacy
        """,
    )
    web1 = inv.host("web1")
    assert web1.ansible_host == "192.0.2.10"
    assert web1.ansible_port == 2222
    assert web1.ansible_user == "deploy"
    assert web1.ansible_ssh_private_key_file == "~/.ssh/id_ed25519"
    assert web1.ansible_become is True
    assert web1.ansible_become_password == "s3cret"
    assert inv.host("local1").ansible_connection == "local"
    assert inv.host("local1").ansible_become is False
    assert inv.host("old").ansible_become_password == "legacy"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("yes", True),
        ("'yes'", True),
        ("'Yes'", True),
        ("true", True),
        ("'true'", True),
        ("'on'", True),
        ("1", True),
        ("no", False),
        ("'no'", False),
        ("false", False),
        ("'False'", False),
        ("'off'", False),
        ("0", False),
    ],
)
def test_become_accepts_ansible_booleans(tmp_path: Path, written: str, value: bool) -> None:
    inv = load(tmp_path, f"all:\n  hosts:\n    h:\n      ansible_become: {written}\n")
    assert inv.host("h").ansible_become is value


def test_become_password_is_never_printed(tmp_path: Path) -> None:
    inv = load(
        tmp_path,
        """
        all:
          vars:
            ansible_become_password: hunter2-all
          children:
            web:
              vars:
                registry_login: {user: bot, password: hunter2-nested}
              hosts:
                web1:
                  ansible_become_password: hunter2-host
                  ansible_become_pass: hunter2-alias
        """,
    )
    host = inv.host("web1")
    assert host.ansible_become_password == "hunter2-host"
    shown = " ".join(
        [repr(host), str(host), repr(host.vars), str(host.vars), repr(inv), repr(inv.groups)]
    )
    assert "hunter2" not in shown
    assert "web1" in repr(host) and str(host) == "web1"


def test_hosts_and_inventories_are_immutable(tmp_path: Path) -> None:
    inv = load(tmp_path, "all:\n  hosts:\n    web1:\n      x: 1\n")
    host = inv.host("web1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        host.vars["x"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        inv.groups["new"] = inv.groups["all"]  # type: ignore[index]
    assert host == load(tmp_path, "all:\n  hosts:\n    web1:\n      x: 1\n").host("web1")
    assert len({host, host}) == 1


def test_pyhost_variables_are_plain_vars(tmp_path: Path) -> None:
    inv = load(tmp_path, 'all:\n  vars:\n    pyhost_docker_version: "27.3.1"\n  hosts: {h: }\n')
    assert inv.host("h").vars["pyhost_docker_version"] == "27.3.1"


# -- implicit localhost ----------------------------------------------------------------------


def test_no_inventory_means_this_machine() -> None:
    for inv in (load_inventory(None), localhost_inventory()):
        assert inv.path is None
        assert names(inv.hosts) == ["localhost"]
        host = inv.hosts[0]
        assert host.ansible_connection == "local"
        assert host.implicit
        assert names(inv.select(None)) == ["localhost"]
        assert names(inv.select("all")) == ["localhost"]
        assert names(inv.select("localhost")) == ["localhost"]


def test_localhost_by_limit_from_an_inventory_without_it(fleet: Inventory) -> None:
    assert "localhost" not in names(fleet.hosts)
    (local,) = fleet.select("localhost")
    assert local.name == "localhost"
    assert local.implicit
    assert local.ansible_connection == "local"
    assert local.vars["ansible_user"] == "deploy"  # all's vars apply, as in Ansible
    # As in Ansible, the implicit localhost is not part of all.
    assert "localhost" not in names(fleet.select("all"))
    assert names(fleet.select("db:localhost")) == [
        "web03.example.com",
        "db01.example.com",
        "localhost",
    ]


def test_an_inventory_may_define_localhost_itself(tmp_path: Path) -> None:
    inv = load(tmp_path, "all:\n  hosts:\n    localhost:\n      ansible_user: me\n")
    (host,) = inv.select("localhost")
    assert host is inv.host("localhost")
    assert not host.implicit
    assert host.ansible_connection == "ssh"  # as in Ansible: only the implicit one is local


# -- --limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, FLEET_ALL),
        ("all", FLEET_ALL),
        ("*", FLEET_ALL),
        ("web02.example.com", ["web02.example.com"]),
        ("web", ["web01.example.com", "web02.example.com", "web03.example.com"]),
        # union; inventory order whatever the pattern order; web03 only once
        (
            "db:web",
            ["web01.example.com", "web02.example.com", "web03.example.com", "db01.example.com"],
        ),
        (
            "bastion.example.com,ci_runners",
            ["bastion.example.com", "ci-a.internal", "ci-b.internal"],
        ),
        (
            " ci_runners , bastion.example.com ",
            ["bastion.example.com", "ci-a.internal", "ci-b.internal"],
        ),
        ("web*", ["web01.example.com", "web02.example.com", "web03.example.com"]),
        ("*.internal", ["ci-a.internal", "ci-b.internal"]),
        ("ci-?.internal", ["ci-a.internal", "ci-b.internal"]),
        ("web0[12].example.com", ["web01.example.com", "web02.example.com"]),
        ("~web0[12]", ["web01.example.com", "web02.example.com"]),
        # a regex matches group names too: db brings web03 along
        ("~(db|bastion)", ["bastion.example.com", "web03.example.com", "db01.example.com"]),
        ("~(?:ci|db)", ["web03.example.com", "ci-a.internal", "ci-b.internal", "db01.example.com"]),
        ("docker_hosts:&db", ["web03.example.com"]),
        ("&db:docker_hosts", ["web03.example.com"]),
        ("&db", ["web03.example.com", "db01.example.com"]),
        ("all:!docker_hosts", ["bastion.example.com", "2001:db8::10", "db01.example.com"]),
        ("!docker_hosts", ["bastion.example.com", "2001:db8::10", "db01.example.com"]),
        ("!docker_hosts:all", ["bastion.example.com", "2001:db8::10", "db01.example.com"]),
        ("web:!web02.example.com", ["web01.example.com", "web03.example.com"]),
        ("docker_hosts:!~web0[13]", ["web02.example.com", "ci-a.internal", "ci-b.internal"]),
        ("docker_hosts:!db:&web", ["web01.example.com", "web02.example.com"]),
        ("2001:db8::10", ["2001:db8::10"]),
        ("2001:db8::10,bastion.example.com", ["bastion.example.com", "2001:db8::10"]),
        ("!2001:db8::10", [n for n in FLEET_ALL if n != "2001:db8::10"]),
    ],
)
def test_limit_patterns(fleet: Inventory, limit: str | None, expected: list[str]) -> None:
    assert names(fleet.select(limit)) == expected


def test_limit_returns_inventory_hosts(fleet: Inventory) -> None:
    (host,) = fleet.select("web01.example.com")
    assert host is fleet.host("web01.example.com")


@pytest.mark.parametrize(
    ("limit", "message", "close"),
    [
        ("webb", "no host matches --limit 'webb'", "'web'"),
        ("web01.exmaple.com", "no host matches --limit 'web01.exmaple.com'", "'web01.example.com'"),
        ("web,dbb", "no host matches 'dbb' in --limit 'web,dbb'", "'db'"),
        ("all:!web04.example.com", "'!web04.example.com'", "'web01.example.com'"),
        ("docker_hosts:&ci_runner", "'&ci_runner'", "'ci_runners'"),
        ("Web", "no host matches --limit 'Web'", "'web'"),
        ("qqqq*", "no host matches --limit 'qqqq*'", "groups are: all, ungrouped"),
    ],
)
def test_limit_matching_nothing_names_close_names(
    fleet: Inventory, limit: str, message: str, close: str
) -> None:
    with pytest.raises(UsageError) as info:
        fleet.select(limit)
    assert not isinstance(info.value, InventoryError)
    assert message in info.value.one_line()
    assert close in (info.value.hint or "")


def test_limit_whose_patterns_leave_nothing(fleet: Inventory) -> None:
    with pytest.raises(UsageError) as info:
        fleet.select("ci_runners:&db")
    assert "no host matches --limit 'ci_runners:&db'" in info.value.one_line()


def test_limit_ipv6_without_commas_hints_at_commas(fleet: Inventory) -> None:
    with pytest.raises(UsageError) as info:
        fleet.select("web:2001:db8::10")
    assert "','" in (info.value.hint or "")


@pytest.mark.parametrize("limit", ["", " ", ",", "!", "web:&", "~web[", "@retry.txt"])
def test_bad_limits_are_usage_errors(fleet: Inventory, limit: str) -> None:
    with pytest.raises(UsageError) as info:
        fleet.select(limit)
    assert "--limit" in info.value.one_line()


# -- errors: reading the file ----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    error = load_error(path)
    assert "not found" in assert_points_at(error, path, None)
    assert "check the path" in (error.hint or "")


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "all:\n  hosts:\n    a:\n")
    if os.geteuid() == 0:  # root reads any file: make open() fail as it would for a user

        def refuse(*args: object, **kwargs: object) -> object:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(loader_module, "open", refuse, raising=False)
    else:
        path.chmod(0)
    error = load_error(path)
    assert "permission denied" in assert_points_at(error, path, None)


def test_directory(tmp_path: Path) -> None:
    error = load_error(tmp_path)
    assert "directory" in assert_points_at(error, tmp_path, None)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yml"
    path.write_text(text)
    error = load_error(path)
    assert "empty" in assert_points_at(error, path, None)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("all:\n  hosts:\n    caf\u00e9:\n".encode("latin-1"))
    assert "UTF-8" in assert_points_at(load_error(path), path, 3)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("all:\n  hosts:\n    web1: a: b\n    web2:\n", "web1"),
        ("all:\n  hosts:\n    web1:\n  vars: [1,\n", "vars"),
        ('all:\n  vars:\n    x: "abc\n    y: 2\n', "x:"),
        ("all:\n  hosts:\n\tweb1:\n", "\t"),
        ("all:\n  hosts: {}\n---\nall:\n", "---"),
    ],
)
def test_bad_yaml_names_the_line(tmp_path: Path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    message = assert_points_at(load_error(path), path, line_of(path, needle))
    assert "not valid YAML" in message


def test_control_characters_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  hosts:\n    web\x071:\n")
    message = assert_points_at(load_error(path), path, 3)
    assert "not valid YAML: character U+0007" in message


def test_vault_values_are_refused_clearly(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        all:
          vars:
            ansible_become_password: !vault |
              $ANSIBLE_VAULT;1.1;AES256
              6131
        """,
    )
    message = assert_points_at(load_error(path), path, line_of(path, "!vault"))
    assert "Vault" in message


# -- errors: structure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle", "words"),
    [
        # the top level is not a mapping
        ("# fleet\n\n- web1\n- web2\n", "- web1", "mapping of group names"),
        ("just a string\n", "just", "mapping of group names"),
        # a group whose value is neither a mapping nor empty
        ("all:\n  children:\n    web: [web1, web2]\n", "web:", "group 'web' must be a mapping"),
        ("all: web1\n", "all:", "group 'all' must be a mapping"),
        # unknown keys in a group
        (
            "all:\n  children:\n    web:\n      host:\n        web1:\n",
            "host:",
            "did you mean `hosts:`?",
        ),
        ("all:\n  children:\n    web:\n      childs: {}\n", "childs", "did you mean `children:`?"),
        ("all:\n  children:\n    web:\n      hots: {}\n", "hots", "unknown key 'hots'"),
        ("all:\n  hosts: {a: }\n  web:\n    hosts: {}\n", "web:", "unknown key 'web'"),
        # a section where a group should be
        ("hosts:\n  web1:\n", "hosts:", "'hosts' is not a group name"),
        # hosts, vars, children that are not mappings
        (
            "all:\n  hosts:\n    - web1\n    - web2\n",
            "hosts:",
            "hosts of group 'all' must be a mapping",
        ),
        ("all:\n  hosts: web1\n", "hosts:", "hosts of group 'all' must be a mapping"),
        ("all:\n  vars:\n    - a: 1\n", "vars:", "vars of group 'all' must be a mapping"),
        ("all:\n  children:\n    - web\n", "children:", "children of group 'all' must be"),
        # host vars that are not a mapping
        ("all:\n  hosts:\n    web1: 192.0.2.1\n", "web1", "variables of host 'web1' must be"),
        ("all:\n  hosts:\n    web1:\n      - ansible_port: 22\n", "web1", "host 'web1'"),
        (
            "all:\n  hosts:\n    web1:\n      ansible_port: 22\n      [a]: 1\n",
            "[a]",
            "variable name",
        ),
        ("all:\n  hosts:\n    web1:\n    '':\n", "''", "host name is missing"),
    ],
)
def test_structural_errors_name_the_line_of_the_key(
    tmp_path: Path, text: str, needle: str, words: str
) -> None:
    path = write(tmp_path, text)
    message = assert_points_at(load_error(path), path, line_of(path, needle))
    assert words in message


def test_unknown_key_hints_at_the_nearest_valid_key(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  hosts:\n    web1:\n  var:\n    x: 1\n")
    error = load_error(path)
    assert "did you mean `vars:`?" in (error.hint or "")
    path = write(tmp_path, "all:\n  webservers:\n    hosts: {}\n")
    assert "children" in (load_error(path).hint or "")


@pytest.mark.parametrize(
    ("text", "line", "chain"),
    [
        (
            """
            all:
              children:
                a:
                  children:
                    b:
                      children:
                        c:
                c:
                  children:
                    a:
            """,
            10,
            "c -> a -> b -> c",
        ),
        ("all:\n  children:\n    a:\n      children:\n        a:\n", 5, "a -> a"),
    ],
)
def test_a_group_that_is_its_own_ancestor(tmp_path: Path, text: str, line: int, chain: str) -> None:
    path = write(tmp_path, text)
    message = assert_points_at(load_error(path), path, line)
    assert "its own ancestor" in message and chain in message


def test_all_cannot_be_a_child(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  children:\n    web:\n      children:\n        all:\n")
    message = assert_points_at(load_error(path), path, 5)
    assert "group 'all' cannot be a child of 'web'" in message


def test_loops_through_yaml_aliases_are_caught(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  children:\n    a: &a\n      children:\n        b: *a\n")
    message = assert_points_at(load_error(path), path, 5)
    assert "its own ancestor" in message


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("web[3:1]", "starts after its end"),
        ("web[01:3]", "same length"),
        ("web[1:]", "has no end"),
        ("web[1:5:0]", "step"),
        ("web[1:2:3:4]", "start:end"),
        ("web[1]", "start:end"),
        ("web[a:9]", "two numbers or two letters"),
        ("web[aa:bb]", "two numbers or two letters"),
        ("web[c:a]", "starts after its end"),
        ("web[1:3", "unmatched"),
        ("web1:3]", "unmatched"),
        ("web[0:99999]", "more than"),
    ],
)
def test_invalid_host_range(tmp_path: Path, key: str, words: str) -> None:
    path = write(tmp_path, f"all:\n  vars:\n    x: 1\n  hosts:\n    ok1:\n    {key}:\n")
    message = assert_points_at(load_error(path), path, 6)
    assert f"invalid host {key!r}" in message and words in message


# -- errors: connection variables --------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "65536", "ssh", "-1", "22.5", "true", "[22]", "'2x'"])
def test_bad_port_names_the_line_where_it_is_set(tmp_path: Path, value: str) -> None:
    path = write(
        tmp_path,
        f"""
        all:
          children:
            web:
              vars:
                ansible_user: deploy
                ansible_port: {value}
              hosts:
                web1:
                web2:
        """,
    )
    message = assert_points_at(load_error(path), path, line_of(path, "ansible_port"))
    assert "host 'web1': ansible_port must be a whole number from 1 to 65535" in message


def test_bad_port_in_a_host_key(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  hosts:\n    web1:\n    web2:70000:\n")
    message = assert_points_at(load_error(path), path, 4)
    assert "ansible_port" in message and "70000" in message


def test_bad_port_overridden_by_host_is_fine(tmp_path: Path) -> None:
    inv = load(tmp_path, "all:\n  vars: {ansible_port: 0}\n  hosts:\n    a: {ansible_port: 2}\n")
    assert inv.host("a").ansible_port == 2


@pytest.mark.parametrize("value", ["winrm", "paramiko", "SSH", "''"])
def test_bad_connection_names_the_valid_values(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"all:\n  hosts:\n    web1:\n      ansible_connection: {value}\n")
    message = assert_points_at(load_error(path), path, 4)
    assert "ansible_connection" in message and "'ssh'" in message and "'local'" in message


@pytest.mark.parametrize("value", ["maybe", "2", "[yes]"])
def test_bad_become_value(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"all:\n  hosts:\n    web1:\n      ansible_become: {value}\n")
    message = assert_points_at(load_error(path), path, 4)
    assert "ansible_become must be yes/no" in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("ansible_host: ''", "ansible_host is empty"),
        ("ansible_host: [a, b]", "ansible_host must be a text value"),
        ("ansible_user: 1000", "ansible_user must be a text value"),
        ("ansible_ssh_private_key_file: {a: 1}", "ansible_ssh_private_key_file must be a text"),
        ("ansible_host: '{{ inventory_hostname }}.lan'", "Jinja template"),
    ],
)
def test_bad_text_connection_variables(tmp_path: Path, line: str, words: str) -> None:
    path = write(tmp_path, f"all:\n  hosts:\n    web1:\n      {line}\n")
    assert words in assert_points_at(load_error(path), path, 4)


def test_a_bad_become_password_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "all:\n  hosts:\n    web1:\n      ansible_become_password: 123456\n")
    error = load_error(path)
    message = assert_points_at(error, path, 4)
    assert "ansible_become_password must be a text value" in message
    assert "123456" not in message and "123456" not in (error.hint or "")
    assert "quote" in (error.hint or "")


# -- the example inventory and start-up cost ----------------------------------------------------


def test_the_example_inventory_loads() -> None:
    inv = load_inventory(EXAMPLE)
    assert inv.path == str(EXAMPLE)
    assert inv.groups["docker_hosts"].children == ("web", "ci_runners")
    web = names(inv.select("web"))
    assert web == ["web01.example.com", "web02.example.com", "web03.example.com"]
    runners = inv.select("ci_runners")
    assert [h.ansible_user for h in runners] == ["ci", "ci"]
    assert all(h.ansible_become for h in inv.select("docker_hosts"))
    assert inv.host("localhost").ansible_connection == "local"
    text = EXAMPLE.read_text()
    assert '# pyhost_docker_version: "27.3.1"' in text


def test_importing_the_package_does_not_import_yaml() -> None:
    code = "import sys, pyhost.inventory; print('yaml' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_become_written_false_is_a_refusal_and_unset_is_not(tmp_path: Path) -> None:
    from pyhost.inventory import load_inventory

    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all:\n  hosts:\n    a: {ansible_become: false}\n    b: {ansible_become: true}\n    c: {}\n"
    )
    hosts = {h.name: h for h in load_inventory(str(inv)).select(None)}
    assert hosts["a"].become_refused
    assert not hosts["b"].become_refused
    assert not hosts["c"].become_refused
