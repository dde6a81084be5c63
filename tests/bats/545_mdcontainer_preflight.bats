#!/usr/bin/env bats
# usr/share/rear/layout/prepare/default/545_mdcontainer_preflight.sh: ReaR's
# write protection for member disks, then the helper's 'preflight' with the
# configuration, before diskrestore.sh runs. The helper is stubbed (its checks
# are tested in tests/unit, the real 'members' in 125_include_mdcontainer_code.bats).

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    TARGET_FS_ROOT=/mnt/local
    HOOK=$SHARE_DIR/layout/prepare/default/545_mdcontainer_preflight.sh
    mdc_stub_helper
    function helper_answer() {
        case "$1" in
            (members) members ;;
            (preflight) echo "preflight: /dev/md127 on /dev/sda /dev/sdb: ok" ;;
        esac
    }
    PROTECT_CHECKS=$BATS_TEST_TMPDIR/protect.calls
    : >"$PROTECT_CHECKS"
    # ReaR's is_write_protected (lib/write-protect-functions.sh) asks lsblk
    # about real disks; here it says which disks it was asked about.
    function is_write_protected() {
        echo "$1" >>"$PROTECT_CHECKS"
        return 1
    }
}

# The helper's 'members': the devices= of the active mdcontainer entries.
members() {
    sed -n 's/^mdcontainer .* devices=\([^ ]*\).*/\1/p' "$LAYOUT_FILE" | tr , '\n'
}

@test "preflight runs on the layout with the target root and the configuration" {
    MDCONTAINER_IMSM_NO_PLATFORM=yes
    MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=no
    MDCONTAINER_GROW_LAST_VOLUME=yes
    source "$HOOK"
    run grep '^preflight' "$HELPER_CALLS"
    assert_output "preflight --layout-file $LAYOUT_FILE --target-root /mnt/local --imsm-no-platform yes --original-imsm-no-platform no --grow-last-volume yes --reuse no"
    run cat "$REAR_LOG"
    assert_line 'LogPrint: Checking firmware RAID containers before recreating them (rear-mdcontainer)'
    assert_line --partial 'preflight: /dev/md127 on /dev/sda /dev/sdb: ok'
}

@test "without configuration the defaults are passed (auto, unknown, no)" {
    source "$HOOK"
    run grep '^preflight' "$HELPER_CALLS"
    assert_output "preflight --layout-file $LAYOUT_FILE --target-root /mnt/local --imsm-no-platform auto --original-imsm-no-platform unknown --grow-last-volume no --reuse no"
}

@test "MDCONTAINER_REUSE=yes is passed on, and what an earlier attempt kept is forgotten" {
    MDCONTAINER_REUSE=yes
    echo "/dev/md127 0a1b2c3d:4e5f6071:8293a4b5:c6d7e8f9" >"$VAR_DIR/layout/mdcontainer-kept"
    source "$HOOK"
    run grep '^preflight' "$HELPER_CALLS"
    assert_output --partial ' --reuse yes'
    run test -e "$VAR_DIR/layout/mdcontainer-kept"
    assert_failure
}

@test "every member disk is checked for ReaR's write protection" {
    source "$HOOK"
    run cat "$PROTECT_CHECKS"
    assert_output "$(printf '%s\n' /dev/sda /dev/sdb)"
}

@test "a write-protected member disk stops ReaR naming the disk, before the helper's preflight" {
    function is_write_protected() { test "$1" = /dev/sdb; }
    run source "$HOOK"
    assert_failure
    assert_output --partial 'ERROR: rear-mdcontainer: member disk /dev/sdb of an mdcontainer entry is write-protected'
    run grep '^preflight' "$HELPER_CALLS"
    refute_output
}

@test "the member disks checked are those of the mapped layout" {
    # 320_apply_mappings.sh (before this hook) made sdc the first member:
    sed -i 's#/dev/sda\b#/dev/sdc#g' "$LAYOUT_FILE"
    MDCONTAINER_MEMBER_DISKS=(/dev/sda /dev/sdb) # what 125 saw before the mapping
    source "$HOOK"
    run cat "$PROTECT_CHECKS"
    assert_output "$(printf '%s\n' /dev/sdc /dev/sdb)"
}

@test "without is_write_protected (ReaR before 2.7) preflight still runs" {
    unset -f is_write_protected
    source "$HOOK"
    run grep -c '^preflight ' "$HELPER_CALLS"
    assert_output 1
}

@test "a failing preflight stops ReaR with the last line of the helper's stderr" {
    function helper_answer() {
        case "$1" in
            (members) members ;;
            (preflight)
                echo "WARNING: /dev/sdb is smaller than recorded" >&2
                echo "ERROR: mdcontainer /dev/md127: disk /dev/sdb has 1000 MiB, the volumes need 1024 MiB: use a bigger disk" >&2
                return 2
                ;;
        esac
    }
    run source "$HOOK"
    assert_failure
    assert_output --partial 'ERROR: rear-mdcontainer: checking the firmware RAID containers failed: ERROR: mdcontainer /dev/md127: disk /dev/sdb has 1000 MiB'
    refute_output --partial 'WARNING'
}

@test "without mdcontainer entries nothing is checked" {
    sed -i -E 's/^(mdcontainer|mdvolume) /#&/' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$HELPER_CALLS" "$PROTECT_CHECKS"
    refute_output
}

@test "MDCONTAINER_ENABLED=no checks nothing" {
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$HELPER_CALLS" "$PROTECT_CHECKS"
    refute_output
}
