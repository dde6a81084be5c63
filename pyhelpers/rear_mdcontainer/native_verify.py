"""Comparing the native md arrays of a migration (``MDCONTAINER_MIGRATE=native``) with their plans.

After diskrestore.sh ran, each volume's md device must be a native array with
the planned metadata, level, slots (member disks or partitions in slot
order), size per member, chunk, layout and name. The old -> new UUID map for
the finalize step maps each volume's UUID to its native array's, and the old
container's UUID to the native array of its member 0: the container is gone,
and a kernel argument ``rd.md.uuid=<container>`` left as it was would make
dracut wait for an array that never comes (two equal ``rd.md.uuid=`` are
harmless, a removed word would change the length of grubenv's fixed block).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import MdcError
from .mdadm_parse import mdadm_layout, parse_detail, parse_export
from .native import MigratedArray, NativeArray, NativePlan
from .probe import Source


@dataclass(frozen=True)
class NativeVerification:
    report: tuple[str, ...]
    problems: tuple[str, ...]
    uuid_map: tuple[tuple[str, str], ...]
    arrays: tuple[MigratedArray, ...]


def _slots(values: dict[str, str], count: int) -> list[str]:
    slots = ["missing"] * count
    for key, value in values.items():
        if key.startswith("dev-") and key.endswith("/slot") and value.isdigit() and int(value) < count:
            slots[int(value)] = key[4:-5]
    return slots


def _array_problems(want: NativeArray, source: Source, kernel: Callable[[str], str]) -> tuple[list[str], MigratedArray | None]:
    subject = f"mdvolume {want.device} (native)"
    md = want.device.rsplit("/", 1)[-1]
    values = source.sysfs(md)
    version = values.get("metadata_version", "")
    if not version:
        return [f"{subject}: no such md array after the recovery"], None
    problems = []

    def differ(what: str, expected: object, found: object) -> None:
        problems.append(f"{subject}: {what} is {found}, the plan says {expected}")

    if version != want.metadata:
        differ("the metadata", want.metadata, version or "none")
    if values.get("level", "") != want.level:
        differ("the RAID level", want.level, values.get("level", ""))
    raid_disks = values.get("raid_disks", "")
    if raid_disks != str(want.raid_devices):
        differ("raid-devices", want.raid_devices, raid_disks)
    slots = _slots(values, want.raid_devices)
    expected = [kernel(d) for d in want.create_devices]
    if slots != expected:
        differ("the members in slot order", ",".join(expected), ",".join(slots))
    size = values.get("component_size", "")
    if want.size_arg is not None and size != str(want.size_arg):
        differ("the size per member (KiB)", want.size_arg, size)
    if want.size_arg is None and not (size.isdigit() and int(size) >= want.size_kib):
        differ("the size per member (KiB)", f"at least {want.size_kib}", size or "unknown")
    if want.chunk_kib and values.get("chunk_size", "") != str(want.chunk_kib * 1024):
        differ("the chunk size (bytes)", want.chunk_kib * 1024, values.get("chunk_size", ""))
    export = parse_export(source.detail_export(md))
    if want.layout:
        found_layout = mdadm_layout(want.level, parse_detail(source.detail(md)).get("Layout", ""))
        if found_layout != want.layout:
            differ("the layout", want.layout, found_layout)
    name = export.get("MD_NAME", "")
    if name.split(":", 1)[-1] != want.name:
        differ("the name", repr(want.name), repr(name))
    uuid = export.get("MD_UUID", "")
    if not uuid:
        problems.append(f"{subject}: mdadm --detail --export shows no MD_UUID")
        return problems, None
    return problems, MigratedArray(want.device, uuid, version, name or want.name)


def verify_native(plans: list[NativePlan], source: Source, kernel: Callable[[str], str]) -> NativeVerification:
    report: list[str] = []
    problems: list[str] = []
    uuid_map: list[tuple[str, str]] = []
    arrays: list[MigratedArray] = []
    for plan in plans:
        before = len(problems)
        volumes = {}
        for array in plan.arrays:
            found, live = _array_problems(array, source, kernel)
            problems.extend(found)
            if live is not None:
                arrays.append(live)
                volumes[array.member] = live
        recorded = {a.member: a for a in plan.arrays}
        for member, live in sorted(volumes.items()):
            if recorded[member].old_uuid:
                uuid_map.append((recorded[member].old_uuid, live.uuid))
        if plan.container.uuid and 0 in volumes:
            uuid_map.append((plan.container.uuid, volumes[0].uuid))
        if len(problems) == before:
            report.append(f"{plan.container.entry_name}: migrated to native md: " + ", ".join(
                f"{a.device} {a.level} metadata {a.metadata} on {','.join(a.create_devices)}"
                for a in recorded.values()))
    return NativeVerification(tuple(report), tuple(problems), tuple(uuid_map), tuple(arrays))


def check_native(plans: list[NativePlan], source: Source, kernel: Callable[[str], str]) -> NativeVerification:
    """verify_native(), raising one MdcError that lists every difference."""
    result = verify_native(plans, source, kernel)
    if result.problems:
        raise MdcError("rear-mdcontainer verification", "the native md arrays differ from the migration plan: "
                       + "; ".join(result.problems),
                       "see the log; fix disklayout.conf or the disks and rerun the recovery")
    return result
