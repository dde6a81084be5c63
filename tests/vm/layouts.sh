# Guest-side helpers to build firmware RAID layouts and to run ReaR, for the
# recording and recovery scenarios (tests/vm/test_record.py, test_recover.py).
# Sourced after prelude.sh; each writes what the host asserts on into /mnt/host.
# shellcheck shell=bash

# imsm_container NAME METADATA DISK...: create a container /dev/md/NAME.
make_container() {
    local name=$1 metadata=$2
    shift 2
    mdadm --create "/dev/md/$name" --run --metadata="$metadata" --raid-devices=$# "$@" >&2
}

# make_volume NAME LEVEL SIZE_KIB(or "max") CHUNK_KIB(or "-") DISK...: a volume in the disks' container.
make_volume() {
    local name=$1 level=$2 size=$3 chunk=$4
    shift 4
    local args=(--run --level="$level" --raid-devices=$# --assume-clean)
    [[ $size != max ]] && args+=(--size="$size")
    [[ $chunk != - ]] && args+=(--chunk="$chunk")
    mdadm --create "/dev/md/$name" "${args[@]}" "$@" >&2
}

# md_of NAME: the kernel device of /dev/md/NAME, whatever suffix udev gave the link (Volume0_0).
md_of() {
    local link
    for link in "/dev/md/$1" "/dev/md/${1}_0"; do
        [[ -e $link ]] && { readlink -f "$link"; return 0; }
    done
    die "no /dev/md/$1"
}

# with_fs NAME MOUNTPOINT LABEL: GPT with one partition and ext4 on volume NAME, mounted
# (ReaR auto-excludes disks without mounted file systems, and file systems mounted
# below /mnt, /media or /tmp: AUTOEXCLUDE_PATH), with a data file.
with_fs() {
    local dev
    dev=$(md_of "$1")
    parted -s "$dev" mklabel gpt mkpart "$3" ext4 1MiB 100%
    settle
    wait_for "${dev}p1"
    mkfs.ext4 -q -F -L "$3" "${dev}p1"
    mkdir -p "$2"
    mount "${dev}p1" "$2"
    echo "data of $1" >"$2/data.txt"
}

# record_arrays: "name device uuid metadata_version component_size offset slots" of every md array
# into /mnt/host/arrays.txt (slots: the members in slot order), so that the host can build the
# entries it expects from what mdadm made.
record_arrays() {
    local md name uuid version size offset slots dev slot
    : >"$VMTEST_SHARE/arrays.txt"
    for md in $(md_devices); do
        name=$(mdadm --detail --export "$md" | sed -n 's/^MD_DEVNAME=//p')
        uuid=$(mdadm --detail --export "$md" | sed -n 's/^MD_UUID=//p')
        version=$(cat "/sys/block/${md##*/}/md/metadata_version")
        size=$(cat "/sys/block/${md##*/}/md/component_size" 2>/dev/null || echo 0)
        offset=$(cat /sys/block/"${md##*/}"/md/dev-*/offset 2>/dev/null | sort -n | head -n 1)
        slots=$(for dev in /sys/block/"${md##*/}"/md/dev-*; do
                    slot=$(cat "$dev/slot"); [[ $slot =~ ^[0-9]+$ ]] || slot=99
                    echo "$slot /dev/${dev##*/dev-}"
                done | sort -n | awk '$1 != 99 {print $2}' | paste -sd, -)
        echo "${name:--} $md ${uuid:--} $version ${size:-0} ${offset:--} ${slots:--}" >>"$VMTEST_SHARE/arrays.txt"
    done
    cat "$VMTEST_SHARE/arrays.txt"
}

# rear_config [EXTRA LINE...]: /etc/rear/local.conf for the scenarios. Unattended: the
# default answers, except that a failing diskrestore.sh aborts instead of being rerun forever.
rear_config() {
    mkdir -p /etc/rear
    {
        echo 'OUTPUT=ISO'
        echo 'BACKUP=REQUESTRESTORE'
        echo "USER_INPUT_LAYOUT_CODE_RUN=\"Abort 'rear layoutonly'\""
        echo 'USER_INPUT_TIMEOUT=3'
        printf '%s\n' "$@"
    } >/etc/rear/local.conf
}

# rear_run WORKFLOW...: run rear, keep its log in the share, return its exit status.
rear_run() {
    local rc=0
    rear -v "$@" || rc=$?
    cp /var/log/rear/rear-*.log "$VMTEST_SHARE/rear-$1.log" 2>/dev/null || true
    return $rc
}

# save_layout: rear savelayout, and disklayout.conf + diskdeps.conf into the share.
save_layout() {
    rear_run savelayout
    cp /var/lib/rear/layout/disklayout.conf /var/lib/rear/layout/diskdeps.conf \
        /var/lib/rear/layout/disktodo.conf "$VMTEST_SHARE/"
}

# as_rescue_system: make this VM pass for a ReaR rescue system and put the recorded
# layout's root on our volume: 'rear layoutonly' refuses to run elsewhere and wants
# a file system on '/' to mount on /mnt/local. The VM's own root disk is excluded.
as_rescue_system() {
    local root_fs_dev=$1 layout=/var/lib/rear/layout/disklayout.conf
    touch /etc/rear-release
    sed -i -e 's|^disk /dev/vda |#disk /dev/vda |' -e 's|^fs /dev/vda / |#fs /dev/vda / |' "$layout"
    sed -i -E "s|^fs $root_fs_dev [^ ]+ |fs $root_fs_dev / |" "$layout"
}
