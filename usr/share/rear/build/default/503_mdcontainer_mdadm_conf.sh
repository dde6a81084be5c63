# Include Debian's /etc/mdadm/mdadm.conf in the rescue system (rear-mdcontainer).
#
# build/default/502_include_mdadm_conf.sh copies /etc/mdadm.conf (Fedora, RHEL,
# SUSE) with its ARRAY lines commented out, so that nothing is assembled from
# them in the rescue system; Debian and Ubuntu keep the file as
# /etc/mdadm/mdadm.conf, which mdadm reads first. Do the same for that path.

is_false "$MDCONTAINER_ENABLED" && return 0
test -e /etc/mdadm/mdadm.conf || return 0
grep -qs '^external:' "${MDCONTAINER_SYSFS:-/sys}"/block/md*/md/metadata_version || return 0

Log "Including /etc/mdadm/mdadm.conf (ARRAY lines commented out) for rear-mdcontainer"
mkdir -p $v "$ROOTFS_DIR/etc/mdadm"
{
    echo "# /etc/mdadm/mdadm.conf of the original system; ARRAY lines commented out by rear-mdcontainer"
    echo "# so that the rescue system assembles nothing from them."
    # An ARRAY line may go on in lines that start with blanks: comment those out too.
    awk '/^ARRAY/ { in_array = 1 ; print "#" $0 ; next }
         /^[ \t]/ && in_array { print "#" $0 ; next }
         { in_array = 0 ; print }' /etc/mdadm/mdadm.conf
} > "$ROOTFS_DIR/etc/mdadm/mdadm.conf"
