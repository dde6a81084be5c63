"""Freeing the disks of a container before it is recreated.

On disks that still carry old metadata, udev has usually assembled the old
container and volumes (and maybe LVM on them) by the time ``rear recover``
runs: writing to the disks then fails with "Device or resource busy".  This
module finds everything that holds *our* disks, stops it top-down, and then
removes md superblocks and signatures from our disks only.

The holder tree of a disk: its holders and its partitions' holders, and their
holders and partitions, recursively.  For IMSM/DDF both the container and its
volumes are holders of each member disk; volumes are stopped before
containers (stopping a container stops its mdmon).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .errors import MdcError
from .system import System

#: Labels of file systems that hold a ReaR rescue medium (OUTPUT=USB, ISO).
RESCUE_LABELS = ("REAR-000", "RELAXRECOVER", "REAR-EFI")

#: How often 'mdadm --stop' is tried on one array. It fails now and then while udev
#: and mdmon are still busy with the array: measured in the race runs of make stress
#: (udev re-triggering the member disks), mdadm died of SIGPIPE (exit code -13) once
#: in 12 runs, talking to an mdmon that was going away; the next try stops it.
STOP_ATTEMPTS = 4
_sleep = time.sleep


@dataclass(frozen=True)
class Holder:
    name: str
    depth: int
    kind: str  # 'md-volume', 'md-container', 'md', 'dm', 'other'


def _kind(system: System, name: str) -> str:
    if name.startswith("md"):
        version = system.md_value(name, "metadata_version")
        if version.startswith("external:/") or version.startswith("external:-"):
            return "md-volume"
        if version.startswith("external:"):
            return "md-container"
        return "md"
    if name.startswith("dm-"):
        return "dm"
    return "other"


def holder_tree(system: System, disks: list[str]) -> list[Holder]:
    """Everything that holds the kernel devices ``disks``, deepest first."""
    seen: dict[str, int] = {}
    queue = [(d, 0) for d in disks]
    while queue:
        name, depth = queue.pop(0)
        for node in [name, *system.partitions(name)]:
            for holder in system.holders(node):
                if seen.get(holder, -1) < depth + 1:
                    seen[holder] = depth + 1
                    queue.append((holder, depth + 1))
    order = {"dm": 0, "other": 1, "md": 2, "md-volume": 3, "md-container": 4}
    holders = [Holder(n, d, _kind(system, n)) for n, d in seen.items()]
    return sorted(holders, key=lambda h: (-h.depth, order[h.kind], h.name))


def devices_below(system: System, disks: list[str]) -> list[str]:
    """Our disks, their partitions and everything holding them (kernel names)."""
    names = []
    for disk in disks:
        names.append(disk)
        names.extend(system.partitions(disk))
    for holder in holder_tree(system, disks):
        names.append(holder.name)
        names.extend(system.partitions(holder.name))
    return names


def check_not_in_use(system: System, subject: str, disks: list[str], target_root: str = "/mnt/local") -> None:
    """Refuse disks that carry a mounted file system (outside the recovery target), swap or the rescue medium."""
    numbers = {system.dev_numbers(n): n for n in devices_below(system, disks)}
    target = target_root.rstrip("/") or "/"
    for dev, mountpoint in system.mounts():
        if dev in numbers and not (mountpoint == target or mountpoint.startswith(target + "/")):
            raise MdcError(subject, f"/dev/{numbers[dev]} is mounted on {mountpoint}",
                           "the disk is in use by the running system; check the disk mapping")
    swaps = set(system.swaps())
    for name in numbers.values():
        if f"/dev/{name}" in swaps:
            raise MdcError(subject, f"/dev/{name} is in use as swap", f"run 'swapoff /dev/{name}' first")
    for label, name in system.labels().items():
        if name in numbers.values() and label in RESCUE_LABELS:
            raise MdcError(subject, f"/dev/{name} holds the rescue medium (file system label {label})",
                           "the disk mapping points at the rescue medium; map the layout to other disks")


def release(system: System, disks: list[str], target_root: str = "/mnt/local") -> list[str]:
    """Stop every holder of ``disks`` and wipe them; returns what was done, for the log."""
    done: list[str] = []
    names = []
    for disk in disks:
        name = system.kernel_name(disk)
        if not name:
            raise MdcError(disk, "no such block device", "check the disk mapping (disklayout.conf devices=)")
        names.append(name)
    check_not_in_use(system, "rear-mdcontainer release", names, target_root)
    _run(system, done, "udevadm", "settle", "--timeout=30", check=False)
    # Refuse before stopping anything: a half torn-down stack helps nobody.
    strangers = [h.name for h in holder_tree(system, names) if h.kind == "other"]
    if strangers:
        raise MdcError(f"/dev/{strangers[0]}", f"holds {', '.join('/dev/' + n for n in names)} and is neither md "
                       "nor device-mapper", f"release /dev/{strangers[0]} by hand before the recovery")
    _unmount_target(system, names, target_root, done)
    _stop_holders(system, names, done)
    _run(system, done, "udevadm", "settle", "--timeout=30", check=False)
    for name in names:
        for part in system.partitions(name):
            _zero(system, done, f"/dev/{part}")
        _zero(system, done, f"/dev/{name}")
    _run(system, done, "udevadm", "settle", "--timeout=30", check=False)
    leftovers = [h.name for h in holder_tree(system, names)]
    if leftovers:
        raise MdcError(" ".join(disks), f"still held by {', '.join('/dev/' + n for n in leftovers)} after teardown",
                       "udev may have assembled them again; stop them with mdadm --stop and rerun")
    return done


def _stop_holders(system: System, names: list[str], done: list[str]) -> None:
    for holder in holder_tree(system, names):
        device = f"/dev/{holder.name}"
        if holder.kind == "dm":
            dm_name = system.read(system.sys_block(holder.name) / "dm" / "name") or holder.name
            _run(system, done, "dmsetup", "remove", "--retry", dm_name)
        elif holder.kind.startswith("md"):
            _stop_md(system, holder.name, done)
        else:
            raise MdcError(device, f"holds {', '.join('/dev/' + n for n in names)} and is neither md nor device-mapper",
                           f"release {device} by hand before the recovery")


def _stop_md(system: System, name: str, done: list[str]) -> None:
    """``mdadm --stop`` for an array that is there, tried again (after udev settled) while it fails
    and the array is still there: one failure is no reason to give up a recovery."""
    device = f"/dev/{name}"
    for attempt in range(1, STOP_ATTEMPTS + 1):
        if system.md_value(name, "array_state") in ("", "clear"):
            return  # not there (any more)
        result = system.run("mdadm", "--stop", device)
        done.append(f"mdadm --stop {device}" + (f"  (exit {result.rc})" if result.rc else ""))
        if result.rc == 0:
            return
        if attempt == STOP_ATTEMPTS:
            how = f"was killed by signal {-result.rc}" if result.rc < 0 else f"failed with exit code {result.rc}"
            raise MdcError(f"mdadm --stop {device}",
                           f"{how} ({STOP_ATTEMPTS} attempts): {result.err.strip() or result.out.strip()}",
                           "see the log; the disks are not yet changed beyond this step, so a rerun may succeed")
        _run(system, done, "udevadm", "settle", "--timeout=10", check=False)
        _sleep(float(attempt))


def _whole_disk(system: System, name: str) -> str:
    """sda for sda1 (the parent of a partition), the name itself otherwise."""
    path = system.sys_block(name)
    if (path / "partition").exists():
        return os.path.basename(os.path.dirname(os.path.realpath(path)))
    return name


def free_md_names(system: System, needed: list[str], layout_disks: list[str]) -> list[str]:
    """Stop old arrays that hold md names this container needs, when they lie on disks of the layout.

    An old array of *another* container of the layout (or a native array on its
    disks) may hold /dev/md127 when this container is created first: it is
    stopped (not wiped: that container's own code wipes its disks later).
    Arrays on other disks are never touched; preflight refused those already.
    """
    done: list[str] = []
    allowed = set(layout_disks)
    for md in needed:
        if system.md_value(md, "array_state") in ("", "clear"):
            continue
        disks = sorted({_whole_disk(system, member) for member in system.md_members(md)})
        if not disks or not set(disks) <= allowed:
            raise MdcError(f"/dev/{md}", f"is in use by an array on {', '.join('/dev/' + d for d in disks) or 'no disks'}",
                           f"stop it with 'mdadm --stop /dev/{md}' if it is not needed; the recovery needs that name")
        _stop_holders(system, disks, done)
    return done


def _unmount_target(system: System, names: list[str], target_root: str, done: list[str]) -> None:
    """Unmount what an earlier attempt of this recovery mounted below the target from our disks."""
    numbers = {system.dev_numbers(n) for n in devices_below(system, names)}
    target = target_root.rstrip("/") or "/"
    ours = [mp for dev, mp in system.mounts() if dev in numbers and (mp == target or mp.startswith(target + "/"))]
    for mountpoint in sorted(ours, key=len, reverse=True):
        _run(system, done, "umount", mountpoint)


def _zero(system: System, done: list[str], device: str) -> None:
    # --zero-superblock fails on a device without md superblock: that is fine.
    _run(system, done, "mdadm", "--zero-superblock", "--force", device, check=False)
    _run(system, done, "wipefs", "--all", "--force", device)


def _run(system: System, done: list[str], *argv: str, check: bool = True) -> None:
    result = system.run(*argv)
    done.append(" ".join(argv) + (f"  (exit {result.rc})" if result.rc else ""))
    if check and result.rc != 0:
        raise MdcError(" ".join(argv), f"failed with exit code {result.rc}: {result.err.strip() or result.out.strip()}",
                       "see the log; the disks are not yet changed beyond this step, so a rerun may succeed")
