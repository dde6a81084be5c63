"""``report``: what the plugin sees, what it would record, and what looks wrong.

One command instead of a long exchange about a user's system: the IMSM/DDF
containers with their member disks (serial, size, model), the volumes with
their geometry and state, the native md arrays (left to ReaR's own
``raidarray`` code), the IMSM platform and ``IMSM_NO_PLATFORM``, mdmon per
container, udev's md assembly rules, the exact ``mdcontainer`` / ``mdvolume``
lines and ``# mdplatform`` comments ``save`` would write, other firmware RAID
that is not recreated (dmraid sets, AMD RAIDXpert/rcraid disks: see
:mod:`~rear_mdcontainer.fakeraid`) with its ``# mdfakeraid`` comments, and
warnings.

Unlike the probe, which stops at the first problem, the report shows all it
can and lists the probe's errors at the end.  It reads the md arrays through a
:class:`~rear_mdcontainer.probe.Source` (live or recorded) and everything else
through :class:`Facts`: :class:`LiveFacts` (sysfs, /proc, /run, the udev rule
directories, mdadm and udevadm) or :class:`RecordedFacts` (the ``disks`` of a
recording's sysfs.json, its detail-platform.txt, mdadm-version.txt and
udevadm-info-<disk>.txt; a recording holds no environment, mdmon, udev rule
or fake-RAID facts, so those are unknown).

The report is one JSON-able document (:func:`build_report`, ``"version": 1``),
rendered as JSON (:func:`render_json`, sorted keys) or as text
(:func:`render_text`); both depend on nothing but the input.  ``version``
changes only when a key is removed or changes its meaning; keys are added
within a version (so far: ``platform.would_record``, ``fake_raid``), so a
script reads the keys it knows and ignores the others.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from . import fakeraid
from .assembly import BLOCK_RULE, MARKER, MASK_LIST, RULES_DIR
from .entries import format_layout
from .errors import MdcError
from .imsm_platform import format_record, probe_record
from .mdadm_parse import mdadm_layout, parse_detail, parse_export, parse_scan
from .model import MISSING, SUPPORTED_LEVELS, Layout
from .probe import _VOLUME_VERSION, Source, _members, probe_layout, read_recorded_sysfs
from .system import Result, System

REPORT_VERSION = 1
MIB = 1024 * 1024
#: Sizes of the member disks of one container may differ by this fraction before it is worth a warning.
SIZE_TOLERANCE = 0.01
#: udev's rule directories, highest precedence first: a file overrides files of the same name further down.
UDEV_RULE_DIRS = ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/lib/udev/rules.d", "/lib/udev/rules.d")
#: The md rules worth knowing about, and what each does.
MD_RULES = {
    "01-md-raid-creating.rules": "keeps udev off arrays mdadm creates",
    "63-md-raid-arrays.rules": "md device names and links",
    "64-md-raid-assembly.rules": "assembly: upstream mdadm, Debian, SUSE",
    "65-md-incremental.rules": "assembly: Fedora/RHEL",
    "65-md-incremental-imsm.rules": "assembly: dracut, IMSM",
}
MDMON_PID_DIRS = ("/run/mdadm", "/var/run/mdadm", "/dev/.mdadm")
#: array_state values of an md device that is not running.
STOPPED_STATES = ("", "clear", "inactive")
#: sync_action values that mean nothing is in progress.
IDLE_SYNC = ("", "idle", "frozen")


# --- facts besides the md arrays ----------------------------------------------------------------


@dataclass(frozen=True)
class DiskFacts:
    """A member disk; None where it is not known."""

    serial: str | None = None
    size_bytes: int | None = None
    model: str | None = None
    #: IMSM_NO_PLATFORM=1 among the disk's udev properties, the environment of udev's mdadm --incremental.
    udev_imsm_no_platform: bool | None = None


@dataclass(frozen=True)
class MdmonFacts:
    """mdmon of one container, from its pid file."""

    pid: int | None = None
    running: bool | None = None
    imsm_no_platform: bool | None = None


@dataclass(frozen=True)
class RuleFile:
    directory: str
    masked: bool  # a link to /dev/null or an empty file


@dataclass(frozen=True)
class UdevFacts:
    rules: dict[str, tuple[RuleFile, ...]]  # rule name -> where it is, highest precedence first
    blocking_rule: bool  # our rule (assembly.BLOCK_RULE, with its marker) is in RULES_DIR
    masked_by_us: tuple[str, ...]  # assembly.MASK_LIST


class Facts(Protocol):
    """What the report knows besides the md arrays."""

    def source(self) -> dict[str, str]:
        """{"kind": "live"} or {"kind": "recorded", "name": <recording>}."""

    def disk(self, name: str) -> DiskFacts:
        """Serial, size and model of a disk ('sda')."""

    def detail_platform(self) -> Result | None:
        """mdadm --detail-platform without IMSM_NO_PLATFORM; None if not known."""

    def mdadm_version(self) -> str | None:
        """The first line of mdadm --version."""

    def environment_no_platform(self) -> bool | None:
        """IMSM_NO_PLATFORM=1 in the environment of this report."""

    def mdmon(self, md: str) -> MdmonFacts:
        """mdmon of the container md ('md127')."""

    def udev(self) -> UdevFacts | None:
        """The md rules in udev's rule directories; None if not known."""

    def fake_raid(self) -> fakeraid.FakeRaid | None:
        """dmraid sets and rcraid disks; None if not known."""


def _udev_properties(text: str) -> dict[str, str]:
    """``udevadm info --query=property`` (KEY=value) or ``--query=all`` (E: KEY=value) lines."""
    values = {}
    for line in text.splitlines():
        line = line[3:] if line.startswith("E: ") else line
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            values[key] = value
    return values


def _no_platform_property(properties: dict[str, str]) -> bool | None:
    return properties.get("IMSM_NO_PLATFORM") == "1" if properties else None


def detail_platform_live() -> Result:
    """``mdadm --detail-platform`` with IMSM_NO_PLATFORM removed: the platform the hardware has."""
    from plumbum import local  # imported here: the CLI starts without plumbum

    from .system import plumbum_runner

    with local.env():
        local.env.pop("IMSM_NO_PLATFORM", None)
        return plumbum_runner("mdadm", "--detail-platform")


class LiveFacts:
    """The running system: sysfs, /proc and /run below ``system.root``, mdadm and udevadm through its runner."""

    def __init__(self, system: System, environ: Mapping[str, str],
                 platform: Callable[[], Result] | None = None) -> None:
        self.system = system
        self.environ = environ
        self.platform = platform or detail_platform_live

    def source(self) -> dict[str, str]:
        return {"kind": "live"}

    def _run(self, *argv: str) -> Result | None:
        try:
            return self.system.run(*argv)
        except MdcError:  # the command is not installed
            return None

    def disk(self, name: str) -> DiskFacts:
        system = self.system
        base = system.sys_block(name)
        result = self._run("udevadm", "info", "--query=property", f"--name=/dev/{name}")
        properties = _udev_properties(result.out) if result and result.rc == 0 else {}
        serial = system.read(base / "device" / "serial") or properties.get("ID_SERIAL_SHORT") or None
        model = system.read(base / "device" / "model") or properties.get("ID_MODEL") or None
        size = system.size_bytes(name) if base.exists() else None
        return DiskFacts(serial=serial, size_bytes=size, model=model,
                         udev_imsm_no_platform=_no_platform_property(properties))

    def detail_platform(self) -> Result | None:
        try:
            return self.platform()
        except MdcError:  # mdadm is not installed: see mdadm_version
            return None

    def mdadm_version(self) -> str | None:
        result = self._run("mdadm", "--version")
        lines = (result.err + result.out).strip().splitlines() if result else []
        return lines[0].strip() if lines else None

    def environment_no_platform(self) -> bool | None:
        return self.environ.get("IMSM_NO_PLATFORM", "").strip() == "1"

    def mdmon(self, md: str) -> MdmonFacts:
        system = self.system
        for directory in MDMON_PID_DIRS:
            pid = system.read(system.dev(f"{directory}/{md}.pid"))
            if not pid.isdigit():
                continue
            proc = system.dev(f"/proc/{pid}")
            if not proc.exists():
                return MdmonFacts(pid=int(pid), running=False)
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:  # not root
                return MdmonFacts(pid=int(pid), running=True)
            return MdmonFacts(pid=int(pid), running=True, imsm_no_platform=b"IMSM_NO_PLATFORM=1" in environ)
        return MdmonFacts(running=False)

    def udev(self) -> UdevFacts | None:
        system = self.system
        directories = []
        seen = set()
        for directory in UDEV_RULE_DIRS:
            real = os.path.realpath(system.dev(directory))
            if real not in seen:  # /lib -> /usr/lib on merged-/usr systems
                seen.add(real)
                directories.append(directory)
        rules: dict[str, tuple[RuleFile, ...]] = {}
        for name in MD_RULES:
            found = []
            for directory in directories:
                path = system.dev(f"{directory}/{name}")
                if path.is_symlink() and os.readlink(path) == "/dev/null":
                    found.append(RuleFile(directory, masked=True))
                elif path.is_file():
                    found.append(RuleFile(directory, masked=path.stat().st_size == 0))
            rules[name] = tuple(found)
        rules_dir = system.dev(RULES_DIR)
        blocking = system.read(rules_dir / BLOCK_RULE).startswith(MARKER)
        masked = tuple(line.strip() for line in system.read(rules_dir / MASK_LIST).splitlines() if line.strip())
        return UdevFacts(rules=rules, blocking_rule=blocking, masked_by_us=masked)

    def fake_raid(self) -> fakeraid.FakeRaid | None:
        return fakeraid.probe(self.system)


class RecordedFacts:
    """A recording of tests/vm/capture_fixtures.py: the member disks, the platform, mdadm's version."""

    def __init__(self, directory: str) -> None:
        self.dir = Path(directory)
        data = read_recorded_sysfs(self.dir)
        disks = data.get("disks")
        self._disks: dict[str, Any] = disks if isinstance(disks, dict) else {}

    def _text(self, name: str) -> str | None:
        path = self.dir / name
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    def source(self) -> dict[str, str]:
        return {"kind": "recorded", "name": self.dir.resolve().name}

    def disk(self, name: str) -> DiskFacts:
        values = self._disks.get(name)
        values = values if isinstance(values, dict) else {}
        udev = self._text(f"udevadm-info-{name}.txt")
        properties = _udev_properties(udev) if udev else {}
        size = str(values.get("size") or "")
        return DiskFacts(serial=_text_or_none(values.get("serial")) or properties.get("ID_SERIAL_SHORT") or None,
                         size_bytes=int(size) * 512 if size.isdigit() else None,
                         model=_text_or_none(values.get("model")) or properties.get("ID_MODEL") or None,
                         udev_imsm_no_platform=_no_platform_property(properties))

    def detail_platform(self) -> Result | None:
        text = self._text("detail-platform.txt")
        return parse_recorded_platform(text) if text is not None else None

    def mdadm_version(self) -> str | None:
        lines = (self._text("mdadm-version.txt") or "").strip().splitlines()
        return lines[0].strip() if lines else None

    def environment_no_platform(self) -> bool | None:
        return None

    def mdmon(self, md: str) -> MdmonFacts:
        return MdmonFacts()

    def udev(self) -> UdevFacts | None:
        return None

    def fake_raid(self) -> fakeraid.FakeRaid | None:
        return None


def _text_or_none(value: object) -> str | None:
    return (str(value).strip() or None) if value is not None else None


_PLATFORM_SECTION = re.compile(r"^### mdadm --detail-platform with (.*?): rc=(\d+)$", re.M)


def parse_recorded_platform(text: str) -> Result:
    """detail-platform.txt: the run without IMSM_NO_PLATFORM (the hardware's answer), else the first one.

    The file holds sections ``### mdadm --detail-platform with <env>: rc=<n>``,
    ``### stdout`` ..., ``### stderr`` ...; a file without them is taken as
    plain standard output with an unknown exit status.
    """
    sections = list(_PLATFORM_SECTION.finditer(text))
    if not sections:
        return Result(-1, text, "")
    chosen = next((m for m in sections if "unset" in m.group(1)), sections[0])
    end = next((m.start() for m in sections if m.start() > chosen.start()), len(text))
    body = text[chosen.end():end]
    out, _, err = body.partition("### stderr\n")
    out = out.split("### stdout\n", 1)[-1]
    return Result(int(chosen.group(2)), out, err)


# --- the report ---------------------------------------------------------------------------------


class _Memo:
    """A source that runs each mdadm query once, for the report and the probe alike (errors included)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._cache: dict[tuple[str, str], str | MdcError] = {}

    def _get(self, what: str, md: str, call: Callable[[], str]) -> str:
        key = (what, md)
        if key not in self._cache:
            try:
                self._cache[key] = call()
            except MdcError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, MdcError):
            raise value
        return value

    def md_devices(self) -> list[str]:
        return self.source.md_devices()

    def sysfs(self, md: str) -> dict[str, str]:
        return self.source.sysfs(md)

    def detail(self, md: str) -> str:
        return self._get("detail", md, lambda: self.source.detail(md))

    def detail_export(self, md: str) -> str:
        return self._get("export", md, lambda: self.source.detail_export(md))

    def examine_scan(self) -> str:
        return self._get("scan", "", self.source.examine_scan)


def _number(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _error(error: MdcError) -> dict[str, str]:
    return {"subject": error.subject, "problem": error.problem, "fix": error.fix, "message": error.message}


class _Builder:
    def __init__(self, source: Source, facts: Facts) -> None:
        self.source = _Memo(source)
        self.facts = facts
        self.errors: list[dict[str, str]] = []
        self.warnings: list[dict[str, str]] = []
        self.mdmon_no_platform: dict[str, bool | None] = {}
        self.udev_no_platform: dict[str, bool | None] = {}

    def query(self, call: Callable[[], str]) -> str:
        try:
            return call()
        except MdcError as exc:
            self.add_error(exc)
            return ""

    def add_error(self, exc: MdcError) -> None:
        error = _error(exc)
        if error not in self.errors:
            self.errors.append(error)

    def warn(self, code: str, subject: str, message: str) -> None:
        self.warnings.append({"code": code, "subject": subject, "message": message})

    def build(self) -> dict[str, Any]:
        source = self.source
        sysfs = {md: source.sysfs(md) for md in source.md_devices()}
        container_mds: dict[str, str] = {}
        volume_mds: dict[str, tuple[str, int]] = {}
        native_mds: list[str] = []
        for md, values in sorted(sysfs.items()):
            version = values.get("metadata_version", "")
            match = _VOLUME_VERSION.match(version)
            if match:
                volume_mds[md] = (match.group(1), int(match.group(2)))
            elif version.startswith("external:"):
                container_mds[md] = version.split(":", 1)[1]
            else:
                native_mds.append(md)
        scan = parse_scan(self.query(source.examine_scan)) if volume_mds else []

        volumes = [self.volume(md, sysfs[md], parent, member, container_mds, scan)
                   for md, (parent, member) in volume_mds.items()]
        volumes.sort(key=lambda v: (v["container"], v["member"], v["device"]))
        containers = [self.container(md, sysfs[md], metadata, volumes) for md, metadata in container_mds.items()]
        natives = [self.native(md, sysfs[md]) for md in native_mds]
        platform = self.platform(containers)
        udev = self.udev()
        self.container_warnings(containers, volumes)
        self.volume_warnings(volumes)
        self.platform_warnings(containers, platform)
        if self.facts.source()["kind"] == "live" and platform["mdadm_version"] is None:
            self.warn("mdadm-missing", "mdadm",
                      "mdadm does not run here (mdadm --version failed): nothing about md arrays can be queried, "
                      "created or recovered without it; install the mdadm package")
        if udev["blocking_rule_active"]:
            self.warn("assembly-blocked", f"{RULES_DIR}/{BLOCK_RULE}",
                      f"udev's md auto-assembly is blocked by {RULES_DIR}/{BLOCK_RULE}: right while diskrestore.sh "
                      "runs, otherwise left over from an interrupted recovery (python3 -m rear_mdcontainer assembly "
                      "unblock removes it)")

        layout: Layout | None
        try:
            layout = probe_layout(source).layout
        except MdcError as exc:
            self.add_error(exc)
            layout = None
        platform["would_record"] = self.platform_record(layout)
        fake_raid = self.fake_raid(containers)
        return {
            "version": REPORT_VERSION,
            "source": self.facts.source(),
            "containers": containers,
            "volumes": volumes,
            "native_arrays": natives,
            "platform": platform,
            "udev": udev,
            "would_record": format_layout(layout) if layout is not None else None,
            "fake_raid": fake_raid,
            "warnings": self.warnings,
            "errors": self.errors,
        }

    # --- the parts ------------------------------------------------------------------------------
    def container(self, md: str, values: dict[str, str], metadata: str,
                  volumes: list[dict[str, Any]]) -> dict[str, Any]:
        export = parse_export(self.query(lambda: self.source.detail_export(md)))
        device = f"/dev/{md}"
        mdmon = self.facts.mdmon(md)
        self.mdmon_no_platform[device] = mdmon.imsm_no_platform
        members = []
        for name in _members(values):
            disk = self.facts.disk(name)
            if metadata == "imsm":
                self.udev_no_platform[f"/dev/{name}"] = disk.udev_imsm_no_platform
            members.append({
                "device": f"/dev/{name}",
                "serial": disk.serial,
                "size_bytes": disk.size_bytes,
                "size_mib": _mib(disk.size_bytes) if disk.size_bytes is not None else None,
                "model": disk.model,
            })
        return {
            "device": device,
            "metadata": metadata,
            "supported": metadata in SUPPORTED_LEVELS,
            "name": export.get("MD_DEVNAME") or None,
            "uuid": export.get("MD_UUID") or None,
            "array_state": values.get("array_state") or None,
            "members": members,
            "volumes": [v["device"] for v in volumes if v["container"] == device],
            "mdmon": {"pid": mdmon.pid, "running": mdmon.running},
        }

    def volume(self, md: str, values: dict[str, str], parent: str, member: int, container_mds: dict[str, str],
               scan: list) -> dict[str, Any]:
        export = parse_export(self.query(lambda: self.source.detail_export(md)))
        detail = parse_detail(self.query(lambda: self.source.detail(md)))
        level = values.get("level", "") or export.get("MD_LEVEL", "")
        raid_devices = _number(values.get("raid_disks")) or _number(export.get("MD_DEVICES"))
        slots = [MISSING] * (raid_devices or 0)
        offsets = []
        for name in _members(values):
            slot = _number(values.get(f"dev-{name}/slot"))
            if slot is None:
                continue  # a spare, or a disk being removed
            if slot >= len(slots):
                slots.extend([MISSING] * (slot + 1 - len(slots)))
            slots[slot] = f"/dev/{name}"
            offset = _number(values.get(f"dev-{name}/offset"))
            if offset is not None:
                offsets.append(offset)
        size_sectors = _number(values.get("size"))
        chunk_bytes = _number(values.get("chunk_size"))
        sync_action = values.get("sync_action") or None
        progress = None
        if sync_action not in IDLE_SYNC and sync_action is not None:
            progress = _progress(values.get("sync_completed", ""))
        missing = slots.count(MISSING)
        uuid = export.get("MD_UUID", "")
        name, name_from = _volume_name(scan, uuid, export)
        return {
            "device": f"/dev/{md}",
            "name": name,
            "name_from": name_from,
            "uuid": uuid or None,
            "container": f"/dev/{parent}",
            "container_active": parent in container_mds,
            "metadata": container_mds.get(parent),
            "member": member,
            "level": level or None,
            "raid_devices": raid_devices,
            "slots": slots,
            "size_per_disk_kib": _number(values.get("component_size")),
            "array_size_kib": size_sectors // 2 if size_sectors is not None else None,
            "chunk_kib": chunk_bytes // 1024 if chunk_bytes and level != "raid1" else None,
            "layout": mdadm_layout(level, detail.get("Layout")),
            "offset_sectors": min(offsets) if offsets else None,
            "array_state": values.get("array_state") or None,
            "sync_action": sync_action,
            "sync_progress": progress,
            "missing_slots": missing,
            "degraded": missing > 0 or bool(_number(values.get("degraded"))),
        }

    def native(self, md: str, values: dict[str, str]) -> dict[str, Any]:
        export = parse_export(self.query(lambda: self.source.detail_export(md)))
        return {
            "device": f"/dev/{md}",
            "metadata_version": values.get("metadata_version") or None,
            "level": values.get("level") or export.get("MD_LEVEL") or None,
            "raid_devices": _number(values.get("raid_disks")),
            "members": [f"/dev/{name}" for name in _members(values)],
            "array_state": values.get("array_state") or None,
            "name": export.get("MD_DEVNAME") or None,
            "uuid": export.get("MD_UUID") or None,
            "handled_by": "ReaR's raidarray code",
        }

    def platform(self, containers: list[dict[str, Any]]) -> dict[str, Any]:
        result = self.facts.detail_platform()
        detail = None
        if result is not None:
            fields, controllers = _platform_fields(result.out)
            exit_status = result.rc if result.rc >= 0 else None
            found = "Platform" in fields and exit_status in (0, None)
            detail = {"exit_status": exit_status, "platform_found": found, "fields": fields,
                      "controllers": controllers, "messages": [line.strip() for line in result.err.splitlines()
                                                              if line.strip()]}
        return {
            "mdadm_version": self.facts.mdadm_version(),
            "detail_platform": detail,
            "imsm_no_platform": {
                "environment": self.facts.environment_no_platform(),
                "mdmon": {c["device"]: self.mdmon_no_platform[c["device"]] for c in containers if c["metadata"] == "imsm"},
                "udev": dict(sorted(self.udev_no_platform.items())),
            },
        }

    def platform_record(self, layout: Layout | None) -> list[str] | None:
        """The '# mdplatform' lines save would write ([]: none; None: unknown, the probe failed)."""
        if layout is None:
            return None
        record = probe_record(self.facts, layout)
        return format_record(record) if record is not None else []

    def fake_raid(self, containers: list[dict[str, Any]]) -> dict[str, Any]:
        found = self.facts.fake_raid()
        if found is None:
            return {"checked": False, "rcraid_module_loaded": None, "dmraid_sets": [], "rcraid_disks": [],
                    "would_record": []}
        members = {c["device"]: [m["device"] for m in c["members"]] for c in containers}
        findings = fakeraid.findings(found, members)
        for finding in findings:
            self.warn(finding.code, finding.subject, finding.message)
        by_subject = {f.subject: f for f in findings}
        sets = []
        for raid_set in found.dmraid_sets:
            finding = by_subject[raid_set.device]
            sets.append({"device": raid_set.device, "name": raid_set.name, "kernel_name": raid_set.kernel_name,
                         "format": raid_set.format or None, "format_name": raid_set.describe(),
                         "md_metadata": raid_set.md_metadata, "disks": list(raid_set.disks),
                         "partitions": list(raid_set.partitions), "recreated": finding.recreated,
                         "md_containers": list(finding.containers)})
        disks = [{"device": disk.device, "vendor": disk.vendor, "model": disk.model, "size_bytes": disk.size_bytes,
                  "evidence": list(disk.evidence), "recreated": False} for disk in found.rcraid_disks]
        return {"checked": True, "rcraid_module_loaded": found.rcraid_module, "dmraid_sets": sets,
                "rcraid_disks": disks, "would_record": fakeraid.record_lines(findings)}

    def udev(self) -> dict[str, Any]:
        facts = self.facts.udev()
        if facts is None:
            return {"checked": False, "rules": [], "blocking_rule": f"{RULES_DIR}/{BLOCK_RULE}",
                    "blocking_rule_active": None, "masked_by_rear_mdcontainer": []}
        rules = []
        for name, role in MD_RULES.items():
            found = facts.rules.get(name, ())
            state = "absent" if not found else ("masked" if found[0].masked else "active")
            rules.append({"name": name, "role": role, "state": state,
                          "locations": [{"directory": f.directory, "masked": f.masked} for f in found]})
        return {"checked": True, "rules": rules, "blocking_rule": f"{RULES_DIR}/{BLOCK_RULE}",
                "blocking_rule_active": facts.blocking_rule, "masked_by_rear_mdcontainer": list(facts.masked_by_us)}

    # --- warnings -------------------------------------------------------------------------------
    def container_warnings(self, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> None:
        for container in containers:
            device = container["device"]
            if not container["supported"]:
                self.warn("unsupported-metadata", device,
                          f"container {device} has metadata '{container['metadata']}', which rear-mdcontainer does "
                          f"not handle (only {' and '.join(SUPPORTED_LEVELS)}): rear savelayout stops; exclude it "
                          "or set MDCONTAINER_ENABLED=no")
            sizes = [m["size_bytes"] for m in container["members"]]
            if len(sizes) > 1 and None not in sizes and max(sizes) - min(sizes) > SIZE_TOLERANCE * min(sizes):
                listed = ", ".join(f"{m['device']} {_size_text(m['size_bytes'])}" for m in container["members"])
                self.warn("disk-sizes-differ", device,
                          f"the member disks of container {device} differ in size by more than 1 % ({listed}): "
                          "the volumes use the same space on each, so the larger disks are partly unused")
            running = [v["device"] for v in volumes if v["container"] == device
                       and (v["array_state"] or "") not in STOPPED_STATES]
            if container["supported"] and running and container["mdmon"]["running"] is False:
                md = device.rsplit("/", 1)[-1]
                self.warn("mdmon-missing", device,
                          f"no mdmon runs for container {device} (no {MDMON_PID_DIRS[0]}/{md}.pid of a running "
                          f"process) although its volume(s) {', '.join(running)} run: their metadata is not updated "
                          f"and they stay read-only; start it (systemctl start mdmon@{md}.service, or mdmon {device})")

    def volume_warnings(self, volumes: list[dict[str, Any]]) -> None:
        for volume in volumes:
            device = volume["device"]
            if not volume["container_active"]:
                self.warn("container-not-active", device,
                          f"volume {device} belongs to {volume['container']}, which is not an assembled IMSM/DDF "
                          "container: rear savelayout stops; assemble the container (mdadm --assemble --scan)")
            if volume["name"] is None:
                self.warn("volume-without-name", device,
                          f"volume {device} has no name, neither in its metadata (mdadm --examine --scan) nor as "
                          "array name: rear savelayout stops; assemble it under a name "
                          "(mdadm --assemble /dev/md/NAME ...)")
            if volume["degraded"]:
                slots = ",".join(volume["slots"])
                self.warn("degraded", device,
                          f"volume {device} is degraded ({volume['missing_slots']} of {volume['raid_devices']} slots "
                          f"missing: {slots}): it is recorded with 'missing' slots; the recovery recreates it "
                          "complete with a disk named in MDCONTAINER_MISSING_DISKS, a disk of its container that no "
                          "volume uses, or the layout's only unused disk entry, and stops before any write when there "
                          "is none")
            if volume["sync_action"] not in IDLE_SYNC and volume["sync_action"] is not None:
                progress = volume["sync_progress"]
                done = f", {_percent_text(progress)} done" if progress else ""
                self.warn("sync-in-progress", device,
                          f"volume {device} is in '{volume['sync_action']}'{done}: its contents may not be consistent "
                          "yet; let it finish before making the rescue image and the backup")

    def platform_warnings(self, containers: list[dict[str, Any]], platform: dict[str, Any]) -> None:
        imsm = [c["device"] for c in containers if c["metadata"] == "imsm"]
        detail = platform["detail_platform"]
        flags = platform["imsm_no_platform"]
        if not imsm or detail is None or detail["platform_found"]:
            return
        if flags["environment"] is False and True not in flags["mdmon"].values():
            self.warn("imsm-no-platform", ",".join(imsm),
                      f"IMSM container(s) {', '.join(imsm)}, but mdadm --detail-platform finds no Intel RST/VROC "
                      "platform and IMSM_NO_PLATFORM=1 is set neither here nor for a running mdmon: mdadm refuses to "
                      "create IMSM without it, rear mkrescue records MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM=no, and a "
                      "recovery stops in its preflight unless MDCONTAINER_IMSM_NO_PLATFORM=yes")


def _volume_name(scan: list, uuid: str, export: dict[str, str]) -> tuple[str | None, str | None]:
    """The name probe._volume_name records, and where it comes from; (None, None) where it would fail."""
    for array in scan:
        if uuid and array.options.get("UUID") == uuid and "member" in array.options:
            if array.name:
                return array.name, "metadata"
            fallback = export.get("MD_DEVNAME", "")
            if fallback and not re.fullmatch(r"md\d+", fallback):
                return fallback, "array name"
            return None, None
    return None, None


def _progress(text: str) -> dict[str, Any] | None:
    """sysfs sync_completed '123 / 456' (sectors)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or int(match.group(2)) == 0:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    return {"completed_sectors": done, "total_sectors": total, "permille": done * 1000 // total}


def _percent_text(progress: dict[str, Any]) -> str:
    permille = progress["permille"]
    return f"{permille // 10}.{permille % 10}%"


_PLATFORM_FIELD = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9 /()-]*?)\s+:\s*(.*?)\s*$")


def _platform_fields(text: str) -> tuple[dict[str, str], list[str]]:
    """The ``Key : value`` lines of mdadm --detail-platform (first of each), and its I/O controllers."""
    fields: dict[str, str] = {}
    controllers: list[str] = []
    for line in text.splitlines():
        match = _PLATFORM_FIELD.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2)
        if key == "I/O Controller":
            controllers.append(value)
        fields.setdefault(key, value)
    return fields, controllers


def _mib(size_bytes: int) -> float | int:
    value = size_bytes / MIB
    return int(value) if size_bytes % MIB == 0 else round(value, 2)


def _size_text(size_bytes: int | None) -> str:
    return "size unknown" if size_bytes is None else f"{size_bytes} bytes ({_mib(size_bytes)} MiB)"


def _kib_text(kib: int | None) -> str:
    return "-" if kib is None else f"{kib} KiB ({_mib(kib * 1024)} MiB)"


def build_report(source: Source, facts: Facts) -> dict[str, Any]:
    """The whole report as one JSON-able document (see the module's docstring)."""
    return _Builder(source, facts).build()


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


# --- text ---------------------------------------------------------------------------------------


def _yes_no(value: bool | None, unknown: str = "unknown") -> str:
    return unknown if value is None else ("yes" if value else "no")


def _table(rows: list[tuple[str, str]], indent: str) -> list[str]:
    width = max(len(key) for key, _ in rows)
    lines = []
    for key, value in rows:
        first, *rest = value.split("\n")
        lines.append(f"{indent}{key.ljust(width)}  {first}".rstrip())
        lines.extend(f"{indent}{' ' * width}  {line}".rstrip() for line in rest)
    return lines


def _mdmon_text(container: dict[str, Any]) -> str:
    mdmon = container["mdmon"]
    if mdmon["running"] is None:
        return "unknown"
    if mdmon["running"]:
        return f"running (pid {mdmon['pid']})"
    md = container["device"].rsplit("/", 1)[-1]
    stale = f", stale pid {mdmon['pid']} in its pid file" if mdmon["pid"] is not None else ""
    return f"not running (no {MDMON_PID_DIRS[0]}/{md}.pid of a running process{stale})"


def _containers_text(report: dict[str, Any]) -> list[str]:
    lines = ["Containers"]
    if not report["containers"]:
        return [*lines, "  none"]
    for container in report["containers"]:
        supported = "" if container["supported"] else " (not handled by rear-mdcontainer)"
        lines.append(f"  {container['device']}: {container['metadata']} container{supported}")
        rows = [("name", container["name"] or "-"), ("UUID", container["uuid"] or "-"),
                ("array_state", container["array_state"] or "-"), ("mdmon", _mdmon_text(container)),
                ("volumes", ", ".join(container["volumes"]) or "none"),
                ("member disks", str(len(container["members"])))]
        lines.extend(_table(rows, "    "))
        for member in container["members"]:
            words = [f"serial {member['serial'] or 'unknown'}", _size_text(member["size_bytes"])]
            if member["model"]:
                words.append(f"model {member['model']}")
            lines.append(f"      {member['device']}: {', '.join(words)}")
    return lines


def _volumes_text(report: dict[str, Any]) -> list[str]:
    lines = ["Volumes"]
    if not report["volumes"]:
        return [*lines, "  none"]
    for volume in report["volumes"]:
        name = "no name" if volume["name"] is None else f"'{volume['name']}'"
        if volume["name_from"] == "array name":
            name += " (array name; the metadata holds none)"
        inactive = "" if volume["container_active"] else ", not an assembled container"
        lines.append(f"  {volume['device']}: {name}, member {volume['member']} of {volume['container']}"
                     f" ({volume['metadata'] or 'unknown metadata'}{inactive})")
        sync = volume["sync_action"] or "-"
        if volume["sync_progress"]:
            progress = volume["sync_progress"]
            sync += (f", {_percent_text(progress)} ({progress['completed_sectors']} / "
                     f"{progress['total_sectors']} sectors)")
        degraded = "no"
        if volume["degraded"]:
            degraded = f"yes, {volume['missing_slots']} of {volume['raid_devices']} slots missing"
        offset = volume["offset_sectors"]
        rows = [
            ("UUID", volume["uuid"] or "-"),
            ("level", volume["level"] or "-"),
            ("raid-devices", str(volume["raid_devices"]) if volume["raid_devices"] is not None else "-"),
            ("slots", ", ".join(f"{index}: {disk}" for index, disk in enumerate(volume["slots"])) or "-"),
            ("size per disk", _kib_text(volume["size_per_disk_kib"])),
            ("array size", _kib_text(volume["array_size_kib"])),
            ("chunk", f"{volume['chunk_kib']} KiB" if volume["chunk_kib"] else "-"),
            ("layout", volume["layout"] or "-"),
            ("start offset", f"{offset} sectors" if offset is not None else "-"),
            ("array_state", volume["array_state"] or "-"),
            ("sync_action", sync),
            ("degraded", degraded),
        ]
        lines.extend(_table(rows, "    "))
    return lines


def _natives_text(report: dict[str, Any]) -> list[str]:
    lines = ["Native md arrays (left to ReaR's own raidarray code)"]
    if not report["native_arrays"]:
        return [*lines, "  none"]
    for array in report["native_arrays"]:
        name = f" '{array['name']}'" if array["name"] else ""
        lines.append(f"  {array['device']}{name}: {array['level'] or 'unknown level'}, metadata "
                     f"{array['metadata_version'] or 'unknown'}, on {', '.join(array['members']) or 'no members'}, "
                     f"array_state {array['array_state'] or '-'}, UUID {array['uuid'] or '-'}")
    return lines


def _platform_text(report: dict[str, Any]) -> list[str]:
    platform = report["platform"]
    detail = platform["detail_platform"]
    if detail is None:
        found = "unknown"
    else:
        status = f"exit status {detail['exit_status']}" if detail["exit_status"] is not None else "exit status unknown"
        if detail["platform_found"]:
            fields = detail["fields"]
            found = f"{fields['Platform']} ({status})"
            for key in ("Version", "RAID Levels", "Chunk Sizes", "Max Disks", "Max Volumes"):
                if key in fields:
                    found += f"\n{key}: {fields[key]}"
            found += "".join(f"\nI/O Controller: {c}" for c in detail["controllers"])
        else:
            found = f"no Intel RST/VROC platform ({status})"
        found += "".join(f"\n{line}" for line in detail["messages"])
    flags = platform["imsm_no_platform"]
    rows = [("mdadm", platform["mdadm_version"] or "unknown"),
            ("mdadm --detail-platform", found),
            ("IMSM_NO_PLATFORM=1 here", _yes_no(flags["environment"]))]
    if flags["mdmon"]:
        running = {c["device"]: c["mdmon"]["running"] for c in report["containers"]}
        rows.append(("... for mdmon", ", ".join(
            f"{device}: {'mdmon not running' if running.get(device) is False else _yes_no(value)}"
            for device, value in flags["mdmon"].items())))
    if flags["udev"]:
        rows.append(("... in udev properties", ", ".join(f"{device}: {_yes_no(value)}"
                                                         for device, value in flags["udev"].items())))
    record = platform["would_record"]
    if record is None:
        recorded = "unknown: the probe failed (see Errors)"
    elif record:
        recorded = "\n".join(record)
    elif any(c["metadata"] == "imsm" for c in report["containers"]):
        recorded = "nothing (neither the platform nor IMSM_NO_PLATFORM is known)"
    else:
        recorded = "nothing (no IMSM container)"
    rows.append(("would record", recorded))
    return ["Platform", *_table(rows, "  ")]


def _udev_text(report: dict[str, Any]) -> list[str]:
    udev = report["udev"]
    if not udev["checked"]:
        return ["udev", "  md rules: unknown (not in the recording)"]
    rows = []
    for rule in udev["rules"]:
        where = [f"{loc['directory']}{' (masked)' if loc['masked'] else ''}" for loc in rule["locations"]]
        rows.append((rule["name"], rule["state"] + (f": {', '.join(where)}" if where else "") + f" ({rule['role']})"))
    blocking = "active" if udev["blocking_rule_active"] else "not active"
    rows.append(("rear-mdcontainer's block", f"{blocking} ({udev['blocking_rule']})"))
    if udev["masked_by_rear_mdcontainer"]:
        rows.append(("masked by rear-mdcontainer", ", ".join(udev["masked_by_rear_mdcontainer"])))
    return ["udev", *_table(rows, "  ")]


def _fake_raid_text(report: dict[str, Any]) -> list[str]:
    fake = report["fake_raid"]
    lines = ["Other firmware RAID (dmraid sets, AMD RAIDXpert/rcraid disks)"]
    if not fake["checked"]:
        return [*lines, "  unknown (not in the recording)"]
    for raid_set in fake["dmraid_sets"]:
        recreated = (f"yes, as the md container {', '.join(raid_set['md_containers'])}" if raid_set["recreated"]
                     else "no")
        lines.append(f"  {raid_set['device']}: dmraid set, {raid_set['format_name']}")
        lines.extend(_table([("disks", ", ".join(raid_set["disks"]) or "none"),
                             ("partitions", ", ".join(raid_set["partitions"]) or "none"),
                             ("recreated", recreated)], "    "))
    for disk in fake["rcraid_disks"]:
        lines.append(f"  {disk['device']}: AMD RAIDXpert (rcraid) disk")
        lines.extend(_table([("vendor, model", " ".join(w for w in (disk["vendor"], disk["model"]) if w) or "-"),
                             ("size", _size_text(disk["size_bytes"])),
                             ("evidence", ", ".join(disk["evidence"])),
                             ("recreated", "no (the array: make it in the AMD RAID BIOS setup first)")], "    "))
    module = "loaded" if fake["rcraid_module_loaded"] else "not loaded"
    if not fake["dmraid_sets"] and not fake["rcraid_disks"]:
        return [*lines, f"  none (the rcraid module is {module})"]
    lines.append(f"  the rcraid module is {module}")
    lines.append("  would record (comments at the end of disklayout.conf)")
    lines.extend(f"    {line}" for line in fake["would_record"])
    return lines


def render_text(report: dict[str, Any]) -> str:
    source = report["source"]
    if source["kind"] == "recorded":
        origin = (f"recording {source['name']} (it holds no environment, mdmon, udev rule or fake-RAID facts: "
                  "those show as unknown)")
    else:
        origin = "this system"
    lines = [f"rear-mdcontainer report of {origin}", ""]
    for part in (_containers_text, _volumes_text, _natives_text, _platform_text, _udev_text, _fake_raid_text):
        lines.extend(part(report))
        lines.append("")
    lines.append("Would record (mdcontainer/mdvolume lines of disklayout.conf)")
    if report["would_record"] is None:
        lines.append("  nothing: the probe failed (see Errors)")
    elif not report["would_record"]:
        natives = " (the native md arrays stay ReaR's raidarray lines)" if report["native_arrays"] else ""
        lines.append(f"  nothing: no IMSM/DDF containers{natives}")
    else:
        lines.extend(f"  {line}" for line in report["would_record"])
    lines.extend(["", "Warnings"])
    lines.extend(f"  - {w['message']}" for w in report["warnings"])
    if not report["warnings"]:
        lines.append("  none")
    if report["errors"]:
        lines.extend(["", "Errors"])
        lines.extend(f"  - {e['message']}" for e in report["errors"])
    return "\n".join(lines) + "\n"
