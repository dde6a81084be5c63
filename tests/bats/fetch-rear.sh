#!/bin/bash
# Unpack Debian's 'rear' package for the bats tests, which source ReaR's real
# lib/layout-functions.sh, lib/global-functions.sh and lib/array-functions.sh
# instead of imitations of them.
#
# Usage: tests/bats/fetch-rear.sh [VERSION]
#        tests/bats/fetch-rear.sh --suite SUITE
#   VERSION  Debian version of the rear package (default: $MDC_REAR_VERSION,
#            else apt's candidate, i.e. 2.7+dfsg-1+deb12u1 on bookworm)
#   SUITE    the rear package of that Debian suite, whatever apt's sources say:
#            read from the archive's package index ($MDC_DEBIAN_MIRROR, default
#            http://deb.debian.org/debian), checked against its SHA256 (bullseye
#            has rear 2.6, sid 2.9); the link rear-suite-SUITE points at it,
#            rear-current is left as it is
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

# cached VERSION: sets $dest to where VERSION is unpacked; true when it is there already.
cached() {
    # An epoch ('1:2.7-1') has a colon, which is unwelcome in a path.
    dest=$cache/rear-${1//:/_}
    test -f "$dest/usr/share/rear/lib/layout-functions.sh"
}

# new_work: a fresh work folder in the cache; sets $work.
new_work() {
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/.fetch.XXXXXX")
}

# place DEB: unpack the package DEB (in $work) to $dest, in place of what was there; removes $work.
place() {
    local deb=$1
    dpkg -x "$deb" "$work/root"
    if ! test -f "$work/root/usr/share/rear/lib/layout-functions.sh"; then
        rm -rf "$work"
        die "$(basename "$deb") has no usr/share/rear/lib/layout-functions.sh"
    fi
    rm -rf "$dest"
    mv "$work/root" "$dest"
    rm -rf "$work"
}

# unpack VERSION: download rear=VERSION and unpack it to $cache/rear-VERSION,
# unless it is there already; sets $dest.
unpack() {
    local version=$1 debs
    cached "$version" && return 0
    new_work
    # apt downloads as the unprivileged _apt user when it can read the folder.
    chmod 0755 "$work"
    if ! (cd "$work" && apt-get download -q "rear=$version" >download.log 2>&1); then
        echo "fetch-rear: cannot download rear=$version: $(tail -n 3 "$work/download.log")" >&2
        rm -rf "$work"
        return 1
    fi
    debs=("$work"/rear_*.deb)
    place "${debs[0]}"
}

# unpack_suite SUITE: the rear package of Debian SUITE, from the archive's index; sets $dest.
unpack_suite() {
    local suite=$1 mirror=${MDC_DEBIAN_MIRROR:-http://deb.debian.org/debian} arch record file sum
    arch=$(dpkg --print-architecture)
    # (awk reads the whole index: leaving early would fail the pipe)
    record=$(curl -fsSL "$mirror/dists/$suite/main/binary-$arch/Packages.xz" | xz -dc |
        awk '/^Package: rear$/ && !done {p = 1} p && /^$/ {p = 0; done = 1} p') ||
        die "cannot read the package index of Debian $suite ($mirror)"
    version=$(sed -n 's/^Version: //p' <<<"$record")
    file=$(sed -n 's/^Filename: //p' <<<"$record")
    sum=$(sed -n 's/^SHA256: //p' <<<"$record")
    test -n "$version" && test -n "$file" && test -n "$sum" || die "Debian $suite has no rear package for $arch"
    cached "$version" && return 0
    new_work
    curl -fsSL -o "$work/$(basename "$file")" "$mirror/$file" || { rm -rf "$work"; die "cannot download $mirror/$file"; }
    if ! echo "$sum  $work/$(basename "$file")" | sha256sum -c --quiet - >/dev/null 2>&1; then
        rm -rf "$work"
        die "$mirror/$file does not match the SHA256 of Debian $suite's index"
    fi
    place "$work/$(basename "$file")"
}

if test "${1:-}" = --suite; then
    test -n "${2:-}" || die "--suite needs a Debian suite (bullseye, sid, ...)"
    unpack_suite "$2"
    # The link the bats helper follows for MDC_REAR_SUITE (without reading the index again).
    ln -sfn "$(basename "$dest")" "$cache/rear-suite-$2"
    echo "$dest"
    exit 0
fi

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
