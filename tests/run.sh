#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite: lint, types, unit and lab tests.
# Run as root on Debian or Ubuntu (the lab starts dockerd, builds images and lab hosts).
# As a normal user it re-runs itself with sudo when sudo exists; without root the lab tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && [ -z "${PYHOST_NO_SUDO:-}" ]; then
  exec sudo --preserve-env=CI "$0" "$@"
fi

# 1. System packages the lab needs (only what is missing; apt-get update only then).
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  for pkg in docker.io debootstrap apt-utils gnupg openssh-client python3-venv iptables user-mode-linux busybox-static uidmap docker-registry zstd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian's docker.io enables its unit; the lab starts its own dockerd when none answers.
    # docker-registry's unit (where systemd runs) listens on :5000; the tests start their
    # own registries on free ports of 127.0.0.1.
  fi
fi

# 2. A virtual environment with pyhost and the test tools.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# 3. Lint, format and types, then the tests.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "no test ran: that is a failure" >&2
  exit 1
fi
exit "$rc"
