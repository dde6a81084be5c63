# Record Intel IMSM and SNIA DDF firmware RAID (rear-mdcontainer).
#
# layout/save/GNU/Linux/210_raid_layout.sh writes a generic 'raidarray' line for
# every md array, containers and the volumes inside them included, and
# 200_partition_layout.sh writes 'part' lines for the raw member disks (with
# RAID1 the volume's partition table is visible at LBA 0 of every member).
# Recreating from those lines goes wrong in many ways (ReaR issue #1540):
# DDF containers are recorded without member disks ('Container GUID :' is
# mistaken for 'Container :'), md numbers are taken for names, nothing is verified.
# Here the helper probes mdadm and sysfs and rewrites $DISKLAYOUT_FILE: the
# container and volume lines become 'mdcontainer' and 'mdvolume' entries, the
# raw members' 'part' lines go, everything else (native md arrays too) stays.
# With IMSM it also records the Intel RST/VROC platform ('mdadm --detail-platform'
# and whether IMSM_NO_PLATFORM=1 is set) as '# mdplatform' comments, which ReaR
# ignores and the recovery's preflight compares with the replacement hardware.
# Firmware RAID it does not recreate (dmraid sets, AMD RAIDXpert/rcraid arrays)
# it reports as warnings and records as '# mdfakeraid' comments (issue #5).
# This runs after the last upstream writer of disk entries (280) and before
# layout/save/default/300_list_dependencies.sh builds the dependency graph.

is_false "$MDCONTAINER_ENABLED" && return 0

# Nothing to do without md arrays with external metadata, i.e. without
# /sys/block/mdX/md/metadata_version values like 'external:imsm' or 'external:/md127/0',
# and without other firmware RAID, which is not recreated and which the helper
# reports to the user and as '# mdfakeraid' comments: dmraid sets (device-mapper
# UUIDs like 'DMRAID-isw_cfbhgfbcdd_Volume0' in /sys/block/dm-N/dm/uuid) and
# the arrays of AMD RAIDXpert (the out-of-tree driver rcraid, /sys/module/rcraid)
# (MDCONTAINER_SYSFS is only for the tests, which point it at a fake sysfs tree):
if grep -qs '^external:' "${MDCONTAINER_SYSFS:-/sys}"/block/md*/md/metadata_version ; then
    LogPrint "Recording firmware RAID containers and volumes (rear-mdcontainer)"
elif grep -qs '^DMRAID-' "${MDCONTAINER_SYSFS:-/sys}"/block/dm-*/dm/uuid || test -d "${MDCONTAINER_SYSFS:-/sys}/module/rcraid" ; then
    LogPrint "Checking other firmware RAID: dmraid sets, AMD RAIDXpert arrays (rear-mdcontainer)"
else
    return 0
fi
# Keep what upstream recorded, for comparison when something looks wrong
# (and to show that native md arrays are left exactly as upstream wrote them):
cp "$DISKLAYOUT_FILE" "$DISKLAYOUT_FILE.upstream" || LogPrintError "Could not keep a copy of $DISKLAYOUT_FILE as upstream wrote it"
mdcontainer_helper_or_error "recording firmware RAID in $DISKLAYOUT_FILE" save --layout-file "$DISKLAYOUT_FILE" \
    --fakeraid-warnings "${MDCONTAINER_FAKERAID_WARNINGS:-yes}"

# The recovery recreates containers and volumes with mdadm (mdmon keeps their
# metadata up to date; without it a volume stays read-only), and the helper needs
# the Python interpreter in the rescue system. Other firmware RAID alone needs neither.
grep -q '^mdcontainer ' "$DISKLAYOUT_FILE" || return 0
REQUIRED_PROGS+=( mdadm mdmon "$MDCONTAINER_PYTHON" )
