"""The Docker engine the lab runs on: use the one that answers, or start Debian's dockerd."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOCKET = "/var/run/docker.sock"


@dataclass
class Engine:
    client: Any  # docker.DockerClient
    started_by_us: bool
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def stop(self) -> None:
        """Stop dockerd when this run started it (and only then)."""
        self.client.close()
        if not self.started_by_us or self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _client() -> Any:
    import docker

    return docker.DockerClient(base_url=f"unix://{SOCKET}", timeout=300)


def _answers() -> bool:
    if not os.path.exists(SOCKET):
        return False
    try:
        client = _client()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def why_no_engine() -> str | None:
    """None when the lab can have an engine here, else how to get one."""
    if os.geteuid() != 0:
        return "the lab needs root (run the README's test command as root)"
    if _answers():
        return None
    if shutil.which("dockerd") is None:
        return "no Docker engine: install Debian's docker.io (apt-get install docker.io)"
    return None


def ensure_engine(log_dir: Path, *, timeout: float = 90.0) -> Engine:
    """Return a client of a running engine, starting dockerd in the background if none runs."""
    if _answers():
        return Engine(_client(), started_by_us=False)
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError(why_no_engine())
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "dockerd.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [dockerd, "--host", f"unix://{SOCKET}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"dockerd exited with {proc.returncode}:\n{tail}")
        if _answers():
            return Engine(_client(), started_by_us=True, process=proc, log_path=log_path)
        time.sleep(0.25)
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    raise RuntimeError(f"dockerd did not answer within {timeout:g} s (log: {log_path})")
