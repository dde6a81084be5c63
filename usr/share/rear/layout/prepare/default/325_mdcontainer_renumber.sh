# Free md names for the firmware RAID to recreate (rear-mdcontainer).
#
# md numbers are handed out when arrays are assembled: in the rescue system the
# number a container or volume had on the original system may be held by an
# array that udev assembled from disks the layout does not name (an excluded
# data array, disks that came with the replacement hardware). That array is not
# ours to stop, so our array is recreated under the highest free md number and
# disklayout.conf is rewritten accordingly (entries, partitions, file systems),
# after ReaR's own disk mapping (320_apply_mappings.sh) and before the code is
# generated. Old arrays on our own disks keep their names: they are stopped
# before the container is created. With MDCONTAINER_REUSE=yes a container and
# volumes that exist and match the layout are kept: the layout takes their md
# names, so that the code generated next works on them.

is_false "$MDCONTAINER_ENABLED" && return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0

mdcontainer_helper_or_error "finding free md names" renumber --layout-file "$LAYOUT_FILE" --reuse "${MDCONTAINER_REUSE:-no}" \
    --migrate "${MDCONTAINER_MIGRATE:-}"
local line
while read -r line ; do
    LogPrint "rear-mdcontainer: $line"
done < "$MDCONTAINER_HELPER_OUT"
