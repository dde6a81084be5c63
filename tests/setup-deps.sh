#!/bin/bash
# Install what `make test` and `make demo` need, idempotently, on a Debian-like machine.
# Distro packages first (the plugin itself runs on the distro's python3, jinja2 and
# plumbum); a virtualenv that sees them adds only the tools Debian lacks (ruff).
#
#   tests/setup-deps.sh        everything (the tests build the packages too)
#   tests/setup-deps.sh deb    only what `make deb` needs (dpkg-buildpackage, debhelper)
#   tests/setup-deps.sh rpm    only what `make rpm` needs (rpmbuild: Debian's rpm package)
set -euo pipefail
cd "$(dirname "$0")/.."

deb_tools=(dpkg-dev debhelper fakeroot make gzip)
rpm_tools=(rpm make gzip tar)
group=${1:-all}
case $group in
    deb | rpm)
        # Nothing to do when the tools are there (also on a machine without apt, e.g. rpmbuild on Fedora).
        if [[ $group == deb ]]; then commands=(dpkg-buildpackage dh make gzip); else commands=(rpmbuild make gzip tar); fi
        have_all=yes
        for command in "${commands[@]}"; do
            command -v "$command" >/dev/null || have_all=no
        done
        [[ $have_all == yes ]] && exit 0
        if ! command -v apt-get >/dev/null; then
            echo "setup-deps: install ${commands[*]} for 'make $group' (no apt-get here)" >&2
            exit 1
        fi
        if [[ $group == deb ]]; then debs=("${deb_tools[@]}"); else debs=("${rpm_tools[@]}"); fi
        ;;
    all)
        debs=(
            python3 python3-venv python3-pip python3-jinja2 python3-plumbum python3-pytest python3-hypothesis python3-pytest-xdist
            bats bats-assert bats-support shellcheck parted
            qemu-system-x86 qemu-utils mmdebstrap e2fsprogs ovmf
            xorriso cpio make curl xz-utils
            "${deb_tools[@]}" "${rpm_tools[@]}"
        )
        ;;
    *)
        echo "usage: $0 [deb|rpm]" >&2
        exit 2
        ;;
esac
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
[[ $group == all ]] || exit 0

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
# The other ReaR versions the bats tests run against (setup.cfg, bats_variants:
# MDC_REAR_SUITE=<Debian suite>), fetched here once rather than by parallel bats runs.
rear_cache=${MDC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rear-mdcontainer}
for suite in $(sed -n 's/^ *[A-Za-z0-9._-]*: *MDC_REAR_SUITE=\([a-z-]*\) *$/\1/p' setup.cfg); do
    # A failure here is not fatal: the other tests still run, those of that variant fail with the reason.
    test -f "$rear_cache/rear-suite-$suite/usr/share/rear/lib/layout-functions.sh" ||
        ./tests/bats/fetch-rear.sh --suite "$suite" >/dev/null ||
        echo "setup-deps: WARNING: no rear package of Debian $suite: its bats variant will fail" >&2
done
