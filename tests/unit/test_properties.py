"""Properties over generated input (hypothesis): parsers fail only with MdcError, models round-trip, code is bash."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rear_mdcontainer.entries import (
    CONTAINER_KEYS,
    VOLUME_KEYS,
    format_container,
    format_layout,
    format_volume,
    parse_container,
    parse_layout,
    parse_volume,
)
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.mdadm_parse import parse_detail, parse_export, parse_scan
from rear_mdcontainer.model import MAX_NAME_BYTES, MISSING, SUPPORTED_LEVELS, Container, Layout, Volume

from .helpers import UUID_C, bash_syntax_ok, render_all, run_with_stubs

# No target phase: its pareto optimisation took most of the time and finds nothing here.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink)
FAST = settings(max_examples=200, deadline=None, phases=PHASES)
SLOW = settings(max_examples=25, deadline=None, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])

# Any character, surrogates included: disklayout.conf is read with errors="surrogateescape".
ANY_CHAR = st.one_of(st.characters(), st.sampled_from(["\udcff", "\udce9", "%", "=", ",", "/", " ", "\t", "\x85",
                                                       "\u2028", "\x00"]))
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=16)

# --- valid models ----------------------------------------------------------------------------

names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=MAX_NAME_BYTES).filter(
    lambda name: len(name.encode("utf-8")) <= MAX_NAME_BYTES)
uuids = st.one_of(st.just(""), st.from_regex(r"[0-9a-f]{8}(:[0-9a-f]{8}){3}", fullmatch=True))
disk_paths = st.one_of(
    st.from_regex(r"/dev/(sd[a-z]{1,2}|vd[a-z]|nvme[0-9]n[0-9])", fullmatch=True),
    st.from_regex(r"/dev/disk/by-id/[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,30}", fullmatch=True),
)
layouts_names = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_=,-]{1,20}", fullmatch=True))


def md_device(number: int, named: bool) -> str:
    return f"/dev/md{number}"


@st.composite
def layouts(draw, allow_missing: bool = False) -> Layout:
    count = draw(st.integers(1, 2))
    disks = draw(st.lists(disk_paths, min_size=count, max_size=8, unique=True))
    numbers = iter(draw(st.lists(st.integers(0, 4095), min_size=6, max_size=6, unique=True)))
    containers: list[Container] = []
    volumes: list[Volume] = []
    remaining = disks
    for index in range(count):
        if index == count - 1:
            mine = remaining
        else:
            take = draw(st.integers(1, len(remaining) - (count - 1 - index)))
            mine, remaining = remaining[:take], remaining[take:]
        metadata = draw(st.sampled_from(sorted(SUPPORTED_LEVELS)))
        container = Container(device=md_device(next(numbers), draw(st.booleans())), metadata=metadata,
                              devices=tuple(mine), name=draw(st.one_of(st.just(""), names)), uuid=draw(uuids))
        containers.append(container)
        for member in range(draw(st.integers(0, 2))):
            devices = list(draw(st.permutations(mine)))[:draw(st.integers(1, len(mine)))]
            if allow_missing and len(devices) > 1 and draw(st.booleans()):
                devices[draw(st.integers(0, len(devices) - 1))] = MISSING
            volumes.append(Volume(
                device=md_device(next(numbers), draw(st.booleans())), container=container.device, member=member,
                level=draw(st.sampled_from(SUPPORTED_LEVELS[metadata])), raid_devices=len(devices),
                devices=tuple(devices), size_kib=draw(st.integers(1, 2**40)), name=draw(names),
                array_size_kib=draw(st.integers(0, 2**42)), uuid=draw(uuids),
                chunk_kib=draw(st.sampled_from([None, 4, 64, 128, 512, 1024])), layout=draw(layouts_names),
                offset_sectors=draw(st.one_of(st.none(), st.integers(0, 2**40))), metadata=metadata))
    return Layout(containers=tuple(containers), volumes=tuple(volumes))


@FAST
@given(layouts(allow_missing=True))
def test_valid_models_round_trip(layout):
    lines = format_layout(layout)
    for line in lines:
        assert len(line.splitlines()) == 1
        assert line.isprintable()
        assert line.isascii()
    assert parse_layout(lines) == layout
    for container in layout.containers:
        assert parse_container(format_container(container)) == container
    for volume in layout.volumes:
        assert parse_volume(format_volume(volume), volume.metadata) == volume


@FAST
@given(names)
def test_every_allowed_name_is_one_ascii_word(name):
    line = format_volume(Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=1,
                                devices=("/dev/sda",), size_kib=1, name=name))
    words = line.split(" ")
    assert len(words) == 9
    assert line.split() == words
    assert parse_volume(line).name == name


# --- arbitrary entry lines -------------------------------------------------------------------

VALUES = st.one_of(
    ANY_TEXT,
    st.sampled_from(["imsm", "ddf", "1.2", "raid1", "raid6", "container", "0", "1", "2", "64", "48", "-1",
                     "/dev/sda", "/dev/sda,/dev/sdb", "/dev/sda,missing", "missing", "/dev/md127", "/dev/md126",
                     "%ff", "%41", "%2", "Volume0", UUID_C, "n2", "99999999999999999999"]),
)
OPTIONS = st.builds("{}={}".format, st.sampled_from([*sorted(set(CONTAINER_KEYS + VOLUME_KEYS)), "bogus", "Name"]),
                    VALUES)
WORDS = st.one_of(OPTIONS, ANY_TEXT)
ENTRY_LINES = st.one_of(
    ANY_TEXT,
    st.builds(lambda keyword, device, words: " ".join([keyword, device, *words]),
              st.sampled_from(["mdcontainer", "mdvolume", "#mdcontainer"]),
              st.one_of(st.sampled_from(["/dev/md127", "/dev/md126", "/dev/md/imsm0"]), ANY_TEXT),
              st.lists(WORDS, max_size=8)),
)
VALID_CONTAINER = f"mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb uuid={UUID_C}"


@FAST
@given(ENTRY_LINES)
def test_parse_container_returns_a_model_or_raises_mdcerror(line):
    try:
        assert isinstance(parse_container(line), Container)
    except MdcError as error:
        assert error.subject
        assert error.problem


@FAST
@given(ENTRY_LINES, st.sampled_from(["", "imsm", "ddf", "1.2"]))
def test_parse_volume_returns_a_model_or_raises_mdcerror(line, metadata):
    try:
        assert isinstance(parse_volume(line, metadata), Volume)
    except MdcError as error:
        assert error.subject
        assert error.problem


@FAST
@given(st.lists(st.one_of(ENTRY_LINES, st.just(VALID_CONTAINER)), max_size=4))
def test_parse_layout_returns_a_model_or_raises_mdcerror(lines):
    try:
        layout = parse_layout(lines)
    except MdcError as error:
        assert error.subject
        assert error.problem
        return
    assert isinstance(layout, Layout)
    assert parse_layout(format_layout(layout)) == layout


# --- mdadm output parsers never raise ---------------------------------------------------------

MDADM_LINES = st.one_of(
    ANY_TEXT,
    st.sampled_from([
        "/dev/md126:", "         Container : /dev/md/imsm0, member 0", "    Container GUID : 4C696E75:78204D44",
        "    Number   Major   Minor   RaidDevice State", "    Number   Major   Minor   RaidDevice",
        "       0       8        0        0      active sync   /dev/sda", "       -       0        0        1      removed",
        "MD_LEVEL=raid1", "MD_NAME='x'", "MD_X=\"", "ARRAY", "ARRAY metadata=imsm UUID=" + UUID_C,
        "ARRAY /dev/md/Data Vol container=x member=0 UUID=y", "ARRAY container=x member=0", "ARRAY =", "ARRAY a= =b",
    ]),
    st.from_regex(r"\s*(-|\d+)\s+\d+\s+\d+\s+(-|\d+)\s*.*", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]*=.*", fullmatch=True),
    st.from_regex(r"\s*[A-Za-z][A-Za-z /-]*\s*:.*", fullmatch=True),
)
MDADM_TEXT = st.lists(MDADM_LINES, max_size=8).map("\n".join)


@FAST
@given(MDADM_TEXT)
def test_mdadm_parsers_never_raise(text):
    detail = parse_detail(text)
    assert all(isinstance(d.major, int) and isinstance(d.minor, int) for d in detail.devices)
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in parse_export(text).items())
    for array in parse_scan(text):
        assert isinstance(array.device, str)
        assert isinstance(array.name, str)
        assert not re.search(r"(?:^|\s)[A-Za-z][A-Za-z0-9_-]*=", array.device)


# --- rendering ---------------------------------------------------------------------------------

@SLOW
@given(layouts(), st.booleans(), st.booleans())
def test_rendered_code_of_any_valid_model_is_bash(layout, no_platform, grow_last):
    done = bash_syntax_ok(render_all(layout, no_platform=no_platform, grow_last=grow_last))
    assert done.returncode == 0, done.stderr


@SLOW
@given(names, names)
def test_any_name_reaches_mdadm_as_one_argument(first, second):
    disks = ("/dev/sda", "/dev/sdb")
    container = Container(device="/dev/md127", metadata="imsm", devices=disks)
    volumes = (
        Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=2, devices=disks,
               size_kib=1024, name=first, metadata="imsm"),
        Volume(device="/dev/md125", container="/dev/md127", member=1, level="raid0", raid_devices=2, devices=disks,
               size_kib=2048, name=second, chunk_kib=64, metadata="imsm"),
    )
    with tempfile.TemporaryDirectory() as directory:
        calls = run_with_stubs(Path(directory), render_all(Layout((container,), volumes)))
        assert sorted(p.name for p in Path(directory).iterdir()) == ["calls.log", "diskrestore.sh", "stubs"]
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert [c for c in creates[1] if c.startswith("--name=")] == [f"--name={first}"]
    assert [c for c in creates[2] if c.startswith("--name=")] == [f"--name={second}"]
