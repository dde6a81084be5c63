"""Free md device names for the arrays to recreate.

md numbers are handed out at assembly time, so in the rescue system the number
a container or volume had on the original system (/dev/md127) may belong to
another array that udev assembled there: an array on disks the layout does not
name (an excluded data array, disks of another machine).  Such an array is
never stopped, so the recovery needs another name for ours: the highest free
number below 127 that neither a live array nor the layout uses.  The layout
file is rewritten consistently (our entries, the volume's partitions and every
line that names them, like ``fs /dev/md126p1``), as ReaR does for disk mappings.

Arrays that hold only *our* disks are old copies of ours; they are stopped
before the container is created, so their names stay.
"""

from __future__ import annotations

import re

from .errors import MdcError
from .model import Layout
from .system import System
from .teardown import devices_below

_MD_WORD = re.compile(r"(?<![A-Za-z0-9_/])/dev/md(\d+)(?=(?:p\d+)?(?=[\s,]|$))")


def live_arrays(system: System) -> dict[str, str]:
    """md kernel name -> array_state of every md device that exists (not 'clear')."""
    arrays = {}
    try:
        names = sorted(p.name for p in system.sys_block().iterdir() if re.fullmatch(r"md\d+", p.name))
    except OSError:
        return {}
    for name in names:
        state = system.md_value(name, "array_state")
        if state not in ("", "clear"):
            arrays[name] = state
    return arrays


def plan(system: System, layout: Layout, lines: list[str], keep: dict[str, str] | None = None) -> dict[str, str]:
    """old device -> new device for each of our arrays whose name an unrelated array holds.

    ``keep`` (MDCONTAINER_REUSE=yes) maps our arrays that are kept as they
    exist to their live md devices: they take those names, and an array of
    ours that has one of those names in the layout gets a free one.
    """
    disks = system.kernel_names(layout.member_disks())
    ours = set(devices_below(system, disks))
    live = live_arrays(system)
    foreign = {md for md in live if md not in ours}
    used = {f"md{m.group(1)}" for line in lines for m in _MD_WORD.finditer(line)} | set(live)
    mapping: dict[str, str] = {old: new for old, new in (keep or {}).items() if old != new}
    taken = {new.rsplit("/", 1)[-1] for new in mapping.values()}
    devices = [c.device for c in layout.containers] + [v.device for v in layout.volumes]
    others = {f"md{m.group(1)}" for line in lines if not line.startswith("#")
              for m in _MD_WORD.finditer(line)} - {d.rsplit("/", 1)[-1] for d in devices}
    for old, new in sorted(mapping.items()):
        if new.rsplit("/", 1)[-1] in others:
            raise MdcError(f"{old}", f"the existing array kept for it is {new}, the md name of another array of the "
                           "layout", f"set MDCONTAINER_REUSE=no, or stop {new} and assemble it under another name")
    for device in devices:
        md = device.rsplit("/", 1)[-1]
        if device in mapping or (md not in foreign and md not in taken) or device in (keep or {}):
            continue
        for number in range(126, -1, -1):
            candidate = f"md{number}"
            if candidate not in used:
                used.add(candidate)
                mapping[device] = f"/dev/{candidate}"
                break
    return mapping


def apply(lines: list[str], mapping: dict[str, str]) -> list[str]:
    """The lines with the mapped md devices (and their partitions) renamed; comment text is left alone."""
    if not mapping:
        return list(lines)

    def rename(match: re.Match[str]) -> str:
        old = f"/dev/md{match.group(1)}"
        return mapping.get(old, old)

    return [line if line.startswith("# ") else _MD_WORD.sub(rename, line) for line in lines]
