"""Keeping a container and volumes that already exist on the target (``MDCONTAINER_REUSE=yes``).

On replacement hardware the firmware's setup (Intel RST's option ROM or UEFI
driver, a DDF controller's BIOS) may have created the RAID before the
recovery.  When what exists matches the layout, it is kept: nothing is
stopped, zeroed, wiped or created; only what is inside the volumes (partition
tables, file systems) is recreated by ReaR's own code.  Verification and the
old -> new UUID map (finalize) apply as usual.

The decision, per container of the layout, from the live arrays:

- no live container uses any of its disks: *create* (as without reuse);
- one live container on exactly its disks matches: *reuse*. Matching means the
  same metadata and member disks, as many volumes, and per member index the
  same level, raid-devices and member disks (in any order), a size per disk at
  least the recorded one, all slots present and the volume running. The name,
  chunk, layout and place on the disks are the firmware's business;
- live containers on its disks that do not match, on disks of the layout only:
  *create* as usual (they are stopped and the disks wiped), with the
  differences in the log;
- a live container on its disks that also uses a disk the layout does not name:
  stop before any write.  Recreating would break that container on a disk that
  is not ours to touch.

It is made when diskrestore.sh runs (``reuse-check``), on the arrays that exist
then, so that a rerun decides again; the prepare stage decides the same way
earlier to give kept arrays their live md names in the layout (``renumber``)
and to skip the checks that only matter for creating (``preflight``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import MdcError
from .model import MISSING, Container, Layout, Volume

if TYPE_CHECKING:
    from .probe import Source

REUSE = "reuse"
CREATE = "create"
RUNNING_STATES = ("clean", "active", "active-idle", "write-pending", "read-auto", "readonly")


@dataclass(frozen=True)
class LiveArrays:
    """The IMSM/DDF arrays of the running system and their sysfs ``array_state`` (by md device)."""

    layout: Layout = field(default_factory=Layout)
    states: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What happens to one container of the layout; ``names`` maps layout md devices to the kept live ones."""

    action: str
    container: str
    live: Container | None = None
    names: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


def _short(devices: Iterable[str]) -> str:
    return ",".join(sorted(devices))


def volume_differences(want: Volume, have: Volume | None, state: str, kernel: Callable[[str], str]) -> list[str]:
    """Why the live volume cannot stand in for the recorded one (empty: it can)."""
    what = f"member {want.member} ({want.device} in the layout)"
    if have is None:
        return [f"{what} does not exist"]
    found = []
    if have.level != want.level:
        found.append(f"{what} is {have.level}, the layout says {want.level}")
    if have.raid_devices != want.raid_devices:
        found.append(f"{what} has {have.raid_devices} slots, the layout {want.raid_devices}")
    if have.size_kib < want.size_kib:
        found.append(f"{what} has {have.size_kib} KiB per disk, the layout needs {want.size_kib}")
    if MISSING in have.devices:
        found.append(f"{what} is degraded ({','.join(have.devices)})")
    elif MISSING not in want.devices and {kernel(d) for d in want.devices} != {kernel(d) for d in have.devices}:
        found.append(f"{what} is on {_short(have.devices)}, the layout says {_short(want.devices)}")
    if state not in RUNNING_STATES:
        found.append(f"{what} ({have.device}) is not running (array_state '{state or 'none'}')")
    return found


def differences(layout: Layout, want: Container, live: LiveArrays, have: Container,
                kernel: Callable[[str], str]) -> list[str]:
    """Why the live container cannot stand in for the recorded one (empty: it can)."""
    found = []
    if have.metadata != want.metadata:
        found.append(f"it is {have.metadata}, the layout says {want.metadata}")
    if {kernel(d) for d in have.devices} != {kernel(d) for d in want.devices}:
        found.append(f"it is on {_short(have.devices)}, the layout says {_short(want.devices)}")
    wanted = layout.volumes_of(want)
    existing = live.layout.volumes_of(have)
    if len(existing) != len(wanted):
        found.append(f"it has {len(existing)} volume(s), the layout {len(wanted)}")
    by_member = {v.member: v for v in existing}
    for volume in wanted:
        have_volume = by_member.get(volume.member)
        state = live.states.get(have_volume.device, "") if have_volume else ""
        found.extend(volume_differences(volume, have_volume, state, kernel))
    return found


def decide(layout: Layout, container: Container, live: LiveArrays, kernel: Callable[[str], str]) -> Decision:
    """Reuse, create, or an MdcError when an existing container reaches beyond the layout's disks.

    ``kernel`` turns a disk path of either side into a comparable name (the
    kernel name; /dev/disk/by-id links resolved).
    """
    ours = {kernel(d) for d in container.devices}
    layout_disks = {kernel(d) for d in layout.member_disks()}
    related = [c for c in live.layout.containers if ours & {kernel(d) for d in c.devices}]
    if not related:
        return Decision(CREATE, container.device, reasons=("no existing container uses its disks",))
    for have in related:
        foreign = sorted(d for d in have.devices if kernel(d) not in layout_disks)
        if foreign:
            raise MdcError(container.entry_name,
                           f"the existing {have.metadata} container {have.device} on {_short(have.devices)} also uses "
                           f"{', '.join(foreign)}, which the layout does not name: it can neither be kept nor "
                           "recreated without touching that disk",
                           "map the layout onto the disks of that container, or stop it by hand (mdadm --stop "
                           f"{have.device}) if it is not needed, or set MDCONTAINER_REUSE=no to recreate the layout "
                           "(that stops it)")
    reasons = []
    for have in related:
        found = differences(layout, container, live, have, kernel)
        if not found:
            names = {container.device: have.device}
            by_member = {v.member: v for v in live.layout.volumes_of(have)}
            names.update({v.device: by_member[v.member].device for v in layout.volumes_of(container)})
            return Decision(REUSE, container.device, have, names)
        reasons.append(f"{have.device}: " + "; ".join(found))
    return Decision(CREATE, container.device, reasons=tuple(reasons))


def describe(decision: Decision) -> str:
    """One line for the log."""
    if decision.action == REUSE and decision.live is not None:
        renamed = [f"{old} as {new}" for old, new in sorted(decision.names.items()) if old != new]
        return (f"mdcontainer {decision.container}: keeping the existing {decision.live.metadata} container "
                f"{decision.live.device} on {_short(decision.live.devices)} and its volume(s) (MDCONTAINER_REUSE=yes)"
                + (f"; {', '.join(renamed)}" if renamed else ""))
    return (f"mdcontainer {decision.container}: recreating it (MDCONTAINER_REUSE=yes, nothing to keep: "
            + "; ".join(decision.reasons) + ")")


def live_arrays(source: Source) -> LiveArrays:
    """Probe the running system for reuse; an error says why nothing can be decided."""
    from .probe import probe_layout

    try:
        layout = probe_layout(source).layout
    except MdcError as exc:
        raise MdcError("MDCONTAINER_REUSE", f"cannot tell whether existing arrays can be kept: {exc.message}",
                       "fix or stop that array, or set MDCONTAINER_REUSE=no to recreate the layout") from None
    states = {}
    for device in [*(c.device for c in layout.containers), *(v.device for v in layout.volumes)]:
        states[device] = source.sysfs(device.rsplit("/", 1)[-1]).get("array_state", "")
    return LiveArrays(layout, states)


# --- the record of kept containers, for the verification ------------------------------------------


def read_kept(path: str) -> dict[str, str]:
    """``<container device> <uuid>`` lines written by reuse-check (a missing file: none kept)."""
    kept = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                words = line.split()
                if len(words) == 2:
                    kept[words[0]] = words[1]
    except FileNotFoundError:
        pass
    return kept


def write_kept(path: str, container: str, uuid: str | None) -> None:
    """Record (uuid given) or forget (None) that the container was kept."""
    kept = read_kept(path)
    kept.pop(container, None)
    if uuid is not None:
        kept[container] = uuid or "-"
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{device} {value}\n" for device, value in sorted(kept.items()))
