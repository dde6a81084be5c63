# Complete firmware RAID volumes that were degraded when the layout was saved (rear-mdcontainer).
#
# A volume that missed a disk when 'rear savelayout' ran is recorded with
# 'missing' in that slot of its devices= (layout/save/GNU/Linux/290 warned
# about it). The recovery recreates it complete, so the slot needs a disk:
# one named in MDCONTAINER_MISSING_DISKS ("<container>:<disk> ..."), else a disk
# of the container that no volume uses, else the disk entries of the layout that
# nothing else uses (never an excluded '#disk' entry). The helper checks the disk
# (exists, whole, unused, large enough) and writes it into disklayout.conf,
# with a 'disk' line if it has none, so that ReaR's dependency graph, the code,
# the preflight and the verification all see a complete layout. When no disk
# can be chosen, the recovery stops here, before anything is written.
# After ReaR's disk mapping (320_apply_mappings.sh): disk names are those of
# this system; before 325_mdcontainer_renumber.sh: container names are those of
# the layout as saved (what MDCONTAINER_MISSING_DISKS names).

is_false "$MDCONTAINER_ENABLED" && return 0
grep -qE '^mdvolume .* devices=([^ ]*,)?missing(,| |$)' "$LAYOUT_FILE" || return 0

LogPrint "Completing firmware RAID volumes that were degraded when the layout was saved (rear-mdcontainer)"
mdcontainer_helper_or_error "choosing disks for the missing slots of degraded volumes" \
    fill-missing --layout-file "$LAYOUT_FILE" --missing-disks "${MDCONTAINER_MISSING_DISKS[*]}" --target-root "$TARGET_FS_ROOT"
local line
while read -r line ; do
    LogPrint "rear-mdcontainer: $line"
done < "$MDCONTAINER_HELPER_OUT"
