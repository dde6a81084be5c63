"""Completing volumes that were degraded when the layout was saved.

A volume that missed a disk when ``rear savelayout`` ran is recorded with
``missing`` in that slot of ``devices=``, and its container without that disk.
The recovery recreates it *complete*, so each missing slot needs a disk, and
the plugin writes only to disks that the (mapped) layout or the administrator
names.  Per container, the disks for the missing slots are, in this order:

1. the disks named for it in ``MDCONTAINER_MISSING_DISKS``
   (``<container>:<disk>[,<disk>...]``, blank-separated; the container by its
   md device, its ``name=`` or the md device of one of its volumes);
2. the container's own disks that no volume uses (a spare, a failed disk that
   was still in the container when the layout was saved);
3. ``disk`` entries of the layout that no other entry uses (ReaR would write an
   empty partition table onto them anyway): only when exactly as many such
   disks exist as are needed, and only one container needs them.

An excluded entry (``#disk``) is never taken automatically: the exclusion may
be deliberate.  Every disk is checked like a member disk before it is taken
(it exists, is a whole disk, nothing else of the layout uses it, it is not in
use, it is large enough).  What cannot be decided stops the recovery before any
write, naming the volume and the fix.  The result is written into
disklayout.conf after ReaR's disk mapping, so that everything after it (ReaR's
dependency graph, the code, preflight, verification) sees a complete layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .entries import CONTAINER_KEYWORD, VOLUME_KEYWORD, format_container, format_volume
from .errors import MdcError
from .model import MISSING, Container, Layout, Volume, check_disk_device
from .preflight import MIB, disk_sizes, needed_bytes
from .system import System
from .teardown import check_not_in_use

SETTING = "MDCONTAINER_MISSING_DISKS"
EXPLICIT = SETTING
SPARE = "a disk of the container that no volume uses"
FREE_ENTRY = "a disk entry of the layout that nothing else uses"
#: Kernel names that are never whole disks for a container.
_NOT_DISKS = re.compile(r"^(md|dm-|loop|ram|zram|sr|fd|nbd)")


@dataclass(frozen=True)
class Fill:
    """The disks that complete the degraded volumes of one container, and why they were chosen.

    ``sizes`` are the sizes the ``disk`` lines of new member disks get: the
    container's smallest recorded disk (a disk that large held its volumes),
    else the disk's own size.
    """

    container: str
    disks: tuple[str, ...]
    why: str
    sizes: tuple[int, ...]


def missing_slots(layout: Layout, container: Container) -> int:
    """How many disks the container needs: the most missing slots of one of its volumes."""
    return max((v.devices.count(MISSING) for v in layout.volumes_of(container)), default=0)


def parse_setting(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``/dev/md127:/dev/sdb imsm1:/dev/sdc,/dev/sdd`` -> [(key, disks), ...].

    The key ends at the first ``:/dev/`` (disk paths may contain colons, such
    as /dev/disk/by-path/pci-0000:00:1f.2-ata-1).
    """
    pairs = []
    for word in text.split():
        key, sep, rest = word.partition(":/dev/")
        if not sep or not key:
            raise MdcError(SETTING, f"'{word}' is not <container>:<disk>",
                           f"e.g. {SETTING}='/dev/md127:/dev/sdb' (the container's md device or name, a colon, "
                           "the disk)")
        disks = tuple(("/dev/" + rest).split(","))
        for disk in disks:
            check_disk_device(SETTING, disk)
        pairs.append((key, disks))
    return pairs


def _container_for(layout: Layout, key: str) -> Container:
    for container in layout.containers:
        if key in (container.device, container.name):
            return container
    for volume in layout.volumes:
        if key == volume.device:
            return layout.container(volume.container)
    known = ", ".join(c.device + (f" ({c.name})" if c.name else "") for c in layout.containers) or "none"
    raise MdcError(SETTING, f"'{key}' is no mdcontainer entry of the layout (nor one of its volumes)",
                   f"name a container of the layout: {known}")


def _mentions(word: str, disk: str) -> bool:
    """Whether a word of a layout line names ``disk`` or one of its partitions."""
    return re.fullmatch(re.escape(disk) + r"(p?[0-9]+|-part[0-9]+)?", word) is not None


def disk_users(lines: Iterable[str], disk: str) -> list[str]:
    """Active layout lines other than the disk's own ``disk`` line that name the disk or its partitions."""
    users = []
    for line in lines:
        words = line.split()
        if not words or words[0].startswith("#") or (words[0] == "disk" and words[1:2] == [disk]):
            continue
        tokens = [t for w in words for t in re.split(r"[=,]", w)]
        if any(_mentions(token, disk) for token in tokens):
            users.append(line.strip())
    return users


def completed(layout: Layout, container: Container, disks: tuple[str, ...]) -> Layout:
    """The layout with the missing slots of the container's volumes filled, the k-th missing slot of
    each volume with ``disks[k]``; the container lists its disks in the slot order of its first volume,
    then the others (as ``rear savelayout`` records them)."""
    volumes: list[Volume] = []
    for volume in layout.volumes:
        if volume.container == container.device and volume.degraded:
            fill = iter(disks)
            volume = replace(volume, devices=tuple(next(fill) if d == MISSING else d for d in volume.devices))
        volumes.append(volume)
    ordered: list[str] = []
    for volume in sorted((v for v in volumes if v.container == container.device), key=lambda v: v.member):
        ordered.extend(d for d in volume.devices if d not in ordered)
    ordered.extend(d for d in (*container.devices, *disks) if d not in ordered)
    new = replace(container, devices=tuple(ordered))
    return Layout(tuple(new if c.device == container.device else c for c in layout.containers), tuple(volumes))


def _whole_disk(system: System, subject: str, disk: str) -> str:
    name = system.kernel_name(disk)
    if not name:
        raise MdcError(subject, f"{disk} does not exist", "name a disk of this system (lsblk)")
    if _NOT_DISKS.match(name) or (system.sys_block(name) / "partition").exists():
        raise MdcError(subject, f"{disk} is not a whole disk ({name})", "IMSM and DDF containers own whole disks")
    return name


class _Planner:
    """The decision for all containers of one layout (see the module's description)."""

    def __init__(self, system: System, layout: Layout, lines: list[str], target_root: str) -> None:
        self.system = system
        self.layout = layout
        self.lines = lines
        self.target_root = target_root
        self.sizes = disk_sizes(lines)
        self.members = set(layout.member_disks())
        self.taken: set[str] = set()  # kernel names of disks given to a container

    def original_size(self, container: Container) -> int | None:
        """The smallest recorded disk of the container: a disk that large held its volumes."""
        sizes = [self.sizes[d] for d in container.devices if d in self.sizes]
        return min(sizes) if sizes else None

    def check(self, container: Container, disks: tuple[str, ...], subject: str) -> None:
        """Every disk usable for the container's missing slots, or an MdcError naming the problem."""
        for disk in disks:
            holder = next((v for v in self.layout.volumes_of(container) if disk in v.devices), None)
            if holder is not None:
                raise MdcError(subject, f"{disk} is already a member of {holder.entry_name}",
                               "name a disk that is not yet in the volume")
            if disks.count(disk) > 1:
                raise MdcError(subject, f"{disk} is named twice", "name each disk once")
        layout = completed(self.layout, container, disks)
        filled = layout.container(container.device)
        for disk in disks:
            name = _whole_disk(self.system, subject, disk)
            if name in self.taken:
                raise MdcError(subject, f"{disk} is named for the missing slots of two containers",
                               "name each disk once")
            if disk not in container.devices:
                users = disk_users(self.lines, disk)
                if users:
                    raise MdcError(subject, f"{disk} is used by another entry of the layout ('{users[0]}')",
                                   "name a disk that nothing else of the layout uses")
            check_not_in_use(self.system, subject, [name], self.target_root)
            size = self.system.size_bytes(name)
            need = needed_bytes(layout, filled, disk, self.original_size(container))
            if size < need:
                raise MdcError(subject, f"{disk} has {size // MIB} MiB but the volumes need {need // MIB} MiB on it",
                               "name a disk at least as large as the other member disks")
            self.taken.add(name)

    def normalized(self, disk: str) -> str:
        """/dev/disk/by-id/... -> /dev/sdb: the layout names disks by their kernel names."""
        name = self.system.kernel_name(disk)
        return f"/dev/{name}" if name else disk

    def free_entries(self) -> list[str]:
        """Active ``disk`` entries that no other entry uses and that exist as whole disks here."""
        free = []
        for line in self.lines:
            words = line.split()
            if len(words) < 2 or words[0] != "disk" or words[1] in self.members:
                continue
            name = self.system.kernel_name(words[1])
            if name and name not in self.taken and not _NOT_DISKS.match(name) and not disk_users(self.lines, words[1]):
                free.append(words[1])
        return free

    def suggestions(self, need: int) -> str:
        """Disks of this system that could be named, for the error message."""
        excluded = {line.split()[1] for line in self.lines if re.match(r"^#disk /dev/", line) and len(line.split()) > 1}
        found = []
        try:
            names = sorted(p.name for p in self.system.sys_block().iterdir())
        except OSError:
            names = []
        for name in names:
            disk = f"/dev/{name}"
            if (_NOT_DISKS.match(name) or (self.system.sys_block(name) / "partition").exists() or name in self.taken
                    or disk in self.members or disk_users(self.lines, disk)):
                continue
            try:
                check_not_in_use(self.system, "", [name], self.target_root)
            except MdcError:
                continue
            size = self.system.size_bytes(name)
            if size >= need:
                where = "excluded in the layout" if disk in excluded else "not in the layout"
                found.append(f"{disk} ({size // MIB} MiB, {where})")
        return ", ".join(found[:4])

    def need_of_a_new_disk(self, container: Container) -> int:
        """How large a disk must be to fill the container's missing slots."""
        new = "/dev/rear-mdcontainer-new-disk"
        layout = completed(self.layout, container, (new,) * missing_slots(self.layout, container))
        return needed_bytes(layout, layout.container(container.device), new, self.original_size(container))

    def refuse(self, container: Container, problem: str) -> MdcError:
        volume = next(v for v in self.layout.volumes_of(container) if v.degraded)
        slots = ",".join(str(i) for i, d in enumerate(volume.devices) if d == MISSING)
        need = self.need_of_a_new_disk(container)
        candidates = self.suggestions(need)
        fix = (f"set {SETTING}='{container.device}:<disk>' (in /etc/rear/local.conf) to a whole disk of at least "
               f"{need // MIB} MiB that nothing else uses" + (f", e.g. {candidates}" if candidates else "")
               + ", or put a disk into the slot in disklayout.conf, and run the recovery again")
        return MdcError(volume.entry_name, f"slot {slots} has no disk (devices={','.join(volume.devices)}: degraded "
                        f"when the layout was saved) and {problem}", fix)

    def fill(self, container: Container, disks: list[str], why: list[str], subject: str) -> Fill:
        self.check(container, tuple(disks), subject)
        original = self.original_size(container)
        sizes = tuple(original or self.system.size_bytes(self.system.kernel_name(d)) for d in disks)
        return Fill(container.device, tuple(disks), ", ".join(why), sizes)


def plan(system: System, layout: Layout, lines: list[str], setting: str = "",
         target_root: str = "/mnt/local") -> tuple[list[Fill], list[str]]:
    """The disks that complete each degraded container, and notes for the log; an MdcError before
    anything is written when that cannot be decided.

    The setting only matters when a volume misses a disk: a setting left in
    local.conf from an earlier recovery does not stop a recovery of a complete
    layout, it is noted.
    """
    if not any(missing_slots(layout, c) for c in layout.containers):
        return [], ([f"no volume misses a disk: {SETTING} is not used"] if setting.strip() else [])
    planner = _Planner(system, layout, lines, target_root)
    notes: list[str] = []
    explicit: dict[str, list[str]] = {}
    for key, disks in parse_setting(setting):
        container = _container_for(layout, key)
        explicit.setdefault(container.device, []).extend(planner.normalized(d) for d in disks)
    for device, disks in list(explicit.items()):
        need = missing_slots(layout, layout.container(device))
        if not need:
            notes.append(f"{SETTING} names {', '.join(disks)} for {device}, whose volumes are complete: not used")
            del explicit[device]
        elif len(disks) > need:
            raise MdcError(SETTING, f"names {len(disks)} disks for {device}, whose volumes miss {need}",
                           f"name as many disks as the volumes of {device} miss")
    fills: list[Fill] = []
    short: list[tuple[Container, list[str], list[str]]] = []
    for container in (c for c in layout.containers if missing_slots(layout, c)):
        need = missing_slots(layout, container)
        chosen = list(explicit.get(container.device, ()))
        why = [EXPLICIT] if chosen else []
        used = {d for v in layout.volumes_of(container) for d in v.devices}
        spares = [d for d in container.devices if d not in used][:need - len(chosen)]
        if spares:
            chosen += spares
            why.append(SPARE)
        if len(chosen) < need:
            short.append((container, chosen, why))
            continue
        subject = f"{SETTING} for {container.device}" if EXPLICIT in why else container.entry_name
        fills.append(planner.fill(container, chosen, why, subject))
    for container, chosen, why in short:
        need = missing_slots(layout, container) - len(chosen)
        if len(short) > 1:
            raise planner.refuse(container, f"{len(short)} containers miss disks: which disk goes where is not for "
                                 "the plugin to guess")
        free = planner.free_entries()
        if len(free) != need:
            raise planner.refuse(container, "the layout names no disk that nothing else uses" if not free else
                                 f"the layout has {len(free)} disks that nothing else uses ({', '.join(free)}) for "
                                 f"{need} missing: which one is not for the plugin to guess")
        fills.append(planner.fill(container, [*chosen, *free], [*why, FREE_ENTRY], container.entry_name))
    return fills, notes


def apply(lines: list[str], layout: Layout, fills: list[Fill]) -> list[str]:
    """disklayout.conf with the filled entries, and a ``disk`` line for each new member disk.

    A new member disk's ``disk`` line gets the size in :attr:`Fill.sizes`, so
    that the preflight's "as large as the original" means: as large as the
    disk it replaces; an existing ``disk`` line of it keeps its label.
    """
    out = list(lines)
    for fill in fills:
        container = layout.container(fill.container)
        new_layout = completed(layout, container, fill.disks)
        new_container = new_layout.container(container.device)
        replaced = {v.device: v for v in new_layout.volumes_of(new_container)}
        for index, line in enumerate(out):
            words = line.split()
            if words[:1] == [CONTAINER_KEYWORD] and words[1:2] == [container.device]:
                out[index] = format_container(new_container)
            elif words[:1] == [VOLUME_KEYWORD] and len(words) > 1 and words[1] in replaced:
                out[index] = format_volume(replaced[words[1]])
        for disk, size in zip(fill.disks, fill.sizes):
            if disk in container.devices:
                continue
            note = f"# rear-mdcontainer: {disk} completes the degraded volume(s) of {container.device} ({fill.why})"
            existing = next((i for i, line in enumerate(out) if line.split()[:2] == ["disk", disk]), None)
            if existing is not None:
                words = out[existing].split()
                out[existing:existing + 1] = [note, " ".join([*words[:2], str(size), *words[3:]])]
                continue
            at = next(i for i, line in enumerate(out) if line.split()[:2] == [CONTAINER_KEYWORD, container.device])
            while at > 0 and out[at - 1].startswith(("# Firmware RAID container ", "# Format: mdcontainer ")):
                at -= 1
            out[at:at] = [note, "# Format: disk <devname> <size(bytes)> <partition label type>",
                          f"disk {disk} {size} unknown"]
    return out


def report(fills: list[Fill], layout: Layout) -> list[str]:
    lines = []
    for fill in fills:
        container = layout.container(fill.container)
        for volume in layout.volumes_of(container):
            if volume.degraded:
                slots = [i for i, d in enumerate(volume.devices) if d == MISSING]
                lines.append(f"{volume.entry_name} was degraded when the layout was saved: slot(s) "
                             f"{','.join(map(str, slots))} get(s) {', '.join(fill.disks[:len(slots)])} ({fill.why}); "
                             "it is recreated complete")
    return lines
