"""Shared pytest set-up: the lab (dockerd, lab hosts, the Docker CE apt repository).

The lab is started lazily by session fixtures, only when a test marked ``lab`` asks for it,
and torn down at the end of the run. Where the lab cannot run (not root, no Docker), lab tests
skip with a reason that says how to get it; in CI (``CI`` set) such a skip is a failure.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))

LAB_HOSTS = 3


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test must say which tier it belongs to."""
    for item in items:
        if not any(item.iter_markers(name) for name in ("unit", "lab")):
            raise pytest.UsageError(f"{item.nodeid} is marked neither unit nor lab")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if os.environ.get("CI") and report.skipped and item.get_closest_marker("lab"):
        # In CI the lab must run: a skipped lab test would hide a broken feature.
        report.outcome = "failed"
        report.longrepr = f"lab test skipped in CI: {report.longrepr}"
    return report


@pytest.fixture(scope="session")
def lab_workdir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def docker_engine(lab_workdir: pathlib.Path) -> Iterator[Any]:
    """A running Docker engine (started for this run when none runs); its client."""
    from labkit.engine import ensure_engine, why_no_engine

    problem = why_no_engine()
    if problem:
        pytest.skip(problem)
    engine = ensure_engine(lab_workdir / "dockerd")
    from labkit.hosts import OWNER, objects_of, remove_labelled, remove_orphans

    mine = {OWNER: str(os.getpid())}
    left: list[str] = []
    try:
        # What a killed earlier run left behind goes first (never a live run's).
        remove_orphans(engine.client)
        yield engine.client
    finally:
        # Everything this run made carries its labels and must be gone by now.
        left = [
            f"{kind} {item.name}"
            for kind, items in objects_of(engine.client, mine).items()
            for item in items
        ]
        remove_labelled(engine.client, mine)
        engine.stop()
    if left:
        pytest.fail(f"the tests left lab objects behind: {', '.join(left)}")


@pytest.fixture(scope="session")
def lab_image(docker_engine: Any) -> str:
    from labkit.image import ensure_base_image

    try:
        return ensure_base_image(docker_engine)
    except RuntimeError as e:  # only raised for a missing tool; build failures are errors
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def docker_ce_repo(lab_workdir: pathlib.Path) -> Iterator[Any]:
    """Docker CE's apt repository, rebuilt for this run and signed with a fresh key."""
    import shutil

    from labkit.aptrepo import build_docker_ce_repo, missing_tools

    if os.geteuid() != 0:
        pytest.skip("the lab needs root (run the README's test command as root)")
    missing = missing_tools()
    if missing:
        pytest.skip(f"cannot build the lab's Docker CE repository: {', '.join(missing)}")
    try:
        yield build_docker_ce_repo(lab_workdir / "repo")
    finally:
        shutil.rmtree(lab_workdir / "repo", ignore_errors=True)  # ~400 MB of packages


@pytest.fixture(scope="session")
def lab(
    docker_engine: Any, lab_image: str, lab_workdir: pathlib.Path, docker_ce_repo: Any
) -> Iterator[Any]:
    """The lab: a network, SSH keys, the repository served on it, and lab hosts."""
    from labkit.hosts import Lab

    lab = Lab(docker_engine, lab_image, lab_workdir / "hosts")
    failed_teardown: list[str] = []
    try:
        lab.start()
        lab.serve_repo(docker_ce_repo.root)
        lab.add_hosts(LAB_HOSTS)
        yield lab
    finally:
        failed_teardown = lab.teardown()
    if failed_teardown:
        pytest.fail(f"lab teardown left: {'; '.join(failed_teardown)}")
