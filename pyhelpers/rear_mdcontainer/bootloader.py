"""Which firmware RAID volume the boot loader belongs on.

A BIOS with Intel RST (its option ROM) or a DDF controller presents each
volume as one disk and boots the volume's first sector, never a member disk on
its own. So when /boot (or /, without a separate /boot) lives on one of our
volumes, GRUB must be installed onto the volume device (``grub-install
/dev/md126``): written through md, mirrored by it, striped by it for RAID 0/5/10.
ReaR's own search walks the dependency graph down to the ``disk`` entries and
would run ``grub-install`` on each raw member disk instead: behind md's back,
and wrong for every level but RAID 1.

The graph is ReaR's diskdeps.conf (``child parent`` per line, written by
generate_layout_dependencies, which lib/mdcontainer-functions.sh extends with
mdvolume -> mdcontainer -> disk). The walk starts at ``fs:<mountpoint>`` and
stops at the first volume on each path, so LVM, LUKS or partitions between
the file system and the volume are followed; the mount order edges between
file systems (``fs:/boot fs:/``) are not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .errors import MdcError
from .model import Layout

#: Where the boot loader's files are, in the order they are looked for (BIOS GRUB).
BIOS_BOOT_MOUNTPOINTS = ("/boot", "/")
#: Where the EFI system partition is mounted (ReaR's own default places).
ESP_MOUNTPOINTS = ("/boot/efi", "/efi", "/boot")


def parse_deps(lines: Iterable[str]) -> list[tuple[str, str]]:
    """``child parent`` pairs of a diskdeps.conf (blank and comment lines skipped)."""
    pairs = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#"):
            pairs.append((fields[0], fields[1]))
    return pairs


def volumes_below(layout: Layout, deps: Sequence[tuple[str, str]], node: str) -> list[str]:
    """The volumes that ``node`` (e.g. ``fs:/boot``) lives on, in the order found."""
    parents: dict[str, list[str]] = {}
    for child, parent in deps:
        parents.setdefault(child, []).append(parent)
    volumes = {volume.device for volume in layout.volumes}
    found: list[str] = []
    seen: set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        if current in volumes:
            found.append(current)
            continue
        # "fs:/boot fs:/" only says that / is mounted first: not where /boot lives.
        todo.extend(parent for parent in parents.get(current, ()) if not parent.startswith("fs:"))
    return found


def mounted_in_layout(deps: Sequence[tuple[str, str]], mountpoints: Sequence[str]) -> str | None:
    """The first of ``mountpoints`` that the layout has a file system for."""
    nodes = {child for child, _ in deps}
    for mountpoint in mountpoints:
        if f"fs:{mountpoint}" in nodes:
            return mountpoint
    return None


def boot_volumes(layout: Layout, deps: Sequence[tuple[str, str]],
                 mountpoints: Sequence[str] = BIOS_BOOT_MOUNTPOINTS) -> tuple[str | None, list[str]]:
    """(the mount point found, the volumes below it); (None, []) when none is in the layout."""
    mountpoint = mounted_in_layout(deps, mountpoints)
    if mountpoint is None:
        return None, []
    return mountpoint, volumes_below(layout, deps, f"fs:{mountpoint}")


def members_named(layout: Layout, devices: Iterable[str]) -> list[str]:
    """Which of ``devices`` (e.g. the user's GRUB2_INSTALL_DEVICES) are member disks of our containers."""
    members = {disk for container in layout.containers for disk in container.devices}
    return [device for device in devices if device in members]


def native_boot_disks(layout: Layout, volumes: Sequence[str]) -> list[str]:
    """Where GRUB goes when the boot volumes were recreated as native md arrays (``MDCONTAINER_MIGRATE=native``).

    GRUB cannot be written through a native md array (``grub-install /dev/md126`` fails: "diskfilter writes
    are not supported"), and without a RAID BIOS nothing presents the array as one disk: the BIOS boots a
    member disk. With metadata 1.0 (which the migration gives the volume holding /boot or /) a RAID 1 member
    begins with the array's own first sectors, so GRUB goes onto every member disk (its core image then reads
    /boot through its mdraid1x module) and either disk boots alone. The member disks are the volume's
    ``devices=`` (after the disk mapping), in slot order, each once, empty slots left out. For other levels a member's first
    sectors are not the array's and no member disk can boot it; nor can one when the container had several
    volumes (the native arrays are then on partitions of the member disks): MdcError.
    """
    by_device = {volume.device: volume for volume in layout.volumes}
    disks: list[str] = []
    for device in volumes:
        volume = by_device.get(device)
        if volume is None:
            raise MdcError(device, "is not an mdvolume of the layout", "check the layout and diskdeps.conf")
        if layout.native_on_partitions(layout.container(volume.container)):
            raise MdcError(volume.entry_name,
                           "holds the boot files, but its container has several volumes, so as a native md array "
                           "it lives on partitions of the member disks, where no BIOS boot code finds GRUB",
                           "set up a boot loader by hand after the recovery (see 'Migrating to native md' in the "
                           "user guide), or recover without MDCONTAINER_MIGRATE=native")
        if volume.level != "raid1":
            raise MdcError(volume.entry_name,
                           f"holds the boot files, but as a native md {volume.level} array no BIOS can boot it "
                           "from a member disk",
                           "install a boot loader by hand (e.g. a separate /boot on RAID 1), or recover "
                           "without MDCONTAINER_MIGRATE=native")
        # (an empty slot, 'missing', has no disk to boot)
        disks += [disk for disk in volume.devices if disk.startswith("/dev/") and disk not in disks]
    return disks
