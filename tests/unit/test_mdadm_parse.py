"""The pure parsers of mdadm output, on small inline samples in mdadm's real formats (mdadm 4.2), and on every
recorded output of each captured mdadm version (tests/fixtures/mdadm/<suite>/: 4.2 and 4.4).

The probe on the complete recordings is tested in test_probe_fixtures.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.mdadm_parse import (
    DetailDevice,
    chunk_kib,
    mdadm_layout,
    parse_detail,
    parse_export,
    parse_scan,
    size_kib,
)

BLANK = " "  # mdadm prints "State : clean " with a trailing blank

IMSM_VOLUME_DETAIL = f"""\
/dev/md126:
         Container : /dev/md/imsm0, member 0
        Raid Level : raid1
        Array Size : 1046528 (1022.00 MiB 1071.64 MB)
     Used Dev Size : 1046528 (1022.00 MiB 1071.64 MB)
      Raid Devices : 2
     Total Devices : 2

             State : clean{BLANK}
    Active Devices : 2
   Working Devices : 2
    Failed Devices : 0

Consistency Policy : resync


              UUID : ffb80762:127807b3:3d7e4f4d:4532022f
    Number   Major   Minor   RaidDevice State
       1       8       16        0      active sync   /dev/sdb
       0       8        0        1      active sync   /dev/sda
"""

IMSM_CONTAINER_DETAIL = """\
/dev/md127:
           Version : imsm
        Raid Level : container
     Total Devices : 2

   Working Devices : 2


              UUID : 4d5cf215:80024c95:e19fdff4:2fba35a8
     Member Arrays : /dev/md/Volume0_0

    Number   Major   Minor   RaidDevice

       -       8        0        -        /dev/sda
       -       8       16        -        /dev/sdb
"""

DDF_CONTAINER_DETAIL = """\
/dev/md127:
           Version : ddf
        Raid Level : container
     Total Devices : 2

   Working Devices : 2

    Container GUID : 4C696E75:78204D44:20202020:20202020:7F5A9F3B:E1F5C3A2
                  (Linux-MD 02/17/24 19:13:50)
               Seq : 00000003
     Virtual Disks : 1

     Member Arrays : /dev/md/ddf0_0

    Number   Major   Minor   RaidDevice

       -       8       16        -        /dev/sdb
       -       8        0        -        /dev/sda
"""

DDF_RAID5_DEGRADED_DETAIL = """\
/dev/md126:
         Container : /dev/md/ddf0, member 0
        Raid Level : raid5
        Array Size : 2093056 (2044.00 MiB 2143.29 MB)
     Used Dev Size : 1046528 (1022.00 MiB 1071.64 MB)
      Raid Devices : 3
     Total Devices : 3

             State : clean, degraded, recovering
    Active Devices : 2
   Working Devices : 3
    Failed Devices : 0
     Spare Devices : 1

            Layout : ddf-N-restart
        Chunk Size : 64K

Consistency Policy : resync

    Rebuild Status : 17% complete

     Container GUID : 4C696E75:78204D44:20202020:20202020:7F5A9F3B:E1F5C3A2
              Seq : 00000001
    Virtual Disks : 1
    Number   Major   Minor   RaidDevice State
       0       8        0        0      active sync   /dev/sda
       -       0        0        1      removed
       2       8       32        2      active sync   /dev/sdc

       3       8       48        1      spare rebuilding   /dev/sdd
"""

NATIVE_RAID10_DETAIL = """\
/dev/md0:
           Version : 1.2
     Creation Time : Sat Feb 17 19:13:50 2024
        Raid Level : raid10
        Array Size : 2093056 (2044.00 MiB 2143.29 MB)
     Used Dev Size : 1046528 (1022.00 MiB 1071.64 MB)
      Raid Devices : 4
     Total Devices : 4
       Persistence : Superblock is persistent

       Update Time : Sat Feb 17 19:14:02 2024
             State : clean
            Layout : near=2
        Chunk Size : 512K

              Name : bookworm:0  (local to host bookworm)
              UUID : 8d05eb84:2de831d1:dfed54b2:ad592118
            Events : 17

    Number   Major   Minor   RaidDevice State
       0       8       33        0      active sync set-A   /dev/sdc1
       1       8       49        1      active sync set-B   /dev/sdd1
       2       8       65        2      active sync set-A   /dev/sde1
       3       8       81        3      active sync set-B   /dev/sdf1
"""


# --- mdadm --detail --------------------------------------------------------------------------

def test_detail_of_an_imsm_volume():
    detail = parse_detail(IMSM_VOLUME_DETAIL)
    assert detail.device == "/dev/md126"
    assert detail.get("Container") == "/dev/md/imsm0, member 0"
    assert detail.get("Raid Level") == "raid1"
    assert detail.get("Used Dev Size") == "1046528 (1022.00 MiB 1071.64 MB)"
    assert detail.get("State") == "clean"
    assert detail.get("Consistency Policy") == "resync"
    assert detail.get("UUID") == "ffb80762:127807b3:3d7e4f4d:4532022f"
    assert detail.devices == (
        DetailDevice("1", 8, 16, "0", "active sync", "/dev/sdb"),
        DetailDevice("0", 8, 0, "1", "active sync", "/dev/sda"),
    )


def test_detail_of_an_imsm_container_has_no_container_field():
    detail = parse_detail(IMSM_CONTAINER_DETAIL)
    assert detail.device == "/dev/md127"
    assert detail.get("Raid Level") == "container"
    assert detail.get("Version") == "imsm"
    assert "Container" not in detail.fields
    assert detail.get("Member Arrays") == "/dev/md/Volume0_0"
    assert detail.devices == (
        DetailDevice("-", 8, 0, "-", "", "/dev/sda"),
        DetailDevice("-", 8, 16, "-", "", "/dev/sdb"),
    )


def test_ddf_container_guid_is_not_a_container_line():
    """ReaR 2.7/2.9 `grep Container` takes this line for a volume's 'Container :' (see DESIGN.md)."""
    detail = parse_detail(DDF_CONTAINER_DETAIL)
    assert "Container" not in detail.fields
    assert detail.get("Container GUID") == "4C696E75:78204D44:20202020:20202020:7F5A9F3B:E1F5C3A2"
    assert detail.get("Raid Level") == "container"
    assert detail.get("Seq") == "00000003"
    assert detail.get("Virtual Disks") == "1"
    assert [d.path for d in detail.devices] == ["/dev/sdb", "/dev/sda"]
    assert all(d.number == "-" and d.raid_device == "-" and d.state == "" for d in detail.devices)
    assert not any(key.startswith("(") for key in detail.fields)


def test_ddf_volume_has_both_container_and_container_guid():
    detail = parse_detail(DDF_RAID5_DEGRADED_DETAIL)
    assert detail.get("Container") == "/dev/md/ddf0, member 0"
    assert detail.get("Container GUID").startswith("4C696E75:")
    assert detail.get("Layout") == "ddf-N-restart"
    assert detail.get("Chunk Size") == "64K"
    assert detail.get("State") == "clean, degraded, recovering"
    assert detail.get("Rebuild Status") == "17% complete"
    assert detail.devices == (
        DetailDevice("0", 8, 0, "0", "active sync", "/dev/sda"),
        DetailDevice("-", 0, 0, "1", "removed", ""),
        DetailDevice("2", 8, 32, "2", "active sync", "/dev/sdc"),
        DetailDevice("3", 8, 48, "1", "spare rebuilding", "/dev/sdd"),
    )


def test_native_detail_values_with_colons():
    detail = parse_detail(NATIVE_RAID10_DETAIL)
    assert detail.get("Creation Time") == "Sat Feb 17 19:13:50 2024"
    assert detail.get("Name") == "bookworm:0  (local to host bookworm)"
    assert detail.get("Layout") == "near=2"
    assert [d.state for d in detail.devices] == ["active sync set-A", "active sync set-B"] * 2
    assert [d.path for d in detail.devices] == ["/dev/sdc1", "/dev/sdd1", "/dev/sde1", "/dev/sdf1"]


def test_detail_get_default_and_empty_input():
    detail = parse_detail("")
    assert detail.device == ""
    assert detail.fields == {}
    assert detail.devices == ()
    assert detail.get("Layout", "-unknown-") == "-unknown-"


# --- mdadm --detail --export / --examine --export --------------------------------------------

def test_export_of_an_imsm_volume():
    text = """\
MD_LEVEL=raid1
MD_DEVICES=2
MD_CONTAINER=/dev/md/imsm0
MD_MEMBER=0
MD_UUID=ffb80762:127807b3:3d7e4f4d:4532022f
MD_DEVNAME=Volume0_0
MD_DEVICE_dev_sdb_ROLE=0
MD_DEVICE_dev_sdb_DEV=/dev/sdb
MD_DEVICE_dev_sda_ROLE=1
MD_DEVICE_dev_sda_DEV=/dev/sda
"""
    values = parse_export(text)
    assert values["MD_CONTAINER"] == "/dev/md/imsm0"
    assert values["MD_MEMBER"] == "0"
    assert values["MD_DEVNAME"] == "Volume0_0"
    assert values["MD_DEVICE_dev_sda_ROLE"] == "1"
    assert len(values) == 10


def test_export_of_a_ddf_container_and_odd_lines():
    text = """\
mdadm: some warning on stderr that ended up here
MD_LEVEL=container
MD_DEVICES=2
MD_METADATA=ddf
MD_UUID=e3a5a2c9:0b2e9e9f:b1a8f7a6:a1c0d9e8
MD_DEVNAME=ddf0
MD_NAME='any:data vol'
MD_EMPTY=
MD_EQUALS=a=b
 MD_INDENTED=yes
1BAD=x
"""
    values = parse_export(text)
    assert values["MD_LEVEL"] == "container"
    assert values["MD_METADATA"] == "ddf"
    assert values["MD_NAME"] == "any:data vol"
    assert values["MD_EMPTY"] == ""
    assert values["MD_EQUALS"] == "a=b"
    assert values["MD_INDENTED"] == "yes"
    assert "1BAD" not in values
    assert not any(key.startswith("mdadm") for key in values)


def test_export_keeps_unbalanced_quotes():
    assert parse_export("A='x\nB=\"y'\nC=\"\"")["A"] == "'x"
    assert parse_export("B=\"y'")["B"] == "\"y'"
    assert parse_export('C=""')["C"] == ""


# --- ARRAY lines of --examine --scan / --detail --scan ----------------------------------------

EXAMINE_SCAN = """\
ARRAY metadata=imsm UUID=4d5cf215:80024c95:e19fdff4:2fba35a8
ARRAY /dev/md/Volume0 container=4d5cf215:80024c95:e19fdff4:2fba35a8 member=0 UUID=ffb80762:127807b3:3d7e4f4d:4532022f
ARRAY /dev/md/Data Vol container=4d5cf215:80024c95:e19fdff4:2fba35a8 member=1 UUID=0a1b2c3d:4e5f6071:8293a4b5:c6d7e8f9
ARRAY metadata=ddf UUID=e3a5a2c9:0b2e9e9f:b1a8f7a6:a1c0d9e8
ARRAY container=e3a5a2c9:0b2e9e9f:b1a8f7a6:a1c0d9e8 member=0 UUID=5a6b7c8d:9e0f1a2b:3c4d5e6f:7a8b9c0d
ARRAY /dev/md/0  metadata=1.2 UUID=8d05eb84:2de831d1:dfed54b2:ad592118 name=bookworm:0
"""


def test_examine_scan_imsm_container_line_has_no_device():
    arrays = parse_scan(EXAMINE_SCAN)
    assert len(arrays) == 6
    container = arrays[0]
    assert container.device == ""
    assert container.name == ""
    assert container.options == {"metadata": "imsm", "UUID": "4d5cf215:80024c95:e19fdff4:2fba35a8"}


def test_examine_scan_volume_lines():
    volume = parse_scan(EXAMINE_SCAN)[1]
    assert volume.device == "/dev/md/Volume0"
    assert volume.name == "Volume0"
    assert volume.options == {"container": "4d5cf215:80024c95:e19fdff4:2fba35a8", "member": "0",
                              "UUID": "ffb80762:127807b3:3d7e4f4d:4532022f"}


def test_examine_scan_volume_name_with_a_blank():
    """super-intel.c prints the name as it is: printf("ARRAY /dev/md/%.16s container=%s ...")."""
    volume = parse_scan(EXAMINE_SCAN)[2]
    assert volume.name == "Data Vol"
    assert volume.options["member"] == "1"
    assert volume.options["container"] == "4d5cf215:80024c95:e19fdff4:2fba35a8"


def test_examine_scan_unnamed_ddf_volume_keeps_its_container():
    """super-ddf.c prints no device at all for a volume without a name."""
    arrays = parse_scan(EXAMINE_SCAN)
    assert arrays[3].device == ""
    assert arrays[3].options["metadata"] == "ddf"
    unnamed = arrays[4]
    assert unnamed.device == ""
    assert unnamed.name == ""
    assert unnamed.options == {"container": "e3a5a2c9:0b2e9e9f:b1a8f7a6:a1c0d9e8", "member": "0",
                               "UUID": "5a6b7c8d:9e0f1a2b:3c4d5e6f:7a8b9c0d"}


def test_detail_scan_lines_and_non_array_lines():
    text = """\
mdadm: No arrays found in config file or automatically
ARRAY /dev/md/imsm0 metadata=imsm UUID=4d5cf215:80024c95:e19fdff4:2fba35a8
ARRAY /dev/md/Volume0_0 container=/dev/md/imsm0 member=0 UUID=ffb80762:127807b3:3d7e4f4d:4532022f
INACTIVE-ARRAY /dev/md125 metadata=imsm
   devices=/dev/sda,/dev/sdb
# ARRAY /dev/md/commented metadata=1.2
ARRAY
"""
    arrays = parse_scan(text)
    assert [a.device for a in arrays] == ["/dev/md/imsm0", "/dev/md/Volume0_0"]
    assert arrays[0].name == "imsm0"
    assert arrays[1].options["container"] == "/dev/md/imsm0"
    assert arrays[1].name == "Volume0_0"


def test_native_scan_line_keeps_name_with_colon():
    native = parse_scan(EXAMINE_SCAN)[5]
    assert native.device == "/dev/md/0"
    assert native.options["name"] == "bookworm:0"
    assert native.options["metadata"] == "1.2"


# --- field values -----------------------------------------------------------------------------

def test_size_kib():
    assert size_kib("/dev/md126", "Used Dev Size", "1046528 (1022.00 MiB 1071.64 MB)") == 1046528
    assert size_kib("/dev/md126", "Array Size", " 42") == 42
    with pytest.raises(MdcError) as info:
        size_kib("/dev/md126", "Array Size", "unknown")
    assert info.value.message.startswith("/dev/md126: cannot read a size from 'Array Size : unknown'")


@pytest.mark.parametrize(("text", "kib"), [("64K", 64), ("128 KiB", 128), (" 512k ", 512), ("4", 4)])
def test_chunk_kib(text, kib):
    assert chunk_kib("/dev/md126", text) == kib


@pytest.mark.parametrize("text", ["64M", "", "K", "sixty-four"])
def test_chunk_kib_refuses(text):
    with pytest.raises(MdcError) as info:
        chunk_kib("/dev/md126", text)
    assert info.value.subject == "/dev/md126"
    assert "cannot read a chunk size" in info.value.problem


@pytest.mark.parametrize(("level", "value", "expected"), [
    ("raid10", "near=2", "n2"),
    ("raid10", "far=2", "f2"),
    ("raid10", "offset=2", "o2"),
    ("raid10", "near=2, far=3", "n2"),
    ("raid10", "near=22", None),
    ("raid10", "garbage", None),
    ("raid5", "left-asymmetric", "left-asymmetric"),
    ("raid5", "ddf-N-restart", "ddf-N-restart"),
    ("raid6", "left-symmetric", "left-symmetric"),
    ("raid5", "-unknown-", None),
    ("raid0", "-unknown-", None),
    ("raid0", "original", None),
    ("raid1", "", None),
    ("raid5", "  ", None),
])
def test_mdadm_layout(level, value, expected):
    assert mdadm_layout(level, value) == expected


# --- complete recorded outputs of every captured mdadm version --------------------------------
# tests/fixtures/mdadm/<suite>/<layout>: bookworm's mdadm 4.2 and trixie's 4.4 (issue #6). The probe on them is
# tested in test_probe_fixtures.py; here the parsers alone, on every file of each kind.

RECORDINGS = sorted(p for p in (Path(__file__).resolve().parents[1] / "fixtures" / "mdadm").glob("*/*")
                    if (p / "mdadm-version.txt").exists())


def _mdadm_version(recording: Path) -> str:
    match = re.match(r"mdadm - v(\d+\.\d+)", recording.joinpath("mdadm-version.txt").read_text())
    assert match, recording
    return match.group(1)


def test_fixtures_of_both_mdadm_versions() -> None:
    versions = {recording.parent.name: _mdadm_version(recording) for recording in RECORDINGS}
    assert versions.get("bookworm") == "4.2"
    assert versions.get("trixie") == "4.4"
    assert {r.name for r in RECORDINGS if r.parent.name == "trixie"} >= {"imsm-raid1", "ddf-raid1"}


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_detail_export_and_scan(recording: Path) -> None:
    scan = parse_scan(recording.joinpath("examine-scan.txt").read_text())
    detail_scan = parse_scan(recording.joinpath("detail-scan.txt").read_text())
    scan_uuids = {a.options.get("UUID") for a in scan} | {a.options.get("UUID") for a in detail_scan}
    details = sorted(recording.glob("detail-md*.txt"))
    assert details
    for path in details:
        md = path.name[len("detail-"):-len(".txt")]
        detail = parse_detail(path.read_text())
        export = parse_export(recording.joinpath(f"detail-export-{md}.txt").read_text())
        assert detail.device == f"/dev/{md}"
        assert detail.get("UUID", export["MD_UUID"]) == export["MD_UUID"]  # a DDF volume's --detail has none
        assert export["MD_UUID"] in scan_uuids
        level = detail.get("Raid Level")
        assert level == export["MD_LEVEL"]
        present = [d for d in detail.devices if d.path]
        assert present and all(re.fullmatch(r"/dev/sd[a-z]+", d.path) for d in present), detail.devices
        if level == "container":
            assert "Container" not in detail.fields  # DDF's 'Container GUID :' is another key
            assert export["MD_METADATA"] in ("imsm", "ddf")
            assert all(d.number == "-" and d.raid_device == "-" for d in detail.devices)
            continue
        if "MD_CONTAINER" not in export:  # a native array
            assert export["MD_METADATA"] == "1.2"
            continue
        container, _, member = detail.get("Container").partition(", member ")
        assert container == export["MD_CONTAINER"] and member == export["MD_MEMBER"]
        assert int(detail.get("Raid Devices")) == int(export["MD_DEVICES"])
        size_kib(md, "Array Size", detail.get("Array Size"))
        if level != "raid1":
            assert chunk_kib(md, detail.get("Chunk Size")) > 0
        if level in ("raid5", "raid10"):
            assert mdadm_layout(level, detail.get("Layout"))
        active = [d for d in detail.devices if d.raid_device.isdigit() and "active" in d.state]
        assert {d.raid_device for d in active} <= {str(n) for n in range(int(export["MD_DEVICES"]))}
