#!/usr/bin/env bats
# usr/share/rear/finalize/Linux-i386/655_mdcontainer_grub2_install_devices.sh:
# when /boot (or /) is on one of our volumes, GRUB2 goes onto the volume device
# (GRUB2_INSTALL_DEVICES) instead of ReaR's 660 writing to every raw member
# disk. The real helper answers, from a diskdeps.conf that ReaR's own
# generate_layout_dependencies (wrapped by the plugin) writes.
# Also the plugin's wrap of get_device_from_partition, which 670_run_efibootmgr.sh
# needs for an EFI system partition on a volume (/dev/md126p1 -> /dev/md126).

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    HOOK=$SHARE_DIR/finalize/Linux-i386/655_mdcontainer_grub2_install_devices.sh
    NOBOOTLOADER=1
    USING_UEFI_BOOTLOADER=
    GRUB2_INSTALL_DEVICES=
    generate_layout_dependencies
}

@test "root on an IMSM volume: GRUB2 goes onto the volume, not the member disks" {
    run grep -x 'fs:/ /dev/md126p2' "$LAYOUT_DEPS"
    assert_success
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" "/dev/md126"
    run cat "$REAR_LOG"
    assert_line --partial "LogPrint: rear-mdcontainer: / is on firmware RAID volume /dev/md126: GRUB2 is installed onto the volume"
    refute_output --partial LogPrintError
}

@test "a separate /boot on the volume wins over /" {
    cat >>"$LAYOUT_FILE" <<'LAYOUT'
disk /dev/sdc 1073741824 msdos
part /dev/sdc 1072693248 1048576 primary none /dev/sdc1
fs /dev/sdc1 /data ext4 uuid=11111111-2222-3333-4444-555555555555 label= options=rw
fs /dev/md126p1 /boot ext2 uuid=66666666-2222-3333-4444-555555555555 label= options=rw
LAYOUT
    generate_layout_dependencies
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" "/dev/md126"
    run cat "$REAR_LOG"
    assert_line --partial "LogPrint: rear-mdcontainer: /boot is on firmware RAID volume /dev/md126"
}

@test "/boot on a plain disk: ReaR's own choice stays" {
    cat >>"$LAYOUT_FILE" <<'LAYOUT'
disk /dev/sdc 1073741824 msdos
part /dev/sdc 1072693248 1048576 primary boot /dev/sdc1
fs /dev/sdc1 /boot ext2 uuid=11111111-2222-3333-4444-555555555555 label= options=rw
LAYOUT
    generate_layout_dependencies
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" ""
    run cat "$REAR_LOG"
    refute_output --partial LogPrint:
}

@test "the user's GRUB2_INSTALL_DEVICES stays, with a warning when it names member disks" {
    GRUB2_INSTALL_DEVICES="/dev/sda /dev/sdb"
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" "/dev/sda /dev/sdb"
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: WARNING: /dev/sda is a member disk of a firmware RAID container: a boot loader written there bypasses md (use the volume device /dev/md126)"
    assert_line --partial "LogPrintError: rear-mdcontainer: WARNING: /dev/sdb is a member disk"
}

@test "UEFI, a boot loader already installed, or the plugin disabled: nothing to do" {
    USING_UEFI_BOOTLOADER=1
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" ""
    USING_UEFI_BOOTLOADER=
    NOBOOTLOADER=
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" ""
    NOBOOTLOADER=1
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" ""
}

@test "get_device_from_partition: the disk of /dev/mdXpN is /dev/mdX (efibootmgr for an ESP on a volume)" {
    if ! declare -F mdcontainer_upstream_get_device_from_partition >/dev/null; then
        # ReaR 2.6 has no such function (its 670 cuts the name itself): the plugin
        # must not invent one; 671_mdcontainer_efibootmgr.sh makes the entry there.
        run declare -F get_device_from_partition
        assert_failure
        skip "this ReaR has no get_device_from_partition (671_mdcontainer_efibootmgr.bats tests its path)"
    fi
    # /dev has no md devices here: fake block devices through a wrapper of test -b.
    local fake=$BATS_TEST_TMPDIR/dev
    mkdir -p "$fake"
    function test() {
        if [[ $1 == -b && $2 == /dev/md* ]]; then
            [[ -e $fake/${2#/dev/} ]]
            return
        fi
        builtin test "$@"
    }
    touch "$fake/md126" "$fake/md126p1" "$fake/md125p1"
    run get_device_from_partition /dev/md126p1 1
    assert_success
    assert_output /dev/md126
    # no disk device for the partition: no answer, as upstream
    run get_device_from_partition /dev/md125p1 1
    assert_failure
    refute_output
    # the plugin turned off: upstream's answer only
    MDCONTAINER_ENABLED=no
    run get_device_from_partition /dev/md126p1 1
    assert_failure
    refute_output
}

@test "migrated to native md RAID 1: GRUB2 goes onto each member disk (it cannot write through native md)" {
    MDCONTAINER_MIGRATE=native
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" "/dev/sda /dev/sdb"
    run cat "$REAR_LOG"
    assert_line --partial "LogPrint: rear-mdcontainer: / is on a volume migrated to native md RAID 1: GRUB2 is installed onto each of its member disks /dev/sda /dev/sdb"
    refute_output --partial LogPrintError
}

@test "migrated to native md, mapped disks: GRUB2 goes onto the disks the layout names now" {
    sed -i 's|/dev/sda|/dev/sdx|g; s|/dev/sdb|/dev/sdy|g' "$LAYOUT_FILE"
    generate_layout_dependencies
    MDCONTAINER_MIGRATE=native
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" "/dev/sdx /dev/sdy"
}

@test "migrated to native md, / on RAID 0: a warning, GRUB2_INSTALL_DEVICES left to ReaR, the recovery goes on" {
    sed -i -E 's/^(mdvolume .*) level=raid1 /\1 level=raid0 /' "$LAYOUT_FILE"
    grep -q 'level=raid0' "$LAYOUT_FILE"
    MDCONTAINER_MIGRATE=native
    source "$HOOK"
    assert_equal "$GRUB2_INSTALL_DEVICES" ""
    run cat "$REAR_LOG"
    assert_line --partial "LogPrintError: rear-mdcontainer: WARNING: mdvolume /dev/md126"
    assert_line --partial "no BIOS can boot it from a member disk"
}
