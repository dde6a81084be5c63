# Code to recreate Intel IMSM and SNIA DDF firmware RAID (rear-mdcontainer).
#
# disklayout.conf holds 'mdcontainer' and 'mdvolume' entries (written by
# layout/save/GNU/Linux/290_mdcontainer_layout.sh). layout/prepare/default/540
# calls create_<keyword> for each component in dependency order:
# member disks -> mdcontainer -> mdvolume -> partitions of the volume -> ...
# The code itself is rendered by the Python helper from its templates, which
# validate and shell-quote every value.

if is_false "$MDCONTAINER_ENABLED" ; then
    # Without the plugin nothing would create these components and the recovery
    # would fail late, after disks were written:
    grep -q '^mdcontainer ' "$LAYOUT_FILE" && Error "rear-mdcontainer: $LAYOUT_FILE has mdcontainer entries but MDCONTAINER_ENABLED is '$MDCONTAINER_ENABLED' (set it to yes, or recreate the layout with 'rear savelayout' without the plugin)"
    return 0
fi

# Check the entries now, before the disk mapping and the user's confirmation
# (the helper validates them); create_disk asks again for the final layout:
mdcontainer_member_disks

# A container and all its volumes are created together, in member order, by
# the container's code (a volume's place on the disks depends on the volumes
# before it), so a rerun after any failure starts again from clean disks.
function create_mdcontainer () {
    local container="$1"
    mdcontainer_config_args
    mdcontainer_helper_or_error "generating the code for $container" \
        render container --layout-file "$LAYOUT_FILE" --device "$container" \
        --wait-seconds "$MDCONTAINER_WAIT_SECONDS" "${MDCONTAINER_CONFIG_ARGS[@]}"
    cat "$MDCONTAINER_HELPER_OUT" >> "$LAYOUT_CODE"
}

# A volume's code checks that the volume is there and writable, wipes old
# signatures inside it and then makes its partitions with upstream's code.
# With MDCONTAINER_MIGRATE=native the container's code made native md arrays
# under the volumes' md names instead; the rest is the same.
function create_mdvolume () {
    local volume="$1"
    local keyword device size label junk
    mdcontainer_config_args
    mdcontainer_helper_or_error "generating the code for $volume" \
        render volume --layout-file "$LAYOUT_FILE" --device "$volume" --wait-seconds "$MDCONTAINER_WAIT_SECONDS" \
        "${MDCONTAINER_CONFIG_ARGS[@]}"
    cat "$MDCONTAINER_HELPER_OUT" >> "$LAYOUT_CODE"
    # The partition table type of the volume is in its 'raiddisk' line
    # (raiddisk /dev/md126 <size> gpt) from layout/save/GNU/Linux/210_raid_layout.sh:
    read keyword device size label junk < <( grep "^raiddisk $volume " "$LAYOUT_FILE" )
    MDCONTAINER_HIDE_SYSFS_DEVICE="$volume"
    create_partitions "$volume" "$label"
    MDCONTAINER_HIDE_SYSFS_DEVICE=""
    cat >> "$LAYOUT_CODE" <<VOLUME_END
# Make sure the partition device nodes of $volume are there:
my_udevtrigger
my_udevsettle
delete_dummy_partitions_and_resize_real_ones
VOLUME_END
}

# Member disks get no partition table, label or zeroing of their own: with RAID1
# the volume's partition table sits at LBA 0 of every member, and the container
# code wipes exactly these disks before it creates the container on them.
# Upstream's create_disk (layout/prepare/GNU/Linux/100) would also run
# 'mdadm --stop -s', which stops every array, ours and unrelated ones alike.
declare -F create_disk >/dev/null || BugError "rear-mdcontainer: create_disk is not defined (layout/prepare/GNU/Linux/100 did not run?)"
if ! declare -F mdcontainer_upstream_create_disk >/dev/null ; then
    eval "mdcontainer_upstream_$( declare -f create_disk )"
    function create_disk () {
        local disk="$1"
        # The member disks of the layout as it is now, after the disk mapping
        # (layout/prepare/default/320 runs after this script):
        mdcontainer_member_disks
        if IsInArray "$disk" "${MDCONTAINER_MEMBER_DISKS[@]}" ; then
            cat >> "$LAYOUT_CODE" <<DISK_END
# Disk '$disk' is a member of a firmware RAID container: its container's code prepares it (rear-mdcontainer).
[ -b "$disk" ] || Error "Disk $disk is not a block device."
DISK_END
            return 0
        fi
        mdcontainer_upstream_create_disk "$@"
    }
fi

# create_partitions (layout/prepare/GNU/Linux/100) shrinks partitions that do not
# fit on the device when that device exists in the rescue system. A volume's md
# number may there belong to an *old* array that udev assembled from dirty disks,
# whose size says nothing about the volume we create: while the volume's
# partitions are generated its name has no sysfs entry, as for any device that
# does not exist yet.
declare -F get_sysfs_name >/dev/null || BugError "rear-mdcontainer: get_sysfs_name is not defined (lib/layout-functions.sh)"
if ! declare -F mdcontainer_upstream_get_sysfs_name >/dev/null ; then
    eval "mdcontainer_upstream_$( declare -f get_sysfs_name )"
    function get_sysfs_name () {
        if test "$MDCONTAINER_HIDE_SYSFS_DEVICE" && test "$1" = "$MDCONTAINER_HIDE_SYSFS_DEVICE" ; then
            return 0
        fi
        mdcontainer_upstream_get_sysfs_name "$@"
    }
fi

# The same holds for a native md array of the layout (upstream's code makes it
# and its partitions: create_raidarray in ReaR 2.7 and later, create_raid
# before): udev may have given its md number to an old container or volume on
# our dirty disks, which our code stops first (seen: the old IMSM container as
# /dev/md127, size 0, where the recorded native RAID1 /dev/md127 was to be
# created: parted got a negative partition end). The array does not exist yet
# when its code is generated, so its name has no sysfs entry then either.
if grep -q '^mdcontainer ' "$LAYOUT_FILE" ; then
    local mdcontainer_raid_function
    for mdcontainer_raid_function in create_raidarray create_raid ; do
        declare -F $mdcontainer_raid_function >/dev/null || continue
        declare -F mdcontainer_upstream_$mdcontainer_raid_function >/dev/null && continue
        eval "mdcontainer_upstream_$( declare -f $mdcontainer_raid_function )"
        eval "function $mdcontainer_raid_function () {
            local rc=0
            MDCONTAINER_HIDE_SYSFS_DEVICE=\"\$1\"
            mdcontainer_upstream_$mdcontainer_raid_function \"\$@\" || rc=\$?
            MDCONTAINER_HIDE_SYSFS_DEVICE=\"\"
            return \$rc
        }"
    done
fi
