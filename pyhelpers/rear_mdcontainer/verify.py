"""Comparing the recreated arrays with the layout, and the old -> new UUIDs.

After diskrestore.sh ran, the live system is probed into a model the same way
``rear savelayout`` does and compared entry by entry: a recovery that "worked"
but created a different geometry (another size, chunk, member order) would
only show later, as a file system that does not fit or a firmware that does
not see the volume.  IMSM derives UUIDs from the metadata and ignores
``--uuid``, so the UUIDs always change: the map is kept for the finalize step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MdcError
from .model import MISSING, Container, Layout, Volume
from .reuse import LiveArrays, differences


@dataclass(frozen=True)
class Verification:
    report: tuple[str, ...]
    problems: tuple[str, ...]
    uuid_map: tuple[tuple[str, str], ...]  # (old, new)


def _volume_problems(want: Volume, have: Volume, grow_last: bool, last: bool) -> list[str]:
    problems = []
    subject = want.entry_name

    def differ(what: str, expected: object, found: object) -> None:
        problems.append(f"{subject}: {what} is {found}, the layout says {expected}")

    if have.container != want.container:
        differ("its container", want.container, have.container)
    if have.member != want.member:
        differ("its member index", want.member, have.member)
    if have.level != want.level:
        differ("the RAID level", want.level, have.level)
    if have.raid_devices != want.raid_devices:
        differ("raid-devices", want.raid_devices, have.raid_devices)
    wanted_devices = tuple(d for d in want.devices)
    if MISSING not in wanted_devices and have.devices != wanted_devices:
        differ("the member order (devices=)", ",".join(wanted_devices), ",".join(have.devices))
    if grow_last and last:
        if have.size_kib < want.size_kib:
            differ("the size per disk (KiB)", f"at least {want.size_kib}", have.size_kib)
    elif have.size_kib != want.size_kib:
        differ("the size per disk (KiB)", want.size_kib, have.size_kib)
    if (want.chunk_kib or None) != (have.chunk_kib or None):
        differ("the chunk size (KiB)", want.chunk_kib, have.chunk_kib)
    if want.layout and have.layout != want.layout:
        differ("the layout", want.layout, have.layout)
    if have.name != want.name:
        differ("the name", repr(want.name), repr(have.name))
    if want.offset_sectors is not None and have.offset_sectors != want.offset_sectors and not (grow_last and last):
        differ("the start on each disk (sectors)", want.offset_sectors, have.offset_sectors)
    return problems


def _kept_problems(recorded: Layout, want: Container, live: LiveArrays, have: Container, uuid: str) -> list[str]:
    """A container kept with MDCONTAINER_REUSE=yes: what made it fit must still hold (reuse.differences)."""
    found = differences(recorded, want, live, have, lambda disk: disk)
    if uuid not in ("-", have.uuid):
        found.append(f"its UUID is {have.uuid}, the kept container had {uuid}")
    return [f"{want.entry_name} (kept): {problem}" for problem in found]


def verify(recorded: Layout, live: Layout, grow_last: bool = False, kept: dict[str, str] | None = None,
           states: dict[str, str] | None = None) -> Verification:
    """Compare; ``kept`` maps containers that reuse-check kept (MDCONTAINER_REUSE=yes) to their UUID,
    ``states`` the live arrays to their sysfs array_state (not given: running)."""
    report: list[str] = []
    problems: list[str] = []
    uuid_map: list[tuple[str, str]] = []
    live_containers = {c.device: c for c in live.containers}
    live_volumes = {v.device: v for v in live.volumes}
    for want in recorded.containers:
        problems_before = len(problems)
        have = live_containers.get(want.device)
        if have is None:
            problems.append(f"{want.entry_name}: no such container after the recovery")
            continue
        if kept and want.device in kept:
            running = states if states is not None else {v.device: "clean" for v in live.volumes}
            problems.extend(_kept_problems(recorded, want, LiveArrays(live, running), have, kept[want.device]))
            if want.uuid and have.uuid:
                uuid_map.append((want.uuid, have.uuid))
            by_member = {v.member: v for v in live.volumes_of(have)}
            for volume in recorded.volumes_of(want):
                found = by_member.get(volume.member)
                if volume.uuid and found is not None and found.uuid:
                    uuid_map.append((volume.uuid, found.uuid))
            if len(problems) == problems_before:
                report.append(f"{want.entry_name}: kept as it was (MDCONTAINER_REUSE=yes), {have.metadata} on "
                              f"{','.join(have.devices)}, " + ", ".join(
                                  f"{v.device} {v.level} {v.size_kib} KiB per disk '{v.name}'"
                                  for v in live.volumes_of(have)))
            continue
        if have.metadata != want.metadata:
            problems.append(f"{want.entry_name}: metadata is {have.metadata}, the layout says {want.metadata}")
        if sorted(have.devices) != sorted(want.devices):
            problems.append(f"{want.entry_name}: member disks are {','.join(have.devices)}, "
                            f"the layout says {','.join(want.devices)}")
        if want.uuid and have.uuid:
            uuid_map.append((want.uuid, have.uuid))
        volumes = recorded.volumes_of(want)
        for index, volume in enumerate(volumes):
            found = live_volumes.get(volume.device)
            if found is None:
                problems.append(f"{volume.entry_name}: no such volume after the recovery")
                continue
            problems.extend(_volume_problems(volume, found, grow_last, index == len(volumes) - 1))
            if volume.uuid and found.uuid:
                uuid_map.append((volume.uuid, found.uuid))
        if len(problems) == problems_before:
            report.append(f"{want.entry_name}: {want.metadata} on {','.join(want.devices)} as recorded, "
                          f"{len(volumes)} volume(s): "
                          + ", ".join(f"{v.device} {v.level} {v.size_kib} KiB per disk" for v in volumes))
    return Verification(tuple(report), tuple(problems), tuple(uuid_map))


def check(recorded: Layout, live: Layout, grow_last: bool = False, kept: dict[str, str] | None = None,
          states: dict[str, str] | None = None) -> Verification:
    """verify(), raising one MdcError that lists every difference."""
    result = verify(recorded, live, grow_last, kept, states)
    if result.problems:
        raise MdcError("rear-mdcontainer verification", "the recreated firmware RAID differs from the layout: "
                       + "; ".join(result.problems),
                       "see the log; fix disklayout.conf or the disks and rerun the recovery")
    return result
