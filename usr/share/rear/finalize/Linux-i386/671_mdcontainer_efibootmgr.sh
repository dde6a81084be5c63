# 671_mdcontainer_efibootmgr.sh (rear-mdcontainer)
#
# The UEFI boot entry for an EFI system partition on a firmware RAID volume,
# for ReaR versions whose 670_run_efibootmgr.sh cannot make it.
#
# ReaR 2.7 and later ask get_device_from_partition for the ESP's disk, which
# lib/mdcontainer-functions.sh teaches that the disk of /dev/mdXpN is /dev/mdX.
# ReaR 2.6 cuts the partition number off the name instead (/dev/md126p1 ->
# /dev/md126p), its efibootmgr call fails ("efibootmgr failed to create EFI
# Boot Manager entry") and the recovered machine has no boot entry. Here the
# same entry is made with the volume as the disk, only when no boot loader was
# set up by then and only for a volume of our layout: everything else is left
# to ReaR.

is_false "${MDCONTAINER_ENABLED:-yes}" && return 0
is_true "$USING_UEFI_BOOTLOADER" || return 0
is_true "$EFI_STUB" && return 0
# A boot loader is set up already (670 worked, or another script did it).
is_true "$NOBOOTLOADER" || return 0
# ReaR 2.7+: 670 asked our get_device_from_partition; what failed there is not ours to retry.
declare -F mdcontainer_upstream_get_device_from_partition >/dev/null && return 0
grep -q '^mdvolume ' "$LAYOUT_FILE" 2>/dev/null || return 0
test -f "$TARGET_FS_ROOT/$UEFI_BOOTLOADER" || return 0

# Where the ESP is mounted and what is mounted there, as 670 finds it (one df line:
# device, size, used, available, capacity, mount point).
read -r mdcontainer_esp_device junk junk junk junk mdcontainer_esp_mountpoint < <( df -P "$TARGET_FS_ROOT/$UEFI_BOOTLOADER" | tail -n 1 )
# /dev/md/Name_0p1 and the like are links to /dev/md126p1.
test -b "$mdcontainer_esp_device" && mdcontainer_esp_device="$( readlink -f "$mdcontainer_esp_device" )"
if ! [[ "$mdcontainer_esp_device" =~ ^(/dev/md[0-9]+)p([0-9]+)$ ]] ; then
    Log "rear-mdcontainer: the ESP ($mdcontainer_esp_device) is not a partition of an md volume: the UEFI boot entry is ReaR's business"
    return 0
fi
mdcontainer_esp_disk="${BASH_REMATCH[1]}"
mdcontainer_esp_partition="${BASH_REMATCH[2]}"
if ! awk -v disk="$mdcontainer_esp_disk" '$1 == "mdvolume" && $2 == disk {found = 1} END {exit !found}' "$LAYOUT_FILE" ; then
    Log "rear-mdcontainer: $mdcontainer_esp_disk (holding the ESP) is no mdvolume of the layout: the UEFI boot entry is ReaR's business"
    return 0
fi
# The loader's path on the ESP, with backslashes as UEFI writes paths (EFI\debian\shimx64.efi).
mdcontainer_esp_loader="$( readlink -f "$TARGET_FS_ROOT/$UEFI_BOOTLOADER" )"
mdcontainer_esp_loader="${mdcontainer_esp_loader#"$( readlink -f "$mdcontainer_esp_mountpoint" )"}"
mdcontainer_esp_loader="${mdcontainer_esp_loader#/}"
mdcontainer_esp_loader="${mdcontainer_esp_loader//\//\\}"

LogPrint "rear-mdcontainer: creating the EFI Boot Manager entry '$OS_VENDOR $OS_VERSION' for the ESP on $mdcontainer_esp_disk (partition $mdcontainer_esp_partition), which ReaR's own attempt above could not find"
Log efibootmgr --create --gpt --disk "$mdcontainer_esp_disk" --part "$mdcontainer_esp_partition" --write-signature --label "$OS_VENDOR $OS_VERSION" --loader "\\$mdcontainer_esp_loader"
if efibootmgr --create --gpt --disk "$mdcontainer_esp_disk" --part "$mdcontainer_esp_partition" --write-signature --label "$OS_VENDOR $OS_VERSION" --loader "\\$mdcontainer_esp_loader" ; then
    NOBOOTLOADER=''
else
    LogPrintError "rear-mdcontainer: efibootmgr failed to create the EFI Boot Manager entry on $mdcontainer_esp_disk partition $mdcontainer_esp_partition: create it after the recovery (user guide: 'No UEFI boot entry')"
fi
