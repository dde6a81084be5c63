"""Rewriting ReaR's disklayout.conf: generic md lines out, our entries in.

ReaR's layout/save/GNU/Linux/210_raid_layout.sh writes a ``raidarray`` line
(plus ``raiddisk`` and ``part`` lines) for *every* md array, containers and
volumes included, and 200_partition_layout.sh writes ``part`` lines for the raw
member disks of a RAID1 volume, whose partition table it sees at LBA 0.  ReaR
2.6 writes ``raid`` lines instead of ``raidarray`` (no comments, no
``raiddisk`` lines: its create_raid makes an array's partitions itself); they
are handled alike.  For the arrays of the model this module:

- replaces the container's ``raidarray`` line by an ``mdcontainer`` entry and
  drops its ``raiddisk`` line (a container has no size and no partitions);
- replaces each volume's ``raidarray`` line by an ``mdvolume`` entry and keeps
  its ``raiddisk`` and ``part`` lines (they describe the volume's contents);
- drops the ``part`` lines of member disks and keeps their ``disk`` lines
  (ReaR's disk comparison and mapping work on them);
- leaves every other line, native md arrays included, exactly as it was.

Besides the entries it writes two comment blocks that ReaR ignores: the IMSM
platform (``# mdplatform``, above the first container) and other firmware
RAID that is not recreated (``# mdfakeraid``, at the end of the file).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

from . import fakeraid
from .entries import (
    CONTAINER_FORMAT,
    CONTAINER_KEYWORD,
    VOLUME_FORMAT,
    VOLUME_KEYWORD,
    format_container,
    format_volume,
)
from .imsm_platform import FORMAT as PLATFORM_FORMAT
from .imsm_platform import HEADING as PLATFORM_HEADING
from .imsm_platform import PREFIX as PLATFORM_PREFIX
from .model import Layout

# The keyword of ReaR's generic md lines: 'raidarray' from ReaR 2.7 on, 'raid' in 2.6 and older.
ARRAY_KEYWORDS = ("raidarray", "raid")


def _words(line: str) -> list[str]:
    return line.split()


def rewrite(lines: Iterable[str], layout: Layout, platform: list[str] | None = None,
            fake_raid: list[str] | None = None) -> list[str]:
    """The lines of disklayout.conf with the model's arrays as our entries.

    ``platform``: the comment lines that record the IMSM platform
    (imsm_platform.record_lines), put above the first container; an earlier
    record is replaced.  ``fake_raid``: the ``# mdfakeraid`` comment lines
    (fakeraid.record_lines), put at the end; an earlier block is replaced.
    Deterministic: the same input and model give the
    same output, so ``rear checklayout`` right after ``rear savelayout`` sees
    no change.
    """
    containers = {c.device: c for c in layout.containers}
    volumes = {v.device: v for v in layout.volumes}
    ours: set[str] = set(containers) | set(volumes)
    members: set[str] = set(layout.member_disks())
    written: set[str] = set()

    out: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n")
        words = _words(line)
        keyword = words[0] if words else ""
        device = words[1] if len(words) > 1 else ""

        if keyword in ARRAY_KEYWORDS and device in ours:
            # Upstream's '# RAID device /dev/md126' and '# Format: raidarray'
            # comments describe the line we replace; our entries bring their own.
            _drop_trailing_comments(out, f"# Format: {keyword} ", f"# RAID device {device}")
            out.extend(_entry_block(device, layout, written))
            continue
        if keyword in (CONTAINER_KEYWORD, VOLUME_KEYWORD) and device in ours:
            # Our own entry from an earlier rewrite of this file: replace it in
            # place with its comments, so that a second rewrite changes nothing.
            kind = "container" if keyword == CONTAINER_KEYWORD else "volume"
            _drop_trailing_comments(out, f"# Format: {keyword} ", heading_prefix=f"# Firmware RAID {kind} {device} (")
            out.extend(_entry_block(device, layout, written))
            continue
        if keyword == "raiddisk" and device in containers:
            _drop_trailing_comments(out, "# Format: raiddisk ", f"# RAID disk {device}")
            continue
        if keyword == "part" and device in members:
            continue
        if line.startswith(PLATFORM_PREFIX) or line in (PLATFORM_HEADING, PLATFORM_FORMAT):
            continue  # an earlier record of the platform: a new one follows
        if fakeraid.is_record_line(line):
            continue  # the same for other firmware RAID
        out.append(line)

    missing = [c.device for c in layout.containers if c.device not in written]
    missing += [v.device for v in layout.volumes if v.device not in written]
    if missing:
        out.append("# Firmware RAID containers and volumes (rear-mdcontainer) not listed by mdadm --detail --scan")
        for device in missing:
            out.extend(_entry_block(device, layout, written))
    if platform:
        first = next((i for i, line in enumerate(out) if line.startswith("# Firmware RAID container ")), len(out))
        out[first:first] = platform
    if fake_raid:
        out.extend(fake_raid)
    return out


def _drop_trailing_comments(out: list[str], format_prefix: str, heading: str = "", heading_prefix: str = "") -> None:
    """Drop the comment lines written right above a line we drop or replace."""
    while out and (out[-1].startswith(format_prefix) or (heading and out[-1].rstrip() == heading)
                   or (heading_prefix and out[-1].startswith(heading_prefix))):
        out.pop()


def _entry_block(device: str, layout: Layout, written: set[str]) -> list[str]:
    if device in written:
        return []
    written.add(device)
    for container in layout.containers:
        if container.device == device:
            return [f"# Firmware RAID container {device} ({container.metadata})", CONTAINER_FORMAT,
                    format_container(container)]
    for volume in layout.volumes:
        if volume.device == device:
            return [f"# Firmware RAID volume {device} (member {volume.member} of {volume.container})",
                    VOLUME_FORMAT, format_volume(volume)]
    raise KeyError(device)


def rewrite_file(path: str, layout: Layout, platform: list[str] | None = None,
                 fake_raid: list[str] | None = None) -> None:
    """Rewrite ``path`` with the model's entries (see :func:`rewrite`)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        lines = handle.read().splitlines()
    write_lines(path, rewrite(lines, layout, platform, fake_raid))


def write_lines(path: str, new_lines: list[str]) -> None:
    """Replace ``path`` atomically: readers see the old or the new file, never half of one."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".disklayout.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write("\n".join(new_lines) + "\n")
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
