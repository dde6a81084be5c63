#!/usr/bin/env bats
# usr/share/rear/finalize/Linux-i386/671_mdcontainer_efibootmgr.sh: the UEFI
# boot entry for an ESP on a firmware RAID volume where ReaR's 670 cannot make
# it (ReaR 2.6 cuts /dev/md126p1 to /dev/md126p). The run against ReaR 2.6
# (setup.cfg bats_variants) has no get_device_from_partition to wrap; against
# 2.7 and later the tests that need the 2.6 situation drop the wrap.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    HOOK=$SHARE_DIR/finalize/Linux-i386/671_mdcontainer_efibootmgr.sh
    NOBOOTLOADER=1
    USING_UEFI_BOOTLOADER=1
    EFI_STUB=
    OS_VENDOR=Debian
    OS_VERSION=12
    TARGET_FS_ROOT=$BATS_TEST_TMPDIR/mnt/local
    UEFI_BOOTLOADER=/boot/efi/EFI/debian/shimx64.efi
    mkdir -p "$TARGET_FS_ROOT/boot/efi/EFI/debian"
    touch "$TARGET_FS_ROOT/$UEFI_BOOTLOADER"
    ESP_DEVICE=/dev/md126p1
    # df -P as in the rescue system: the ESP mounted below TARGET_FS_ROOT.
    function df() {
        echo "Filesystem     1024-blocks  Used Available Capacity Mounted on"
        echo "$ESP_DEVICE         130798  6082    124716       5% $TARGET_FS_ROOT/boot/efi"
    }
    EFIBOOTMGR_CALLS=$BATS_TEST_TMPDIR/efibootmgr.calls
    EFIBOOTMGR_RC=0
    function efibootmgr() {
        printf '%s\n' "$*" >>"$EFIBOOTMGR_CALLS"
        return "$EFIBOOTMGR_RC"
    }
}

refute_efibootmgr() {
    if test -e "$EFIBOOTMGR_CALLS"; then
        fail "efibootmgr ran: $(cat "$EFIBOOTMGR_CALLS")"
    fi
}

# ReaR 2.6: no get_device_from_partition, so lib/mdcontainer-functions.sh wrapped nothing.
as_rear_2_6() {
    unset -f mdcontainer_upstream_get_device_from_partition
}

@test "ReaR 2.6, ESP on an IMSM volume, no boot loader yet: the entry names the volume and the partition" {
    as_rear_2_6
    source "$HOOK"
    run cat "$EFIBOOTMGR_CALLS"
    assert_output '--create --gpt --disk /dev/md126 --part 1 --write-signature --label Debian 12 --loader \EFI\debian\shimx64.efi'
    assert_equal "$NOBOOTLOADER" ""
    run cat "$REAR_LOG"
    assert_line --partial "LogPrint: rear-mdcontainer: creating the EFI Boot Manager entry 'Debian 12' for the ESP on /dev/md126 (partition 1)"
    refute_output --partial LogPrintError
}

@test "the loader path is taken relative to where the ESP is mounted (/efi, not /boot/efi)" {
    as_rear_2_6
    UEFI_BOOTLOADER=/efi/EFI/fedora/shimx64.efi
    mkdir -p "$TARGET_FS_ROOT/efi/EFI/fedora"
    touch "$TARGET_FS_ROOT/$UEFI_BOOTLOADER"
    function df() {
        echo "Filesystem     1024-blocks  Used Available Capacity Mounted on"
        echo "/dev/md126p3         130798  6082    124716       5% $TARGET_FS_ROOT/efi"
    }
    source "$HOOK"
    run cat "$EFIBOOTMGR_CALLS"
    assert_output '--create --gpt --disk /dev/md126 --part 3 --write-signature --label Debian 12 --loader \EFI\fedora\shimx64.efi'
}

@test "ReaR 2.7 and later: 670 asked the plugin's get_device_from_partition, 671 does nothing" {
    declare -F mdcontainer_upstream_get_device_from_partition >/dev/null ||
        skip "this ReaR has no get_device_from_partition"
    source "$HOOK"
    refute_efibootmgr
    assert_equal "$NOBOOTLOADER" 1
}

@test "a boot loader set up already (670 worked): nothing" {
    as_rear_2_6
    NOBOOTLOADER=
    source "$HOOK"
    refute_efibootmgr
}

@test "BIOS, EFISTUB or MDCONTAINER_ENABLED=no: nothing" {
    as_rear_2_6
    USING_UEFI_BOOTLOADER=
    source "$HOOK"
    USING_UEFI_BOOTLOADER=1 EFI_STUB=yes
    source "$HOOK"
    EFI_STUB= MDCONTAINER_ENABLED=no
    source "$HOOK"
    refute_efibootmgr
    assert_equal "$NOBOOTLOADER" 1
}

@test "an ESP on a plain disk or on an md array that is no volume of ours is left to ReaR" {
    as_rear_2_6
    ESP_DEVICE=/dev/sdc1
    source "$HOOK"
    ESP_DEVICE=/dev/md1p1
    source "$HOOK"
    refute_efibootmgr
    assert_equal "$NOBOOTLOADER" 1
    run cat "$REAR_LOG"
    assert_line --partial "the ESP (/dev/sdc1) is not a partition of an md volume"
    assert_line --partial "/dev/md1 (holding the ESP) is no mdvolume of the layout"
}

@test "a layout without volumes: nothing" {
    as_rear_2_6
    sed -i -E '/^(mdcontainer|mdvolume) /d' "$LAYOUT_FILE"
    source "$HOOK"
    refute_efibootmgr
}

@test "efibootmgr fails: an error that says what to do, NOBOOTLOADER stays set" {
    as_rear_2_6
    EFIBOOTMGR_RC=1
    source "$HOOK"
    assert_equal "$NOBOOTLOADER" 1
    run cat "$REAR_LOG"
    assert_line --partial "LogPrintError: rear-mdcontainer: efibootmgr failed to create the EFI Boot Manager entry on /dev/md126 partition 1"
}
