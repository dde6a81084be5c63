# Shared set-up of the bats tests of the plugin's shell hooks.
#
# The hooks are tested against ReaR's *real* functions (lib/layout-functions.sh,
# lib/global-functions.sh, lib/array-functions.sh and, where a test needs one,
# a real stage script) from Debian's rear package, unpacked by fetch-rear.sh.
# Only ReaR's lib/_input-output-functions.sh is replaced by stubs (Log, LogPrint,
# Error ... and has_binary): they write to $REAR_LOG, and Error exits like
# ReaR's does, so that a test sees it as a failure with the message.
#
# Usage in a .bats file:  load test_helper

MDC_BATS_LIB=${MDC_BATS_LIB:-/usr/lib/bats}
load "$MDC_BATS_LIB/bats-support/load"
load "$MDC_BATS_LIB/bats-assert/load"

MDC_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

# The folder that holds ReaR's usr/share/rear: $MDC_REAR_ROOT when set, else
# the rear package of Debian suite $MDC_REAR_SUITE (the bats_variants of
# setup.cfg: bullseye's 2.6, sid's 2.9), else the unpacked package that
# fetch-rear.sh prepared last, else fetch it now.
mdc_rear_root() {
    local cache=${MDC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rear-mdcontainer}
    if test -n "${MDC_REAR_ROOT:-}"; then
        echo "$MDC_REAR_ROOT"
    elif test -n "${MDC_REAR_SUITE:-}"; then
        if test -f "$cache/rear-suite-$MDC_REAR_SUITE/usr/share/rear/lib/layout-functions.sh"; then
            echo "$cache/rear-suite-$MDC_REAR_SUITE"
        else
            "$MDC_REPO/tests/bats/fetch-rear.sh" --suite "$MDC_REAR_SUITE"
        fi
    elif test -f "$cache/rear-current/usr/share/rear/lib/layout-functions.sh"; then
        echo "$cache/rear-current"
    else
        "$MDC_REPO/tests/bats/fetch-rear.sh"
    fi
}

# Install the plugin the way a user does (make install) into a tree that is kept
# for all tests of the file. Call it from setup_file; it sets MDC_INSTALL_ROOT.
mdc_install_plugin() {
    export MDC_INSTALL_ROOT=$BATS_FILE_TMPDIR/root
    if ! test -d "$MDC_INSTALL_ROOT/usr/share/rear"; then
        make -s -C "$MDC_REPO" install DESTDIR="$MDC_INSTALL_ROOT" >/dev/null
    fi
}

# Stand-ins for ReaR's lib/_input-output-functions.sh.
mdc_stub_rear_output() {
    REAR_LOG=$BATS_TEST_TMPDIR/rear.log
    : >"$REAR_LOG"
    function Log() { echo "Log: $*" >>"$REAR_LOG"; }
    function LogPrint() { echo "LogPrint: $*" >>"$REAR_LOG"; }
    function LogPrintError() { echo "LogPrintError: $*" >>"$REAR_LOG"; }
    function Print() { echo "Print: $*" >>"$REAR_LOG"; }
    function PrintError() { echo "PrintError: $*" >>"$REAR_LOG"; }
    function Debug() { echo "Debug: $*" >>"$REAR_LOG"; }
    function DebugPrint() { echo "DebugPrint: $*" >>"$REAR_LOG"; }
    function LogUserOutput() { echo "LogUserOutput: $*" >>"$REAR_LOG"; }
    # ReaR's Error ends the whole run; here it ends the (sub)shell of the test,
    # so `run ...` sees status 1 and the message in $output.
    function Error() {
        echo "Error: $*" >>"$REAR_LOG"
        echo "ERROR: $*" >&2
        exit 1
    }
    function BugError() { Error "BUG: $*"; }
    function BugIfError() { (($? == 0)) || BugError "$@"; }
    # Not output, but it lives in the same file; layout-functions.sh needs it
    # at source time (has_binary parted). The same as ReaR's.
    function has_binary() {
        local bin
        for bin in "$@"; do
            type "$bin" >/dev/null && return 0
        done
        return 1
    }
    function StopIfError() { (($? == 0)) || Error "$@"; }
}

# The environment of ReaR's layout stages, with ReaR's real functions and the
# plugin's defaults, but not yet the plugin's functions (see mdc_source_plugin).
mdc_rear_env() {
    REAR_ROOT=$(mdc_rear_root)
    test -f "$REAR_ROOT/usr/share/rear/lib/layout-functions.sh" || fail "no ReaR below '$REAR_ROOT'"
    REAR_SHARE=$REAR_ROOT/usr/share/rear
    mdc_stub_rear_output
    DISPENSABLE_OUTPUT_DEV=null
    TMP_DIR=$BATS_TEST_TMPDIR/tmp
    VAR_DIR=$BATS_TEST_TMPDIR/var
    mkdir -p "$TMP_DIR" "$VAR_DIR/layout"
    DISKLAYOUT_FILE=$VAR_DIR/layout/disklayout.conf
    LAYOUT_FILE=$DISKLAYOUT_FILE
    LAYOUT_DEPS=$VAR_DIR/layout/diskdeps.conf
    LAYOUT_TODO=$VAR_DIR/layout/disktodo.conf
    REQUIRED_PROGS=()
    # shellcheck source=/dev/null
    source "$REAR_SHARE/lib/global-functions.sh"
    # shellcheck source=/dev/null
    source "$REAR_SHARE/lib/array-functions.sh"
    # shellcheck source=/dev/null
    source "$REAR_SHARE/lib/layout-functions.sh"
    # The plugin as `make install` put it (mdc_install_plugin in setup_file).
    test -n "${MDC_INSTALL_ROOT:-}" || fail "call mdc_install_plugin in setup_file"
    SHARE_DIR=$MDC_INSTALL_ROOT/usr/share/rear
    # The helper runs on the distribution's python3 (with its jinja2 and plumbum),
    # not on whatever python3 comes first in the developer's PATH (pyenv, a venv).
    MDCONTAINER_PYTHON=${MDC_TEST_PYTHON:-/usr/bin/python3}
    # shellcheck source=/dev/null
    source "$SHARE_DIR/lib/mdcontainer-defaults.sh"
}

# Source the plugin's functions the way ReaR does: lib/*.sh after layout-functions.sh.
mdc_source_plugin() {
    # shellcheck source=/dev/null
    source "$SHARE_DIR/lib/mdcontainer-functions.sh"
}

# A disklayout.conf as layout/save leaves it for a Debian root on an IMSM RAID1
# volume (md126 in the container md127 on sda and sdb), after our 290 hook.
mdc_write_imsm_raid1_layout() {
    cat >"${1:-$LAYOUT_FILE}" <<'EOF'
# Disk layout dated 20240101000000 (YYYYmmddHHMMSS)
# Disk /dev/sda
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sda 1073741824 gpt
# Disk /dev/sdb
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdb 1073741824 gpt
# Firmware RAID container /dev/md127 (imsm)
# Format: mdcontainer <container device> metadata=<imsm|ddf> devices=<disk1,disk2,...> [name=<container name>] [uuid=<UUID>]
mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb name=imsm0 uuid=0c2a4cf8:9b1f0d24:7b2a6e1c:3d5e8f10
# Firmware RAID volume /dev/md126 (member 0 of /dev/md127)
# Format: mdvolume <volume device> container=<container device> member=<index> level=<RAID level> raid-devices=<n> devices=<disk|missing,...> size=<KiB per disk> name=<metadata name> [array-size=<KiB>] [uuid=<UUID>] [chunk=<KiB>] [layout=<layout>] [offset=<sectors>]
mdvolume /dev/md126 container=/dev/md127 member=0 level=raid1 raid-devices=2 devices=/dev/sda,/dev/sdb size=1000448 name=Volume0 array-size=1000448 uuid=1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d
# Partitions on /dev/md126
# Format: part <device> <partition size(bytes)> <partition start(bytes)> <partition type|name> <flags> /dev/<partition>
part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1
part /dev/md126 1021313024 2097152 rear-noname none /dev/md126p2
# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]
fs /dev/md126p2 / ext4 uuid=4f1c8d2e-0b7a-4c1e-9d3f-2a6b8c0e1f47 label= blocksize=4096 reserved_blocks=5% max_mounts=-1 check_interval=0d bytes_per_inode=16384 default_mount_options=user_xattr,acl options=rw,relatime
EOF
}

# A fake sysfs tree for the hooks that look for md arrays with external
# metadata in "${MDCONTAINER_SYSFS:-/sys}"/block/mdX/md/metadata_version.
# mdc_fake_sysfs points MDCONTAINER_SYSFS at an empty tree below the test's
# temporary folder; mdc_fake_md <kernel name> <metadata_version> adds an array.
mdc_fake_sysfs() {
    MDCONTAINER_SYSFS=$BATS_TEST_TMPDIR/sys
    mkdir -p "$MDCONTAINER_SYSFS/block"
}

mdc_fake_md() {
    test -n "${MDCONTAINER_SYSFS:-}" || fail "call mdc_fake_sysfs first"
    mkdir -p "$MDCONTAINER_SYSFS/block/$1/md"
    echo "$2" >"$MDCONTAINER_SYSFS/block/$1/md/metadata_version"
}

# Replace mdcontainer_helper by a stub that appends its arguments (one call a
# line) to $HELPER_CALLS and answers from the shell function helper_answer
# (define it in the test; by default the stub prints nothing and succeeds).
# The real helper stays callable as mdcontainer_real_helper.
mdc_stub_helper() {
    HELPER_CALLS=$BATS_TEST_TMPDIR/helper.calls
    : >"$HELPER_CALLS"
    declare -F mdcontainer_real_helper >/dev/null || eval "mdcontainer_real_$(declare -f mdcontainer_helper | sed '1s/^mdcontainer_//')"
    function mdcontainer_helper() {
        echo "$*" >>"$HELPER_CALLS"
        if declare -F helper_answer >/dev/null; then
            helper_answer "$@"
        fi
    }
}
