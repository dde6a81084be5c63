# Guest-side helpers of `make bench` (tests/bench/bench.py), sourced after prelude.sh and
# tests/vm/layouts.sh. Every measurement appends one line to /mnt/host/timings.txt:
#   TAG key=value...     (rc, wall seconds, forks = processes started, and what the check found)
# and keeps ReaR's log as /mnt/host/rear-TAG.log; the host computes medians and ratios.
# shellcheck shell=bash

BENCH_TIMINGS=$VMTEST_SHARE/timings.txt
# The guest's clock, for the host to map these times onto its samples of the QEMU process's CPU time:
echo "$EPOCHREALTIME" >"$VMTEST_SHARE/clock.txt"

# plugin_off: remove every file `make install` put into / (the share's install/ tree, which
# vmtest.service copied at boot) and the Python caches: ReaR as Debian ships it, as if the plugin
# had never been installed. systemd's manager environment goes back to how it was at boot
# (our generated code exports IMSM_NO_PLATFORM=1 there for mdmon@).
plugin_off() {
    local f
    [[ -d $VMTEST_SHARE/install ]] || die "plugin_off: no install tree in the share (VM with plugin=True needed)"
    while IFS= read -r -d '' f; do
        rm -f "/${f#./}"
    done < <(cd "$VMTEST_SHARE/install" && find . -type f -print0)
    rm -rf /usr/share/rear/mdcontainer
    if find /usr/share/rear /usr/lib/python3/dist-packages -name '*mdcontainer*' | grep -q .; then
        die "plugin_off: files of the plugin are left: $(find /usr/share/rear -name '*mdcontainer*')"
    fi
    systemctl unset-environment IMSM_NO_PLATFORM 2>/dev/null || true
}

# plugin_on: install the plugin again (what vmtest.service does at boot).
plugin_on() {
    cp -a "$VMTEST_SHARE/install/." /
    systemctl unset-environment IMSM_NO_PLATFORM 2>/dev/null || true
}

# plugin_state none|disabled|plugin [EXTRA local.conf LINE...]: the plugin absent, installed with
# MDCONTAINER_ENABLED=no, or installed and on; writes local.conf (rear_config) accordingly.
plugin_state() {
    local state=$1
    shift
    case $state in
        none) plugin_off; rear_config "$@" ;;
        disabled) plugin_on; rear_config MDCONTAINER_ENABLED=no "$@" ;;
        plugin) plugin_on; rear_config "$@" ;;
        *) die "plugin_state none|disabled|plugin" ;;
    esac
}

# forks_now: processes (and threads) started since boot (/proc/stat).
forks_now() { awk '$1 == "processes" {print $2}' /proc/stat; }

# bench_rear TAG WORKFLOW [ARG...]: run 'rear -v WORKFLOW', time it from the outside ($EPOCHREALTIME:
# no process of its own), count the processes it started, keep its log; one line into timings.txt
# (more key=value pairs can follow with bench_note, bench_end ends it). Returns 0: the host judges rc=.
bench_rear() {
    local tag=$1 t0 t1 p0 p1 rc=0
    shift
    rm -f /var/log/rear/rear-*.log
    p0=$(forks_now)
    t0=$EPOCHREALTIME
    rear -v "$@" >"$VMTEST_SHARE/rear-$tag.out" 2>&1 </dev/null || rc=$?
    t1=$EPOCHREALTIME
    p1=$(forks_now)
    cat /var/log/rear/rear-*.log >"$VMTEST_SHARE/rear-$tag.log" 2>/dev/null || true
    printf '%s rc=%s start=%s end=%s forks=%s' "$tag" "$rc" "$t0" "$t1" "$((p1 - p0))" >>"$BENCH_TIMINGS"
    echo "$tag: rc $rc, $(bc <<<"$t1 - $t0") s, $((p1 - p0)) processes"
    if ((rc != 0)); then
        tail -n 15 "$VMTEST_SHARE/rear-$tag.out"
    fi
    return 0
}

# bench_cmd TAG COMMAND...: like bench_rear for any command (its output into TAG.out).
bench_cmd() {
    local tag=$1 t0 t1 p0 p1 rc=0
    shift
    p0=$(forks_now)
    t0=$EPOCHREALTIME
    "$@" >"$VMTEST_SHARE/$tag.out" 2>&1 </dev/null || rc=$?
    t1=$EPOCHREALTIME
    p1=$(forks_now)
    printf '%s rc=%s start=%s end=%s forks=%s' "$tag" "$rc" "$t0" "$t1" "$((p1 - p0))" >>"$BENCH_TIMINGS"
    return 0
}

# bench_note KEY=VALUE...: more facts on the line bench_rear started; bench_end ends it.
bench_note() { printf ' %s' "$@" >>"$BENCH_TIMINGS"; }
bench_end() { echo >>"$BENCH_TIMINGS"; }

# rotation ROUND WORD...: the words rotated by ROUND places (round 1 starts with the first),
# so that every variant runs first, second, ... equally often.
rotation() {
    local round=$1 i n
    shift
    n=$#
    local words=("$@")
    for ((i = 0; i < n; i++)); do
        echo "${words[((i + round - 1) % n)]}"
    done
}

# layout_entries: how many mdcontainer/mdvolume/raidarray lines the recorded layout has, as key=value.
layout_entries() {
    local l=/var/lib/rear/layout/disklayout.conf
    echo "mdcontainer=$(grep -c '^mdcontainer ' $l || true) mdvolume=$(grep -c '^mdvolume ' $l || true)" \
         "raidarray=$(grep -c '^raidarray ' $l || true)"
}

# only_devices REGEX: comment out every active entry of the recorded layout whose device (field 2)
# is neither a device REGEX matches (an ERE for the whole name) nor a partition of one, except the
# VM's root disk (as_rescue_system comments that out): the recovery then recreates only that set.
only_devices() {
    local l=/var/lib/rear/layout/disklayout.conf
    awk -v keep="^($1)(p?[0-9]+)?\$" '/^#/ || NF < 2 || $2 ~ keep || $2 ~ /^\/dev\/vda/ {print; next} {print "#" $0}' \
        "$l" >"$l.new"
    mv "$l.new" "$l"
}

# array_check LABEL LEVEL SIZE_KIB METADATA: the array holding the file system LABEL (its first
# partition) after a recovery, as key=value: check=ok when level, component size and metadata are
# the recorded ones and it is writable, else check=<what differs>. METADATA as sysfs says it
# (external:imsm, 1.2); for a volume its container's.
array_check() {
    local label=$1 level=$2 size=$3 meta=$4 part md n c got_meta state
    # (the raw members of an IMSM RAID1 show the same file system: the md partition is the one)
    part=$(blkid -c /dev/null -o device -t LABEL="$label" 2>/dev/null | grep -m 1 '^/dev/md' || true)
    if [[ -z $part ]]; then
        echo "check=no-fs-$label"
        return 0
    fi
    md=${part%p[0-9]*}
    n=${md##*/}
    [[ -e /sys/block/$n/md/level ]] || { echo "check=not-md:$part"; return 0; }
    got_meta=$(cat "/sys/block/$n/md/metadata_version")
    if [[ $got_meta == external:/* || $got_meta == external:-* ]]; then  # a volume: its container's metadata
        c=${got_meta#external:}
        c=${c#[/-]}
        got_meta=$(cat "/sys/block/${c%%/*}/md/metadata_version")
    fi
    state=$(cat "/sys/block/$n/md/array_state")
    if [[ $(cat "/sys/block/$n/md/level") != "$level" ]]; then
        echo "check=level:$(cat "/sys/block/$n/md/level")"
    elif [[ $(cat "/sys/block/$n/md/component_size") != "$size" ]]; then
        echo "check=size:$(cat "/sys/block/$n/md/component_size")"
    elif [[ $got_meta != "$meta" ]]; then
        echo "check=metadata:$got_meta"
    elif [[ ! $state =~ ^(clean|active|active-idle)$ ]]; then
        echo "check=state:$state"
    else
        echo "check=ok"
    fi
}

# two_filesystems VOLUME PREFIX: GPT with two partitions on /dev/md/VOLUME (128 MiB and the rest), ext4
# labelled PREFIXroot and PREFIXdata on them, mounted below /srv/bench, with a data file.
two_filesystems() {
    local dev part label
    dev=$(md_of "$1")
    parted -s "$dev" mklabel gpt mkpart "${2}root" ext4 1MiB 128MiB mkpart "${2}data" ext4 128MiB 100%
    settle
    for part in 1 2; do
        wait_for "${dev}p$part"
        label=${2}root
        [[ $part == 2 ]] && label=${2}data
        mkfs.ext4 -q -F -L "$label" "${dev}p$part"
        mkdir -p "/srv/bench/$label"
        mount "${dev}p$part" "/srv/bench/$label"
        echo "data of $label" >"/srv/bench/$label/data.txt"
    done
}

# blank_disks DISK...: what a recovery onto new disks starts from: no file system signature in any
# partition on or inside them, no md array, no md superblock, no partition table (/mnt/local unmounted).
blank_disks() {
    local dev type
    umount -R /mnt/local 2>/dev/null || true
    while read -r dev type; do
        if [[ $type == part ]]; then
            wipefs -a -q "$dev" || true
        fi
    done < <(lsblk -lnpo NAME,TYPE "$@" | sort -u)
    md_wipe "$@"
}

# rescue_sizes VARIANT: after 'rear mkrescue' with KEEP_BUILD_DIR=yes and TMPDIR / ISO_DIR on
# /mnt/scratch: the initrd's size compressed and uncompressed, the ISO's, the rescue tree's (du -sb:
# bytes; du -sk: disk usage) and its number of entries, as key=value on the timings line; the
# tree's files and links with their sizes into files-VARIANT.txt; then the build area is removed.
rescue_sizes() {
    local build initrd iso
    build=$(find /mnt/scratch/tmp -mindepth 1 -maxdepth 1 -name 'rear.*' -type d | head -n 1)
    initrd=$(find "${build:-/nonexistent}/tmp" -maxdepth 1 -name 'initrd.*' 2>/dev/null | head -n 1)
    iso=$(find /mnt/scratch/output -name '*.iso' | head -n 1)
    if [[ -z $build || -z $initrd || -z $iso ]]; then
        bench_note "check=no-output:build=${build:-none},initrd=${initrd:-none},iso=${iso:-none}"
        return 0
    fi
    bench_note "initrd=$(stat -c %s "$initrd")" "initrd_raw=$(gzip -dc "$initrd" | wc -c)" \
        "iso=$(stat -c %s "$iso")" "rootfs=$(du -sb "$build/rootfs" | cut -f1)" \
        "rootfs_kib=$(du -sk "$build/rootfs" | cut -f1)" "entries=$(find "$build/rootfs" | wc -l)"
    find "$build/rootfs" -xdev \( -type f -o -type l \) -printf '%s %y %P\n' | LC_ALL=C sort -k3 \
        >"$VMTEST_SHARE/files-$1.txt"
    rm -rf "$build" /mnt/scratch/output/*
}
