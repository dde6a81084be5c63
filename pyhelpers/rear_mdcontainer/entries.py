"""The ``mdcontainer`` / ``mdvolume`` entries of disklayout.conf.

ReaR reads disklayout.conf with ``read keyword name rest`` and splits on
blanks, so every value is a single word: names that contain anything but
``[A-Za-z0-9._:+-]`` are percent-encoded (``Data%20Vol``), the way ReaR writes
partition names.  Field 2 is the component name so that ReaR's generic
exclusion (``#mdcontainer ...``) and ``get_component_type`` work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

from .errors import MdcError
from .model import Container, Layout, Volume

CONTAINER_KEYWORD = "mdcontainer"
VOLUME_KEYWORD = "mdvolume"

CONTAINER_FORMAT = (
    "# Format: mdcontainer <container device> metadata=<imsm|ddf> devices=<disk1,disk2,...> "
    "[name=<container name>] [uuid=<UUID>]"
)
VOLUME_FORMAT = (
    "# Format: mdvolume <volume device> container=<container device> member=<index> level=<RAID level> "
    "raid-devices=<n> devices=<disk|missing,...> size=<KiB per disk> name=<metadata name> "
    "[array-size=<KiB>] [uuid=<UUID>] [chunk=<KiB>] [layout=<layout>] [offset=<sectors>]"
)

_SAFE = "._:+-"
_KEY = re.compile(r"^[a-z][a-z-]*$")

CONTAINER_KEYS = ("metadata", "devices", "name", "uuid")
VOLUME_KEYS = ("container", "member", "level", "raid-devices", "devices", "size", "name",
               "array-size", "uuid", "chunk", "layout", "offset")


def encode_name(name: str) -> str:
    return quote(name, safe=_SAFE)


def decode_name(subject: str, text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise MdcError(subject, f"name={text} is not valid percent-encoded UTF-8",
                       "write the name as in mdadm --examine, with %XX for special bytes") from None


def format_container(container: Container) -> str:
    words = [CONTAINER_KEYWORD, container.device, f"metadata={container.metadata}",
             f"devices={','.join(container.devices)}"]
    if container.name:
        words.append(f"name={encode_name(container.name)}")
    if container.uuid:
        words.append(f"uuid={container.uuid}")
    return " ".join(words)


def format_volume(volume: Volume) -> str:
    words = [VOLUME_KEYWORD, volume.device, f"container={volume.container}", f"member={volume.member}",
             f"level={volume.level}", f"raid-devices={volume.raid_devices}",
             f"devices={','.join(volume.devices)}", f"size={volume.size_kib}",
             f"name={encode_name(volume.name)}"]
    if volume.array_size_kib:
        words.append(f"array-size={volume.array_size_kib}")
    if volume.uuid:
        words.append(f"uuid={volume.uuid}")
    if volume.chunk_kib is not None:
        words.append(f"chunk={volume.chunk_kib}")
    if volume.layout is not None:
        words.append(f"layout={volume.layout}")
    if volume.offset_sectors is not None:
        words.append(f"offset={volume.offset_sectors}")
    return " ".join(words)


def format_layout(layout: Layout) -> list[str]:
    """Entry lines, each container followed by its volumes in member order."""
    lines: list[str] = []
    for container in layout.containers:
        lines.append(format_container(container))
        lines.extend(format_volume(v) for v in layout.volumes_of(container))
    return lines


def _options(subject: str, words: Iterable[str], allowed: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not _KEY.match(key):
            raise MdcError(subject, f"'{word}' is not a key=value option", "see the # Format: line above the entry")
        if key not in allowed:
            raise MdcError(subject, f"unknown option '{key}'", f"known options: {', '.join(allowed)}")
        if key in options:
            raise MdcError(subject, f"option '{key}' is given twice", "keep one")
        if not value:
            raise MdcError(subject, f"option '{key}' has no value", "give a value or leave the option out")
        options[key] = value
    return options


def _require(subject: str, options: dict[str, str], key: str) -> str:
    if key not in options:
        raise MdcError(subject, f"the mandatory option {key}= is missing", "see the # Format: line above the entry")
    return options[key]


def _integer(subject: str, key: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", value):
        raise MdcError(subject, f"{key}={value} is not a whole number", f"write {key}= as digits only")
    return int(value)


def _optional_int(subject: str, options: dict[str, str], key: str) -> int | None:
    return _integer(subject, key, options[key]) if key in options else None


def parse_container(line: str) -> Container:
    words = line.split()
    if len(words) < 2 or words[0] != CONTAINER_KEYWORD:
        raise MdcError(line.strip() or CONTAINER_KEYWORD, "not an mdcontainer entry",
                       "an entry starts with 'mdcontainer /dev/mdN'")
    subject = f"{CONTAINER_KEYWORD} {words[1]}"
    options = _options(subject, words[2:], CONTAINER_KEYS)
    return Container(
        device=words[1],
        metadata=_require(subject, options, "metadata"),
        devices=tuple(_require(subject, options, "devices").split(",")),
        name=decode_name(subject, options.get("name", "")),
        uuid=options.get("uuid", ""),
    )


def parse_volume(line: str, metadata: str = "") -> Volume:
    words = line.split()
    if len(words) < 2 or words[0] != VOLUME_KEYWORD:
        raise MdcError(line.strip() or VOLUME_KEYWORD, "not an mdvolume entry",
                       "an entry starts with 'mdvolume /dev/mdN'")
    subject = f"{VOLUME_KEYWORD} {words[1]}"
    options = _options(subject, words[2:], VOLUME_KEYS)
    return Volume(
        device=words[1],
        container=_require(subject, options, "container"),
        member=_integer(subject, "member", _require(subject, options, "member")),
        level=_require(subject, options, "level"),
        raid_devices=_integer(subject, "raid-devices", _require(subject, options, "raid-devices")),
        devices=tuple(_require(subject, options, "devices").split(",")),
        size_kib=_integer(subject, "size", _require(subject, options, "size")),
        name=decode_name(subject, _require(subject, options, "name")),
        array_size_kib=_optional_int(subject, options, "array-size") or 0,
        uuid=options.get("uuid", ""),
        chunk_kib=_optional_int(subject, options, "chunk"),
        layout=options.get("layout"),
        offset_sectors=_optional_int(subject, options, "offset"),
        metadata=metadata,
    )


def parse_layout(lines: Iterable[str]) -> Layout:
    """The containers and volumes of a disklayout.conf (commented-out entries are skipped).

    Containers are parsed first so that each volume is checked against its
    container's metadata whatever the order of the lines.
    """
    container_lines: list[str] = []
    volume_lines: list[str] = []
    for raw in lines:
        line = raw.strip()
        keyword = line.split(" ", 1)[0]
        if keyword == CONTAINER_KEYWORD:
            container_lines.append(line)
        elif keyword == VOLUME_KEYWORD:
            volume_lines.append(line)
    containers = tuple(parse_container(line) for line in container_lines)
    metadata = {c.device: c.metadata for c in containers}
    volumes = []
    for line in volume_lines:
        words = line.split()
        container = next((w.split("=", 1)[1] for w in words[2:] if w.startswith("container=")), "")
        volumes.append(parse_volume(line, metadata.get(container, "")))
    return Layout(containers=containers, volumes=tuple(volumes))
