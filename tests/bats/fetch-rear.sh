#!/bin/bash
# Unpack Debian's 'rear' package for the bats tests, which source ReaR's real
# lib/layout-functions.sh, lib/global-functions.sh and lib/array-functions.sh
# instead of imitations of them.
#
# Usage: tests/bats/fetch-rear.sh [VERSION]
#   VERSION  Debian version of the rear package (default: $MDC_REAR_VERSION,
#            else apt's candidate, i.e. 2.7+dfsg-1+deb12u1 on bookworm)
# Prints the directory that holds usr/share/rear. Idempotent: the package is
# unpacked once into
#   ${MDC_CACHE:-${XDG_CACHE_HOME:-~/.cache}/rear-mdcontainer}/rear-<version>
# and the link rear-current beside it points at the last one prepared (the bats
# helper uses it without asking apt again).
set -euo pipefail

cache=${MDC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rear-mdcontainer}
version=${1:-${MDC_REAR_VERSION:-}}

die() {
    echo "fetch-rear: $*" >&2
    exit 1
}

as_root() {
    if test "$(id -u)" = 0; then
        "$@"
    else
        sudo "$@"
    fi
}

candidate() {
    apt-cache policy rear 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# unpack VERSION: download rear=VERSION and unpack it to $cache/rear-VERSION,
# unless it is there already; sets $dest.
unpack() {
    local version=$1 work debs
    # An epoch ('1:2.7-1') has a colon, which is unwelcome in a path.
    dest=$cache/rear-${version//:/_}
    test -f "$dest/usr/share/rear/lib/layout-functions.sh" && return 0
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/.fetch.XXXXXX")
    # apt downloads as the unprivileged _apt user when it can read the folder.
    chmod 0755 "$work"
    if ! (cd "$work" && apt-get download -q "rear=$version" >download.log 2>&1); then
        echo "fetch-rear: cannot download rear=$version: $(tail -n 3 "$work/download.log")" >&2
        rm -rf "$work"
        return 1
    fi
    debs=("$work"/rear_*.deb)
    dpkg -x "${debs[0]}" "$work/root"
    if ! test -f "$work/root/usr/share/rear/lib/layout-functions.sh"; then
        rm -rf "$work"
        die "${debs[0]} has no usr/share/rear/lib/layout-functions.sh"
    fi
    rm -rf "$dest"
    mv "$work/root" "$dest"
    rm -rf "$work"
}

command -v apt-get >/dev/null || die "apt-get is missing: the bats tests need Debian's rear package (a Debian-like system)"

if test -n "$version"; then
    unpack "$version" || { as_root apt-get update -qq >&2 && unpack "$version"; } || die "cannot get rear=$version"
else
    # apt's candidate; a fresh machine may have no package lists yet, and old
    # lists may name a version the archive no longer has: update and ask again.
    version=$(candidate)
    if test -z "$version" || ! unpack "$version"; then
        as_root apt-get update -qq >&2
        version=$(candidate)
        test -n "$version" || die "apt knows no 'rear' package (check the apt sources)"
        unpack "$version" || die "cannot get rear=$version"
    fi
fi
ln -sfn "$(basename "$dest")" "$cache/rear-current"
echo "$dest"
