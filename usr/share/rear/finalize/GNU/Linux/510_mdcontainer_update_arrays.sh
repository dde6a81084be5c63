# Make the restored system name the recreated firmware RAID arrays (rear-mdcontainer).
#
# IMSM and DDF arrays get new UUIDs when they are created (IMSM derives them
# from its metadata, mdadm ignores --uuid), so the restored mdadm.conf and the
# rd.md.uuid= kernel arguments (grub defaults and grub.cfg, BLS entries and
# grubenv, /etc/kernel/cmdline, dracut's cmdline.d and conf.d) name arrays that
# no longer exist: the initramfs built from them waits for those arrays and
# the boot ends in an emergency shell.
# layout/recreate 215_mdcontainer_verify.sh kept the old -> new UUID map. The
# helper replaces the ARRAY lines of our arrays in mdadm.conf and the old UUIDs
# everywhere else, also in the files ReaR patches for new file system UUIDs
# (FILES_TO_PATCH_PATTERNS), and, when the restored system builds its
# initramfs with dracut, makes sure that dracut includes mdadm and mdmon
# (module mdraid, in /etc/dracut.conf.d/rear-mdcontainer.conf) unless its
# configuration names mdraid already. initramfs-tools needs nothing: the
# mdadm package's hook copies mdadm, mdmon and mdadm.conf when arrays exist.
# 510: after the backup was restored and ReaR's own migrations (250, 280),
# before 520 lets the user check the restored files (migration mode) and
# before 550_rebuild_initramfs.sh builds the initramfs from them.

is_false "$MDCONTAINER_ENABLED" && return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0

MDCONTAINER_UUID_MAP="$VAR_DIR/layout/mdcontainer-uuid-map"
if ! test -f "$MDCONTAINER_UUID_MAP" ; then
    # No verification, no map (e.g. the disks were not recreated by this run).
    LogPrintError "rear-mdcontainer: no $MDCONTAINER_UUID_MAP, so the restored system's mdadm.conf and rd.md.uuid= kernel arguments still name the old md UUIDs"
    return 0
fi

LogPrint "Updating mdadm.conf and md UUIDs in the restored system for the recreated firmware RAID (rear-mdcontainer)"

# What mdadm sees now in the rescue system; the helper identifies our arrays
# in it by md name and member index and falls back to the map.
local scan_file="$TMP_DIR/mdcontainer-detail-scan"
local -a scan_args=()
if mdadm --detail --scan >"$scan_file" ; then
    scan_args=( --mdadm-scan-file "$scan_file" )
else
    LogPrintError "rear-mdcontainer: 'mdadm --detail --scan' failed, the new md UUIDs come from $MDCONTAINER_UUID_MAP only"
fi

# Volumes migrated to native md arrays (MDCONTAINER_MIGRATE=native), as the
# verification found them: their ARRAY lines replace the container's.
local -a native_args=()
test -f "$VAR_DIR/layout/mdcontainer-native" && native_args=( --native-file "$VAR_DIR/layout/mdcontainer-native" )

# The patterns are relative to the restored root (as in 280_migrate_uuid_tags.sh);
# the helper follows symlinks inside it and skips /proc, /sys, /dev and /run.
local file
local -a file_args=()
pushd "$TARGET_FS_ROOT" >/dev/null || Error "rear-mdcontainer: cannot change to $TARGET_FS_ROOT"
# The expansion is deliberately not quoted: pathname expansion of the patterns.
for file in $FILES_TO_PATCH_PATTERNS ; do
    test -f "$file" && file_args+=( --file "$file" )
done
popd >/dev/null || Error "rear-mdcontainer: cannot change back from $TARGET_FS_ROOT"

mdcontainer_helper_or_error "updating the restored system for the new md UUIDs" \
    finalize --root "$TARGET_FS_ROOT" --layout-file "$LAYOUT_FILE" --uuid-map "$MDCONTAINER_UUID_MAP" \
    "${scan_args[@]}" "${file_args[@]}" "${native_args[@]}"
LogPrint "$( cat "$MDCONTAINER_HELPER_OUT" )"

# The initramfs restored from the backup names the old UUIDs: it must be rebuilt.
# An empty or unrecognised REBUILD_INITRAMFS means "rebuild when ReaR sees a reason"
# (only changed storage drivers): the new UUIDs are one. An explicit 'no' is the user's.
if is_false "$REBUILD_INITRAMFS" ; then
    LogPrintError "rear-mdcontainer: REBUILD_INITRAMFS='$REBUILD_INITRAMFS': the restored initramfs still names the old md UUIDs; rebuild it in the recovered system (chroot $TARGET_FS_ROOT) before it boots"
elif ! is_true "$REBUILD_INITRAMFS" ; then
    LogPrint "rear-mdcontainer: the md UUIDs changed, so the initramfs is rebuilt (REBUILD_INITRAMFS=yes instead of '$REBUILD_INITRAMFS')"
    REBUILD_INITRAMFS=yes
fi
