#!/usr/bin/env bats
# usr/share/rear/layout/recreate/default/215_mdcontainer_verify.sh: after
# diskrestore.sh the helper compares the live arrays with the layout and writes
# the old -> new UUID map; a difference stops the recovery. The helper is
# stubbed (its comparison is tested in tests/unit).

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    HOOK=$SHARE_DIR/layout/recreate/default/215_mdcontainer_verify.sh
    mdc_stub_helper
    function helper_answer() {
        echo "verified imsm container /dev/md127 and raid1 volume /dev/md126 (Volume0)"
    }
}

@test "the helper verifies the layout and writes the UUID map below VAR_DIR/layout" {
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "verify --layout-file $LAYOUT_FILE --uuid-map $VAR_DIR/layout/mdcontainer-uuid-map --grow-last-volume no --kept-file $VAR_DIR/layout/mdcontainer-kept"
    assert_equal "$MDCONTAINER_UUID_MAP" "$VAR_DIR/layout/mdcontainer-uuid-map"
    run cat "$REAR_LOG"
    assert_line 'LogPrint: Verifying the recreated firmware RAID containers and volumes (rear-mdcontainer)'
    # what the helper found is shown to the user
    assert_line 'LogPrint: verified imsm container /dev/md127 and raid1 volume /dev/md126 (Volume0)'
}

@test "MDCONTAINER_GROW_LAST_VOLUME=yes is passed on (a grown last volume is no difference)" {
    MDCONTAINER_GROW_LAST_VOLUME=yes
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output --partial ' --grow-last-volume yes'
}

@test "a difference stops ReaR with the helper's message" {
    function helper_answer() {
        echo "WARNING: /dev/md126 is resyncing" >&2
        echo "ERROR: mdvolume /dev/md126: level is raid0, the layout says raid1: check the disks and run 'rear recover' again" >&2
        return 2
    }
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: verifying the recreated firmware RAID failed: ERROR: mdvolume /dev/md126: level is raid0, the layout says raid1"
    refute_output --partial 'resyncing'
}

@test "without mdcontainer entries nothing is verified" {
    sed -i -E '/^(mdcontainer|mdvolume) /d' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$HELPER_CALLS" "$REAR_LOG"
    refute_output
}

@test "excluded (commented-out) entries are not verified" {
    sed -i -E 's/^(mdcontainer|mdvolume) /#&/' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$HELPER_CALLS"
    refute_output
}

@test "MDCONTAINER_ENABLED=no verifies nothing" {
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$HELPER_CALLS" "$REAR_LOG"
    refute_output
}

@test "MDCONTAINER_MIGRATE=native: the native arrays are verified and listed for finalize" {
    MDCONTAINER_MIGRATE=native
    LAYOUT_DEPS=$VAR_DIR/layout/diskdeps.conf
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "verify --layout-file $LAYOUT_FILE --uuid-map $VAR_DIR/layout/mdcontainer-uuid-map --grow-last-volume no --kept-file $VAR_DIR/layout/mdcontainer-kept --migrate native --deps-file $VAR_DIR/layout/diskdeps.conf --native-file $VAR_DIR/layout/mdcontainer-native"
}

@test "without migration an earlier run's list of native arrays goes" {
    echo "/dev/md126 11111111:22222222:33333333:44444444 1.0 any:Volume0" >"$VAR_DIR/layout/mdcontainer-native"
    source "$HOOK"
    assert [ ! -e "$VAR_DIR/layout/mdcontainer-native" ]
}
