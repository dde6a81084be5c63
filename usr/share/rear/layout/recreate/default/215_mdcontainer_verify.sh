# Verify the recreated firmware RAID against the layout (rear-mdcontainer).
#
# diskrestore.sh (run by 200_run_layout_code.sh) created the containers and
# volumes; here the live arrays are probed like 'rear savelayout' does and
# compared with the mdcontainer/mdvolume entries: metadata, member disks and
# their order, level, raid-devices, size per disk, chunk, layout, name and where
# each volume starts. A difference stops the recovery before the backup is
# restored onto a geometry the firmware or the file systems do not expect.
# IMSM ignores --uuid, so every array has a new UUID: the old -> new map is
# kept for the finalize stage (mdadm.conf, rd.md.uuid= kernel arguments).
# Containers that diskrestore.sh kept as they existed (MDCONTAINER_REUSE=yes,
# listed in mdcontainer-kept) are checked for what made them fit instead.
# With MDCONTAINER_MIGRATE=native each volume's md device must be the planned
# native md array; they are listed in mdcontainer-native for the finalize stage.

is_false "$MDCONTAINER_ENABLED" && return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0

LogPrint "Verifying the recreated firmware RAID containers and volumes (rear-mdcontainer)"
MDCONTAINER_UUID_MAP="$VAR_DIR/layout/mdcontainer-uuid-map"
# What an earlier run migrated is not what this run made:
rm -f "$VAR_DIR/layout/mdcontainer-native"
local -a migrate_args=()
if test "${MDCONTAINER_MIGRATE:-}" ; then
    migrate_args=( --migrate "$MDCONTAINER_MIGRATE" --deps-file "$LAYOUT_DEPS"
                   --native-file "$VAR_DIR/layout/mdcontainer-native" )
fi
mdcontainer_helper_or_error "verifying the recreated firmware RAID" \
    verify --layout-file "$LAYOUT_FILE" --uuid-map "$MDCONTAINER_UUID_MAP" \
    --grow-last-volume "${MDCONTAINER_GROW_LAST_VOLUME:-no}" --kept-file "$VAR_DIR/layout/mdcontainer-kept" \
    "${migrate_args[@]}"
LogPrint "$( cat "$MDCONTAINER_HELPER_OUT" )"
