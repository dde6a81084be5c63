"""Pure parsers of mdadm output: text in, plain data out, no commands run.

Everything is parsed *by key*, never by substring: DDF's ``mdadm --detail`` of
a container has a ``Container GUID :`` line, which a ``grep Container`` (as in
ReaR 2.7/2.9's 210_raid_layout.sh) mistakes for a volume's ``Container :``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import MdcError

_DETAIL_FIELD = re.compile(r"^\s*([A-Za-z][A-Za-z /-]*?)\s*:\s?(.*)$")
_DETAIL_DEVICE = re.compile(r"^\s*(-|\d+)\s+(\d+)\s+(\d+)\s+(-|\d+)\s*(.*?)\s*$")
_EXPORT_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_LEADING_INT = re.compile(r"^\s*(\d+)")
_CHUNK = re.compile(r"^\s*(\d+)\s*(K|KiB|k)?\s*$")


def parse_export(text: str) -> dict[str, str]:
    """``mdadm --detail --export`` / ``--examine --export``: KEY=value lines."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _EXPORT_LINE.match(line.strip())
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match.group(1)] = value
    return values


@dataclass(frozen=True)
class DetailDevice:
    """One row of the device table at the end of ``mdadm --detail``."""

    number: str
    major: int
    minor: int
    raid_device: str
    state: str
    path: str


@dataclass(frozen=True)
class Detail:
    """``mdadm --detail``: the ``Key : value`` fields and the device table."""

    device: str
    fields: dict[str, str] = field(default_factory=dict)
    devices: tuple[DetailDevice, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


def parse_detail(text: str) -> Detail:
    lines = text.splitlines()
    device = ""
    fields: dict[str, str] = {}
    devices: list[DetailDevice] = []
    in_table = False
    for line in lines:
        if not line.strip():
            continue
        if not device and line.startswith("/dev/") and line.rstrip().endswith(":"):
            device = line.strip()[:-1]
            continue
        stripped = line.strip()
        if stripped.startswith("Number") and "Major" in stripped and "Minor" in stripped:
            in_table = True
            continue
        if in_table:
            match = _DETAIL_DEVICE.match(line)
            if match:
                rest = match.group(5).split()
                path = rest[-1] if rest and rest[-1].startswith("/") else ""
                state = " ".join(rest[:-1] if path else rest)
                devices.append(DetailDevice(match.group(1), int(match.group(2)), int(match.group(3)),
                                            match.group(4), state, path))
            continue
        match = _DETAIL_FIELD.match(line)
        if match:
            fields[match.group(1).strip()] = match.group(2).strip()
    return Detail(device=device, fields=fields, devices=tuple(devices))


@dataclass(frozen=True)
class ScanArray:
    """One ``ARRAY`` line of ``mdadm --detail --scan`` or ``--examine --scan``."""

    device: str
    options: dict[str, str]

    @property
    def name(self) -> str:
        """The last component of the device path: /dev/md/Volume0 -> Volume0 ('' without a device)."""
        return self.device.rsplit("/", 1)[-1]


_SCAN_OPTION = re.compile(r"(?:^|\s)[A-Za-z][A-Za-z0-9_-]*=")


def parse_scan(text: str) -> list[ScanArray]:
    """``ARRAY [device] key=value ...`` lines.

    The device is not always there and not always one word: ``--examine
    --scan`` prints ``ARRAY metadata=imsm UUID=...`` for a container and
    ``ARRAY container=... member=0 UUID=...`` for a DDF volume without a name
    (super-ddf.c), and IMSM prints the volume name as it is, blanks included
    (super-intel.c: ``ARRAY /dev/md/%.16s container=%s member=%d UUID=%s``).
    The device is what comes before the first ``key=`` word.
    """
    arrays: list[ScanArray] = []
    for line in text.splitlines():
        words = line.split(None, 1)
        if len(words) < 2 or words[0] != "ARRAY":
            continue
        body = words[1].rstrip()
        match = _SCAN_OPTION.search(body)
        device = (body[:match.start()] if match else body).strip()
        options: dict[str, str] = {}
        for word in (body[match.start():] if match else "").split():
            key, sep, value = word.partition("=")
            if sep:
                options[key] = value
        arrays.append(ScanArray(device, options))
    return arrays


def size_kib(subject: str, key: str, value: str) -> int:
    """A size field like ``1046528 (1022.00 MiB 1071.64 MB)``: the number of KiB."""
    match = _LEADING_INT.match(value)
    if not match:
        raise MdcError(subject, f"cannot read a size from '{key} : {value}'",
                       "expected a number of KiB as mdadm --detail prints it")
    return int(match.group(1))


def chunk_kib(subject: str, value: str) -> int:
    """A chunk size like ``64K`` (--detail) or ``64 KiB`` (--examine)."""
    match = _CHUNK.match(value)
    if not match:
        raise MdcError(subject, f"cannot read a chunk size from '{value}'", "expected e.g. 64K")
    return int(match.group(1))


_RAID10_LAYOUT = re.compile(r"^(near|far|offset)=(\d)$")


def mdadm_layout(level: str, value: str) -> str | None:
    """The ``--layout`` value mdadm accepts for what ``--detail`` prints as Layout.

    RAID10 prints ``near=2`` and takes ``n2``; RAID5/6 layouts are printed as
    they are taken (``left-asymmetric``); ``-unknown-`` means there is none.
    """
    value = value.strip()
    if not value or value == "-unknown-":
        return None
    if level == "raid10":
        first = value.split(",")[0].strip()
        match = _RAID10_LAYOUT.match(first)
        return f"{match.group(1)[0]}{match.group(2)}" if match else None
    if level in ("raid5", "raid6", "raid4"):
        return value
    return None


@dataclass(frozen=True)
class PlatformInfo:
    """One block of ``mdadm --detail-platform``: an Intel RST/VROC option ROM (or UEFI driver) and its limits.

    super-intel.c (print_imsm_capability) prints, per option ROM::

               Platform : Intel(R) Rapid Storage Technology
                Version : 12.7.0.1936
            RAID Levels : raid0 raid1 raid10 raid5
            Chunk Sizes : 4k 8k 16k 32k 64k 128k
            2TB volumes : supported
              2TB disks : supported
              Max Disks : 6
            Max Volumes : 2 per array, 4 per controller
         I/O Controller : /sys/devices/pci0000:00/0000:00:1f.2 (SATA)
                  Port0 : /dev/sda (WD-WCC4N...)

    and a blank line; ``Max Volumes`` ends in ``per platform`` for NVMe.
    """

    name: str
    version: str = ""
    levels: tuple[str, ...] = ()
    chunk_kib: tuple[int, ...] = ()
    max_disks: int | None = None
    max_volumes_per_array: int | None = None
    max_volumes_per_controller: int | None = None
    controllers: tuple[str, ...] = ()  # controller types: SATA, VMD, NVMe, SAS ...


_MAX_VOLUMES = re.compile(r"^(\d+) per array, (\d+) per \w+$")
_CONTROLLER_TYPE = re.compile(r"\(([^()]+)\)\s*$")
_CHUNK_WORD = re.compile(r"^(\d+)([kKmM])$")


def parse_detail_platform(text: str) -> list[PlatformInfo]:
    """The platform blocks of ``mdadm --detail-platform`` output (none: no platform found)."""
    blocks: list[dict[str, list[str]]] = []
    for line in text.splitlines():
        match = _DETAIL_FIELD.match(line)
        if not match:
            continue
        key, value = match.group(1).strip(), match.group(2).strip()
        if key == "Platform":
            blocks.append({})
        if blocks:
            blocks[-1].setdefault(key, []).append(value)
    return [_platform_info(block) for block in blocks]


def _platform_info(block: dict[str, list[str]]) -> PlatformInfo:
    def first(key: str) -> str:
        return block.get(key, [""])[0]

    def number(text: str) -> int | None:
        return int(text) if text.isdigit() else None

    volumes = _MAX_VOLUMES.match(first("Max Volumes"))
    chunks = []
    for word in first("Chunk Sizes").split():
        match = _CHUNK_WORD.match(word)
        if match:
            chunks.append(int(match.group(1)) * (1024 if match.group(2) in "mM" else 1))
    types = []
    for value in block.get("I/O Controller", []):
        match = _CONTROLLER_TYPE.search(value)
        if match and match.group(1) not in types:
            types.append(match.group(1))
    return PlatformInfo(
        name=first("Platform"), version=first("Version"), levels=tuple(first("RAID Levels").split()),
        chunk_kib=tuple(chunks), max_disks=number(first("Max Disks")),
        max_volumes_per_array=int(volumes.group(1)) if volumes else None,
        max_volumes_per_controller=int(volumes.group(2)) if volumes else None, controllers=tuple(types))
