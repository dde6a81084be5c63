"""Other firmware ("fake") RAID: dmraid sets and AMD RAIDXpert (rcraid) disks, found and explained at save time.

rear-mdcontainer recreates Intel IMSM and SNIA DDF only as md containers
(mdadm).  Two other kinds of firmware RAID look like something else to ReaR,
and ``rear recover`` would restore onto the raw disks without a word:

- **dmraid** runs a firmware RAID set as device-mapper maps: dm UUID
  ``DMRAID-<set>``, dm name ``<format>_<id>[_<volume>]`` (``isw_`` Intel IMSM,
  ``ddf1_`` SNIA DDF, ``pdc_`` Promise, ``nvidia_``, ``via_``, ``sil_``,
  ``jmicron_``, ``asr_``, ``hpt37x_``/``hpt45x_``, ``lsi_``), with the set's
  partitions as further maps on top (dmraid's own, same UUID prefix, or
  kpartx's ``part<N>-DMRAID-<set>``).  ReaR knows no dmraid sets: it records the
  member disks as plain disks.  md and dm both claim a disk exclusively, so an
  IMSM/DDF set that dmraid runs has no md container that ``save`` could record.
- **rcraid**, AMD's RAIDXpert driver (out of tree), presents each array made
  in the AMD RAID BIOS setup as one SCSI disk (vendor ``AMD-RAID``).  ReaR
  records it as a plain disk, which is right, but the array behind it must
  exist before ``rear recover`` can restore onto it.

What is read (sysfs only, through :class:`~rear_mdcontainer.system.System`,
so the tests use a fake tree): ``/sys/class/block/dm-*/dm/{uuid,name}`` and the
maps' ``slaves``; for every other disk the chain of parents of its
``device`` link (a ``driver`` link to ``rcraid``, a
``scsi_host/host<N>/proc_name`` of ``rcraid``) and its SCSI ``vendor`` and
``model``; ``/sys/module/rcraid``.

Each finding becomes one warning for the user (:func:`findings`) and one
``# mdfakeraid`` comment line in disklayout.conf (:func:`record_lines`), like
the ``# mdplatform`` record: ReaR ignores comment lines, the administrator who
reads the layout during a recovery sees them::

    # mdfakeraid dmraid /dev/mapper/isw_cfbhgfbcdd_Volume0 format=isw disks=/dev/sda,/dev/sdb recreated=no
    # mdfakeraid rcraid /dev/sdc recreated=no vendor=AMD-RAID model=Array%201
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .entries import decode_name, encode_name
from .system import System

DMRAID_UUID_PREFIX = "DMRAID-"
#: kpartx's partition maps of a dmraid set.
_KPARTX_UUID = re.compile(r"^part\d+-DMRAID-")
#: dmraid's format handlers: the prefix of a set's name -> what it is.
FORMATS = {
    "isw": "Intel IMSM",
    "ddf1": "SNIA DDF",
    "pdc": "Promise FastTrak",
    "nvidia": "NVIDIA MediaShield",
    "via": "VIA",
    "sil": "Silicon Image Medley",
    "jmicron": "JMicron",
    "asr": "Adaptec HostRAID",
    "hpt37x": "HighPoint HPT37x",
    "hpt45x": "HighPoint HPT45x",
    "lsi": "LSI Logic MegaRAID",
}
#: dmraid formats whose metadata mdadm runs as a container (and rear-mdcontainer recreates).
MD_METADATA = {"isw": "imsm", "ddf1": "ddf"}
_FORMAT = re.compile(r"^(" + "|".join(sorted(FORMATS, key=len, reverse=True)) + r")_")
RCRAID = "rcraid"
#: The SCSI vendor of rcraid's arrays (an 8-character INQUIRY vendor field).
RCRAID_VENDORS = ("AMD-RAID", "AMD RAID")

PREFIX = "# mdfakeraid "
HEADING = ("# Other firmware RAID of the original system, found by rear-mdcontainer (comments: ReaR ignores them; "
           "recreated=no means rear recover does not recreate the RAID set)")
FORMAT = ("# Format: # mdfakeraid dmraid <set device> format=<dmraid format> disks=<disk,...> recreated=<yes|no> "
          "[containers=<md container,...>] | # mdfakeraid rcraid <disk> recreated=no [vendor=<vendor>] "
          "[model=<model>]")

#: Finding codes (also the report's warning codes).
DMRAID_ON_MD = "dmraid-on-md-container"
DMRAID_IMSM_DDF = "dmraid-imsm-ddf"
DMRAID_OTHER = "dmraid-other"
RCRAID_DISK = "rcraid-disk"


@dataclass(frozen=True)
class DmraidSet:
    """A dmraid set: its top device-mapper map, what it is and the disks below it."""

    name: str  # dm name, e.g. isw_cfbhgfbcdd_Volume0
    kernel_name: str  # dm-0
    format: str  # a key of FORMATS, or '' when the name has no known prefix
    disks: tuple[str, ...]  # /dev/sda, ... (whole disks)
    partitions: tuple[str, ...] = ()  # /dev/mapper/<set>p1, ...

    @property
    def device(self) -> str:
        return f"/dev/mapper/{self.name}"

    @property
    def md_metadata(self) -> str | None:
        """'imsm' / 'ddf' when mdadm could run this set as a container."""
        return MD_METADATA.get(self.format)

    def describe(self) -> str:
        return FORMATS.get(self.format, "unknown format")


@dataclass(frozen=True)
class RcraidDisk:
    """A disk that AMD's RAIDXpert driver presents (an array made in the AMD RAID BIOS setup)."""

    device: str  # /dev/sdc
    vendor: str | None = None
    model: str | None = None
    size_bytes: int | None = None
    evidence: tuple[str, ...] = ()  # why it counts as one, for the report

    def describe(self) -> str:
        words = " ".join(w for w in (self.vendor, self.model) if w)
        return f"{self.device} ({words})" if words else self.device


@dataclass(frozen=True)
class FakeRaid:
    dmraid_sets: tuple[DmraidSet, ...] = ()
    rcraid_disks: tuple[RcraidDisk, ...] = ()
    rcraid_module: bool = False

    def __bool__(self) -> bool:
        return bool(self.dmraid_sets or self.rcraid_disks)


@dataclass(frozen=True)
class Finding:
    """One fake-RAID device, what happens to it, and its ``# mdfakeraid`` line."""

    code: str
    subject: str  # the set's /dev/mapper device or the rcraid disk
    message: str
    record: str
    recreated: bool = False  # the RAID set itself, by rear recover
    containers: tuple[str, ...] = ()  # the md containers that recreate it


# --- probing ------------------------------------------------------------------------------------


def _block_names(system: System) -> list[str]:
    try:
        return sorted(p.name for p in system.sys_block().iterdir())
    except OSError:
        return []


def _whole_disk(system: System, name: str) -> str:
    """sda for sda1, the name itself otherwise."""
    path = system.sys_block(name)
    if (path / "partition").exists():
        return os.path.basename(os.path.dirname(os.path.realpath(path)))
    return name


@dataclass(frozen=True)
class _DmMap:
    kernel_name: str
    name: str
    uuid: str
    slaves: tuple[str, ...]


def _dm_maps(system: System) -> dict[str, _DmMap]:
    maps = {}
    for kernel in _block_names(system):
        base = system.sys_block(kernel) / "dm"
        if not kernel.startswith("dm-") or not base.is_dir():
            continue
        maps[kernel] = _DmMap(kernel, system.read(base / "name") or kernel, system.read(base / "uuid"),
                              tuple(system.slaves(kernel)))
    return maps


def _is_dmraid(dm: _DmMap) -> bool:
    return dm.uuid.startswith(DMRAID_UUID_PREFIX) or bool(_KPARTX_UUID.match(dm.uuid))


def _is_partition_of(dm: _DmMap, maps: Mapping[str, _DmMap]) -> bool:
    """A partition map: one dmraid map below it, and kpartx's UUID or dmraid's '<set>[p]<n>' name."""
    if len(dm.slaves) != 1 or dm.slaves[0] not in maps or not _is_dmraid(maps[dm.slaves[0]]):
        return False
    if _KPARTX_UUID.match(dm.uuid):
        return True
    return re.fullmatch(re.escape(maps[dm.slaves[0]].name) + r"p?\d+", dm.name) is not None


def _disks_below(system: System, kernel: str, maps: Mapping[str, _DmMap], seen: set[str] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    disks: list[str] = []
    for slave in maps[kernel].slaves if kernel in maps else ():
        if slave in seen:
            continue
        seen.add(slave)
        if slave in maps:
            disks.extend(_disks_below(system, slave, maps, seen))
        else:
            disk = _whole_disk(system, slave)
            if disk not in disks:
                disks.append(disk)
    return disks


def dmraid_sets(system: System) -> list[DmraidSet]:
    """The dmraid sets of the system: top maps only (not their partitions, not RAID10's sub-sets)."""
    maps = _dm_maps(system)
    raid = {k: dm for k, dm in maps.items() if _is_dmraid(dm)}
    partitions = {k for k, dm in raid.items() if _is_partition_of(dm, maps)}
    # A sub-set (the stripes of a dmraid RAID10) is below another set's map.
    below = {slave for k, dm in raid.items() if k not in partitions for slave in dm.slaves}
    sets = []
    for kernel, dm in raid.items():
        if kernel in partitions or kernel in below:
            continue
        name = dm.uuid[len(DMRAID_UUID_PREFIX):] if dm.uuid.startswith(DMRAID_UUID_PREFIX) else dm.name
        match = _FORMAT.match(name) or _FORMAT.match(dm.name)
        parts = sorted(f"/dev/mapper/{maps[p].name}" for p in partitions if maps[p].slaves == (kernel,))
        disks = sorted(f"/dev/{d}" for d in _disks_below(system, kernel, maps))
        sets.append(DmraidSet(name=dm.name, kernel_name=kernel, format=match.group(1) if match else "",
                              disks=tuple(disks), partitions=tuple(parts)))
    return sorted(sets, key=lambda s: s.name)


def _rcraid_evidence(system: System, name: str) -> tuple[str, ...]:
    """Why disk ``name`` is one of rcraid's: its controller's driver, its SCSI host, its vendor."""
    device = system.sys_block(name) / "device"
    if not device.exists():
        return ()
    evidence = []
    sys_root = Path(os.path.realpath(system.root / "sys"))
    node = Path(os.path.realpath(device))
    while node != sys_root and sys_root in node.parents:
        driver = node / "driver"
        if driver.is_symlink() and os.path.basename(os.readlink(driver)) == RCRAID:
            evidence.append(f"{node.name} is driven by {RCRAID}")
        for proc_name in sorted(node.glob("scsi_host/*/proc_name")):
            if system.read(proc_name) == RCRAID:
                evidence.append(f"SCSI host {proc_name.parent.name} is {RCRAID}'s")
        node = node.parent
    vendor = system.read(device / "vendor")
    if vendor.upper() in RCRAID_VENDORS:
        evidence.append(f"SCSI vendor {vendor}")
    return tuple(evidence)


def rcraid_disks(system: System) -> list[RcraidDisk]:
    disks = []
    for name in _block_names(system):
        if name.startswith(("dm-", "md", "loop", "sr", "zram", "ram")):
            continue
        if (system.sys_block(name) / "partition").exists():
            continue
        evidence = _rcraid_evidence(system, name)
        if evidence:
            device = system.sys_block(name) / "device"
            disks.append(RcraidDisk(device=f"/dev/{name}", vendor=system.read(device / "vendor") or None,
                                    model=system.read(device / "model") or None,
                                    size_bytes=system.size_bytes(name) or None, evidence=evidence))
    return disks


def probe(system: System) -> FakeRaid:
    """All dmraid sets and rcraid disks of the system below ``system.root`` (read only)."""
    return FakeRaid(dmraid_sets=tuple(dmraid_sets(system)), rcraid_disks=tuple(rcraid_disks(system)),
                    rcraid_module=(system.root / "sys" / "module" / RCRAID).is_dir())


# --- what it means ------------------------------------------------------------------------------


def _containers_of(disks: Iterable[str], containers: Mapping[str, Sequence[str]]) -> list[str]:
    """The md containers (device -> member disks) that have any of ``disks`` as a member."""
    wanted = set(disks)
    return sorted(device for device, members in containers.items() if wanted & set(members))


def findings(found: FakeRaid, containers: Mapping[str, Sequence[str]]) -> list[Finding]:
    """One finding per dmraid set and rcraid disk; ``containers``: the md containers save records, with members."""
    result = []
    for raid_set in found.dmraid_sets:
        result.append(_dmraid_finding(raid_set, _containers_of(raid_set.disks, containers)))
    for disk in found.rcraid_disks:
        result.append(_rcraid_finding(disk))
    return result


def _dmraid_finding(raid_set: DmraidSet, containers: list[str]) -> Finding:
    disks = ", ".join(raid_set.disks) or "no disks"
    what = f"dmraid set {raid_set.device} ({raid_set.describe()}) on {disks}"
    words = ["dmraid", raid_set.device, f"format={raid_set.format or 'unknown'}",
             f"disks={','.join(raid_set.disks)}"]
    metadata = raid_set.md_metadata
    if metadata and containers:
        message = (f"{what}: its disks are members of the md container {', '.join(containers)}, which is recorded "
                   "and recreated with mdadm; the dmraid maps are not recorded, and rear recover removes such maps "
                   "(dmsetup remove) before it wipes the disks. Let mdadm alone run these disks (deactivate the "
                   "dmraid maps with dmraid -an)")
        words += ["recreated=yes", f"containers={','.join(containers)}"]
        return Finding(DMRAID_ON_MD, raid_set.device, message, PREFIX + " ".join(words), recreated=True,
                       containers=tuple(containers))
    words.append("recreated=no")
    if metadata:
        name = metadata.upper()
        message = (f"{what} is run by dmraid, not by md: rear-mdcontainer recreates {name} only as an md container, "
                   f"so this set is NOT recreated, and ReaR records {disks} as plain disks. Switch to mdadm, which "
                   f"runs {name} itself (dmraid -an; mdadm --assemble --scan; an initramfs that assembles with "
                   "mdadm, not dmraid) and run rear mkrescue again: then the set is recorded as an mdcontainer. "
                   "Until then create the set again in the RAID BIOS setup on replacement disks before rear recover "
                   "and restore onto it by hand")
        return Finding(DMRAID_IMSM_DDF, raid_set.device, message, PREFIX + " ".join(words))
    message = (f"{what} is NOT recreated: neither ReaR nor rear-mdcontainer knows dmraid sets, and ReaR records "
               f"{disks} as plain disks. Create the set again in the controller's RAID BIOS setup (or with dmraid) "
               "on replacement disks, activate it in the rescue system (dmraid -ay) and restore onto it by hand; or "
               "migrate to Linux md RAID (mdadm), which ReaR recreates")
    return Finding(DMRAID_OTHER, raid_set.device, message, PREFIX + " ".join(words))


def _rcraid_finding(disk: RcraidDisk) -> Finding:
    message = (f"{disk.describe()} is a disk of AMD's RAIDXpert driver (rcraid): ReaR records it as a plain disk, "
               "and the RAID array behind it is NOT recreated. On a replacement create the array in the AMD RAID "
               "BIOS setup first (same RAID level, at least this size), boot the rescue system with the rcraid "
               "driver (MODULES_LOAD+=( rcraid ) in local.conf) and check that the array shows as one disk: then "
               "rear recover restores onto it like onto a plain disk")
    words = ["rcraid", disk.device, "recreated=no"]
    if disk.vendor:
        words.append(f"vendor={encode_name(disk.vendor)}")
    if disk.model:
        words.append(f"model={encode_name(disk.model)}")
    return Finding(RCRAID_DISK, disk.device, message, PREFIX + " ".join(words))


# --- the record in disklayout.conf ------------------------------------------------------------------


def record_lines(found: Sequence[Finding]) -> list[str]:
    """The comment block ``save`` writes at the end of disklayout.conf (none without findings)."""
    return [HEADING, FORMAT, *(f.record for f in found)] if found else []


def is_record_line(line: str) -> bool:
    """A line of the block (an earlier record, replaced on every save)."""
    return line.startswith(PREFIX) or line in (HEADING, FORMAT)


@dataclass(frozen=True)
class Recorded:
    """One ``# mdfakeraid`` line read back."""

    kind: str  # 'dmraid' or 'rcraid'
    device: str
    options: dict[str, str]

    @property
    def recreated(self) -> bool:
        return self.options.get("recreated") == "yes"


def parse_record(lines: Iterable[str]) -> list[Recorded]:
    """The ``# mdfakeraid`` lines of a disklayout.conf (values percent-decoded)."""
    result = []
    for line in lines:
        if not line.startswith(PREFIX):
            continue
        words = line[len(PREFIX):].split()
        if len(words) < 2:
            continue
        options = {}
        for word in words[2:]:
            key, sep, value = word.partition("=")
            if sep:
                options[key] = decode_name(PREFIX.strip(), value)
        result.append(Recorded(words[0], words[1], options))
    return result
