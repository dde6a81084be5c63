# Install GRUB2 onto the firmware RAID volume that holds /boot (rear-mdcontainer).
#
# A BIOS with Intel RST (its option ROM) or a DDF RAID BIOS presents each volume
# as one disk and boots the volume's first sector. ReaR's 660_install_grub2.sh,
# left to itself, walks from /boot down to the 'disk' entries and runs
# grub-install on every raw member disk: behind md's back (the mirror does not
# know about those writes) and plainly wrong for RAID 0/5/10, where a member's
# first sectors are not the volume's. So when /boot (or /, without a separate
# /boot) lives on one of our volumes and the user did not choose, we set
# GRUB2_INSTALL_DEVICES to the volume device: 660 then runs
# 'grub-install /dev/mdX' in the restored system, which writes through md.
# Migrated to native md (MDCONTAINER_MIGRATE=native), the volume device is a
# native array on the member disks, which GRUB cannot write through
# ('grub-install /dev/md126': "diskfilter writes are not supported") and which
# no RAID BIOS presents as a disk: the BIOS boots a member disk. The array that
# holds /boot or / got metadata 1.0 (at the end), so a RAID 1 member begins with
# the array's first sectors: GRUB goes onto every member disk, and its core
# image reads /boot through its mdraid1x module; either disk boots alone.
# 655: after 510 (new UUIDs in the restored files), before 660.

is_false "$MDCONTAINER_ENABLED" && return 0
is_true "$USING_UEFI_BOOTLOADER" && return 0
is_true "$NOBOOTLOADER" || return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0
test -r "$LAYOUT_DEPS" || return 0

local -a check_args=()
local device
for device in $GRUB2_INSTALL_DEVICES ; do
    check_args+=( --check-device "$device" )
done
test "${MDCONTAINER_MIGRATE:-}" = native && check_args+=( --migrate native )
mdcontainer_helper_or_error "finding the volume that holds /boot" \
    boot-volumes --layout-file "$LAYOUT_FILE" --deps-file "$LAYOUT_DEPS" "${check_args[@]}"

if test "$GRUB2_INSTALL_DEVICES" ; then
    # The user's choice stands (a warning above names member disks in it).
    Log "rear-mdcontainer: GRUB2_INSTALL_DEVICES='$GRUB2_INSTALL_DEVICES' is set, not changed"
    return 0
fi

local volume mountpoint="" where junk
local -a volumes=()
while read -r volume where junk ; do
    test "$volume" || continue
    volumes+=( "$volume" )
    mountpoint="$where"
done < "$MDCONTAINER_HELPER_OUT"
test "${#volumes[@]}" -gt 0 || return 0

GRUB2_INSTALL_DEVICES="${volumes[*]}"
if test "${MDCONTAINER_MIGRATE:-}" = native ; then
    # Here the helper answered with the member disks of the native RAID 1 array:
    LogPrint "rear-mdcontainer: $mountpoint is on a volume migrated to native md RAID 1: GRUB2 is installed onto each of its member disks ${volumes[*]} (GRUB cannot write through native md; either disk boots alone)"
    return 0
fi
LogPrint "rear-mdcontainer: $mountpoint is on firmware RAID volume ${volumes[*]}: GRUB2 is installed onto the volume (as the RAID BIOS boots it), not onto its member disks"
