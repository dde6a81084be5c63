#!/usr/bin/env bats
# usr/share/rear/layout/prepare/GNU/Linux/125_include_mdcontainer_code.sh, sourced
# after ReaR 2.7's real layout/prepare/GNU/Linux/100_include_partition_code.sh
# (create_disk, create_partitions): the code it puts into diskrestore.sh for
# member disks, other disks, containers and volumes. The real helper renders.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    write_layout
    LAYOUT_CODE=$BATS_TEST_TMPDIR/diskrestore.sh
    echo "# code before ours" >"$LAYOUT_CODE"
    # shellcheck source=/dev/null
    source "$REAR_SHARE/layout/prepare/GNU/Linux/100_include_partition_code.sh"
    HOOK=$SHARE_DIR/layout/prepare/GNU/Linux/125_include_mdcontainer_code.sh
}

# The layout 'rear recover' reads: sda and sdb are the members of the IMSM
# container md127 with the RAID1 volume md126 (GPT, two partitions); sdc is an
# ordinary disk with an MBR partition.
write_layout() {
    cat >"$LAYOUT_FILE" <<'EOF'
disk /dev/sda 1073741824 gpt
disk /dev/sdb 1073741824 gpt
disk /dev/sdc 2147483648 msdos
part /dev/sdc 1072693248 1048576 primary boot /dev/sdc1
mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb name=imsm0 uuid=0c2a4cf8:9b1f0d24:7b2a6e1c:3d5e8f10
mdvolume /dev/md126 container=/dev/md127 member=0 level=raid1 raid-devices=2 devices=/dev/sda,/dev/sdb size=1000448 name=Volume0 array-size=1000448 uuid=1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d
raiddisk /dev/md126 1024458752 gpt
part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1
part /dev/md126 1021313024 2097152 rear-noname none /dev/md126p2
fs /dev/md126p2 / ext4 uuid=4f1c8d2e-0b7a-4c1e-9d3f-2a6b8c0e1f47 label= blocksize=4096
EOF
}

# Call ReaR code the way ReaR does, without errexit (upstream's functions
# return non-zero from commands like 'let end=0'); a failure of the call itself
# still fails the test, and Error still ends it.
rear_call() {
    "$@" || fail "'$*' returned $?"
}

# ReaR 2.6's create_disk looks at the disk itself while it writes the code (a
# block device, its size in /sys); 2.7 and later write that check into the code.
# There are no such disks here, so upstream's create_disk of a disk that is no
# member can only be compared from 2.7 on.
skip_if_create_disk_needs_the_disk() {
    if declare -f create_disk mdcontainer_upstream_create_disk 2>/dev/null | grep -qF 'BugIfError "Disk $disk is not a block device."'; then
        skip "this ReaR's create_disk needs $1 to be a real disk"
    fi
}

# What the hook appended to LAYOUT_CODE (without the line that was there before).
appended() {
    tail -n +2 "$LAYOUT_CODE"
}

@test "create_disk of a member disk writes only a comment and the block device check" {
    source "$HOOK"
    rear_call create_disk /dev/sda
    run appended
    assert_output "# Disk '/dev/sda' is a member of a firmware RAID container: its container's code prepares it (rear-mdcontainer).
[ -b \"/dev/sda\" ] || Error \"Disk /dev/sda is not a block device.\""
    refute_output --partial 'dd '
    refute_output --partial 'mdadm --stop'
    refute_output --partial 'parted'
    refute_output --partial 'create_disk_label'
}

@test "create_disk of a disk that is no member writes exactly upstream's code (MBR zeroed, partitions)" {
    skip_if_create_disk_needs_the_disk /dev/sdc
    # upstream alone, before the hook wraps create_disk:
    rear_call create_disk /dev/sdc
    appended >"$BATS_TEST_TMPDIR/upstream.code"
    echo "# code before ours" >"$LAYOUT_CODE"
    source "$HOOK"
    rear_call create_disk /dev/sdc
    run appended
    assert_output "$(cat "$BATS_TEST_TMPDIR/upstream.code")"
    assert_line 'dd if=/dev/zero of=/dev/sdc bs=512 count=1'
    assert_line --partial 'mdadm --stop -s'
    assert_line 'create_disk_label /dev/sdc msdos'
    assert_line 'create_disk_partition "/dev/sdc" "primary" 1 1048576 1073741823'
}

@test "member disks are those of the layout after the disk mapping (320_apply_mappings runs after this hook)" {
    source "$HOOK"
    # layout/prepare/default/300 and 320 come later: sda and sdc swap places.
    MIGRATION_MODE=true
    MAPPING_FILE=$VAR_DIR/layout/disk_mappings
    printf '%s\n' '/dev/sda /dev/sdc' '/dev/sdc /dev/sda' >"$MAPPING_FILE"
    apply_layout_mappings "$LAYOUT_FILE" || fail "apply_layout_mappings failed"
    run grep '^mdcontainer ' "$LAYOUT_FILE"
    assert_output --partial 'devices=/dev/sdc,/dev/sdb'
    # the new member sdc is left to the container's code ...
    rear_call create_disk /dev/sdc
    run appended
    assert_output --partial "# Disk '/dev/sdc' is a member of a firmware RAID container"
    refute_output --partial 'dd if=/dev/zero'
    # ... and the disk that is no member any more gets its MBR partition
    skip_if_create_disk_needs_the_disk /dev/sda
    echo "# code before ours" >"$LAYOUT_CODE"
    rear_call create_disk /dev/sda
    run appended
    refute_output --partial 'is a member of a firmware RAID container'
    assert_line 'dd if=/dev/zero of=/dev/sda bs=512 count=1'
    assert_line 'create_disk_partition "/dev/sda" "primary" 1 1048576 1073741823'
}

@test "create_mdcontainer appends the rendered container code, and it is valid shell" {
    source "$HOOK"
    MDCONTAINER_IMSM_NO_PLATFORM=yes
    MDCONTAINER_WAIT_SECONDS=17
    rear_call create_mdcontainer /dev/md127
    run head -n 1 "$LAYOUT_CODE"
    assert_output "# code before ours"
    run appended
    assert_line 'export IMSM_NO_PLATFORM=1'
    # the generated code expands LAYOUT_FILE and TARGET_FS_ROOT when it runs:
    # shellcheck disable=SC2016
    assert_line 'mdcontainer_helper prepare-container --layout-file "$LAYOUT_FILE" --container /dev/md127 --target-root "$TARGET_FS_ROOT" --imsm-no-platform yes --grow-last-volume no'
    assert_line 'mdadm --create /dev/md127 --run --metadata=imsm --raid-devices=2 /dev/sda /dev/sdb >&2'
    assert_line 'mdadm --create /dev/md126 --run --level=raid1 --raid-devices=2 --size=1000448 --name=Volume0 /dev/sda /dev/sdb >&2'
    assert_line 'mdcontainer_helper wait-writable --container /dev/md127 --timeout 17 /dev/md126'
    run bash -n "$LAYOUT_CODE"
    assert_success
}

@test "create_mdcontainer passes MDCONTAINER_IMSM_NO_PLATFORM=no and MDCONTAINER_GROW_LAST_VOLUME=yes to the helper" {
    source "$HOOK"
    MDCONTAINER_IMSM_NO_PLATFORM=no
    MDCONTAINER_GROW_LAST_VOLUME=yes
    mdc_stub_helper
    function helper_answer() { mdcontainer_real_helper "$@"; }
    rear_call create_mdcontainer /dev/md127
    run cat "$HELPER_CALLS"
    assert_output "render container --layout-file $LAYOUT_FILE --device /dev/md127 --wait-seconds 60 --imsm-no-platform no --original-imsm-no-platform unknown --grow-last-volume yes --reuse no"
    run appended
    refute_line --partial 'IMSM_NO_PLATFORM=1'
    assert_line --partial '--imsm-no-platform no --grow-last-volume yes'
}

@test "MDCONTAINER_REUSE=yes: the code decides when it runs whether the existing container is kept" {
    source "$HOOK"
    MDCONTAINER_REUSE=yes
    rear_call create_mdcontainer /dev/md127
    run appended
    # shellcheck disable=SC2016
    assert_line 'mdcontainer_reuse="$( mdcontainer_helper reuse-check --layout-file "$LAYOUT_FILE" --container /dev/md127 --kept-file "$VAR_DIR/layout/mdcontainer-kept" --target-root "$TARGET_FS_ROOT" )"'
    assert_line 'if test "${mdcontainer_reuse%% *}" = reuse ; then'
    # the teardown and the creation only on the other branch, waiting for the volumes on both:
    run sed -n '/^if test "${mdcontainer_reuse%% \*}" = reuse ; then$/,/^fi$/p' "$LAYOUT_CODE"
    assert_line '    mdcontainer_helper assembly block'
    assert_line 'else'
    assert_line --partial 'mdcontainer_helper prepare-container '
    assert_line 'mdadm --create /dev/md126 --run --level=raid1 --raid-devices=2 --size=1000448 --name=Volume0 /dev/sda /dev/sdb >&2'
    refute_line --partial 'wait-writable'
    run grep -c 'wait-writable' "$LAYOUT_CODE"
    assert_output 1
    run bash -n "$LAYOUT_CODE"
    assert_success
}

@test "without MDCONTAINER_REUSE nothing is kept: no reuse-check in the code" {
    source "$HOOK"
    rear_call create_mdcontainer /dev/md127
    run appended
    refute_line --partial 'reuse-check'
}

@test "create_mdcontainer with 'auto' follows the original system recorded in rescue.conf" {
    source "$HOOK"
    MDCONTAINER_IMSM_NO_PLATFORM=auto
    MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=yes
    unset IMSM_NO_PLATFORM
    rear_call create_mdcontainer /dev/md127
    run appended
    assert_line 'export IMSM_NO_PLATFORM=1'
    assert_line --partial '--imsm-no-platform yes '
}

@test "create_mdvolume appends the volume code and the volume's partitions from the recorded starts and sizes" {
    source "$HOOK"
    rear_call create_mdvolume /dev/md126
    run appended
    assert_line 'mdcontainer_helper wait-writable --container /dev/md127 --member 0 --timeout 60 /dev/md126'
    assert_line 'wipefs --all --force /dev/md126 >&2'
    assert_line 'create_disk_label /dev/md126 gpt'
    # start and end (start + size - 1) in bytes, as recorded:
    assert_line 'create_disk_partition "/dev/md126" "md126p1" 1 1048576 2097151'
    assert_line 'create_disk_partition "/dev/md126" "md126p2" 2 2097152 1023410175'
    assert_line 'parted -s /dev/md126 set 1 bios_grub on >&2'
    assert_line 'delete_dummy_partitions_and_resize_real_ones'
    refute_output --partial 'mdadm --create'
    # wait, then wipe, then partition:
    run bash -c "grep -n -e '^mdcontainer_helper wait-writable' -e '^wipefs' -e '^create_disk_label' '$LAYOUT_CODE' | cut -d: -f2 | cut -d' ' -f1"
    assert_output "$(printf '%s\n' mdcontainer_helper wipefs create_disk_label)"
    run bash -n "$LAYOUT_CODE"
    assert_success
}

@test "create_mdvolume takes the partition table type from the volume's raiddisk line" {
    sed -i -e 's/^raiddisk \/dev\/md126 1024458752 gpt$/raiddisk \/dev\/md126 1024458752 msdos/' \
        -e '/^part \/dev\/md126 /s/ rear-noname / primary /' "$LAYOUT_FILE"
    source "$HOOK"
    rear_call create_mdvolume /dev/md126
    run appended
    assert_line 'create_disk_label /dev/md126 msdos'
    assert_line 'create_disk_partition "/dev/md126" "primary" 2 2097152 1023410175'
}

@test "a ReaR 2.6 recording (no raiddisk line): the partition table type follows the part lines, as 2.6 decides it" {
    sed -i '/^raiddisk \/dev\/md126 /d' "$LAYOUT_FILE"
    source "$HOOK"
    rear_call create_mdvolume /dev/md126
    run appended
    assert_line 'create_disk_label /dev/md126 gpt'
    assert_line 'create_disk_partition "/dev/md126" "md126p2" 2 2097152 1023410175'
    echo "# code before ours" >"$LAYOUT_CODE"
    sed -i '/^part \/dev\/md126 /s/ rear-noname / primary /' "$LAYOUT_FILE"
    rear_call create_mdvolume /dev/md126
    run appended
    assert_line 'create_disk_label /dev/md126 msdos'
}

@test "while the volume's partitions are generated the volume has no sysfs name (no shrinking to an old array's size)" {
    source "$HOOK"
    # An old array that udev assembled as /dev/md126 in the rescue system:
    # upstream's get_sysfs_name finds it (create_partitions would then shrink
    # the partitions to its size). Seen from inside create_partitions:
    function mdcontainer_upstream_get_sysfs_name() { echo "${1#/dev/}"; }
    function create_partitions() {
        echo "$1: '$(get_sysfs_name "$1")' sdc: '$(get_sysfs_name /dev/sdc)'" >>"$BATS_TEST_TMPDIR/seen"
    }
    rear_call create_mdvolume /dev/md126
    run cat "$BATS_TEST_TMPDIR/seen"
    assert_output "/dev/md126: '' sdc: 'sdc'"
    # afterwards the device is visible again
    assert_equal "$MDCONTAINER_HIDE_SYSFS_DEVICE" ""
    run get_sysfs_name /dev/md126
    assert_output md126
}

@test "a native array of the layout has no sysfs name while upstream generates its code (old container there)" {
    # The native RAID1 /dev/md125 beside the container; in the rescue system udev
    # gave that number to an old container on our dirty disks (size 0), and
    # create_partitions would have computed negative partition ends from it.
    echo "raidarray /dev/md125 level=raid1 raid-devices=2 devices=/dev/sdc,/dev/sdd metadata=1.2" >>"$LAYOUT_FILE"
    # Upstream's function as ReaR 2.7's 120_include_raid_code.sh has it (name and calls):
    function create_raidarray() {
        echo "mdadm --create $1" >>"$LAYOUT_CODE"
        create_partitions "$1"
        return 3
    }
    source "$HOOK"
    function mdcontainer_upstream_get_sysfs_name() { echo "${1#/dev/}"; }
    function create_partitions() {
        echo "$1: '$(get_sysfs_name "$1")' sdc: '$(get_sysfs_name /dev/sdc)'" >>"$BATS_TEST_TMPDIR/seen"
    }
    run create_raidarray /dev/md125
    assert_failure 3
    create_raidarray /dev/md125 || true
    run cat "$BATS_TEST_TMPDIR/seen"
    assert_line --index 0 "/dev/md125: '' sdc: 'sdc'"
    assert_equal "$MDCONTAINER_HIDE_SYSFS_DEVICE" ""
    run get_sysfs_name /dev/md125
    assert_output md125
    run appended
    assert_line 'mdadm --create /dev/md125'
    # sourced again: wrapped once
    source "$HOOK"
    run declare -f mdcontainer_upstream_create_raidarray
    refute_output --partial 'MDCONTAINER_HIDE_SYSFS_DEVICE'
}

@test "without mdcontainer entries upstream's create_raidarray stays as it is" {
    sed -i -E '/^(mdcontainer|mdvolume|raiddisk) |^part \/dev\/md126 /d' "$LAYOUT_FILE"
    function create_raidarray() { create_partitions "$1"; }
    source "$HOOK"
    run declare -F mdcontainer_upstream_create_raidarray
    assert_failure
}

@test "get_sysfs_name is empty for the hidden device only, else upstream's answer" {
    source "$HOOK"
    local names=(/sys/block/*) name
    name=${names[0]##*/}
    test -e "/sys/block/$name" || skip "no block device in /sys/block"
    run get_sysfs_name "/dev/$name"
    assert_output "$name"
    MDCONTAINER_HIDE_SYSFS_DEVICE=/dev/$name
    run get_sysfs_name "/dev/$name"
    assert_success
    refute_output
    MDCONTAINER_HIDE_SYSFS_DEVICE=/dev/md126
    run get_sysfs_name "/dev/$name"
    assert_output "$name"
}

@test "MDCONTAINER_ENABLED=no with mdcontainer entries stops ReaR and names MDCONTAINER_ENABLED" {
    MDCONTAINER_ENABLED=no
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: $LAYOUT_FILE has mdcontainer entries but MDCONTAINER_ENABLED is 'no'"
}

@test "MDCONTAINER_ENABLED=no without mdcontainer entries leaves create_disk alone" {
    sed -i -E '/^(mdcontainer|mdvolume|raiddisk) |^part \/dev\/md126 /d' "$LAYOUT_FILE"
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run declare -F mdcontainer_upstream_create_disk
    assert_failure
    run declare -F create_mdcontainer
    assert_failure
}

@test "a layout without mdcontainer entries does not run the helper and create_disk does what upstream does" {
    sed -i -E '/^(mdcontainer|mdvolume|raiddisk) |^part \/dev\/md126 /d' "$LAYOUT_FILE"
    mdc_stub_helper
    function helper_answer() { return 1; }
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
    skip_if_create_disk_needs_the_disk /dev/sda
    rear_call create_disk /dev/sda
    run appended
    assert_line 'dd if=/dev/zero of=/dev/sda bs=512 count=1'
    run cat "$HELPER_CALLS"
    refute_output
}

@test "sourcing the hook twice does not wrap create_disk or get_sysfs_name twice" {
    source "$HOOK"
    source "$HOOK"
    run declare -f mdcontainer_upstream_create_disk
    refute_output --partial 'IsInArray'
    refute_output --partial 'firmware RAID container'
    run declare -f mdcontainer_upstream_get_sysfs_name
    refute_output --partial 'MDCONTAINER_HIDE_SYSFS_DEVICE'
    rear_call create_disk /dev/sda
    run grep -c 'is a member of a firmware RAID container' "$LAYOUT_CODE"
    assert_output 1
}

@test "a malformed mdcontainer entry stops ReaR with the helper's message" {
    sed -i 's/ metadata=imsm / metadata=lsi /' "$LAYOUT_FILE"
    run source "$HOOK"
    assert_failure
    assert_output --partial 'ERROR: rear-mdcontainer: reading the mdcontainer entries failed: ERROR: mdcontainer /dev/md127'
    assert_output --partial 'lsi'
}

@test "a failing render stops ReaR with the helper's message and appends nothing" {
    source "$HOOK"
    run create_mdcontainer /dev/md125
    assert_failure
    assert_output --partial 'ERROR: rear-mdcontainer: generating the code for /dev/md125 failed: ERROR: mdcontainer /dev/md125'
    run appended
    refute_output
}
