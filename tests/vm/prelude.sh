# Sourced by every VM scenario (vmlib.VM.run, prelude=True) before the scenario
# script, as /mnt/host/prelude.sh. Strict mode, plus helpers. VMTEST_XTRACE=1
# (pass env={"VMTEST_XTRACE": "1"}) traces the scenario.
# shellcheck shell=bash
set -euo pipefail
if [[ ${VMTEST_XTRACE:-0} == 1 ]]; then
    export PS4='+ ${BASH_SOURCE##*/}:${LINENO}: '
    set -x
fi
export IMSM_NO_PLATFORM=${IMSM_NO_PLATFORM-1}
VMTEST_SHARE=/mnt/host

step() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# disk NAME: the guest device (/dev/sdX) of the vmlib disk NAME (by its serial).
disk() {
    local name serial _size
    while read -r name serial _size; do
        if [[ $name == "$1" ]]; then
            readlink -f "/dev/disk/by-id/ata-QEMU_HARDDISK_$serial"
            return 0
        fi
    done <"$VMTEST_SHARE/disks.txt"
    die "no disk named $1"
}

# all_disks: the guest devices of all attached vmlib disks, in list order.
all_disks() {
    local name _serial _size
    while read -r name _serial _size; do disk "$name"; done <"$VMTEST_SHARE/disks.txt"
}

# save SRC [DEST]: copy a file into the share (default: same base name).
save() { cp -a "$1" "$VMTEST_SHARE/${2:-$(basename "$1")}"; }

assert_eq() {
    [[ $1 == "$2" ]] || die "${3:-values differ}: expected '$2', got '$1'"
}

# settle: let udev finish (md assembly runs from udev rules).
settle() { udevadm settle --timeout="${1:-60}"; }

# md_devices: all md block devices (not partitions), sorted.
md_devices() {
    local d
    for d in /sys/block/md*; do
        [[ -e $d ]] && echo "/dev/${d##*/}"
    done | sort -V
}

# md_is_volume /dev/mdX: true for a subarray of a container (metadata external:/mdY/N).
md_is_volume() {
    local meta
    meta=$(cat "/sys/block/${1##*/}/md/metadata_version" 2>/dev/null) || return 1
    [[ $meta == external:/* || $meta == external:-* ]]
}

# md_stop_all: stop volumes first, then containers and the rest.
md_stop_all() {
    local md
    for md in $(md_devices); do
        md_is_volume "$md" && mdadm --stop "$md"
    done
    for md in $(md_devices); do
        mdadm --stop "$md"
    done
    settle
}

# md_assembly off|on: keep udev from assembling md arrays (a /run/udev/rules.d
# file of the same name overrides the packaged rule), or allow it again.
md_assembly() {
    mkdir -p /run/udev/rules.d
    case $1 in
        off) echo '# vmtest: md auto-assembly off' >/run/udev/rules.d/64-md-raid-assembly.rules ;;
        on) rm -f /run/udev/rules.d/64-md-raid-assembly.rules ;;
        *) die "md_assembly off|on" ;;
    esac
    udevadm control --reload
}

# md_wipe DISK...: stop everything, zero md superblocks and all signatures.
md_wipe() {
    md_assembly off
    md_stop_all
    local d
    for d in "$@"; do
        mdadm --zero-superblock "$d" 2>/dev/null || true
        wipefs -a -q "$d"
    done
    settle
    md_assembly on
}

# retrigger DISK...: replay "add" uevents (what a boot or hotplug does) and settle.
retrigger() {
    udevadm trigger --action=add --settle "$@"
    settle
}

# wait_for PATH [SECONDS]: until a device node or file exists.
wait_for() {
    local i
    for ((i = 0; i < ${2:-60} * 10; i++)); do
        [[ -e $1 ]] && return 0
        sleep 0.1
    done
    die "timed out waiting for $1"
}

# md_resolve NAME: /dev/mdX of /dev/md/NAME.
md_resolve() { readlink -f "/dev/md/$1"; }
