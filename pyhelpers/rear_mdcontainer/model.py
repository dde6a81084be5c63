"""The model every step shares: containers and the volumes inside them.

A *container* is an md device with external metadata (Intel IMSM or SNIA DDF)
that owns whole disks and holds no data itself.  A *volume* is an md array
inside a container; it is identified by its container and member index, never
by its md number alone (md numbers are handed out at assembly time).

Objects are immutable and validated on construction, so a model that exists is
a model that can be written to disklayout.conf and rendered into shell code.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .errors import MdcError

#: Metadata formats the plugin handles, with the RAID levels each can create.
SUPPORTED_LEVELS: dict[str, tuple[str, ...]] = {
    "imsm": ("raid0", "raid1", "raid5", "raid10"),
    "ddf": ("raid0", "raid1", "raid5", "raid6", "raid10"),
}
#: Longest volume name the metadata stores (IMSM MAX_RAID_SERIAL_LEN, DDF 16 bytes).
MAX_NAME_BYTES = 16
MISSING = "missing"

_MD_DEVICE = re.compile(r"/dev/md[0-9]+")
_DISK_DEVICE = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9._:+/-]*$")
_UUID = re.compile(r"^[0-9a-f]{8}(:[0-9a-f]{8}){3}$")
_LAYOUT = re.compile(r"^[A-Za-z0-9_=,-]+$")


def check_md_device(subject: str, device: str) -> None:
    if not _MD_DEVICE.fullmatch(device):
        raise MdcError(subject, f"'{device}' is not an md device name",
                       "expected the kernel name /dev/mdN, as rear savelayout records it")


def check_disk_device(subject: str, device: str) -> None:
    if not _DISK_DEVICE.fullmatch(device) or "/../" in device or device.endswith("/.."):
        raise MdcError(subject, f"'{device}' is not a disk device path",
                       "expected a path below /dev such as /dev/sda")


def check_uuid(subject: str, uuid: str) -> None:
    if uuid and not _UUID.fullmatch(uuid):
        raise MdcError(subject, f"'{uuid}' is not an md UUID",
                       "expected four colon-separated groups of 8 hex digits")


def check_name(subject: str, name: str, what: str = "name") -> None:
    if not name:
        raise MdcError(subject, f"the {what} is empty", "give the name the metadata holds")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a byte that is not UTF-8, read with errors="surrogateescape"
        raise MdcError(subject, f"the {what} {name!r} is not valid UTF-8",
                       "write the name as in mdadm --examine, with %XX for special bytes") from None
    if size > MAX_NAME_BYTES:
        raise MdcError(subject, f"the {what} '{name}' is longer than {MAX_NAME_BYTES} bytes",
                       "IMSM and DDF store at most 16 bytes")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise MdcError(subject, f"the {what} {name!r} contains control characters",
                       "use printable characters only")


@dataclass(frozen=True)
class Container:
    """An IMSM or DDF container: metadata on whole disks, no data of its own."""

    device: str
    metadata: str
    devices: tuple[str, ...]
    name: str = ""
    uuid: str = ""

    def __post_init__(self) -> None:
        subject = f"mdcontainer {self.device}"
        check_md_device(subject, self.device)
        if self.metadata not in SUPPORTED_LEVELS:
            raise MdcError(subject, f"unsupported metadata '{self.metadata}'",
                           "only imsm and ddf containers are handled by rear-mdcontainer")
        if not self.devices:
            raise MdcError(subject, "the container has no member disks",
                           "list its disks in devices=")
        for disk in self.devices:
            check_disk_device(subject, disk)
        if len(set(self.devices)) != len(self.devices):
            raise MdcError(subject, f"a disk is listed twice in devices={','.join(self.devices)}",
                           "each member disk may appear once")
        if self.name:
            check_name(subject, self.name)
        check_uuid(subject, self.uuid)

    @property
    def entry_name(self) -> str:
        return f"mdcontainer {self.device}"


@dataclass(frozen=True)
class Volume:
    """A RAID volume (subarray) inside a container.

    ``size_kib`` is the space used on each member disk (mdadm's "Used Dev
    Size", the --size value), ``array_size_kib`` the usable size of the volume;
    ``offset_sectors`` where the volume starts on each member (IMSM "Sector
    Offset", DDF "Start"), which tells the order of several volumes.
    ``devices`` lists the member disks by their slot in the volume, ``missing``
    for an empty slot of a degraded volume.
    """

    device: str
    container: str
    member: int
    level: str
    raid_devices: int
    devices: tuple[str, ...]
    size_kib: int
    name: str
    array_size_kib: int = 0
    uuid: str = ""
    chunk_kib: int | None = None
    layout: str | None = None
    offset_sectors: int | None = None
    metadata: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        subject = f"mdvolume {self.device}"
        check_md_device(subject, self.device)
        check_md_device(subject, self.container)
        if self.device == self.container:
            raise MdcError(subject, "the volume names itself as its container",
                           "container= must name the mdcontainer entry")
        if self.member < 0:
            raise MdcError(subject, f"member index {self.member} is negative", "use 0, 1, ...")
        known_levels = sorted({lv for lvs in SUPPORTED_LEVELS.values() for lv in lvs})
        levels = SUPPORTED_LEVELS.get(self.metadata, tuple(known_levels))
        if self.level not in levels:
            raise MdcError(subject, f"unsupported RAID level '{self.level}'",
                           f"supported: {', '.join(levels)}")
        if not 1 <= self.raid_devices <= 32:
            raise MdcError(subject, f"raid-devices={self.raid_devices} is out of range", "expected 1 to 32")
        if len(self.devices) != self.raid_devices:
            raise MdcError(subject, f"devices= lists {len(self.devices)} disks but raid-devices={self.raid_devices}",
                           "list one disk (or 'missing') per slot")
        for disk in self.devices:
            if disk != MISSING:
                check_disk_device(subject, disk)
        present = [d for d in self.devices if d != MISSING]
        if not present:
            raise MdcError(subject, "every slot of the volume is missing", "at least one member disk must exist")
        if len(set(present)) != len(present):
            raise MdcError(subject, "a disk is listed twice in devices=", "each member disk may appear once")
        if self.size_kib <= 0:
            raise MdcError(subject, f"size={self.size_kib} is not a positive size in KiB",
                           "record the Used Dev Size of the volume")
        if self.array_size_kib < 0:
            raise MdcError(subject, f"array-size={self.array_size_kib} is negative", "record the Array Size")
        check_name(subject, self.name)
        check_uuid(subject, self.uuid)
        if self.chunk_kib is not None and (self.chunk_kib <= 0 or self.chunk_kib & (self.chunk_kib - 1)):
            raise MdcError(subject, f"chunk={self.chunk_kib} is not a power of two in KiB", "e.g. chunk=64")
        if self.layout is not None and not _LAYOUT.fullmatch(self.layout):
            raise MdcError(subject, f"layout '{self.layout}' is not a layout name",
                           "e.g. layout=left-asymmetric or layout=n2")
        if self.offset_sectors is not None and self.offset_sectors < 0:
            raise MdcError(subject, f"offset={self.offset_sectors} is negative", "record the Sector Offset")

    @property
    def entry_name(self) -> str:
        return f"mdvolume {self.device}"

    @property
    def degraded(self) -> bool:
        return MISSING in self.devices


@dataclass(frozen=True)
class Layout:
    """The containers and volumes of one system, volumes in member order."""

    containers: tuple[Container, ...] = ()
    volumes: tuple[Volume, ...] = ()

    def __post_init__(self) -> None:
        by_device: dict[str, Container] = {}
        for container in self.containers:
            if container.device in by_device:
                raise MdcError(container.entry_name, "two entries name the same container device", "remove the duplicate")
            by_device[container.device] = container
        owners: dict[str, str] = {}
        for container in self.containers:
            for disk in container.devices:
                if disk in owners:
                    raise MdcError(container.entry_name, f"disk {disk} is also a member of {owners[disk]}",
                                   "a disk belongs to one container only")
                owners[disk] = container.device
        seen = set()
        for volume in self.volumes:
            container = by_device.get(volume.container)
            if container is None:
                raise MdcError(volume.entry_name, f"its container {volume.container} has no mdcontainer entry",
                               "record the container too, or exclude the volume")
            levels = SUPPORTED_LEVELS[container.metadata]
            if volume.level not in levels:
                raise MdcError(volume.entry_name, f"unsupported RAID level '{volume.level}'",
                               f"{container.metadata} supports: {', '.join(levels)}")
            key = (volume.container, volume.member)
            if key in seen:
                raise MdcError(volume.entry_name, f"member {volume.member} of {volume.container} is recorded twice",
                               "each member index appears once per container")
            seen.add(key)
            foreign = [d for d in volume.devices if d != MISSING and d not in container.devices]
            if foreign:
                raise MdcError(volume.entry_name, f"disk(s) {','.join(foreign)} are not members of {volume.container}",
                               "a volume uses disks of its own container only")

    def container(self, device: str) -> Container:
        for container in self.containers:
            if container.device == device:
                return container
        raise KeyError(device)

    def volumes_of(self, container: Container) -> tuple[Volume, ...]:
        """Volumes of a container in member order (the order they must be created in)."""
        return tuple(sorted((v for v in self.volumes if v.container == container.device), key=lambda v: v.member))

    def native_on_partitions(self, container: Container) -> bool:
        """Whether ``MDCONTAINER_MIGRATE=native`` puts this container's arrays on partitions of its member
        disks: it does when the container has several volumes (one volume becomes an array of whole disks)."""
        return len(self.volumes_of(container)) > 1

    def member_disks(self) -> tuple[str, ...]:
        return tuple(d for c in self.containers for d in c.devices)
