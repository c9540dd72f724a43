"""pyhost's own inventory variables (``pyhost_*``): documented, typed and validated.

Checked when the inventory is loaded, like the connection variables, so that a wrong name
or value is reported with the file and line where it was set. An unknown ``pyhost_`` name is
an error that names the closest valid one: a typo must never be silently ignored.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .connection import InvalidHostVariable

DOCKER_FINGERPRINT = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
DEFAULT_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
    "docker-compose-plugin",
)
CHANNELS = ("stable", "test")
REPO_FORMATS = ("deb822", "list")
STATES = ("present", "absent")

_TRUE = frozenset({"yes", "y", "true", "t", "on", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "off", "0"})
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_USER = re.compile(r"[a-z_][a-z0-9_.-]*[$]?")
_FINGERPRINT = re.compile(r"[0-9A-F]{40}")


@dataclass(frozen=True)
class PyhostSettings:
    """What one host's ``pyhost_*`` variables ask for (defaults filled in)."""

    docker_version: str | None = None
    docker_channel: str = "stable"
    docker_packages: tuple[str, ...] = DEFAULT_PACKAGES
    docker_repo_url: str | None = None  # None: Docker's, for the host's distribution
    docker_key_url: str | None = None  # None: <repo url>/gpg
    docker_key_fingerprint: str = DOCKER_FINGERPRINT
    docker_repo_format: str = "deb822"
    docker_hold: bool = False
    docker_allow_downgrade: bool = False
    docker_users: tuple[str, ...] = ()
    docker_daemon: Mapping[str, object] = field(default_factory=dict)
    docker_state: str = "present"
    apt_lock_timeout: int = 300
    http_proxy: str | None = field(default=None, repr=False)  # may hold credentials
    https_proxy: str | None = field(default=None, repr=False)
    no_proxy: str | None = None
    audit_min_docker_version: str | None = None


DOCUMENTATION: dict[str, str] = {
    "pyhost_docker_version": "Docker version to install and pin, e.g. 27.3.1 (or a full apt "
    "version); unset installs the newest and never upgrades by itself",
    "pyhost_docker_channel": "the repository's channel: stable (default) or test",
    "pyhost_docker_packages": "packages to install (default: docker-ce, docker-ce-cli, "
    "containerd.io, docker-buildx-plugin, docker-compose-plugin)",
    "pyhost_docker_repo_url": "repository base URL, for mirrors (default "
    "https://download.docker.com/linux/<ubuntu|debian>)",
    "pyhost_docker_key_url": "URL of the repository's signing key (default <repo url>/gpg)",
    "pyhost_docker_key_fingerprint": "the fingerprint the key must have (default Docker's "
    "9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88)",
    "pyhost_docker_repo_format": "deb822 (docker.sources, default) or list (docker.list)",
    "pyhost_docker_hold": "apt-mark hold the Docker packages (default false)",
    "pyhost_docker_allow_downgrade": "allow installing an older version than the one "
    "installed (default false)",
    "pyhost_docker_users": "users to add to the docker group",
    "pyhost_docker_daemon": "options for /etc/docker/daemon.json (a mapping)",
    "pyhost_docker_state": "present (default) or absent",
    "pyhost_apt_lock_timeout": "seconds to wait for the apt/dpkg lock (default 300)",
    "pyhost_http_proxy": "HTTP proxy for apt and dockerd",
    "pyhost_https_proxy": "HTTPS proxy for apt and dockerd",
    "pyhost_no_proxy": "hosts that bypass the proxy (comma-separated)",
    "pyhost_audit_min_docker_version": "pyhost audit: the oldest Docker version allowed on "
    "the host, e.g. 27.0.0 (check 1.2.2)",
}


def _text(host: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidHostVariable(host, name, "must be a non-empty string", hint="quote it")
    return value.strip()


def _choice(host: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    text = _text(host, name, value)
    if text not in choices:
        raise InvalidHostVariable(host, name, f"is {text!r}; valid values: {', '.join(choices)}")
    return text


def _bool(host: str, name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidHostVariable(host, name, f"is {value!r}; use true or false")


def _names(host: str, name: str, value: object, pattern: re.Pattern[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidHostVariable(host, name, "must be a list of names")
    bad = [v for v in value if not pattern.fullmatch(v)]
    if bad:
        raise InvalidHostVariable(host, name, f"has invalid name(s): {', '.join(bad)}")
    return tuple(value)


def _url(host: str, name: str, value: object) -> str:
    text = _text(host, name, value)
    if not re.match(r"https?://[^/\s]+", text):
        raise InvalidHostVariable(host, name, f"is {text!r}; use an http:// or https:// URL")
    return text.rstrip("/")


def _version(host: str, name: str, value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML reads 27.3 as a number: 27.30 and 27.3 would be the same; refuse to guess
        raise InvalidHostVariable(host, name, f"is the number {value!r}", hint="quote it")
    text = _text(host, name, value)
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+~:-]*", text):
        raise InvalidHostVariable(host, name, f"is {text!r}, not a version like 27.3.1")
    return text


def _fingerprint(host: str, name: str, value: object) -> str:
    text = re.sub(r"\s+", "", _text(host, name, value)).upper()
    if not _FINGERPRINT.fullmatch(text):
        raise InvalidHostVariable(host, name, "must be a full 40-hex-digit key fingerprint")
    return text


def _seconds(host: str, name: str, value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86400:
        raise InvalidHostVariable(host, name, f"is {value!r}; use seconds from 0 to 86400")
    return value


def _mapping(host: str, name: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidHostVariable(host, name, "must be a mapping of options")
    return dict(value)


def parse_pyhost_vars(host: str, variables: Mapping[str, object]) -> PyhostSettings:
    """Check every ``pyhost_*`` variable of one host and return the settings they ask for."""
    kwargs: dict[str, object] = {}
    for name, value in variables.items():
        if not name.startswith("pyhost_"):
            continue
        if name not in DOCUMENTATION:
            close = difflib.get_close_matches(name, DOCUMENTATION, n=1, cutoff=0.6)
            raise InvalidHostVariable(
                host,
                name,
                "is not a pyhost variable",
                hint=f"did you mean {close[0]}?" if close else "see the README for the list",
            )
        key = name.removeprefix("pyhost_")
        if value is None:
            continue  # explicitly unset: the default applies
        kwargs[key] = _PARSERS[name](host, name, value)
    return PyhostSettings(**kwargs)  # type: ignore[arg-type]


_PARSERS = {
    "pyhost_docker_version": _version,
    "pyhost_docker_channel": lambda h, n, v: _choice(h, n, v, CHANNELS),
    "pyhost_docker_packages": lambda h, n, v: _names(h, n, v, _PACKAGE),
    "pyhost_docker_repo_url": _url,
    "pyhost_docker_key_url": _url,
    "pyhost_docker_key_fingerprint": _fingerprint,
    "pyhost_docker_repo_format": lambda h, n, v: _choice(h, n, v, REPO_FORMATS),
    "pyhost_docker_hold": _bool,
    "pyhost_docker_allow_downgrade": _bool,
    "pyhost_docker_users": lambda h, n, v: _names(h, n, v, _USER),
    "pyhost_docker_daemon": _mapping,
    "pyhost_docker_state": lambda h, n, v: _choice(h, n, v, STATES),
    "pyhost_apt_lock_timeout": _seconds,
    "pyhost_http_proxy": _url,
    "pyhost_https_proxy": _url,
    "pyhost_no_proxy": _text,
    "pyhost_audit_min_docker_version": _version,
}
