#!/usr/bin/env bats
# usr/share/rear/rescue/GNU/Linux/295_mdcontainer_platform.sh: whether the
# original system runs IMSM with IMSM_NO_PLATFORM=1 (its own environment, or
# that of a running mdmon) goes into the rescue system's rescue.conf.
# MDCONTAINER_SYSFS points the hook at a fake sysfs tree; pidof is stubbed.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_fake_sysfs
    HOOK=$SHARE_DIR/rescue/GNU/Linux/295_mdcontainer_platform.sh
    ROOTFS_DIR=$BATS_TEST_TMPDIR/rootfs
    RESCUE_CONF=$ROOTFS_DIR/etc/rear/rescue.conf
    mkdir -p "$ROOTFS_DIR/etc/rear"
    echo "# written by earlier scripts" >"$RESCUE_CONF"
    unset IMSM_NO_PLATFORM
    MDMON_PIDS=()
    function pidof() {
        test "$1" = mdmon || return 1
        test "${#MDMON_PIDS[@]}" -gt 0 || return 1
        echo "${MDMON_PIDS[*]}"
    }
}

teardown() {
    local pid
    for pid in "${MDMON_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}

# start_fake_mdmon [VAR=value ...]: a process with that environment that pidof mdmon finds.
start_fake_mdmon() {
    env -u IMSM_NO_PLATFORM "$@" sleep 60 >/dev/null 2>&1 3>&- &
    local pid=$! tries=0
    # its environment is the one to read once env has run sleep
    until test "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "sleep 60 "; do
        ((++tries < 200)) || fail "the fake mdmon did not start"
        sleep 0.01
    done
    MDMON_PIDS+=("$pid")
}

added_lines() {
    tail -n +2 "$RESCUE_CONF"
}

@test "IMSM_NO_PLATFORM=1 in ReaR's environment is recorded as yes" {
    mdc_fake_md md127 external:imsm
    IMSM_NO_PLATFORM=1
    source "$HOOK"
    run cat "$RESCUE_CONF"
    assert_output "$(printf '%s\n' '# written by earlier scripts' MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=yes)"
}

@test "without IMSM_NO_PLATFORM and without mdmon it is recorded as no" {
    mdc_fake_md md127 external:imsm
    source "$HOOK"
    run added_lines
    assert_output MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=no
}

@test "IMSM_NO_PLATFORM=0 is recorded as no" {
    mdc_fake_md md127 external:imsm
    IMSM_NO_PLATFORM=0
    source "$HOOK"
    run added_lines
    assert_output MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=no
}

@test "an mdmon that runs with IMSM_NO_PLATFORM=1 is recorded as yes" {
    mdc_fake_md md127 external:imsm
    start_fake_mdmon
    start_fake_mdmon IMSM_NO_PLATFORM=1
    source "$HOOK"
    run added_lines
    assert_output MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=yes
}

@test "an mdmon without IMSM_NO_PLATFORM=1 is recorded as no" {
    mdc_fake_md md127 external:imsm
    start_fake_mdmon IMSM_NO_PLATFORM=0
    source "$HOOK"
    run added_lines
    assert_output MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=no
}

@test "DDF only records nothing" {
    mdc_fake_md md127 external:ddf
    mdc_fake_md md126 external:/md127/0
    IMSM_NO_PLATFORM=1
    source "$HOOK"
    run added_lines
    refute_output
}

@test "native md arrays only record nothing" {
    mdc_fake_md md0 1.2
    IMSM_NO_PLATFORM=1
    source "$HOOK"
    run added_lines
    refute_output
}

@test "MDCONTAINER_ENABLED=no records nothing" {
    mdc_fake_md md127 external:imsm
    MDCONTAINER_ENABLED=no
    IMSM_NO_PLATFORM=1
    source "$HOOK"
    run added_lines
    refute_output
}
