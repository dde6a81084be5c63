#!/usr/bin/env bats
# usr/share/rear/wrapup/default/495_mdcontainer_wait_clean.sh: 'mdadm
# --wait-clean --scan' before the post recovery script and again as an exit
# task at the very end of 'rear recover'; bounded, and never an error.
# mdadm is a stub (a shell function; in the background it is a subshell).

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    HOOK=$SHARE_DIR/wrapup/default/495_mdcontainer_wait_clean.sh
    MDADM_CALLS=$BATS_TEST_TMPDIR/mdadm.calls
    : >"$MDADM_CALLS"
    function mdadm() { echo "$*" >>"$MDADM_CALLS"; }
    # ReaR's AddExitTask (lib/_input-output-functions.sh, not loaded here):
    # the newest task first, DoExitTasks evaluates them in that order.
    EXIT_TASKS=()
    function AddExitTask() { EXIT_TASKS=("$*" "${EXIT_TASKS[@]}"); }
}

@test "waits once now and adds an exit task that waits again at the end" {
    source "$HOOK"
    run cat "$MDADM_CALLS"
    assert_output "--wait-clean --scan"
    assert_equal "${#EXIT_TASKS[@]}" 1
    assert_equal "${EXIT_TASKS[0]}" "mdcontainer_wait_clean 120"
    run cat "$REAR_LOG"
    assert_line 'LogPrint: Waiting until mdmon records the firmware RAID arrays as clean (rear-mdcontainer)'
    assert_line 'Log: rear-mdcontainer: mdmon recorded the firmware RAID arrays as clean'
    refute_output --partial LogPrintError
    # what DoExitTasks does with it
    eval "${EXIT_TASKS[0]}"
    run cat "$MDADM_CALLS"
    assert_output "$(printf '%s\n' '--wait-clean --scan' '--wait-clean --scan')"
}

@test "the exit task runs after the log copies that 990_copy_logfile.sh adds later" {
    source "$HOOK"
    AddExitTask "cp -p rear.log /mnt/local/var/log/rear/recover/"
    assert_equal "${EXIT_TASKS[0]}" "cp -p rear.log /mnt/local/var/log/rear/recover/"
    assert_equal "${EXIT_TASKS[1]}" "mdcontainer_wait_clean 120"
}

@test "a failing mdadm is reported, not an error" {
    function mdadm() { echo "$*" >>"$MDADM_CALLS"; return 1; }
    run source "$HOOK"
    assert_success
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: 'mdadm --wait-clean --scan' failed (exit code 1); the recovered system may resync the firmware RAID arrays when it starts"
}

@test "an mdadm that does not return is stopped after the given seconds" {
    source "$HOOK"
    function mdadm() { echo "$*" >>"$MDADM_CALLS"; exec sleep 67 3>&-; }
    SECONDS=0
    run mdcontainer_wait_clean 2
    assert_success
    test "$SECONDS" -lt 10 || fail "took $SECONDS seconds"
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: the firmware RAID arrays were not recorded as clean within 2 seconds ('mdadm --wait-clean --scan'); the recovered system may resync them when it starts"
    run pgrep -fx 'sleep 67'
    refute_output
}

@test "without mdcontainer entries nothing is done" {
    sed -i -E '/^(mdcontainer|mdvolume) /d' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$MDADM_CALLS" "$REAR_LOG"
    refute_output
    assert_equal "${#EXIT_TASKS[@]}" 0
}

@test "MDCONTAINER_ENABLED=no: nothing is done" {
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$MDADM_CALLS" "$REAR_LOG"
    refute_output
    assert_equal "${#EXIT_TASKS[@]}" 0
}
