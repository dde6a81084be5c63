"""Migrating firmware RAID volumes to native Linux md (``MDCONTAINER_MIGRATE=native``).

When the replacement machine has no Intel RST (or the admin leaves firmware
RAID), each recorded volume is created as a native md array under the same md
device name, so that ReaR's own partition and file system code for
``/dev/mdN`` runs unchanged; no container is created.

Geometry, per container of the layout:

- one volume: the native array uses the volume's member disks whole, in slot
  order;
- several volumes: each member disk gets a GPT with one partition per volume
  that uses the disk (member order, partition numbers 1, 2, ...), each as large
  as the recorded size per disk plus :data:`MD_OVERHEAD_MIB`, starting at
  1 MiB; volume k is a native array on its partitions.

Metadata: ``1.0`` (superblock at the end, data from the first sector) for a
volume that holds the EFI system partition, ``/boot`` or ``/``, so that
firmware and BIOS boot code that read a raw member see the partition table
and file systems, as on an IMSM RAID1; ``1.2`` otherwise (superblock at 4 KiB,
the data after a fixed 1 MiB offset, out of the reach of tools that write the
first sectors of a disk). The data offset of 1.2 is given (``--data-offset``)
rather than left to mdadm, whose default grows to 128 MiB on large disks and
would not fit on disks as large as the original next to its recorded volumes.

Nothing here runs a command; the rendering, the preflight and the verification
share these plans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .bootloader import BIOS_BOOT_MOUNTPOINTS, ESP_MOUNTPOINTS, mounted_in_layout, volumes_below
from .entries import decode_name, encode_name
from .errors import MdcError
from .model import MISSING, Container, Layout
from .plan import plan_volumes

MIGRATE_NATIVE = "native"
#: What a native array needs on each member besides its data (superblock, bitmap, bad block log).
MD_OVERHEAD_MIB = 1
#: The data offset of metadata 1.2 (KiB), given to mdadm.
DATA_OFFSET_KIB = 1024
#: Where the first partition starts and what the backup GPT keeps free at the end (MiB).
GPT_START_MIB = 1
GPT_END_MIB = 1
#: Levels whose native arrays get a write-intent bitmap (mdadm refuses one for raid0).
BITMAP_LEVELS = ("raid1", "raid4", "raid5", "raid6", "raid10")
#: Mount points whose volume gets metadata 1.0: the EFI system partition, /boot, /.
BOOT_MOUNTPOINTS = tuple(dict.fromkeys((*ESP_MOUNTPOINTS, *BIOS_BOOT_MOUNTPOINTS)))

# Creation modes of a container.
RECREATE = "recreate"
REUSE = "reuse"
MIGRATE = "migrate"

_OFF = ("", "no", "n", "false", "0", "off")


def migrate_setting(value: str) -> bool:
    """``MDCONTAINER_MIGRATE``: 'native' migrates, empty (or no/off) does not; anything else is an error."""
    text = value.strip().lower()
    if text == MIGRATE_NATIVE:
        return True
    if text in _OFF:
        return False
    raise MdcError("MDCONTAINER_MIGRATE", f"'{value}' is not a migration target",
                   "set it to 'native' (native md arrays instead of firmware RAID) or leave it empty")


def creation_mode(migrate: bool, reuse: bool) -> str:
    """How the containers are created: migrated to native md, kept when they match, or recreated."""
    if migrate and reuse:
        raise MdcError("MDCONTAINER_MIGRATE", "MDCONTAINER_MIGRATE=native and MDCONTAINER_REUSE=yes contradict each "
                       "other: migrating replaces the firmware RAID, reusing keeps it",
                       "set MDCONTAINER_REUSE=no to migrate to native md, or leave MDCONTAINER_MIGRATE empty to keep "
                       "the firmware's arrays")
    if migrate:
        return MIGRATE
    return REUSE if reuse else RECREATE


def partition_device(disk: str, number: int) -> str:
    """The device of partition ``number`` of ``disk``: sda1, nvme0n1p1, by-id/...-part1."""
    if disk.startswith("/dev/disk/by-"):
        return f"{disk}-part{number}"
    return f"{disk}p{number}" if disk[-1:].isdigit() else f"{disk}{number}"


def _ceil_mib(kib: int) -> int:
    return -(-kib // 1024)


def boot_volumes(layout: Layout, deps: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Volume device -> the first of the ESP, /boot and / that lives on it (from ReaR's diskdeps.conf)."""
    found: dict[str, str] = {}
    for mountpoint in BOOT_MOUNTPOINTS:
        if mounted_in_layout(deps, (mountpoint,)) is None:
            continue
        for device in volumes_below(layout, deps, f"fs:{mountpoint}"):
            found.setdefault(device, mountpoint)
    return found


def metadata_for(device: str, boot: dict[str, str]) -> str:
    """1.0 for a volume that holds the ESP, /boot or /; 1.2 otherwise."""
    return "1.0" if device in boot else "1.2"


@dataclass(frozen=True)
class Partition:
    """One partition of a member disk for a native array; ``end_mib`` None: to the end of the disk."""

    disk: str
    number: int
    start_mib: int
    end_mib: int | None
    volume: str

    @property
    def device(self) -> str:
        return partition_device(self.disk, self.number)

    @property
    def label(self) -> str:
        """The GPT partition name: the md device's kernel name (validated, so a plain word)."""
        return self.volume.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class NativeArray:
    """A volume as ``mdadm --create`` makes it a native array."""

    device: str
    member: int
    level: str
    raid_devices: int
    name: str
    metadata: str
    size_arg: int | None
    chunk_kib: int | None
    layout: str | None
    create_devices: tuple[str, ...]
    boot: str = ""  # the mount point that made it 1.0
    old_uuid: str = ""  # the recorded volume's UUID
    size_kib: int = 0  # the recorded size per member: at least this with the grow-last option

    @property
    def data_offset_kib(self) -> int | None:
        return DATA_OFFSET_KIB if self.metadata == "1.2" else None

    @property
    def bitmap(self) -> bool:
        return self.level in BITMAP_LEVELS


@dataclass(frozen=True)
class NativePlan:
    """What one container becomes: native arrays, and partitions when it held several volumes."""

    container: Container
    arrays: tuple[NativeArray, ...]
    partitions: tuple[Partition, ...]
    unused_disks: tuple[str, ...]

    @property
    def partitioned(self) -> bool:
        return bool(self.partitions)

    def disks_partitions(self) -> list[tuple[str, list[Partition]]]:
        """Per member disk (container order) its partitions, for the partitioning commands."""
        result = []
        for disk in self.container.devices:
            parts = [p for p in self.partitions if p.disk == disk]
            if parts:
                result.append((disk, parts))
        return result


def plan_native(layout: Layout, container: Container, grow_last: bool,
                deps: Sequence[tuple[str, str]]) -> NativePlan:
    """The native arrays (and partitions) for ``container``; refuses what plan_volumes refuses."""
    volume_plans = plan_volumes(layout, container, grow_last)  # member order, no missing slots
    volumes = layout.volumes_of(container)
    if not volumes:
        raise MdcError(container.entry_name, "has no volumes: there is nothing to migrate to native md",
                       "exclude the container, or leave MDCONTAINER_MIGRATE empty")
    boot = boot_volumes(layout, deps)
    used = {d for v in volumes for d in v.devices if d != MISSING}
    unused = tuple(d for d in container.devices if d not in used)
    partitions: list[Partition] = []
    arrays: list[NativeArray] = []
    single = not layout.native_on_partitions(container)
    next_start = {disk: GPT_START_MIB for disk in container.devices}
    next_number = {disk: 1 for disk in container.devices}
    for plan, volume in zip(volume_plans, volumes):
        if single:
            devices = plan.create_devices
        else:
            devices_list = []
            for disk in plan.create_devices:
                start = next_start[disk]
                end = None if plan.size_arg is None else start + _ceil_mib(plan.size_arg) + MD_OVERHEAD_MIB
                part = Partition(disk, next_number[disk], start, end, volume.device)
                partitions.append(part)
                devices_list.append(part.device)
                next_number[disk] += 1
                next_start[disk] = end if end is not None else start
            devices = tuple(devices_list)
        arrays.append(NativeArray(
            device=volume.device, member=volume.member, level=volume.level, raid_devices=volume.raid_devices,
            name=volume.name, metadata=metadata_for(volume.device, boot), size_arg=plan.size_arg,
            chunk_kib=plan.chunk_kib, layout=plan.layout, create_devices=devices, boot=boot.get(volume.device, ""),
            old_uuid=volume.uuid, size_kib=volume.size_kib,
        ))
    return NativePlan(container, tuple(arrays), tuple(partitions), unused)


def needed_bytes(layout: Layout, container: Container, disk: str) -> int:
    """How large ``disk`` must be for the native arrays of the recorded volumes (at their recorded sizes)."""
    volumes = [v for v in layout.volumes_of(container) if disk in v.devices]
    if not volumes:
        return 0
    data_mib = sum(_ceil_mib(v.size_kib) + MD_OVERHEAD_MIB for v in volumes)
    if len(layout.volumes_of(container)) == 1:
        return data_mib * 1024 * 1024
    return (GPT_START_MIB + data_mib + GPT_END_MIB) * 1024 * 1024


def describe(plan: NativePlan) -> list[str]:
    """Lines for the log: what each volume becomes."""
    lines = []
    for array in plan.arrays:
        why = f"it holds {array.boot}" if array.boot else "no boot files on it"
        lines.append(f"mdvolume {array.device} ('{array.name}', {array.level}) becomes a native md array with "
                     f"metadata {array.metadata} ({why}) on {','.join(array.create_devices)}")
    if plan.unused_disks:
        lines.append(f"{plan.container.entry_name}: disk(s) {','.join(plan.unused_disks)} belong to no volume "
                     "and stay unused (wiped)")
    return lines


# --- the record of the migrated arrays (layout/recreate -> finalize) --------------------------------

@dataclass(frozen=True)
class MigratedArray:
    """A native array that replaced a volume: its device, new UUID (mdadm form), metadata and md name."""

    device: str
    uuid: str
    metadata: str
    name: str


_RECORD = re.compile(r"^(/dev/md[0-9]+) ([0-9a-f]{8}(?::[0-9a-f]{8}){3}) (1\.[0-2]) (\S+)$")


def format_records(arrays: Iterable[MigratedArray]) -> str:
    return "".join(f"{a.device} {a.uuid} {a.metadata} {encode_name(a.name)}\n" for a in arrays)


def parse_records(text: str, subject: str = "mdcontainer-native") -> list[MigratedArray]:
    arrays = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _RECORD.match(line.strip())
        if not match:
            raise MdcError(f"{subject} line {number}", f"'{line.strip()}' is not '<md device> <uuid> <metadata> <name>'",
                           "the verification of the migrated arrays writes this file; rerun the recovery")
        device, uuid, metadata, name = match.groups()
        arrays.append(MigratedArray(device, uuid, metadata, decode_name(subject, name)))
    return arrays
