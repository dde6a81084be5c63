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

# make_native NAME DISK...: a native md RAID1 (metadata 1.2) /dev/md/NAME on the disks.
make_native() {
    local name=$1
    shift
    mdadm --create "/dev/md/$name" --run --metadata=1.2 --level=1 --raid-devices=$# --assume-clean "$@" >&2
}

# save_layouts: 'rear savelayout' twice. First with the plugin switched off (MDCONTAINER_ENABLED=no:
# what upstream ReaR alone records); /var/lib/rear as it left it goes to the share as
# rear-upstream.tar (restore_recording puts it back in a VM without the plugin), its disklayout.conf
# as disklayout-upstream.conf, its log as rear-savelayout-upstream.log. Then, from a clean
# /var/lib/rear/{layout,recovery}, with the plugin (save_layout); then record_disk_names.
save_layouts() {
    rear_config MDCONTAINER_ENABLED=no
    step "rear savelayout with MDCONTAINER_ENABLED=no (upstream's recording)"
    rear_run savelayout
    mv "$VMTEST_SHARE/rear-savelayout.log" "$VMTEST_SHARE/rear-savelayout-upstream.log"
    cp /var/lib/rear/layout/disklayout.conf "$VMTEST_SHARE/disklayout-upstream.conf"
    tar -C /var/lib/rear -cf "$VMTEST_SHARE/rear-upstream.tar" .
    rm -rf /var/lib/rear/layout /var/lib/rear/recovery
    rear_config
    step "rear savelayout with the plugin"
    save_layout
    record_disk_names
}

# record_disk_names: "NAME /dev/sdX" of every attached vmlib disk into the share (disk-names.txt). The
# kernel names of the disks can differ from boot to boot (asynchronous probing, several controllers).
record_disk_names() {
    local name _serial _size
    while read -r name _serial _size; do
        echo "$name $(disk "$name")"
    done <"$VMTEST_SHARE/disks.txt" | tee "$VMTEST_SHARE/disk-names.txt"
}

# use_disk_mappings: where each recorded disk is now, from <share>/disk_mappings ("RECORDED-DEVICE
# DISK-NAME" lines from the host), as a user mapping file /root/mappings/disk_mappings when a disk of
# the layout has another kernel name in this boot (ReaR reads disk_mappings in its working directory:
# run rear from /root/mappings). Without it ReaR maps by name and size, and two disks of the same size
# whose names swapped between the boots are swapped in the recovery too.
use_disk_mappings() {
    local L=/var/lib/rear/layout/disklayout.conf orig name
    mkdir -p /root/mappings
    rm -f /root/mappings/disk_mappings
    [[ -e $VMTEST_SHARE/disk_mappings ]] || return 0
    while read -r orig name; do
        if grep -q "^disk $orig " $L; then echo "$orig $(disk "$name")"; fi
    done <"$VMTEST_SHARE/disk_mappings" >/root/mappings/candidates
    if awk '$1 != $2 {found = 1} END {exit !found}' /root/mappings/candidates; then
        cp /root/mappings/candidates /root/mappings/disk_mappings
        echo "disk names differ from the recording, mapping:"; cat /root/mappings/disk_mappings
    fi
}

# restore_recording: /var/lib/rear from <share>/rear-recording.tar, if the host put one there.
restore_recording() {
    [[ -e $VMTEST_SHARE/rear-recording.tar ]] || return 0
    rm -rf /var/lib/rear
    mkdir -p /var/lib/rear
    tar -C /var/lib/rear -xf "$VMTEST_SHARE/rear-recording.tar"
}

# array_facts: one line per md array (not containers) that carries a labelled file system, keyed by
# the label of its first partition, with what a recovery must reproduce, read from sysfs and blkid
# (not through the plugin, and independent of md numbers and layout entries), disks by vmlib name:
#   KEY level= raid-devices= size=<component KiB> chunk=<bytes> container=<imsm|ddf>:<member disks,
#   sorted>|native:<metadata version> members=<disks in slot order> fs=<label:uuid,...>
#   state=<array_state> data=old|new (old: the first file system has the scenarios' /data.txt)
# debugfs reads the file systems from the disks (after a sync).
array_facts() {
    local -A names=()
    local name _serial _size md n level meta c container members fs p label uuid first files data
    sync
    while read -r name _serial _size; do
        names[$(basename "$(disk "$name")")]=$name
    done <"$VMTEST_SHARE/disks.txt"
    _array_disks() {  # /sys/block/mdX/md: its member disks by name, in slot order (containers: sorted)
        local dev slot
        for dev in "$1"/dev-*; do
            [[ -e $dev ]] || continue
            slot=$(cat "$dev/slot" 2>/dev/null || echo none)
            [[ $slot =~ ^[0-9]+$ ]] || slot=999
            echo "$slot ${names[${dev##*/dev-}]:-${dev##*/dev-}}"
        done | sort -k1,1n -k2 | awk '{print $2}' | paste -sd, -
    }
    for md in $(md_devices); do
        n=${md##*/}
        level=$(cat "/sys/block/$n/md/level" 2>/dev/null) || continue
        [[ -n $level && $level != container ]] || continue
        meta=$(cat "/sys/block/$n/md/metadata_version")
        if [[ $meta == external:* ]]; then
            c=${meta#external:}
            c=${c#[/-]}
            c=${c%%/*}
            container="$(sed 's/^external://' "/sys/block/$c/md/metadata_version"):$(_array_disks "/sys/block/$c/md")"
        else
            container="native:$meta"
        fi
        members=$(_array_disks "/sys/block/$n/md")
        fs="" first=""
        for p in "/sys/block/$n/${n}p"*; do
            [[ -e $p ]] || continue
            p=${p##*/}
            label=$(blkid -o value -s LABEL "/dev/$p" || true)
            uuid=$(blkid -o value -s UUID "/dev/$p" || true)
            [[ -n $label ]] || continue
            fs+="${fs:+,}$label:$uuid"
            [[ -n $first ]] || first=$p
        done
        [[ -n $first ]] || continue
        files=$(debugfs -R 'ls -p /' "/dev/$first" 2>/dev/null | awk -F/ 'NF > 5 {print $6}' \
                | grep -x data.txt || true)
        data=new
        [[ -z $files ]] || data=old
        echo "${fs%%:*} level=$level raid-devices=$(cat "/sys/block/$n/md/raid_disks")" \
             "size=$(cat "/sys/block/$n/md/component_size") chunk=$(cat "/sys/block/$n/md/chunk_size")" \
             "container=$container members=$members fs=$fs state=$(cat "/sys/block/$n/md/array_state") data=$data"
    done
}
