"""Probing the running system into the model.

Running things (mdadm through plumbum, reading sysfs) is kept apart from
parsing (mdadm_parse) and from deciding (``probe_layout``): a *source* answers
the few questions the probe asks, either from the live system
(:class:`LiveSource`) or from output recorded in the VM (:class:`RecordedSource`,
used by the tests and for diagnosing a user's system from a capture).

What is read where:
- sysfs ``/sys/block/mdX/md/metadata_version`` tells containers
  (``external:imsm``, ``external:ddf``) from volumes (``external:/md127/0``: the
  container's kernel name and the member index) from native arrays (``1.2``);
- sysfs gives the volume geometry: ``level``, ``raid_disks``, ``component_size``
  (KiB per member), ``chunk_size`` (bytes), each member's ``slot`` and
  ``offset`` (sectors), and the array size (``/sys/block/mdX/size``, sectors);
- ``mdadm --detail --export`` gives UUIDs and names, ``mdadm --detail`` the
  Layout text, ``mdadm --examine --scan`` the volume name held in the metadata.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import MdcError
from .mdadm_parse import mdadm_layout, parse_detail, parse_export, parse_scan
from .model import MISSING, SUPPORTED_LEVELS, Container, Layout, Volume

_MD_NAME = re.compile(r"^md[0-9]+$|^md_d[0-9]+$")
_VOLUME_VERSION = re.compile(r"^external:[/-](md[0-9_d]+)/(\d+)$")
_SYSFS_KEYS = ("metadata_version", "level", "raid_disks", "chunk_size", "layout", "component_size",
               "array_state", "sync_action", "degraded", "array_size")
_DEV_KEYS = ("slot", "offset", "size", "state")


class Source(Protocol):
    """What the probe needs to know about the system."""

    def md_devices(self) -> list[str]:
        """Kernel names of the md devices: ['md126', 'md127']."""

    def sysfs(self, md: str) -> dict[str, str]:
        """/sys/block/<md>/md values, 'dev-sda/slot' style for members, 'size' for the block size."""

    def detail(self, md: str) -> str:
        """mdadm --detail /dev/<md>"""

    def detail_export(self, md: str) -> str:
        """mdadm --detail --export /dev/<md>"""

    def examine_scan(self) -> str:
        """mdadm --examine --scan"""


class LiveSource:
    """The running system: sysfs and the real mdadm."""

    def __init__(self, sysfs_root: str = "/sys") -> None:
        self.root = Path(sysfs_root)

    def md_devices(self) -> list[str]:
        block = self.root / "block"
        if not block.is_dir():
            return []
        return sorted(p.name for p in block.iterdir() if _MD_NAME.match(p.name) and (p / "md").is_dir())

    def sysfs(self, md: str) -> dict[str, str]:
        base = self.root / "block" / md
        values: dict[str, str] = {}
        for key in _SYSFS_KEYS:
            values.update(_read(base / "md" / key, key))
        values.update(_read(base / "size", "size"))
        for dev in sorted((base / "md").glob("dev-*")):
            for key in _DEV_KEYS:
                values.update(_read(dev / key, f"{dev.name}/{key}"))
        return values

    def detail(self, md: str) -> str:
        return _mdadm("--detail", f"/dev/{md}")

    def detail_export(self, md: str) -> str:
        return _mdadm("--detail", "--export", f"/dev/{md}")

    def examine_scan(self) -> str:
        return _mdadm("--examine", "--scan")


def _read(path: Path, key: str) -> dict[str, str]:
    try:
        return {key: path.read_text(encoding="utf-8", errors="replace").strip()}
    except OSError:
        return {}


def _mdadm(*args: str) -> str:
    from plumbum import local  # imported here: recorded sources and the tests need no plumbum
    from plumbum.commands.processes import CommandNotFound, ProcessExecutionError

    try:
        mdadm = local["mdadm"]
    except CommandNotFound:
        raise MdcError("mdadm", "the mdadm command is not installed", "install the mdadm package") from None
    try:
        return mdadm(*args)
    except ProcessExecutionError as exc:
        raise MdcError(f"mdadm {' '.join(args)}", f"failed with exit code {exc.retcode}: {exc.stderr.strip()}",
                       "check the array with mdadm --detail") from None


def read_recorded_sysfs(directory: Path) -> dict:
    """The ``sysfs.json`` of a recording (tests/vm/capture_fixtures.py)."""
    path = directory / "sysfs.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MdcError(str(path), f"cannot read the recorded sysfs values: {exc}",
                       "record the system again with tests/vm/capture_fixtures.py") from None
    if not isinstance(data, dict):
        raise MdcError(str(path), "the recorded sysfs values are not a JSON object",
                       "record the system again with tests/vm/capture_fixtures.py")
    return data


class RecordedSource:
    """Output recorded from a real system by tests/vm/capture_fixtures.py.

    The directory holds ``sysfs.json`` ({"md126": {"metadata_version": ...}}),
    ``detail-<md>.txt``, ``detail-export-<md>.txt`` and ``examine-scan.txt``.
    """

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)
        data = read_recorded_sysfs(self.dir)
        self._sysfs = {md: _flatten_sysfs(values) for md, values in data.get("md", data).items()}

    def md_devices(self) -> list[str]:
        return sorted(md for md in self._sysfs if _MD_NAME.match(md))

    def sysfs(self, md: str) -> dict[str, str]:
        return dict(self._sysfs.get(md, {}))

    def _text(self, name: str) -> str:
        path = self.dir / name
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def detail(self, md: str) -> str:
        return self._text(f"detail-{md}.txt")

    def detail_export(self, md: str) -> str:
        return self._text(f"detail-export-{md}.txt")

    def examine_scan(self) -> str:
        return self._text("examine-scan.txt")


def _flatten_sysfs(values: dict[str, object]) -> dict[str, str]:
    """The probe's flat view of one md device from a recording.

    tests/vm/guest_record.py writes {"md": {<md/ files>}, "devs": {"dev-sda": {...}},
    "size": <sectors>, ...}; a flat {"metadata_version": ..., "dev-sda/slot": ...}
    is accepted as well.
    """
    if isinstance(values.get("md"), dict):
        flat = {key: str(value).strip() for key, value in values["md"].items() if not isinstance(value, dict)}
        for dev, dev_values in (values.get("devs") or {}).items():
            for key, value in dev_values.items():
                flat[f"{dev}/{key}"] = str(value).strip()
        if "size" in values:
            flat["size"] = str(values["size"]).strip()
        return flat
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}/{sub}"] = str(subvalue).strip()
        else:
            flat[key] = str(value).strip()
    return flat


@dataclass(frozen=True)
class ProbeResult:
    layout: Layout
    warnings: tuple[str, ...] = ()


def _int(subject: str, key: str, value: str) -> int:
    if not re.fullmatch(r"\d+", value or ""):
        raise MdcError(subject, f"cannot read {key} from '{value}'", "expected a whole number in sysfs")
    return int(value)


def _members(values: dict[str, str]) -> list[str]:
    """Kernel names of the member devices ('sda') from the 'dev-sda/...' keys."""
    names = {key.split("/", 1)[0][4:] for key in values if key.startswith("dev-") and "/" in key}
    return sorted(names)


def probe_layout(source: Source) -> ProbeResult:
    """The model of all IMSM/DDF containers and volumes of the system; native arrays are not ours."""
    warnings: list[str] = []
    sysfs = {md: source.sysfs(md) for md in source.md_devices()}
    container_mds = {}
    volume_mds = {}
    for md, values in sysfs.items():
        version = values.get("metadata_version", "")
        if version.startswith("external:") and not _VOLUME_VERSION.match(version):
            metadata = version.split(":", 1)[1]
            if metadata not in SUPPORTED_LEVELS:
                raise MdcError(f"/dev/{md}", f"unknown external metadata '{metadata}'",
                               "only imsm and ddf are handled; exclude this array or set MDCONTAINER_ENABLED=no")
            container_mds[md] = metadata
        elif _VOLUME_VERSION.match(version):
            volume_mds[md] = _VOLUME_VERSION.match(version)
    scan = parse_scan(source.examine_scan()) if volume_mds else []

    volumes: list[Volume] = []
    for md, match in sorted(volume_mds.items()):
        parent, member = match.group(1), int(match.group(2))
        if parent not in container_mds:
            raise MdcError(f"/dev/{md}", f"its container /dev/{parent} is not an active IMSM/DDF container",
                           "assemble the container (mdadm --assemble --scan) before running rear")
        volumes.append(_probe_volume(source, md, sysfs[md], parent, member, container_mds[parent], scan, warnings))

    containers: list[Container] = []
    for md, metadata in sorted(container_mds.items()):
        containers.append(_probe_container(source, md, sysfs[md], metadata, volumes))
    # Volumes in container and member order: the order they are created in.
    volumes.sort(key=lambda v: (v.container, v.member))
    return ProbeResult(Layout(tuple(containers), tuple(volumes)), tuple(warnings))


def _probe_container(source: Source, md: str, values: dict[str, str], metadata: str,
                     volumes: list[Volume]) -> Container:
    subject = f"/dev/{md}"
    export = parse_export(source.detail_export(md))
    disks = [f"/dev/{name}" for name in _members(values)]
    if not disks:
        raise MdcError(subject, f"the {metadata} container has no member disks",
                       "check it with mdadm --detail; a container without disks cannot be recreated")
    # Members in the order of the slots of the container's first volume, then
    # the rest (spares, members of later volumes only) by name: creating the
    # container with the disks in this order gives the same slot assignment.
    ordered: list[str] = []
    for volume in sorted((v for v in volumes if v.container == subject), key=lambda v: v.member):
        ordered.extend(d for d in volume.devices if d != MISSING and d not in ordered)
    ordered.extend(d for d in disks if d not in ordered)
    absent = [d for d in ordered if d not in disks]
    if absent:
        raise MdcError(subject, f"volume members {','.join(absent)} are not members of the container",
                       "check the container with mdadm --detail")
    name = export.get("MD_DEVNAME", "")
    if "/" in name or not name:
        name = ""
    return Container(device=subject, metadata=metadata, devices=tuple(ordered), name=name,
                     uuid=export.get("MD_UUID", ""))


def _probe_volume(source: Source, md: str, values: dict[str, str], parent: str, member: int, metadata: str,
                  scan: list, warnings: list[str]) -> Volume:
    subject = f"/dev/{md}"
    export = parse_export(source.detail_export(md))
    detail = parse_detail(source.detail(md))
    level = values.get("level", "") or export.get("MD_LEVEL", "")
    raid_devices = _int(subject, "raid_disks", values.get("raid_disks", "") or export.get("MD_DEVICES", ""))
    slots: list[str] = [MISSING] * raid_devices
    offsets: list[int] = []
    faulty: list[str] = []
    for name in _members(values):
        slot = values.get(f"dev-{name}/slot", "none")
        if "faulty" in values.get(f"dev-{name}/state", "").split(","):
            faulty.append(f"/dev/{name}")  # failed, not yet removed: its slot is as good as missing
            continue
        if not slot.isdigit():
            continue  # a spare or a disk being removed
        index = int(slot)
        if index >= raid_devices:
            raise MdcError(subject, f"member {name} is in slot {index} of a {raid_devices}-disk volume",
                           "check the volume with mdadm --detail")
        slots[index] = f"/dev/{name}"
        offset = values.get(f"dev-{name}/offset", "")
        if offset.isdigit():
            offsets.append(int(offset))
    if MISSING in slots:
        failed = f"; failed: {', '.join(faulty)}" if faulty else ""
        warnings.append(f"volume /dev/{md} is degraded ({slots.count(MISSING)} of {raid_devices} members missing"
                        f"{failed}): it is recorded with 'missing' slots (devices={','.join(slots)}); the recovery "
                        "recreates it complete with a disk named in MDCONTAINER_MISSING_DISKS, a disk of its container "
                        "that no volume uses, or the layout's only unused disk entry, and stops before any write "
                        "when there is none; replace the failed disk and run rear mkrescue again if you can")
    if values.get("sync_action", "idle") not in ("idle", "", "frozen"):
        warnings.append(f"volume /dev/{md} is in '{values['sync_action']}'; its contents may not be consistent yet")
    size = _int(subject, "component_size", values.get("component_size", ""))
    array_size = _int(subject, "size", values.get("size", "0")) // 2
    chunk_bytes = values.get("chunk_size", "0")
    chunk = _int(subject, "chunk_size", chunk_bytes) // 1024 if level != "raid1" else 0
    uuid = export.get("MD_UUID", "")
    name = _volume_name(subject, scan, uuid, export)
    return Volume(device=subject, container=f"/dev/{parent}", member=member, level=level,
                  raid_devices=raid_devices, devices=tuple(slots), size_kib=size, name=name,
                  array_size_kib=array_size, uuid=uuid, chunk_kib=chunk or None,
                  layout=mdadm_layout(level, detail.get("Layout")), offset_sectors=min(offsets) if offsets else None,
                  metadata=metadata)


def _volume_name(subject: str, scan: list, uuid: str, export: dict[str, str]) -> str:
    """The name the metadata holds (Volume0), not the /dev/md/Volume0_0 link name.

    ``mdadm --examine --scan`` names a volume by its metadata name; a DDF volume
    created without a name has none there (``ARRAY container=... member=0``):
    then the name mdadm gave the array (MD_DEVNAME) is recorded, so that the
    volume is recreated under that name.
    """
    for array in scan:
        if uuid and array.options.get("UUID") == uuid and "member" in array.options:
            if array.name:
                return array.name
            fallback = export.get("MD_DEVNAME", "")
            if fallback and not re.fullmatch(r"md\d+", fallback):
                return fallback
            raise MdcError(subject, "the volume has no name, neither in its metadata nor as array name",
                           "assemble it under a name (mdadm --assemble /dev/md/NAME ...) and run rear again")
    raise MdcError(subject, f"no volume with UUID {uuid or '(none)'} in mdadm --examine --scan",
                   "the member disks must be readable; check with mdadm --examine --scan")
