#!/usr/bin/env bats
# usr/share/rear/layout/save/GNU/Linux/290_mdcontainer_layout.sh: when it runs
# the helper, what it does with the helper's failure, what it adds to the
# rescue system. The helper itself is stubbed here (its own tests are in
# tests/unit); MDCONTAINER_SYSFS points the hook at a fake sysfs tree.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    HOOK=$SHARE_DIR/layout/save/GNU/Linux/290_mdcontainer_layout.sh
    MDCONTAINER_SYSFS=$BATS_TEST_TMPDIR/sys
    mkdir -p "$MDCONTAINER_SYSFS/block"
    mdc_write_imsm_raid1_layout "$DISKLAYOUT_FILE"
    HELPER_CALLS=$BATS_TEST_TMPDIR/helper.calls
    : >"$HELPER_CALLS"
    # The helper as the hook sees it: arguments recorded, a canned answer.
    function mdcontainer_helper() {
        echo "$*" >>"$HELPER_CALLS"
        echo "recorded imsm container /dev/md127 on /dev/sda,/dev/sdb with 1 volume(s): /dev/md126 (Volume0, raid1)"
    }
}

# fake_md <kernel name> <metadata_version>
fake_md() {
    mkdir -p "$MDCONTAINER_SYSFS/block/$1/md"
    echo "$2" >"$MDCONTAINER_SYSFS/block/$1/md/metadata_version"
}

@test "without md arrays the hook returns at once and does not run the helper" {
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
    assert_equal "${#REQUIRED_PROGS[@]}" 0
}

@test "with native md arrays only (metadata 1.2, 0.90) the hook does not run the helper" {
    fake_md md0 1.2
    fake_md md1 0.90
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
    assert_equal "${#REQUIRED_PROGS[@]}" 0
}

@test "with an IMSM container the hook runs 'save' on DISKLAYOUT_FILE and logs what the helper said" {
    fake_md md0 1.2
    fake_md md126 external:/md127/0
    fake_md md127 external:imsm
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings yes"
    run cat "$REAR_LOG"
    assert_line --partial 'LogPrint: Recording firmware RAID containers and volumes'
    assert_line --partial 'recorded imsm container /dev/md127'
}

@test "a DDF container (external:ddf) runs the helper too" {
    fake_md md127 external:ddf
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings yes"
}

@test "after a successful save mdadm, mdmon and the Python interpreter go into the rescue system" {
    fake_md md127 external:imsm
    REQUIRED_PROGS=(cpio less)
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less mdadm mdmon $MDCONTAINER_PYTHON"
}

@test "MDCONTAINER_PYTHON is the interpreter required in the rescue system" {
    fake_md md127 external:imsm
    MDCONTAINER_PYTHON=/usr/bin/python3.11
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "mdadm mdmon /usr/bin/python3.11"
}

@test "a failing helper stops ReaR with the last line of the helper's stderr" {
    fake_md md127 external:imsm
    function mdcontainer_helper() {
        echo "$*" >>"$HELPER_CALLS"
        echo "WARNING: something to log first" >&2
        echo "ERROR: /dev/md126: no volume with UUID 1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d in mdadm --examine --scan" >&2
        return 2
    }
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: recording firmware RAID in $DISKLAYOUT_FILE failed:"
    assert_output --partial 'ERROR: /dev/md126: no volume with UUID 1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d'
    refute_output --partial 'something to log first'
    # the whole helper output is in the log
    run cat "$REAR_LOG"
    assert_output --partial 'WARNING: something to log first'
}

# fake_dm <kernel name> <dm UUID>
fake_dm() {
    mkdir -p "$MDCONTAINER_SYSFS/block/$1/dm"
    echo "$2" >"$MDCONTAINER_SYSFS/block/$1/dm/uuid"
}

# A layout as upstream wrote it for plain disks (no mdcontainer entries).
write_plain_layout() {
    printf '%s\n' "disk /dev/sda 1073741824 gpt" "disk /dev/sdb 1073741824 gpt" >"$DISKLAYOUT_FILE"
}

@test "the helper is told MDCONTAINER_FAKERAID_WARNINGS (default yes)" {
    fake_md md127 external:imsm
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings yes"
    : >"$HELPER_CALLS"
    MDCONTAINER_FAKERAID_WARNINGS=no
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings no"
}

@test "a dmraid set (dm UUID DMRAID-...) without md arrays runs the helper, which needs no mdadm then" {
    write_plain_layout
    fake_dm dm-0 DMRAID-pdc_dbfjbcaga
    fake_dm dm-1 part1-DMRAID-pdc_dbfjbcaga
    REQUIRED_PROGS=(cpio less)
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings yes"
    run cat "$REAR_LOG"
    assert_line --partial 'LogPrint: Checking other firmware RAID: dmraid sets, AMD RAIDXpert arrays'
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less"
}

@test "the rcraid driver (AMD RAIDXpert) without md arrays runs the helper" {
    write_plain_layout
    mkdir -p "$MDCONTAINER_SYSFS/module/rcraid"
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "save --layout-file $DISKLAYOUT_FILE --fakeraid-warnings yes"
    assert_equal "${#REQUIRED_PROGS[@]}" 0
}

@test "device-mapper maps of LVM, LUKS or multipath do not run the helper" {
    fake_dm dm-0 LVM-Xj4kpQ0bM2cFtqVf3nLwZ8aHs1dRgYe6
    fake_dm dm-1 CRYPT-LUKS2-0c1d2e3f-root
    fake_dm dm-2 mpath-3600508b400105e210000900000490000
    mkdir -p "$MDCONTAINER_SYSFS/module/ahci"
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
}

@test "the helper's warnings about other firmware RAID are shown to the user" {
    write_plain_layout
    mkdir -p "$MDCONTAINER_SYSFS/module/rcraid"
    function mdcontainer_helper() {
        echo "$*" >>"$HELPER_CALLS"
        echo "WARNING: /dev/sda (AMD-RAID Array 1) is a disk of AMD's RAIDXpert driver (rcraid): ReaR records it as a plain disk" >&2
        echo "recorded 1 other firmware RAID device(s) as '# mdfakeraid' comments"
    }
    source "$HOOK"
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: WARNING: /dev/sda (AMD-RAID Array 1) is a disk of AMD's RAIDXpert driver (rcraid): ReaR records it as a plain disk"
    assert_line --partial "recorded 1 other firmware RAID device(s)"
}

@test "with the real helper an AMD RAIDXpert array is a warning and a '# mdfakeraid' comment" {
    unset -f mdcontainer_helper
    mdc_source_plugin
    write_plain_layout
    # /sys/class/block/sda -> a SCSI disk of the rcraid driver, as the kernel shows it
    export MDCONTAINER_SYSROOT=$BATS_TEST_TMPDIR/root
    MDCONTAINER_SYSFS=$MDCONTAINER_SYSROOT/sys
    local pci=$MDCONTAINER_SYSFS/devices/pci0000:00/0000:00:11.0
    mkdir -p "$pci/host0/target0:0:0/0:0:0:0" "$pci/host0/scsi_host/host0" "$MDCONTAINER_SYSFS/class/block/sda" \
        "$MDCONTAINER_SYSFS/module/rcraid"
    echo rcraid >"$pci/host0/scsi_host/host0/proc_name"
    echo AMD-RAID >"$pci/host0/target0:0:0/0:0:0:0/vendor"
    echo "Array 1" >"$pci/host0/target0:0:0/0:0:0:0/model"
    echo 2097152 >"$MDCONTAINER_SYSFS/class/block/sda/size"
    ln -s ../../../devices/pci0000:00/0000:00:11.0/host0/target0:0:0/0:0:0:0 "$MDCONTAINER_SYSFS/class/block/sda/device"
    source "$HOOK"
    run cat "$REAR_LOG"
    assert_line --partial "LogPrintError: rear-mdcontainer: WARNING: /dev/sda (AMD-RAID Array 1) is a disk of AMD's RAIDXpert driver (rcraid)"
    run grep '^# mdfakeraid ' "$DISKLAYOUT_FILE"
    assert_output "# mdfakeraid rcraid /dev/sda recreated=no vendor=AMD-RAID model=Array%201"
    run grep -v '^#' "$DISKLAYOUT_FILE"
    assert_output "$(printf '%s\n' "disk /dev/sda 1073741824 gpt" "disk /dev/sdb 1073741824 gpt")"
    assert_equal "${#REQUIRED_PROGS[@]}" 0
}

@test "MDCONTAINER_ENABLED=no leaves the layout to ReaR's generic raidarray code" {
    fake_md md127 external:imsm
    mkdir -p "$MDCONTAINER_SYSFS/module/rcraid"
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
    assert_equal "${#REQUIRED_PROGS[@]}" 0
}

@test "the hook runs the real helper through mdcontainer_helper (smoke test: --version)" {
    unset -f mdcontainer_helper
    mdc_source_plugin
    run mdcontainer_helper --version
    assert_success
    assert_output --regexp '^rear-mdcontainer [0-9]+\.[0-9]+'
}
