"""Checks before the first write: everything that can be known to fail, fails here.

Run while diskrestore.sh is generated (layout/prepare) and again at the top of
each container's code in diskrestore.sh, because udev may have assembled old
arrays in between.  Each failure is one :class:`MdcError` naming the entry and
the fix; no disk has been written when it is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .errors import MdcError
from .imsm_platform import PlatformRecord, check_target, parse_record
from .mdadm_parse import PlatformInfo, parse_detail_platform
from .model import Container, Layout
from .native import describe as describe_native
from .native import needed_bytes as native_needed_bytes
from .native import plan_native
from .plan import plan_volumes
from .reuse import REUSE, LiveArrays, decide, describe
from .system import System
from .teardown import check_not_in_use, devices_below

MIB = 1024 * 1024
#: Space the metadata keeps at the end of every member disk, beyond the volumes.
#: IMSM: the MPB and its reserved areas; mdadm 4.2 left 12288 sectors (6 MiB) free
#: behind a volume of maximal size on a 512 MiB disk (tests/fixtures/mdadm/bookworm/
#: imsm-two-volumes), of which up to 1 MiB is rounding: 6 MiB errs on the safe side.
#: DDF: 32 MiB for the anchor, headers and configuration records (ddf-raid1 fixture).
METADATA_RESERVE = {"imsm": 6 * MIB, "ddf": 32 * MIB}
MIN_MDADM = (3, 2)
#: mdadm that knows --data-offset (MDCONTAINER_MIGRATE=native).
MIN_MDADM_NATIVE = (3, 3)


def disk_sizes(lines: Iterable[str]) -> dict[str, int]:
    """Sizes of the original disks from the ``disk <dev> <bytes> <label>`` lines."""
    sizes = {}
    for line in lines:
        words = line.split()
        if len(words) >= 3 and words[0] == "disk" and re.fullmatch(r"[0-9]+", words[2]):
            sizes[words[1]] = int(words[2])
    return sizes


def needed_bytes(layout: Layout, container: Container, disk: str, original_size: int | None) -> int:
    """How large ``disk`` must be for the recorded volumes plus the metadata's reserve.

    Volumes are laid out one after the other in member order; the recorded
    offset says where each starts (when it was recorded).  A disk as large as
    the original always suffices.
    """
    end = 0
    start = 0
    for volume in layout.volumes_of(container):
        offset = volume.offset_sectors * 512 if volume.offset_sectors is not None else start
        volume_end = offset + volume.size_kib * 1024
        start = volume_end
        if disk in volume.devices:
            end = max(end, volume_end)
    need = end + METADATA_RESERVE[container.metadata]
    if original_size:
        need = min(need, original_size)
    return need


def mdadm_version(system: System) -> tuple[int, int]:
    result = system.run("mdadm", "--version")
    match = re.search(r"v(\d+)\.(\d+)", result.out + result.err)
    if result.rc != 0 or not match:
        raise MdcError("mdadm", "cannot tell its version (mdadm --version failed)",
                       "the rescue system needs mdadm; add it to REQUIRED_PROGS")
    return int(match.group(1)), int(match.group(2))


def kernel_or_path(system: System) -> Callable[[str], str]:
    """A disk path -> its kernel name (by-id links followed), or the path itself where there is none."""
    return lambda disk: system.kernel_name(disk) or disk


def check_container(system: System, layout: Layout, container: Container, *, original_sizes: dict[str, int],
                    no_platform: bool, grow_last: bool = False, target_root: str = "/mnt/local",
                    live: LiveArrays | None = None, platform: PlatformRecord | None = None,
                    migrate: bool = False, deps: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """Everything about one container that can be checked before anything is written.

    md names the container or its volumes need may be held by old arrays on any
    disk of the layout (they are stopped before creation), never by others.
    With ``live`` (MDCONTAINER_REUSE=yes) a container that can be kept as it
    exists needs only its disks not to be in use; one that reaches beyond the
    layout's disks is refused.  IMSM to create with the platform's checks must
    be within what this system's platform allows (``platform``: what the
    original system had, for the message). With ``migrate``
    (MDCONTAINER_MIGRATE=native) the volumes become native md arrays: their
    md names and the sizes of the native geometry are checked, no platform
    (``deps``: ReaR's diskdeps.conf, to log which metadata each array gets).
    """
    subject = container.entry_name
    report: list[str] = []
    plan_volumes(layout, container, grow_last)  # member order, no missing slots
    if migrate:
        plan = plan_native(layout, container, grow_last, deps or [])
        if deps is not None:
            report.extend(describe_native(plan))
    if live is not None:
        decision = decide(layout, container, live, kernel_or_path(system))
        report.append(describe(decision))
        if decision.action == REUSE:
            check_not_in_use(system, subject, system.kernel_names(container.devices), target_root)
            return report

    names: list[str] = []
    for disk in container.devices:
        name = system.kernel_name(disk)
        if not name:
            raise MdcError(subject, f"member disk {disk} does not exist",
                           "connect the disk or map the layout to an existing disk (disk mapping)")
        if name.startswith(("md", "dm-")) or (system.sys_block(name) / "partition").exists():
            raise MdcError(subject, f"{disk} is not a whole disk ({name})",
                           "IMSM and DDF containers own whole disks; map the layout to disks")
        size = system.size_bytes(name)
        if migrate:  # the volumes' sizes, md superblocks and, for several volumes, a partition table
            need = native_needed_bytes(layout, container, disk)
        else:
            need = needed_bytes(layout, container, disk, original_sizes.get(disk))
        if size < need:
            raise MdcError(subject, f"disk {disk} has {size // MIB} MiB but the recorded volumes need {need // MIB} MiB"
                           + (" as native md arrays" if migrate else ""),
                           "use a disk at least as large as the original, or map the layout to a larger disk")
        names.append(name)
        report.append(f"{disk} ({name}): {size // MIB} MiB, {need // MIB} MiB needed")
    check_not_in_use(system, subject, names, target_root)

    layout_disks = system.kernel_names(layout.member_disks())
    ours = set(devices_below(system, layout_disks))
    # Migrated to native md, the container's md name is not needed:
    wanted = [] if migrate else [container.device]
    for device in wanted + [v.device for v in layout.volumes_of(container)]:
        md = device.rsplit("/", 1)[-1]
        state = system.md_value(md, "array_state")
        if state in ("", "clear"):
            continue
        if md not in ours:
            members = ", ".join("/dev/" + m for m in system.md_members(md)) or "no members"
            raise MdcError(subject, f"{device} is already in use by another array ({members})",
                           f"stop it with 'mdadm --stop {device}' if it is not needed, the recovery needs that name")
        report.append(f"{device} is an old array on our disks and will be stopped")

    if migrate:
        if mdadm_version(system) < MIN_MDADM_NATIVE:
            raise MdcError(subject, "mdadm is older than 3.3 and cannot create native arrays with a given data offset",
                           "use a rescue system with a newer mdadm")
        report.append("migrating to native md (MDCONTAINER_MIGRATE=native): no container and no IMSM platform needed")
        return report
    if mdadm_version(system) < MIN_MDADM:
        raise MdcError(subject, "mdadm is older than 3.2 and cannot create IMSM/DDF containers reliably",
                       "use a rescue system with a newer mdadm")
    if container.metadata == "imsm":
        if no_platform:
            report.append("IMSM platform check skipped (IMSM_NO_PLATFORM=1)")
        else:
            result = system.run("mdadm", "--detail-platform", "--metadata=imsm")
            target = parse_detail_platform(result.out) if result.rc == 0 else []
            if result.rc == 0 and not target:  # an answer in a form we do not know: a platform, limits unknown
                target = [PlatformInfo(name="an Intel RST/VROC platform")]
            report.extend(check_target(layout, container, target, platform))
    return report


def preflight(system: System, layout: Layout, lines: list[str], containers: list[str] | None = None, *,
              no_platform: bool, grow_last: bool = False, target_root: str = "/mnt/local",
              live: LiveArrays | None = None, migrate: bool = False,
              deps: Sequence[tuple[str, str]] | None = None) -> list[str]:
    selected = [c for c in layout.containers if not containers or c.device in containers]
    missing = sorted(set(containers or ()) - {c.device for c in layout.containers})
    if missing:
        raise MdcError(f"mdcontainer {missing[0]}", "there is no such entry in the layout file", "check disklayout.conf")
    report = []
    sizes = disk_sizes(lines)
    platform = parse_record(lines)
    for container in selected:
        report.extend(check_container(system, layout, container, original_sizes=sizes, no_platform=no_platform,
                                      grow_last=grow_last, target_root=target_root, live=live, platform=platform,
                                      migrate=migrate, deps=deps))
    return report
