#!/usr/bin/env bats
# usr/share/rear/finalize/GNU/Linux/510_mdcontainer_update_arrays.sh: after the
# restore, the helper's 'finalize' makes the restored system below
# TARGET_FS_ROOT name the new arrays (mdadm.conf, rd.md.uuid=), with what
# 'mdadm --detail --scan' shows in the rescue system and the files of ReaR's
# FILES_TO_PATCH_PATTERNS; the initramfs must then be rebuilt. The helper is
# stubbed except in the last tests (its logic is tested in tests/unit/test_finalize.py).

load test_helper

OLD_C=0c2a4cf8:9b1f0d24:7b2a6e1c:3d5e8f10
OLD_V=1a2b3c4d:5e6f7a8b:9c0d1e2f:3a4b5c6d
NEW_C=9e1f3b5a:0c7d2e48:b6a41f93:5d08c2e7
NEW_V=3f6a9c21:e84b07d5:12ce6fa0:97b3d418

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
    HOOK=$SHARE_DIR/finalize/GNU/Linux/510_mdcontainer_update_arrays.sh
    TARGET_FS_ROOT=$BATS_TEST_TMPDIR/mnt/local
    mkdir -p "$TARGET_FS_ROOT/etc/default" "$TARGET_FS_ROOT/boot/grub"
    printf '%s %s\n%s %s\n' "$OLD_C" "$NEW_C" "$OLD_V" "$NEW_V" >"$VAR_DIR/layout/mdcontainer-uuid-map"
    # ReaR 2.7's default.conf: the brace patterns never match (see the user guide)
    FILES_TO_PATCH_PATTERNS="[b]oot/{grub.conf,menu.lst,device.map} [e]tc/grub.* [b]oot/grub/{grub.conf,grub.cfg,menu.lst,device.map} [e]tc/fstab [e]tc/crypttab [b]oot/efi/*/*/grub.cfg"
    REBUILD_INITRAMFS=yes
    MDADM_CALLS=$BATS_TEST_TMPDIR/mdadm.calls
    : >"$MDADM_CALLS"
    function mdadm() {
        echo "$*" >>"$MDADM_CALLS"
        printf 'ARRAY /dev/md127 metadata=imsm UUID=%s\nARRAY /dev/md126 container=/dev/md127 member=0 UUID=%s\n' "$NEW_C" "$NEW_V"
    }
    mdc_stub_helper
    function helper_answer() {
        echo "/etc/mdadm/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays"
    }
}

@test "the helper updates the restored root with the scan, the map and ReaR's files to patch" {
    echo "UUID=x / ext4 defaults 0 1" >"$TARGET_FS_ROOT/etc/fstab"
    echo "GRUB_TIMEOUT=5" >"$TARGET_FS_ROOT/etc/grub.conf"
    mkdir -p "$TARGET_FS_ROOT/boot/efi/EFI/debian"
    echo "configfile x" >"$TARGET_FS_ROOT/boot/efi/EFI/debian/grub.cfg"
    local cwd=$PWD
    source "$HOOK"
    run cat "$MDADM_CALLS"
    assert_output "--detail --scan"
    run cat "$TMP_DIR/mdcontainer-detail-scan"
    assert_line "ARRAY /dev/md127 metadata=imsm UUID=$NEW_C"
    run cat "$HELPER_CALLS"
    assert_output "finalize --root $TARGET_FS_ROOT --layout-file $LAYOUT_FILE --uuid-map $VAR_DIR/layout/mdcontainer-uuid-map --mdadm-scan-file $TMP_DIR/mdcontainer-detail-scan --file etc/grub.conf --file etc/fstab --file boot/efi/EFI/debian/grub.cfg"
    run cat "$REAR_LOG"
    assert_line 'LogPrint: Updating mdadm.conf and md UUIDs in the restored system for the recreated firmware RAID (rear-mdcontainer)'
    assert_line 'LogPrint: /etc/mdadm/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays'
    refute_output --partial 'LogPrintError'
    # the working directory is restored
    assert_equal "$PWD" "$cwd"
}

@test "without 'mdadm --detail --scan' the map alone is used, with a message" {
    function mdadm() { echo "mdadm: cannot open /proc/mdstat" >&2; return 1; }
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "finalize --root $TARGET_FS_ROOT --layout-file $LAYOUT_FILE --uuid-map $VAR_DIR/layout/mdcontainer-uuid-map"
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: 'mdadm --detail --scan' failed, the new md UUIDs come from $VAR_DIR/layout/mdcontainer-uuid-map only"
}

@test "without the UUID map nothing is changed, and the user is told" {
    rm "$VAR_DIR/layout/mdcontainer-uuid-map"
    source "$HOOK"
    run cat "$HELPER_CALLS" "$MDADM_CALLS"
    refute_output
    run cat "$REAR_LOG"
    assert_output "LogPrintError: rear-mdcontainer: no $VAR_DIR/layout/mdcontainer-uuid-map, so the restored system's mdadm.conf and rd.md.uuid= kernel arguments still name the old md UUIDs"
}

@test "a helper error stops ReaR with the helper's message, warnings are shown" {
    function helper_answer() {
        echo "WARNING: mdvolume /dev/md126: its new UUID is neither recorded in the UUID map" >&2
        echo "ERROR: $VAR_DIR/layout/mdcontainer-uuid-map line 1: 'x' is not 'old-uuid new-uuid' (rerun)" >&2
        return 2
    }
    run source "$HOOK"
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: updating the restored system for the new md UUIDs failed: ERROR: $VAR_DIR/layout/mdcontainer-uuid-map line 1:"
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: WARNING: mdvolume /dev/md126: its new UUID is neither recorded in the UUID map"
}

@test "REBUILD_INITRAMFS=yes stays" {
    source "$HOOK"
    assert_equal "$REBUILD_INITRAMFS" yes
    run grep -c REBUILD_INITRAMFS "$REAR_LOG"
    assert_output 0
}

@test "an empty REBUILD_INITRAMFS (rebuild only for new drivers) becomes yes: the UUIDs changed" {
    REBUILD_INITRAMFS=""
    source "$HOOK"
    assert_equal "$REBUILD_INITRAMFS" yes
    run cat "$REAR_LOG"
    assert_line "LogPrint: rear-mdcontainer: the md UUIDs changed, so the initramfs is rebuilt (REBUILD_INITRAMFS=yes instead of '')"
}

@test "REBUILD_INITRAMFS=no is the user's choice: kept, with a warning" {
    REBUILD_INITRAMFS=no
    source "$HOOK"
    assert_equal "$REBUILD_INITRAMFS" no
    run cat "$REAR_LOG"
    assert_line "LogPrintError: rear-mdcontainer: REBUILD_INITRAMFS='no': the restored initramfs still names the old md UUIDs; rebuild it in the recovered system (chroot $TARGET_FS_ROOT) before it boots"
}

@test "without mdcontainer entries nothing happens" {
    sed -i -E '/^(mdcontainer|mdvolume) /d' "$LAYOUT_FILE"
    REBUILD_INITRAMFS=""
    source "$HOOK"
    run cat "$HELPER_CALLS" "$MDADM_CALLS" "$REAR_LOG"
    refute_output
    assert_equal "$REBUILD_INITRAMFS" ""
}

@test "excluded (commented-out) entries: nothing happens" {
    sed -i -E 's/^(mdcontainer|mdvolume) /#&/' "$LAYOUT_FILE"
    source "$HOOK"
    run cat "$HELPER_CALLS" "$MDADM_CALLS" "$REAR_LOG"
    refute_output
}

@test "MDCONTAINER_ENABLED=no: nothing happens" {
    MDCONTAINER_ENABLED=no
    source "$HOOK"
    run cat "$HELPER_CALLS" "$MDADM_CALLS" "$REAR_LOG"
    refute_output
}

@test "with the real helper a Debian root names the new arrays, and a second run changes nothing" {
    function mdcontainer_helper() { mdcontainer_real_helper "$@"; }
    cat >"$TARGET_FS_ROOT/etc/default/grub" <<EOF
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="rd.md.uuid=$OLD_V"
EOF
    mkdir -p "$TARGET_FS_ROOT/etc/mdadm"
    cat >"$TARGET_FS_ROOT/etc/mdadm/mdadm.conf" <<EOF
HOMEHOST <system>
MAILADDR root
ARRAY metadata=imsm UUID=$OLD_C
ARRAY /dev/md/Volume0 container=$OLD_C member=0 UUID=$OLD_V
EOF
    source "$HOOK"
    run cat "$TARGET_FS_ROOT/etc/mdadm/mdadm.conf"
    assert_output "$(printf '%s\n' 'HOMEHOST <system>' 'MAILADDR root' \
        "ARRAY /dev/md/imsm0 metadata=imsm UUID=$NEW_C" \
        "ARRAY /dev/md/Volume0 container=$NEW_C member=0 UUID=$NEW_V")"
    run cat "$TARGET_FS_ROOT/etc/default/grub"
    assert_line "GRUB_CMDLINE_LINUX=\"rd.md.uuid=$NEW_V\""
    run cat "$REAR_LOG"
    assert_line --partial "LogPrint: mdcontainer /dev/md127 (imsm0): UUID $OLD_C -> $NEW_C (mdadm --detail --scan)"
    assert_line --partial "/etc/default/grub: 1 UUID(s) replaced"
    local before
    before=$(stat -c '%i %Y' "$TARGET_FS_ROOT/etc/mdadm/mdadm.conf" "$TARGET_FS_ROOT/etc/default/grub")
    source "$HOOK"
    assert_equal "$(stat -c '%i %Y' "$TARGET_FS_ROOT/etc/mdadm/mdadm.conf" "$TARGET_FS_ROOT/etc/default/grub")" "$before"
}

@test "with the real helper a restored system with dracut gets the mdraid module" {
    function mdcontainer_helper() { mdcontainer_real_helper "$@"; }
    mkdir -p "$TARGET_FS_ROOT/usr/bin" "$TARGET_FS_ROOT/etc/dracut.conf.d"
    touch "$TARGET_FS_ROOT/usr/bin/dracut"
    source "$HOOK"
    run cat "$TARGET_FS_ROOT/etc/dracut.conf.d/rear-mdcontainer.conf"
    assert_line 'add_dracutmodules+=" mdraid "'
    run cat "$REAR_LOG"
    assert_line --partial "no mdadm.conf in the restored system"
}

@test "migrated to native md: the list of native arrays is passed on" {
    echo "/dev/md126 $NEW_V 1.0 any:Volume0" >"$VAR_DIR/layout/mdcontainer-native"
    function mdadm() { return 1; }
    source "$HOOK"
    run cat "$HELPER_CALLS"
    assert_output "finalize --root $TARGET_FS_ROOT --layout-file $LAYOUT_FILE --uuid-map $VAR_DIR/layout/mdcontainer-uuid-map --native-file $VAR_DIR/layout/mdcontainer-native"
}
