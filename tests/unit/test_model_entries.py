"""The model (validation on construction) and the mdcontainer/mdvolume entries (format <-> parse)."""

from __future__ import annotations

import dataclasses

import pytest

from rear_mdcontainer.entries import (
    decode_name,
    encode_name,
    format_container,
    format_layout,
    format_volume,
    parse_container,
    parse_layout,
    parse_volume,
)
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout, Volume

from .helpers import UUID_C, UUID_V0, UUID_V1, ddf_layout, imsm_container, imsm_raid1_layout, raid1_volume, two_volume_layout

CONTAINER_LINE = f"mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb name=imsm0 uuid={UUID_C}"
VOLUME_LINE = (f"mdvolume /dev/md126 container=/dev/md127 member=0 level=raid1 raid-devices=2 "
               f"devices=/dev/sda,/dev/sdb size=1048576 name=Volume0 array-size=1048576 uuid={UUID_V0} offset=0")


# --- format / parse round trips ------------------------------------------------------------------

def test_format_container_exact_line():
    assert format_container(imsm_container()) == CONTAINER_LINE


def test_format_volume_exact_line():
    assert format_volume(raid1_volume(size_kib=1048576)) == VOLUME_LINE


def test_parse_container_gives_the_model():
    assert parse_container(CONTAINER_LINE) == imsm_container()


def test_parse_volume_gives_the_model_with_metadata():
    volume = parse_volume(VOLUME_LINE, "imsm")
    assert volume == raid1_volume(size_kib=1048576)
    assert volume.metadata == "imsm"


def test_optional_volume_fields_round_trip():
    volume = two_volume_layout().volumes[1]
    line = format_volume(volume)
    assert "chunk=64" in line.split()
    assert "offset=2101248" in line.split()
    assert "layout=" not in line
    assert parse_volume(line, "imsm") == volume


def test_volume_without_optional_fields_round_trips():
    volume = Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=2,
                    devices=("/dev/sda", "/dev/sdb"), size_kib=100, name="v")
    line = format_volume(volume)
    assert line == ("mdvolume /dev/md126 container=/dev/md127 member=0 level=raid1 raid-devices=2 "
                    "devices=/dev/sda,/dev/sdb size=100 name=v")
    assert parse_volume(line) == volume


def test_degraded_volume_round_trips_with_missing_slot():
    volume = raid1_volume(devices=("/dev/sda", "missing"))
    assert volume.degraded
    line = format_volume(volume)
    assert "devices=/dev/sda,missing" in line.split()
    assert parse_volume(line, "imsm") == volume


def test_layout_round_trip_two_volumes_and_ddf():
    for layout in (two_volume_layout(), ddf_layout()):
        lines = format_layout(layout)
        assert parse_layout(lines) == layout


def test_format_layout_orders_volumes_by_member_after_their_container():
    layout = two_volume_layout()
    reversed_layout = Layout(containers=layout.containers, volumes=tuple(reversed(layout.volumes)))
    lines = format_layout(reversed_layout)
    assert [line.split()[1] for line in lines] == ["/dev/md127", "/dev/md126", "/dev/md125"]


HOSTILE_NAMES = [
    "Data Vol",
    "it's",
    'say "hi"',
    "$(touch x)",
    "`id`",
    ";rm -rf /",
    "a\\b",
    "Datenträger",
    "ボリューム",
    "%20",
    "name=x",
    "a,b",
    "#x",
    "x\u00a0y",  # no-break space: str.split() splits on it
    "\u2028",  # line separator: str.splitlines() splits on it
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_are_one_percent_encoded_word_and_decode_back(name):
    volume = raid1_volume(name=name)
    line = format_volume(volume)
    name_words = [w for w in line.split(" ") if w.startswith("name=")]
    assert len(name_words) == 1
    encoded = name_words[0][len("name="):]
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:+-%")
    assert len(line.split()) == 12
    assert len(line.splitlines()) == 1
    assert decode_name("t", encoded) == name
    assert parse_volume(line, "imsm").name == name
    container = dataclasses.replace(imsm_container(), name=name)
    assert parse_container(format_container(container)).name == name


def test_encode_name_keeps_safe_characters():
    assert encode_name("Volume_0.1:a+b-c") == "Volume_0.1:a+b-c"
    assert encode_name("Data Vol") == "Data%20Vol"
    assert encode_name("%") == "%25"


def test_decode_name_refuses_invalid_utf8():
    with pytest.raises(MdcError) as info:
        decode_name("mdvolume /dev/md126", "%ff%fe")
    assert info.value.message.startswith("mdvolume /dev/md126: name=%ff%fe is not valid percent-encoded UTF-8")


# --- validation: every error names the entry and says what to do -----------------------------------

def _error(callable_, *args, **kwargs) -> MdcError:
    with pytest.raises(MdcError) as info:
        callable_(*args, **kwargs)
    error = info.value
    assert error.fix, f"no fix in {error.message!r}"
    assert error.message == f"{error.subject}: {error.problem} ({error.fix})"
    assert str(error) == error.message
    return error


def _volume_kwargs(**changes) -> dict:
    kwargs = {"device": "/dev/md126", "container": "/dev/md127", "member": 0, "level": "raid1", "raid_devices": 2,
              "devices": ("/dev/sda", "/dev/sdb"), "size_kib": 1024, "name": "Volume0", "metadata": "imsm"}
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize(("changes", "problem"), [
    ({"metadata": "1.2"}, "unsupported metadata '1.2'"),
    ({"metadata": "isw"}, "unsupported metadata 'isw'"),
    ({"devices": ()}, "the container has no member disks"),
    ({"devices": ("/dev/sda", "/dev/sda")}, "a disk is listed twice in devices=/dev/sda,/dev/sda"),
    ({"devices": ("/dev/../etc",)}, "'/dev/../etc' is not a disk device path"),
    ({"devices": ("/dev/sd a",)}, "'/dev/sd a' is not a disk device path"),
    ({"devices": ("/dev/disk/by-id/../../etc/passwd",)}, "is not a disk device path"),
    ({"devices": ("sda",)}, "'sda' is not a disk device path"),
    ({"devices": ("/dev/sda\n",)}, "is not a disk device path"),
    ({"uuid": "not-a-uuid"}, "'not-a-uuid' is not an md UUID"),
    ({"uuid": UUID_C.upper()}, "is not an md UUID"),
    ({"uuid": UUID_C + "\n"}, "is not an md UUID"),
    ({"name": "x" * 17}, "is longer than 16 bytes"),
    ({"name": "äääääääää"}, "is longer than 16 bytes"),  # 9 characters, 18 bytes
    ({"name": "a\tb"}, "contains control characters"),
    ({"name": "a\x7fb"}, "contains control characters"),
    ({"name": "\udcff"}, "is not valid UTF-8"),  # a non-UTF-8 byte read with errors="surrogateescape"
])
def test_container_validation(changes, problem):
    kwargs = {"device": "/dev/md127", "metadata": "imsm", "devices": ("/dev/sda", "/dev/sdb")}
    kwargs.update(changes)
    error = _error(Container, **kwargs)
    assert error.subject == "mdcontainer /dev/md127"
    assert problem in error.problem


@pytest.mark.parametrize("device", ["/dev/sda", "/dev/md", "md127", "/dev/md127p1", "/dev/md/../sda", "/dev/md127\n"])
def test_container_device_must_be_an_md_device(device):
    error = _error(Container, device=device, metadata="imsm", devices=("/dev/sda",))
    assert error.subject == f"mdcontainer {device}"
    assert "is not an md device name" in error.problem


def test_named_md_devices_are_refused():
    # rear savelayout records kernel names; /dev/md/NAME links are resolved at recovery time by nobody
    with pytest.raises(MdcError) as info:
        Container(device="/dev/md/imsm0", metadata="imsm", devices=("/dev/sda",))
    assert "'/dev/md/imsm0' is not an md device name" in info.value.problem


@pytest.mark.parametrize(("changes", "problem"), [
    ({"container": "/dev/sda"}, "'/dev/sda' is not an md device name"),
    ({"container": "/dev/md126"}, "the volume names itself as its container"),
    ({"member": -1}, "member index -1 is negative"),
    ({"level": "raid6"}, "unsupported RAID level 'raid6'"),
    ({"level": "linear"}, "unsupported RAID level 'linear'"),
    ({"level": "container"}, "unsupported RAID level 'container'"),
    ({"raid_devices": 0, "devices": ()}, "raid-devices=0 is out of range"),
    ({"raid_devices": 3}, "devices= lists 2 disks but raid-devices=3"),
    ({"raid_devices": 33, "devices": tuple(f"/dev/sd{c}" for c in "abcdefghijklmnopqrstuvwxyz") + tuple(
        f"/dev/sda{c}" for c in "abcdefg")}, "raid-devices=33 is out of range"),
    ({"devices": ("/dev/sda", "/dev/../sdb")}, "'/dev/../sdb' is not a disk device path"),
    ({"devices": ("missing", "missing")}, "every slot of the volume is missing"),
    ({"devices": ("/dev/sda", "/dev/sda")}, "a disk is listed twice in devices="),
    ({"size_kib": 0}, "size=0 is not a positive size in KiB"),
    ({"array_size_kib": -1}, "array-size=-1 is negative"),
    ({"name": ""}, "the name is empty"),
    ({"name": "Volume_with_17_ch"}, "is longer than 16 bytes"),
    ({"name": "line\nbreak"}, "contains control characters"),
    ({"name": "nul\x00"}, "contains control characters"),
    ({"uuid": "ffb80762:127807b3:3d7e4f4d"}, "is not an md UUID"),
    ({"chunk_kib": 0}, "chunk=0 is not a power of two in KiB"),
    ({"chunk_kib": 96}, "chunk=96 is not a power of two in KiB"),
    ({"chunk_kib": -64}, "chunk=-64 is not a power of two in KiB"),
    ({"layout": "left asymmetric"}, "is not a layout name"),
    ({"layout": "n2\n"}, "is not a layout name"),
    ({"layout": "$(id)"}, "is not a layout name"),
    ({"offset_sectors": -8}, "offset=-8 is negative"),
])
def test_volume_validation(changes, problem):
    error = _error(Volume, **_volume_kwargs(**changes))
    assert error.subject == "mdvolume /dev/md126"
    assert problem in error.problem


def test_raid6_is_fine_for_ddf_but_not_for_imsm():
    assert Volume(**_volume_kwargs(level="raid6", metadata="ddf")).level == "raid6"
    error = _error(Volume, **_volume_kwargs(level="raid6", metadata="imsm"))
    assert error.fix == "supported: raid0, raid1, raid5, raid10"


def test_power_of_two_chunks_are_accepted():
    for chunk in (4, 64, 128, 1024):
        assert Volume(**_volume_kwargs(level="raid0", chunk_kib=chunk)).chunk_kib == chunk


def test_sixteen_byte_name_is_accepted():
    assert Volume(**_volume_kwargs(name="ä" * 8)).name == "ä" * 8
    assert Volume(**_volume_kwargs(name="V" * 16)).name == "V" * 16


def test_layout_refuses_volume_without_container_entry():
    error = _error(Layout, containers=(), volumes=(raid1_volume(),))
    assert error.subject == "mdvolume /dev/md126"
    assert "its container /dev/md127 has no mdcontainer entry" in error.problem


def test_layout_refuses_disk_in_two_containers():
    first = imsm_container()
    second = Container(device="/dev/md125", metadata="imsm", devices=("/dev/sdb", "/dev/sdc"))
    error = _error(Layout, containers=(first, second))
    assert error.subject == "mdcontainer /dev/md125"
    assert "disk /dev/sdb is also a member of /dev/md127" in error.problem


def test_layout_refuses_duplicate_member_index():
    volumes = (raid1_volume(), raid1_volume(device="/dev/md125"))
    error = _error(Layout, containers=(imsm_container(),), volumes=volumes)
    assert error.subject == "mdvolume /dev/md125"
    assert "member 0 of /dev/md127 is recorded twice" in error.problem


def test_layout_refuses_duplicate_container_entry_and_names_it():
    error = _error(Layout, containers=(imsm_container(), imsm_container(("/dev/sdc",))))
    assert error.subject == "mdcontainer /dev/md127"
    assert "two entries name the same container device" in error.problem


def test_layout_refuses_volume_on_foreign_disk():
    volume = raid1_volume(devices=("/dev/sda", "/dev/sdc"))
    error = _error(Layout, containers=(imsm_container(),), volumes=(volume,))
    assert error.subject == "mdvolume /dev/md126"
    assert "disk(s) /dev/sdc are not members of /dev/md127" in error.problem


def test_layout_checks_the_level_against_the_container_metadata():
    volume = Volume(**_volume_kwargs(level="raid6", metadata="", raid_devices=2))
    error = _error(Layout, containers=(imsm_container(),), volumes=(volume,))
    assert error.subject == "mdvolume /dev/md126"
    assert "unsupported RAID level 'raid6'" in error.problem


def test_layout_accessors():
    layout = two_volume_layout()
    assert layout.container("/dev/md127") is layout.containers[0]
    with pytest.raises(KeyError):
        layout.container("/dev/md1")
    assert [v.member for v in layout.volumes_of(layout.containers[0])] == [0, 1]
    assert layout.member_disks() == ("/dev/sda", "/dev/sdb")


def test_native_on_partitions_only_for_a_container_with_several_volumes():
    several = two_volume_layout()
    assert several.native_on_partitions(several.containers[0])
    single = imsm_raid1_layout()
    assert not single.native_on_partitions(single.containers[0])


# --- parsing errors ----------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "subject", "problem"), [
    ("mdcontainer /dev/md127 metadata=imsm", "mdcontainer /dev/md127", "the mandatory option devices= is missing"),
    ("mdcontainer /dev/md127 devices=/dev/sda", "mdcontainer /dev/md127", "the mandatory option metadata= is missing"),
    ("mdcontainer /dev/md127 metadata=imsm devices=/dev/sda name=\udce9t\udce9", "mdcontainer /dev/md127",
     "is not valid UTF-8"),
    (CONTAINER_LINE + " level=container", "mdcontainer /dev/md127", "unknown option 'level'"),
    (CONTAINER_LINE + " name=other", "mdcontainer /dev/md127", "option 'name' is given twice"),
    (CONTAINER_LINE + " spare", "mdcontainer /dev/md127", "'spare' is not a key=value option"),
    (CONTAINER_LINE + " UUID=x", "mdcontainer /dev/md127", "'UUID=x' is not a key=value option"),
    ("mdcontainer /dev/md127 metadata= devices=/dev/sda", "mdcontainer /dev/md127", "option 'metadata' has no value"),
    ("mdcontainer /dev/md127 metadata=ddf devices=/dev/sda,", "mdcontainer /dev/md127", "'' is not a disk device"),
    ("mdcontainer /dev/md127 metadata=imsm devices=/dev/sda name=a%ffb", "mdcontainer /dev/md127",
     "name=a%ffb is not valid percent-encoded UTF-8"),
    ("mdcontainer /dev/md127 metadata=imsm devices=/dev/sda name=a%09b", "mdcontainer /dev/md127",
     "contains control characters"),
])
def test_parse_container_errors(line, subject, problem):
    error = _error(parse_container, line)
    assert error.subject == subject
    assert problem in error.problem


def test_parse_container_refuses_other_keywords():
    error = _error(parse_container, "raidarray /dev/md127 metadata=imsm")
    assert error.problem == "not an mdcontainer entry"
    assert _error(parse_container, "").subject == "mdcontainer"


def test_parse_volume_refuses_other_keywords():
    error = _error(parse_volume, CONTAINER_LINE, "imsm")
    assert error.subject == CONTAINER_LINE
    assert error.problem == "not an mdvolume entry"
    assert _error(parse_volume, "mdvolume").subject == "mdvolume"


def _volume_line(**changes: str) -> str:
    words = VOLUME_LINE.split()
    out = words[:2]
    for word in words[2:]:
        key = word.split("=", 1)[0]
        if key in changes:
            if changes[key] is not None:
                out.append(f"{key}={changes.pop(key)}")
            else:
                changes.pop(key)
        else:
            out.append(word)
    out.extend(f"{k}={v}" for k, v in changes.items())
    return " ".join(out)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"size": "1G"}, "size=1G is not a whole number"),
    ({"size": "-1"}, "size=-1 is not a whole number"),
    ({"size": "1e6"}, "size=1e6 is not a whole number"),
    ({"size": "١٢٣"}, "is not a whole number"),  # Arabic-Indic digits: int() would take them
    ({"size": "1" * 20}, "is not a whole number"),
    ({"member": "0x1"}, "member=0x1 is not a whole number"),
    ({"raid-devices": "two"}, "raid-devices=two is not a whole number"),
    ({"chunk": "64K"}, "chunk=64K is not a whole number"),
    ({"offset": "-2048"}, "offset=-2048 is not a whole number"),
    ({"array-size": "1.5"}, "array-size=1.5 is not a whole number"),
    ({"size": None}, "the mandatory option size= is missing"),
    ({"name": None}, "the mandatory option name= is missing"),
    ({"container": None}, "the mandatory option container= is missing"),
    ({"member": None}, "the mandatory option member= is missing"),
    ({"level": None}, "the mandatory option level= is missing"),
    ({"raid-devices": None}, "the mandatory option raid-devices= is missing"),
    ({"devices": None}, "the mandatory option devices= is missing"),
    ({"metadata": "imsm"}, "unknown option 'metadata'"),
    ({"spare-devices": "1"}, "unknown option 'spare-devices'"),
    ({"raid-devices": "3"}, "devices= lists 2 disks but raid-devices=3"),
    ({"devices": "/dev/sda,/dev/sda"}, "a disk is listed twice"),
    ({"chunk": "48"}, "chunk=48 is not a power of two"),
])
def test_parse_volume_errors(changes, problem):
    error = _error(parse_volume, _volume_line(**changes), "imsm")
    assert error.subject == "mdvolume /dev/md126"
    assert problem in error.problem


def test_parse_volume_duplicate_option():
    error = _error(parse_volume, VOLUME_LINE + " size=5", "imsm")
    assert error.message.startswith("mdvolume /dev/md126: option 'size' is given twice")


def test_parse_volume_level_per_metadata():
    line = _volume_line(level="raid6")
    assert parse_volume(line, "ddf").level == "raid6"
    assert _error(parse_volume, line, "imsm").problem == "unsupported RAID level 'raid6'"


# --- parse_layout ----------------------------------------------------------------------------

def test_parse_layout_skips_commented_out_entries_and_other_lines():
    lines = [
        "# Format: mdcontainer <container device> ...",
        "disk /dev/sda 2147483648 gpt",
        "#" + CONTAINER_LINE,
        "#" + VOLUME_LINE,
        "# " + CONTAINER_LINE,
        "raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sdc1,/dev/sdd1",
        "",
    ]
    assert parse_layout(lines) == Layout()


def test_parse_layout_commented_out_volume_leaves_container():
    layout = parse_layout([CONTAINER_LINE, "#" + VOLUME_LINE])
    assert layout.containers == (imsm_container(),)
    assert layout.volumes == ()


def test_parse_layout_checks_levels_against_the_container_whatever_the_order():
    line = _volume_line(level="raid6")
    error = _error(parse_layout, [line, CONTAINER_LINE])
    assert error.subject == "mdvolume /dev/md126"
    assert "unsupported RAID level 'raid6'" in error.problem
    ddf = CONTAINER_LINE.replace("metadata=imsm", "metadata=ddf")
    assert parse_layout([line, ddf]).volumes[0].level == "raid6"


def test_parse_layout_ignores_surrounding_whitespace_and_line_ends():
    layout = parse_layout([f"  {CONTAINER_LINE}  \n", f"{VOLUME_LINE}\r\n"])
    assert layout.containers == (imsm_container(),)
    assert layout.volumes == (raid1_volume(size_kib=1048576),)


def test_parse_layout_volume_without_container_entry():
    error = _error(parse_layout, [VOLUME_LINE])
    assert error.subject == "mdvolume /dev/md126"
    assert "has no mdcontainer entry" in error.problem


def test_parse_layout_second_volume():
    second = (f"mdvolume /dev/md125 container=/dev/md127 member=1 level=raid0 raid-devices=2 "
              f"devices=/dev/sda,/dev/sdb size=524288 name=Scratch array-size=1048576 uuid={UUID_V1} chunk=64 "
              f"offset=2101248")
    layout = parse_layout([CONTAINER_LINE, second, VOLUME_LINE.replace("name=Volume0", "name=System")])
    assert [v.device for v in layout.volumes] == ["/dev/md125", "/dev/md126"]
    assert [v.device for v in layout.volumes_of(layout.containers[0])] == ["/dev/md126", "/dev/md125"]
    assert set(layout.volumes) == set(parse_layout(format_layout(two_volume_layout())).volumes)
