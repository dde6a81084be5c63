"""The Intel RST/VROC platform: recorded with the layout, compared with the target's before any write.

Creating IMSM normally goes through the platform's checks (mdadm reads the
option ROM's capabilities: RAID levels, chunk sizes, disks per array, volumes
per array), unless ``IMSM_NO_PLATFORM=1``.  Recovering onto other hardware can
fail there, late and cryptically ("mdadm: platform does not support raid5").
So ``save`` records what the original system had, and the preflight compares
the layout with what the target's ``mdadm --detail-platform`` says and stops
before any write, with the choices, when IMSM cannot be created as recorded.

The record is a comment in disklayout.conf, so ReaR ignores it and it goes
wherever the layout goes (into the rescue system with /var/lib/rear, into a
hand-kept $CONFIG_DIR/disklayout.conf), one line per platform block, or one
saying there was none::

    # mdplatform imsm present=yes imsm-no-platform=no name=Intel(R)%20Rapid%20Storage%20Technology
      version=12.7.0.1936 levels=raid0,raid1,raid10,raid5 chunks=4,8,16,32,64,128 max-disks=6
      max-volumes-per-array=2 max-volumes-per-controller=4 controllers=SATA      (one line)
    # mdplatform imsm present=no imsm-no-platform=yes
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .entries import decode_name, encode_name
from .errors import MdcError
from .mdadm_parse import PlatformInfo, parse_detail_platform
from .model import Container, Layout

if TYPE_CHECKING:
    from .report import Facts

PREFIX = "# mdplatform "
HEADING = "# Firmware RAID platform of the original system (rear-mdcontainer; a comment for ReaR, read by the plugin)"
FORMAT = ("# Format: # mdplatform imsm present=<yes|no> imsm-no-platform=<yes|no|unknown> [name=<platform>] "
          "[version=<v>] [levels=<l,...>] [chunks=<KiB,...>] [max-disks=<n>] [max-volumes-per-array=<n>] "
          "[max-volumes-per-controller=<n>] [controllers=<type,...>]")
CHOICES = ("MDCONTAINER_IMSM_NO_PLATFORM=yes creates the IMSM container without the platform's checks (Linux "
           "assembles it, the firmware neither checks nor boots it); MDCONTAINER_REUSE=yes keeps a matching "
           "container that the firmware's RAID setup made before the recovery; MDCONTAINER_MIGRATE=native "
           "creates native md arrays instead of firmware RAID; or recover onto hardware whose Intel RST/VROC "
           "supports the layout")


@dataclass(frozen=True)
class PlatformRecord:
    """What the original system had: its platform blocks (none: no platform) and whether it ran without."""

    infos: tuple[PlatformInfo, ...] = ()
    imsm_no_platform: bool | None = None

    @property
    def present(self) -> bool:
        return bool(self.infos)

    def summary(self) -> str:
        """'Intel(R) Rapid Storage Technology 12.7.0.1936 (SATA)', 'no Intel RST/VROC platform, IMSM_NO_PLATFORM=1'."""
        text = describe_infos(self.infos) if self.infos else "no Intel RST/VROC platform"
        return text + (", IMSM_NO_PLATFORM=1" if self.imsm_no_platform else "")

    def describe(self) -> str:
        return f"the original system had {self.summary()}"


def describe_infos(infos: Iterable[PlatformInfo]) -> str:
    parts = []
    for info in infos:
        text = info.name + (f" {info.version}" if info.version else "")
        if info.controllers:
            text += f" ({', '.join(info.controllers)})"
        parts.append(text)
    return "; ".join(parts)


# --- the record in disklayout.conf ------------------------------------------------------------------


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def format_record(record: PlatformRecord) -> list[str]:
    head = f"{PREFIX}imsm present=%s imsm-no-platform={_yes_no(record.imsm_no_platform)}"
    if not record.infos:
        return [head % "no"]
    lines = []
    for info in record.infos:
        words = [head % "yes", f"name={encode_name(info.name)}"]
        if info.version:
            words.append(f"version={encode_name(info.version)}")
        if info.levels:
            words.append(f"levels={','.join(info.levels)}")
        if info.chunk_kib:
            words.append(f"chunks={','.join(map(str, info.chunk_kib))}")
        for key, value in (("max-disks", info.max_disks), ("max-volumes-per-array", info.max_volumes_per_array),
                           ("max-volumes-per-controller", info.max_volumes_per_controller)):
            if value is not None:
                words.append(f"{key}={value}")
        if info.controllers:
            words.append(f"controllers={','.join(encode_name(c) for c in info.controllers)}")
        lines.append(" ".join(words))
    return lines


def record_lines(record: PlatformRecord) -> list[str]:
    """The comment block ``save`` writes above the first IMSM container."""
    return [HEADING, FORMAT, *format_record(record)]


def parse_record(lines: Iterable[str]) -> PlatformRecord | None:
    """The record of a disklayout.conf (None: none, e.g. a layout saved by an older plugin)."""
    infos = []
    no_platform: bool | None = None
    found = False
    for line in lines:
        if not line.startswith(PREFIX + "imsm "):
            continue
        found = True
        options = {}
        for word in line[len(PREFIX):].split()[1:]:
            key, sep, value = word.partition("=")
            if sep:
                options[key] = value
        no_platform = {"yes": True, "no": False}.get(options.get("imsm-no-platform", ""), no_platform)
        if options.get("present") != "yes":
            continue
        subject = "# mdplatform"

        def number(key: str, options: dict[str, str] = options) -> int | None:
            value = options.get(key, "")
            return int(value) if value.isdigit() else None

        infos.append(PlatformInfo(
            name=decode_name(subject, options.get("name", "")), version=decode_name(subject, options.get("version", "")),
            levels=tuple(v for v in options.get("levels", "").split(",") if v),
            chunk_kib=tuple(int(v) for v in options.get("chunks", "").split(",") if v.isdigit()),
            max_disks=number("max-disks"), max_volumes_per_array=number("max-volumes-per-array"),
            max_volumes_per_controller=number("max-volumes-per-controller"),
            controllers=tuple(decode_name(subject, v) for v in options.get("controllers", "").split(",") if v)))
    return PlatformRecord(tuple(infos), no_platform) if found else None


def probe_record(facts: Facts, layout: Layout) -> PlatformRecord | None:
    """The platform of the system ``save`` records (None without IMSM containers or without an answer)."""
    imsm = [c for c in layout.containers if c.metadata == "imsm"]
    if not imsm:
        return None
    result = facts.detail_platform()
    infos = tuple(parse_detail_platform(result.out)) if result is not None and result.rc in (0, -1) else ()
    flags = [facts.environment_no_platform(), *(facts.mdmon(c.device.rsplit("/", 1)[-1]).imsm_no_platform
                                                 for c in imsm)]
    no_platform = True if True in flags else (False if False in flags else None)
    if result is None and not infos:
        return PlatformRecord((), no_platform) if no_platform is not None else None
    return PlatformRecord(infos, no_platform)


# --- the target -----------------------------------------------------------------------------------


def check_target(layout: Layout, container: Container, target: list[PlatformInfo], recorded: PlatformRecord | None,
                 ) -> list[str]:
    """Whether the target's platform can create the container as recorded; raises MdcError with the choices.

    Limits the target's platform does not state are not checked.  With several
    platform blocks (SATA and VMD controllers) it is enough that one allows it:
    which controller the disks hang on is for mdadm to say.
    """
    subject = container.entry_name
    before = f" ({recorded.describe()})" if recorded is not None else ""
    if not target:
        raise MdcError(subject, "this system has no Intel RST/VROC platform (mdadm --detail-platform found none)"
                       + before, "choose: " + CHOICES)
    volumes = layout.volumes_of(container)
    problems = []
    levels = {level for info in target for level in info.levels}
    for volume in volumes:
        if levels and volume.level not in levels:
            problems.append(f"{volume.entry_name} is {volume.level}, the platform here supports "
                            f"{', '.join(sorted(levels))}")
    maximum = [info.max_disks for info in target if info.max_disks is not None]
    if maximum and len(container.devices) > max(maximum):
        problems.append(f"the container has {len(container.devices)} disks, the platform here allows {max(maximum)}")
    per_array = [info.max_volumes_per_array for info in target if info.max_volumes_per_array is not None]
    if per_array and len(volumes) > max(per_array):
        problems.append(f"the container has {len(volumes)} volumes, the platform here allows {max(per_array)} per "
                        "array")
    chunks = {chunk for info in target for chunk in info.chunk_kib}
    for volume in volumes:
        if chunks and volume.chunk_kib and volume.chunk_kib not in chunks:
            problems.append(f"{volume.entry_name} has chunk={volume.chunk_kib}, the platform here supports "
                            f"{', '.join(f'{c} KiB' for c in sorted(chunks))}")
    if problems:
        raise MdcError(subject, f"the Intel RST/VROC platform here ({describe_infos(target)}) cannot create it as "
                       f"recorded: {'; '.join(problems)}{before}", "choose: " + CHOICES)
    return [f"IMSM platform present: {describe_infos(target)}; it allows the recorded volumes"]
