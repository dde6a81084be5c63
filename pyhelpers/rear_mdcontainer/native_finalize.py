"""The restored system after a migration to native md (``MDCONTAINER_MIGRATE=native``).

The container and its volumes are gone; native arrays with new UUIDs stand
under the volumes' md names. For the restored system that means:

- ``mdadm.conf``: the ARRAY lines of the old container and its volumes go
  (matched by their old UUIDs, or by ``container=`` naming the old container),
  and one line per native array takes the place of the first of them, in
  ``mdadm --detail --scan`` style: ``ARRAY <device> metadata=1.0 UUID=...
  name=any:Volume0``, with the device of the volume's old line (the restored
  system knows the array by it), else ``/dev/md/<name>``. No ``container=`` or
  ``member=`` line remains.
- everywhere else (kernel arguments, dracut, fstab, ...): each old volume
  UUID becomes its native array's, and the old container's UUID the native
  array of its member 0 (the map that layout/recreate wrote says so): a
  ``rd.md.uuid=<container>`` left as it was would make dracut wait for an
  array that never comes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .finalize import NewUuids, _array_blocks, _array_line, _default_device, colon_form, splice_array_lines, uuid_hex
from .model import Layout
from .native import MigratedArray

_CONF_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._:+-]*")

NATIVE_COMMENT = "# native md arrays that replaced firmware RAID volumes in 'rear recover' (rear-mdcontainer)\n"


def native_uuids(layout: Layout, uuid_map: Iterable[tuple[str, str]], arrays: Iterable[MigratedArray]) -> NewUuids:
    """Old and new UUIDs (hex) by entry: a volume's native array, a container's native array of member 0."""
    by_device = {a.device: a for a in arrays}
    by_old = dict(uuid_map)
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    report: list[str] = []
    warnings: list[str] = []
    for container in layout.containers:
        volumes = layout.volumes_of(container)
        for volume in volumes:
            before = uuid_hex(volume.uuid) if volume.uuid else None
            array = by_device.get(volume.device)
            if before:
                old[volume.entry_name] = before
            if array is None or uuid_hex(array.uuid) is None:
                warnings.append(f"{volume.entry_name}: no native array was recorded for it; the restored system's "
                                "mdadm.conf and kernel arguments are not updated for it (update them by hand)")
                continue
            after = uuid_hex(array.uuid)
            assert after is not None
            new[volume.entry_name] = after
            report.append(f"{volume.entry_name} ({volume.name}): UUID {colon_form(before) if before else '(not recorded)'}"
                          f" -> {colon_form(after)} (native md, metadata {array.metadata})")
        before = uuid_hex(container.uuid) if container.uuid else None
        if before:
            old[container.entry_name] = before
            first = new.get(volumes[0].entry_name) if volumes else None
            mapped = by_old.get(before) or first
            if mapped:
                new[container.entry_name] = mapped
                report.append(f"{container.entry_name}: migrated to native md, the container is gone; its UUID "
                              f"{colon_form(before)} is replaced by {colon_form(mapped)} (the native array of member 0)"
                              " where it is named")
    return NewUuids(old, new, tuple(report), tuple(warnings))


def update_mdadm_conf_native(text: str, layout: Layout, uuids: NewUuids,
                             arrays: Iterable[MigratedArray]) -> tuple[str, str | None]:
    """mdadm.conf with the native arrays' ARRAY lines instead of the container's and its volumes'."""
    by_device = {a.device: a for a in arrays}
    lines = text.splitlines(keepends=True)
    owner: dict[str, str] = {}
    for name, digits in list(uuids.old.items()) + [(n, d) for n, d in uuids.new.items() if n.startswith("mdvolume ")]:
        owner.setdefault(digits, name)
    container_refs: set[str] = set()
    for container in layout.containers:
        container_refs.add(container.device)
        if container.name:
            container_refs.add(f"/dev/md/{container.name}")
    old_containers = {uuids.old[c.entry_name] for c in layout.containers if c.entry_name in uuids.old}

    replaced = []
    devices: dict[str, str] = {}
    for block in _array_blocks(lines):
        assert block.options is not None
        uuid = uuid_hex(block.options.get("uuid", ""))
        container = block.options.get("container", "")
        name = owner.get(uuid) if uuid else None
        if name is not None:
            if block.device and name.startswith("mdvolume ") and name not in devices:
                devices[name] = block.device
            replaced.append(block)
        elif container and (uuid_hex(container) in old_containers or container in container_refs):
            replaced.append(block)

    new_lines: list[str] = []
    for container in layout.containers:
        for volume in layout.volumes_of(container):
            array = by_device.get(volume.device)
            if array is None or volume.entry_name not in uuids.new:
                continue
            options = [f"metadata={array.metadata}", f"UUID={colon_form(uuids.new[volume.entry_name])}"]
            if _CONF_NAME.fullmatch(array.name):
                options.append(f"name={array.name}")
            new_lines.append(_array_line(devices.get(volume.entry_name) or _default_device(volume.name), *options))
    if not new_lines and not replaced:
        return text, None
    out = splice_array_lines(lines, replaced, new_lines, NATIVE_COMMENT)
    if replaced:
        what = (f"{len(replaced)} ARRAY line(s) of the firmware RAID replaced by {len(new_lines)} for the native md "
                "arrays")
    else:
        what = f"had no ARRAY lines for these arrays, {len(new_lines)} appended for the native md arrays"
    result = "".join(out)
    return (text, None) if result == text else (result, what)
