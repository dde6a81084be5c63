"""The order and the arguments in which a container's volumes are created.

Shared by rendering (the mdadm --create lines) and preflight (refusing what
cannot be created), without importing jinja2.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MdcError
from .model import MISSING, Container, Layout


@dataclass(frozen=True)
class VolumePlan:
    """A volume as the create command needs it."""

    device: str
    member: int
    level: str
    raid_devices: int
    name: str
    size_arg: int | None
    chunk_kib: int | None
    layout: str | None
    create_devices: tuple[str, ...]


def plan_volumes(layout: Layout, container: Container, grow_last: bool) -> list[VolumePlan]:
    volumes = layout.volumes_of(container)
    members = [v.member for v in volumes]
    if members != list(range(len(members))):
        raise MdcError(container.entry_name, f"its volumes have member indexes {members}",
                       "volumes are created in member order 0, 1, ...; an excluded volume must be the last one")
    plans = []
    for index, volume in enumerate(volumes):
        if MISSING in volume.devices:
            raise MdcError(volume.entry_name, f"slot {volume.devices.index(MISSING)} has no disk (devices="
                           f"{','.join(volume.devices)})",
                           "the volume was degraded when the layout was saved and no disk was chosen for the slot: "
                           f"set MDCONTAINER_MISSING_DISKS='{container.device}:<disk>' and run the recovery again, "
                           "or put a disk into that slot of devices=, into the container's devices= and give it a "
                           "disk line")
        last = index == len(volumes) - 1
        plans.append(VolumePlan(
            device=volume.device, member=volume.member, level=volume.level, raid_devices=volume.raid_devices,
            name=volume.name, size_arg=None if (grow_last and last) else volume.size_kib,
            chunk_kib=volume.chunk_kib, layout=volume.layout, create_devices=volume.devices,
        ))
    return plans
