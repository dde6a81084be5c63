"""The IMSM platform: parsed from mdadm --detail-platform, recorded in disklayout.conf, compared with the target.

The VM recordings have no platform (QEMU has no Intel option ROM); the outputs
with a platform below follow super-intel.c's print_imsm_capability (mdadm 4.2
and later) line by line, with the values of a desktop RST and a server VROC.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rear_mdcontainer import imsm_platform
from rear_mdcontainer.cli import main
from rear_mdcontainer.disklayout import rewrite
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.imsm_platform import PlatformRecord, check_target, format_record, parse_record, probe_record
from rear_mdcontainer.mdadm_parse import PlatformInfo, parse_detail_platform
from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.preflight import preflight
from rear_mdcontainer.report import RecordedFacts
from rear_mdcontainer.system import Result

from .helpers import GIB, FakeTree, imsm_raid1_layout, two_volume_layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mdadm" / "bookworm"

RST = """\
       Platform : Intel(R) Rapid Storage Technology
        Version : 12.7.0.1936
    RAID Levels : raid0 raid1 raid10 raid5
    Chunk Sizes : 4k 8k 16k 32k 64k 128k
    2TB volumes : supported
      2TB disks : supported
      Max Disks : 6
    Max Volumes : 2 per array, 4 per controller
 I/O Controller : /sys/devices/pci0000:00/0000:00:1f.2 (SATA)
          Port0 : /dev/sda (WD-WCC4N0123456)
          Port1 : /dev/sdb (WD-WCC4N0654321)
          Port2 : - no device attached -

"""

VROC = """\
       Platform : Intel(R) Virtual RAID on CPU
        Version : 7.5.0.1152
        License : Standard
    RAID Levels : raid0 raid1 raid10
    Chunk Sizes : 4k 8k 16k 32k 64k 128k
    2TB volumes : supported
      2TB disks : supported
      Max Disks : 48
    Max Volumes : 2 per array, 24 per platform
 3rd party NVMe : supported
 I/O Controller : /sys/devices/pci0000:5d/0000:5d:05.5 (VMD)
 NVMe under VMD : /dev/nvme0n1 (S4EMNX0R123456)

"""

RST_INFO = PlatformInfo(name="Intel(R) Rapid Storage Technology", version="12.7.0.1936",
                        levels=("raid0", "raid1", "raid10", "raid5"), chunk_kib=(4, 8, 16, 32, 64, 128), max_disks=6,
                        max_volumes_per_array=2, max_volumes_per_controller=4, controllers=("SATA",))


def test_parse_rst():
    assert parse_detail_platform(RST) == [RST_INFO]


def test_parse_two_platforms():
    rst, vroc = parse_detail_platform(RST + VROC)
    assert rst == RST_INFO
    assert vroc == PlatformInfo(name="Intel(R) Virtual RAID on CPU", version="7.5.0.1152",
                                levels=("raid0", "raid1", "raid10"), chunk_kib=(4, 8, 16, 32, 64, 128), max_disks=48,
                                max_volumes_per_array=2, max_volumes_per_controller=24, controllers=("VMD",))


def test_no_platform_in_the_recordings():
    text = (FIXTURES / "imsm-raid1" / "detail-platform.txt").read_text(encoding="utf-8")
    assert "imsm capabilities not found" in text
    assert parse_detail_platform(text) == []
    assert parse_detail_platform("mdadm: no active Intel(R) RAID controller found.\n") == []


# --- the record ------------------------------------------------------------------------------------


def test_record_round_trip():
    record = PlatformRecord(tuple(parse_detail_platform(RST + VROC)), imsm_no_platform=False)
    lines = format_record(record)
    assert lines[0] == ("# mdplatform imsm present=yes imsm-no-platform=no name=Intel%28R%29%20Rapid%20Storage%20"
                        "Technology version=12.7.0.1936 levels=raid0,raid1,raid10,raid5 chunks=4,8,16,32,64,128 "
                        "max-disks=6 max-volumes-per-array=2 max-volumes-per-controller=4 controllers=SATA")
    assert parse_record(["disk /dev/sda 1 gpt", *lines]) == record
    assert parse_record(["disk /dev/sda 1 gpt"]) is None
    none = PlatformRecord((), imsm_no_platform=True)
    assert format_record(none) == ["# mdplatform imsm present=no imsm-no-platform=yes"]
    assert parse_record(format_record(none)) == none
    assert parse_record(format_record(PlatformRecord())) == PlatformRecord()
    assert none.describe() == "the original system had no Intel RST/VROC platform, IMSM_NO_PLATFORM=1"
    assert record.summary() == ("Intel(R) Rapid Storage Technology 12.7.0.1936 (SATA); Intel(R) Virtual RAID on CPU "
                                "7.5.0.1152 (VMD)")


class Facts:
    def __init__(self, platform: Result | None, environment: bool | None, mdmon: bool | None = None) -> None:
        self.platform, self.environment, self.mdmon_flag = platform, environment, mdmon

    def detail_platform(self) -> Result | None:
        return self.platform

    def environment_no_platform(self) -> bool | None:
        return self.environment

    def mdmon(self, md: str):
        class Mdmon:
            imsm_no_platform = self.mdmon_flag
        return Mdmon()


@pytest.mark.parametrize(("facts", "expected"), [
    (Facts(Result(0, RST, ""), False), PlatformRecord((RST_INFO,), False)),
    (Facts(Result(1, "", "mdadm: imsm capabilities not found"), False, mdmon=True), PlatformRecord((), True)),
    (Facts(Result(1, "", ""), None), PlatformRecord((), None)),
    (Facts(None, True), PlatformRecord((), True)),
    (Facts(None, None), None),
])
def test_probe_record(facts, expected):
    assert probe_record(facts, imsm_raid1_layout()) == expected


def test_probe_record_of_a_recording_and_without_imsm():
    record = probe_record(RecordedFacts(str(FIXTURES / "imsm-raid1")), imsm_raid1_layout())
    assert record == PlatformRecord((), None)  # a recording knows no environment
    ddf = Layout((Container(device="/dev/md127", metadata="ddf", devices=("/dev/sda",)),), ())
    assert probe_record(Facts(Result(0, RST, ""), False), ddf) is None


def test_save_records_the_platform_above_the_first_container(tmp_path, capsys):
    path = tmp_path / "disklayout.conf"
    path.write_text("disk /dev/sda 536870912 gpt\ndisk /dev/sdb 536870912 gpt\n", encoding="utf-8")
    assert main(["save", "--layout-file", str(path), "--recorded", str(FIXTURES / "imsm-raid1")]) == 0
    assert "recorded the IMSM platform: no Intel RST/VROC platform" in capsys.readouterr().out
    lines = path.read_text(encoding="utf-8").splitlines()
    at = lines.index(imsm_platform.HEADING)
    assert lines[at:at + 4] == [imsm_platform.HEADING, imsm_platform.FORMAT,
                          "# mdplatform imsm present=no imsm-no-platform=unknown",
                          "# Firmware RAID container /dev/md127 (imsm)"]
    # A second save changes nothing (checklayout), the record is not doubled:
    assert main(["save", "--layout-file", str(path), "--recorded", str(FIXTURES / "imsm-raid1")]) == 0
    assert path.read_text(encoding="utf-8").splitlines() == lines


def test_rewrite_replaces_an_earlier_record():
    layout = imsm_raid1_layout()
    first = rewrite(["disk /dev/sda 1 gpt"], layout, imsm_platform.record_lines(PlatformRecord((), True)))
    second = rewrite(first, layout, imsm_platform.record_lines(PlatformRecord((RST_INFO,), False)))
    assert [line for line in second if line.startswith("# mdplatform")] == format_record(
        PlatformRecord((RST_INFO,), False))
    assert rewrite(second, layout) == [line for line in second if not line.startswith(
        ("# mdplatform", imsm_platform.HEADING, imsm_platform.FORMAT))]


# --- the target ------------------------------------------------------------------------------------


def raid5_layout(disks: int = 3, chunk: int = 64) -> Layout:
    devices = tuple(f"/dev/sd{chr(97 + i)}" for i in range(disks))
    container = Container(device="/dev/md127", metadata="imsm", devices=devices)
    volume = Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid5", raid_devices=disks,
                    devices=devices, size_kib=1048576, name="Data", chunk_kib=chunk, metadata="imsm")
    return Layout((container,), (volume,))


def _refused(layout: Layout, target: list[PlatformInfo], recorded: PlatformRecord | None = None) -> MdcError:
    with pytest.raises(MdcError) as info:
        check_target(layout, layout.containers[0], target, recorded)
    assert info.value.subject == "mdcontainer /dev/md127"
    assert "MDCONTAINER_IMSM_NO_PLATFORM=yes" in info.value.fix and "MDCONTAINER_REUSE=yes" in info.value.fix
    return info.value


def test_no_platform_names_the_choices_and_what_the_original_had():
    error = _refused(imsm_raid1_layout(), [], PlatformRecord((RST_INFO,), False))
    assert error.problem == ("this system has no Intel RST/VROC platform (mdadm --detail-platform found none) (the "
                             "original system had Intel(R) Rapid Storage Technology 12.7.0.1936 (SATA))")
    assert error.fix.startswith("choose: MDCONTAINER_IMSM_NO_PLATFORM=yes creates the IMSM container without")


def test_a_level_the_platform_does_not_support():
    vroc = parse_detail_platform(VROC)
    error = _refused(raid5_layout(), vroc)
    assert error.problem == ("the Intel RST/VROC platform here (Intel(R) Virtual RAID on CPU 7.5.0.1152 (VMD)) "
                             "cannot create it as recorded: mdvolume /dev/md126 is raid5, the platform here supports "
                             "raid0, raid1, raid10")


def test_too_many_disks_volumes_and_an_unsupported_chunk():
    small = [PlatformInfo(name="RST", levels=("raid0", "raid1", "raid5"), chunk_kib=(4, 8, 16, 32, 64), max_disks=2,
                          max_volumes_per_array=1)]
    assert "the container has 3 disks, the platform here allows 2" in _refused(raid5_layout(), small).problem
    assert "the container has 2 volumes, the platform here allows 1 per array" in _refused(
        two_volume_layout(), small).problem
    error = _refused(raid5_layout(disks=2, chunk=128), small)
    assert error.problem.endswith("mdvolume /dev/md126 has chunk=128, the platform here supports 4 KiB, 8 KiB, "
                                  "16 KiB, 32 KiB, 64 KiB")


def test_a_platform_that_allows_it_and_limits_that_are_not_stated():
    assert check_target(raid5_layout(), raid5_layout().containers[0], [RST_INFO], None) == [
        "IMSM platform present: Intel(R) Rapid Storage Technology 12.7.0.1936 (SATA); it allows the recorded volumes"]
    # RAID5 on VMD is not allowed, on the SATA controller it is: one block is enough.
    assert check_target(raid5_layout(), raid5_layout().containers[0], parse_detail_platform(VROC + RST), None)
    bare = [PlatformInfo(name="Intel(R) Matrix Storage Manager")]
    assert check_target(raid5_layout(disks=8), raid5_layout(disks=8).containers[0], bare, None)


def test_preflight_stops_before_any_write_when_the_target_platform_cannot(tmp_path):
    tree = FakeTree(tmp_path)
    for index, name in enumerate("abc"):
        tree.block(f"sd{name}", f"8:{16 * index}", 2 * GIB)
    tree.results[("mdadm", "--detail-platform", "--metadata=imsm")] = Result(0, VROC, "")
    layout = raid5_layout()
    lines = [*format_layout(layout), *format_record(PlatformRecord((RST_INFO,), False))]
    with pytest.raises(MdcError) as info:
        preflight(tree.system, layout, lines, None, no_platform=False)
    assert "mdvolume /dev/md126 is raid5, the platform here supports raid0, raid1, raid10" in info.value.problem
    assert info.value.problem.endswith("(the original system had Intel(R) Rapid Storage Technology 12.7.0.1936 "
                                       "(SATA))")
    assert [c for c in tree.calls if c[:2] not in (("mdadm", "--version"), ("mdadm", "--detail-platform"))] == []
    # With IMSM_NO_PLATFORM=1 the platform's limits do not apply:
    assert preflight(tree.system, layout, lines, None, no_platform=True)[-1] == (
        "IMSM platform check skipped (IMSM_NO_PLATFORM=1)")


def test_auto_follows_the_record_when_rescue_conf_does_not_say(tmp_path, capsys):
    layout = imsm_raid1_layout()
    path = tmp_path / "disklayout.conf"

    def render(record: PlatformRecord, original: str = "unknown") -> str:
        path.write_text("\n".join([*format_layout(layout), *format_record(record)]) + "\n", encoding="utf-8")
        assert main(["render", "container", "--layout-file", str(path), "--device", "/dev/md127",
                     "--original-imsm-no-platform", original]) == 0
        return capsys.readouterr().out

    assert "export IMSM_NO_PLATFORM=1" in render(PlatformRecord((), True))
    assert "export IMSM_NO_PLATFORM=1" not in render(PlatformRecord((RST_INFO,), False))
    assert "export IMSM_NO_PLATFORM=1" not in render(PlatformRecord((), True), original="no")  # rescue.conf wins
