# Record how the original system runs IMSM (rear-mdcontainer).
#
# Without an Intel RST/VROC option ROM (virtual machines, boards without RST)
# IMSM only works with IMSM_NO_PLATFORM=1 in the environment of mdadm and mdmon.
# With MDCONTAINER_IMSM_NO_PLATFORM=auto the recovery does what the original did,
# so that is recorded here in the rescue system's configuration (the layout's
# '# mdplatform' record, written by layout/save, says the same and is the
# fallback where rescue.conf does not, e.g. after 'rear savelayout' alone).

is_false "$MDCONTAINER_ENABLED" && return 0
# Only with IMSM containers (MDCONTAINER_SYSFS is only for the tests, which point it at a fake sysfs tree):
grep -qs '^external:imsm' "${MDCONTAINER_SYSFS:-/sys}"/block/md*/md/metadata_version || return 0

local original=no pid
test "${IMSM_NO_PLATFORM:-}" = 1 && original=yes
# mdmon runs with the environment the arrays were assembled with (udev, systemd):
for pid in $( pidof mdmon ) ; do
    if tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx 'IMSM_NO_PLATFORM=1' ; then
        original=yes
    fi
done
Log "rear-mdcontainer: the original system runs IMSM with IMSM_NO_PLATFORM=1: $original"
echo "MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=$original" >> "$ROOTFS_DIR/etc/rear/rescue.conf"
