#!/usr/bin/env bats
# usr/share/rear/lib/mdcontainer-functions.sh: mdcontainer_helper_or_error (the
# helper's stdout for the caller, its warnings for the user, its last stderr
# line as ReaR's error), mdcontainer_member_disks and mdcontainer_config_args.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_stub_helper
}

@test "the helper's stdout is in MDCONTAINER_HELPER_OUT, its arguments are passed as they are" {
    function helper_answer() {
        printf '%s\n' "first line" "second line"
        echo "not for the caller" >&2
    }
    mdcontainer_helper_or_error "doing something" render volume --device "/dev/md 126"
    run cat "$MDCONTAINER_HELPER_OUT"
    assert_output "$(printf '%s\n' "first line" "second line")"
    run cat "$HELPER_CALLS"
    assert_output "render volume --device /dev/md 126"
    run grep -c . "$HELPER_CALLS"
    assert_output 1
}

@test "WARNING lines on the helper's stderr reach LogPrintError, other lines only the log" {
    function helper_answer() {
        echo "recorded"
        echo "WARNING: /dev/md126 is degraded (1 of 2 disks)" >&2
        echo "some detail" >&2
        echo "WARNING: /dev/md126 is resyncing" >&2
    }
    mdcontainer_helper_or_error "recording"
    run grep '^LogPrintError: ' "$REAR_LOG"
    assert_output "$(printf '%s\n' 'LogPrintError: rear-mdcontainer: WARNING: /dev/md126 is degraded (1 of 2 disks)' \
        'LogPrintError: rear-mdcontainer: WARNING: /dev/md126 is resyncing')"
    # the whole output is logged (one multi-line Log message)
    run cat "$REAR_LOG"
    assert_line 'Log: rear-mdcontainer: recording (exit code 0): recorded'
    assert_line 'some detail'
}

@test "without warnings nothing goes to LogPrintError" {
    function helper_answer() { echo "ok"; }
    mdcontainer_helper_or_error "checking"
    run grep -c '^LogPrintError' "$REAR_LOG"
    assert_output 0
}

@test "a failing helper is an Error with what was done and the last line of its stderr; all output is logged" {
    function helper_answer() {
        echo "partial output"
        echo "WARNING: something first" >&2
        echo "ERROR: mdvolume /dev/md126: size=0 is too small: record the layout again" >&2
        return 2
    }
    run mdcontainer_helper_or_error "checking the containers" preflight
    assert_failure
    assert_output "ERROR: rear-mdcontainer: checking the containers failed: ERROR: mdvolume /dev/md126: size=0 is too small: record the layout again"
    run cat "$REAR_LOG"
    assert_line --partial 'partial output'
    assert_line 'WARNING: something first'
}

@test "mdcontainer_member_disks lists the member disks of all containers (real helper)" {
    unset -f mdcontainer_helper
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    cat >>"$LAYOUT_FILE" <<'EOF'
mdcontainer /dev/md125 metadata=ddf devices=/dev/sdc,/dev/sdd name=ddf0
EOF
    mdcontainer_member_disks
    assert_equal "${MDCONTAINER_MEMBER_DISKS[*]}" "/dev/sda /dev/sdb /dev/sdc /dev/sdd"
}

@test "mdcontainer_member_disks is empty without (active) mdcontainer entries and does not run the helper" {
    mdc_write_imsm_raid1_layout
    sed -i 's/^mdcontainer /#&/' "$LAYOUT_FILE"
    MDCONTAINER_MEMBER_DISKS=(/dev/old)
    mdcontainer_member_disks
    assert_equal "${#MDCONTAINER_MEMBER_DISKS[@]}" 0
    run cat "$HELPER_CALLS"
    refute_output
}

@test "mdcontainer_config_args: the defaults, and the configuration when set" {
    mdcontainer_config_args
    assert_equal "${MDCONTAINER_CONFIG_ARGS[*]}" "--imsm-no-platform auto --original-imsm-no-platform unknown --grow-last-volume no --reuse no"
    MDCONTAINER_IMSM_NO_PLATFORM=no
    MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=yes
    MDCONTAINER_GROW_LAST_VOLUME=yes
    MDCONTAINER_REUSE=yes
    mdcontainer_config_args
    assert_equal "${MDCONTAINER_CONFIG_ARGS[*]}" "--imsm-no-platform no --original-imsm-no-platform yes --grow-last-volume yes --reuse yes"
}

@test "mdcontainer_config_args: MDCONTAINER_MIGRATE=native adds the migration and ReaR's dependency file" {
    MDCONTAINER_MIGRATE=native
    LAYOUT_DEPS=$VAR_DIR/layout/diskdeps.conf
    mdcontainer_config_args
    assert_equal "${MDCONTAINER_CONFIG_ARGS[*]}" "--imsm-no-platform auto --original-imsm-no-platform unknown --grow-last-volume no --reuse no --migrate native --deps-file $VAR_DIR/layout/diskdeps.conf"
}
