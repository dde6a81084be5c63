#!/usr/bin/env bats
# usr/share/rear/layout/prepare/default/322_mdcontainer_missing_disks.sh: a disk
# for each 'missing' slot of a volume that was degraded when the layout was
# saved, chosen and written into disklayout.conf by the helper's 'fill-missing'
# (its decisions are tested in tests/unit/test_missing.py).

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    TARGET_FS_ROOT=/mnt/local
    HOOK=$SHARE_DIR/layout/prepare/default/322_mdcontainer_missing_disks.sh
    mdc_stub_helper
}

# The layout as saved from a system whose volume had lost its first disk.
degrade() {
    sed -i -e 's#^\(mdcontainer .*\) devices=/dev/sda,/dev/sdb #\1 devices=/dev/sdb #' \
        -e 's#^\(mdvolume .*\) devices=/dev/sda,/dev/sdb #\1 devices=missing,/dev/sdb #' \
        -e 's#^disk /dev/sda #\#disk /dev/sda #' "$LAYOUT_FILE"
}

@test "a complete layout asks nothing" {
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
}

@test "a missing slot runs fill-missing on the layout with the setting and logs what it chose" {
    degrade
    function helper_answer() {
        echo "mdvolume /dev/md126 was degraded when the layout was saved: slot(s) 0 get(s) /dev/sda (MDCONTAINER_MISSING_DISKS); it is recreated complete"
    }
    MDCONTAINER_MISSING_DISKS="/dev/md127:/dev/sda"
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "fill-missing --layout-file $LAYOUT_FILE --missing-disks /dev/md127:/dev/sda --target-root /mnt/local"
    run cat "$REAR_LOG"
    assert_line 'LogPrint: Completing firmware RAID volumes that were degraded when the layout was saved (rear-mdcontainer)'
    assert_line 'LogPrint: rear-mdcontainer: mdvolume /dev/md126 was degraded when the layout was saved: slot(s) 0 get(s) /dev/sda (MDCONTAINER_MISSING_DISKS); it is recreated complete'
}

@test "the default is an empty setting; an array is passed as one blank-separated word list" {
    degrade
    source "$HOOK"
    MDCONTAINER_MISSING_DISKS=(/dev/md127:/dev/sda imsm1:/dev/sdc,/dev/sdd)
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_line --index 0 "fill-missing --layout-file $LAYOUT_FILE --missing-disks  --target-root /mnt/local"
    assert_line --index 1 "fill-missing --layout-file $LAYOUT_FILE --missing-disks /dev/md127:/dev/sda imsm1:/dev/sdc,/dev/sdd --target-root /mnt/local"
}

@test "a missing slot in the last place of devices= is found too" {
    sed -i 's#^\(mdvolume .*\) devices=/dev/sda,/dev/sdb #\1 devices=/dev/sda,missing #' "$LAYOUT_FILE"
    source "$HOOK"
    run grep -c '^fill-missing ' "$HELPER_CALLS"
    assert_output 1
}

@test "a volume named 'missing' is not a missing slot" {
    sed -i 's#^\(mdvolume .*\) name=Volume0 #\1 name=missing #' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
}

@test "when no disk can be chosen ReaR stops with the helper's message" {
    degrade
    mdc_real_helper_for_test
    MDCONTAINER_MISSING_DISKS="/dev/md127:/dev/rear-mdcontainer-no-such-disk"
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: choosing disks for the missing slots of degraded volumes failed: ERROR: MDCONTAINER_MISSING_DISKS for /dev/md127: /dev/rear-mdcontainer-no-such-disk does not exist"
}

@test "a malformed setting stops ReaR before anything else" {
    degrade
    mdc_real_helper_for_test
    MDCONTAINER_MISSING_DISKS="sdb"
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: MDCONTAINER_MISSING_DISKS: 'sdb' is not <container>:<disk>"
}

@test "MDCONTAINER_ENABLED=no does nothing" {
    degrade
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
}

# The real helper instead of the stub (it reads the real /sys and /dev: only for refusals).
mdc_real_helper_for_test() {
    eval "$(declare -f mdcontainer_real_helper | sed '1s/^mdcontainer_real_helper/mdcontainer_helper/')"
}
