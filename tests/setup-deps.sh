#!/bin/bash
# Install what `make test` and `make demo` need, idempotently, on a Debian-like machine.
# Distro packages first (the plugin itself runs on the distro's python3, jinja2 and
# plumbum); a virtualenv that sees them adds only the tools Debian lacks (ruff).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
    python3 python3-venv python3-pip python3-jinja2 python3-plumbum python3-pytest python3-hypothesis python3-pytest-xdist
    bats bats-assert bats-support shellcheck parted
    qemu-system-x86 qemu-utils mmdebstrap e2fsprogs ovmf
    xorriso cpio make
)
missing=()
for pkg in "${debs[@]}"; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup-deps: installing ${missing[*]}"
    sudo_cmd=()
    test "$(id -u)" = 0 || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv uses Debian's python3 with its site-packages, so tests run against the
# same jinja2/plumbum/pytest the plugin meets on a Debian system.
if ! test -x .venv/bin/python || ! .venv/bin/python -c 'import jinja2, plumbum, pytest' 2>/dev/null; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! test -x .venv/bin/ruff; then
    .venv/bin/python -m pip install -q --disable-pip-version-check 'ruff>=0.4'
fi

# ReaR's real functions for the bats tests: Debian's rear package, unpacked once
# into a cache (see tests/bats/fetch-rear.sh).
./tests/bats/fetch-rear.sh >/dev/null
