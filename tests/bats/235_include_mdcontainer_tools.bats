#!/usr/bin/env bats
# usr/share/rear/prep/GNU/Linux/235_include_mdcontainer_tools.sh: what goes
# into the rescue system when the original system has IMSM/DDF containers.
# MDCONTAINER_SYSFS points the hook at a fake sysfs tree; the helper's
# rescue-files answer is the real one.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_fake_sysfs
    HOOK=$SHARE_DIR/prep/GNU/Linux/235_include_mdcontainer_tools.sh
    REQUIRED_PROGS=(cpio less)
    PROGS=(lsblk)
    COPY_AS_IS=(/etc/mdadm)
    COPY_AS_IS_EXCLUDE=(/dev/shm/*)
    LIBS=(/lib/libfoo.so.1)
}

@test "with an IMSM container mdadm, mdmon, wipefs, udevadm, the Python and the helper's files are included" {
    mdc_fake_md md126 external:/md127/0
    mdc_fake_md md127 external:imsm
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less mdadm mdmon wipefs udevadm $MDCONTAINER_PYTHON"
    assert_equal "${PROGS[*]}" "lsblk dmsetup"
    # exactly what the helper names, after what was there:
    local copy=() exclude=() libs=() kind path
    while read -r kind path; do
        case "$kind" in
            (copy) copy+=("$path") ;;
            (exclude) exclude+=("$path") ;;
            (lib) libs+=("$path") ;;
            (*) fail "unexpected rescue-files line: $kind $path" ;;
        esac
    done < <(mdcontainer_helper rescue-files)
    test "${#copy[@]}" -gt 0 || fail "the helper names no files to copy"
    assert_equal "$(printf '%s\n' "${COPY_AS_IS[@]}")" "$(printf '%s\n' /etc/mdadm "${copy[@]}")"
    assert_equal "$(printf '%s\n' "${COPY_AS_IS_EXCLUDE[@]}")" "$(printf '%s\n' '/dev/shm/*' "${exclude[@]}")"
    assert_equal "$(printf '%s\n' "${LIBS[@]}")" "$(printf '%s\n' /lib/libfoo.so.1 "${libs[@]}")"
    # C extension modules the helper does not load are left out, with the big optional ones
    printf '%s\n' "${COPY_AS_IS_EXCLUDE[@]}" | grep -q '/lib-dynload/_sqlite3\.' || fail "_sqlite3 is copied"
    printf '%s\n' "${COPY_AS_IS_EXCLUDE[@]}" | grep -q '/lib-dynload/_ssl\.' || fail "_ssl is copied"
    if printf '%s\n' "${COPY_AS_IS_EXCLUDE[@]}" | grep -q '/lib-dynload/_json\.'; then fail "_json is left out"; fi
    # the interpreter itself and the third-party packages are among them
    assert_equal "$(printf '%s\n' "${COPY_AS_IS[@]}" | grep -c -e '/jinja2$' -e '/markupsafe$' -e '/plumbum$')" 3
}

@test "a DDF container includes the tools too" {
    mdc_fake_md md127 external:ddf
    mdc_stub_helper
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less mdadm mdmon wipefs udevadm $MDCONTAINER_PYTHON"
    run cat "$HELPER_CALLS"
    assert_output rescue-files
}

@test "paths with blanks stay one COPY_AS_IS element" {
    mdc_fake_md md127 external:imsm
    mdc_stub_helper
    function helper_answer() {
        printf '%s\n' 'copy /opt/my python/lib' 'exclude /opt/my python/lib/test'
    }
    source "$HOOK"
    assert_equal "${COPY_AS_IS[1]}" '/opt/my python/lib'
    assert_equal "${COPY_AS_IS_EXCLUDE[1]}" '/opt/my python/lib/test'
    assert_equal "${#COPY_AS_IS[@]}" 2
}

@test "with native md arrays only nothing is added and the helper does not run" {
    mdc_fake_md md0 1.2
    mdc_fake_md md1 0.90
    mdc_stub_helper
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less"
    assert_equal "${PROGS[*]}" lsblk
    assert_equal "${COPY_AS_IS[*]}" /etc/mdadm
    assert_equal "${COPY_AS_IS_EXCLUDE[*]}" '/dev/shm/*'
    run cat "$HELPER_CALLS"
    refute_output
}

@test "without md arrays nothing is added" {
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less"
    assert_equal "${COPY_AS_IS[*]}" /etc/mdadm
}

@test "MDCONTAINER_ENABLED=no adds nothing" {
    mdc_fake_md md127 external:imsm
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    assert_equal "${REQUIRED_PROGS[*]}" "cpio less"
    assert_equal "${COPY_AS_IS[*]}" /etc/mdadm
}

@test "a helper that cannot run stops ReaR with its last stderr line and what is needed" {
    mdc_fake_md md127 external:imsm
    mdc_stub_helper
    function helper_answer() {
        echo "Traceback (most recent call last):" >&2
        echo "ModuleNotFoundError: No module named 'plumbum'" >&2
        return 1
    }
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: finding what '$MDCONTAINER_PYTHON' needs in the rescue system (python3 >= 3.9 with jinja2 and plumbum) failed: ModuleNotFoundError: No module named 'plumbum'"
}

@test "a missing MDCONTAINER_PYTHON stops ReaR" {
    mdc_fake_md md127 external:imsm
    MDCONTAINER_PYTHON=$BATS_TEST_TMPDIR/no/python3
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: finding what '$BATS_TEST_TMPDIR/no/python3' needs in the rescue system"
    assert_output --partial 'No such file or directory'
}
