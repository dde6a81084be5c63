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
