"""Degraded sources: which disk completes a volume that missed one when the layout was saved.

The decision (missing.plan) for each state of layout, setting and target disks,
what it writes into disklayout.conf (missing.apply), and the way from the
recorded degraded fixture through ``save`` and ``fill-missing`` to the code
that creates the volume complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rear_mdcontainer import missing
from rear_mdcontainer.cli import main
from rear_mdcontainer.disklayout import rewrite
from rear_mdcontainer.entries import format_layout, parse_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import MISSING, Container, Layout, Volume
from rear_mdcontainer.plan import plan_volumes
from rear_mdcontainer.preflight import preflight
from rear_mdcontainer.probe import RecordedSource, probe_layout

from .helpers import GIB, MIB, FakeTree, imsm_container, raid1_volume, render_all

DEGRADED = Path(__file__).resolve().parents[1] / "fixtures" / "mdadm" / "bookworm" / "imsm-raid1-degraded"
SIZE = 2 * GIB


def degraded_layout(devices: tuple[str, ...] = ("/dev/sda",)) -> Layout:
    """Container md127 on what survived, RAID1 md126 with slot 0 missing (as recorded in the fixture)."""
    return Layout((imsm_container(devices),), (raid1_volume(devices=(MISSING, "/dev/sda")),))


def layout_lines(layout: Layout, *extra: str) -> list[str]:
    return [f"disk /dev/sda {SIZE} unknown", *extra, *format_layout(layout),
            "raiddisk /dev/md126 1073741824 gpt", "part /dev/md126 1071644672 1048576 rear-noname none /dev/md126p1",
            "fs /dev/md126p1 / ext4 uuid=0 label=root options=rw"]


@pytest.fixture
def tree(tmp_path):
    """Blank 2 GiB disks sda (the surviving member) .. sdd; sde is 512 MiB; sdf has a mounted partition."""
    fake = FakeTree(tmp_path)
    for index, name in enumerate("abcd"):
        fake.block(f"sd{name}", f"8:{16 * index}", SIZE)
    fake.block("sde", "8:64", 512 * MIB)
    fake.block("sdf", "8:80", SIZE)
    fake.block("sdf1", "8:81", GIB, parent="sdf")
    fake.mount("sdf1", "/media/usb")
    return fake


def _plan(tree: FakeTree, layout: Layout, lines: list[str], setting: str = "") -> tuple[list[missing.Fill], list[str]]:
    return missing.plan(tree.system, layout, lines, setting)


def _refused(tree: FakeTree, layout: Layout, lines: list[str], setting: str = "") -> MdcError:
    with pytest.raises(MdcError) as info:
        _plan(tree, layout, lines, setting)
    assert info.value.fix
    assert tree.calls == [], "nothing is run, let alone written, while deciding"
    return info.value


# --- which disk ---------------------------------------------------------------------------------


def test_a_complete_layout_needs_nothing(tree):
    layout = Layout((imsm_container(),), (raid1_volume(),))
    assert _plan(tree, layout, layout_lines(layout)) == ([], [])
    fills, notes = _plan(tree, layout, layout_lines(layout), "/dev/md127:/dev/sdc")
    assert fills == []
    assert notes == ["no volume misses a disk: MDCONTAINER_MISSING_DISKS is not used"]


def test_without_a_free_disk_the_recovery_stops_naming_the_slot_and_the_fix(tree):
    layout = degraded_layout()
    # The failed disk was still attached when the layout was saved: ReaR auto-excluded it.
    lines = layout_lines(layout, f"#disk /dev/sdb {SIZE} gpt", "#part /dev/sdb 1071644672 1048576 x none /dev/sdb1")
    error = _refused(tree, layout, lines)
    assert error.subject == "mdvolume /dev/md126"
    assert error.problem == ("slot 0 has no disk (devices=missing,/dev/sda: degraded when the layout was saved) and "
                             "the layout names no disk that nothing else uses")
    assert error.fix.startswith("set MDCONTAINER_MISSING_DISKS='/dev/md127:<disk>' (in /etc/rear/local.conf) to a "
                                "whole disk of at least 1030 MiB that nothing else uses, e.g. /dev/sdb (2048 MiB, "
                                "excluded in the layout), /dev/sdc (2048 MiB, not in the layout)")
    # too small (sde), mounted (sdf) and the member itself (sda) are not suggested:
    assert "sde" not in error.fix and "sdf" not in error.fix and "/dev/sda" not in error.fix


def test_an_excluded_disk_entry_is_never_taken_automatically(tree):
    layout = degraded_layout()
    error = _refused(tree, layout, layout_lines(layout, f"#disk /dev/sdb {SIZE} unknown"))
    assert "names no disk that nothing else uses" in error.problem


@pytest.mark.parametrize("key", ["/dev/md127", "imsm0", "/dev/md126"])
def test_the_administrator_names_the_disk_by_container_name_or_volume(tree, key):
    layout = degraded_layout()
    fills, notes = _plan(tree, layout, layout_lines(layout), f"{key}:/dev/sdc")
    assert fills == [missing.Fill("/dev/md127", ("/dev/sdc",), "MDCONTAINER_MISSING_DISKS", (SIZE,))]
    assert notes == []


def test_a_disk_path_with_colons_is_named_by_its_kernel_name(tree):
    link = tree.root / "dev" / "disk" / "by-path" / "pci-0000:00:1f.2-ata-3"
    link.parent.mkdir(parents=True)
    link.symlink_to("../../sdc")
    layout = degraded_layout()
    fills, _ = _plan(tree, layout, layout_lines(layout), "/dev/md127:/dev/disk/by-path/pci-0000:00:1f.2-ata-3")
    assert fills[0].disks == ("/dev/sdc",)


def test_a_disk_of_the_container_that_no_volume_uses_is_taken(tree):
    # A failed disk still in the container (or a spare) when the layout was saved:
    layout = degraded_layout(("/dev/sda", "/dev/sdb"))
    fills, _ = _plan(tree, layout, layout_lines(layout, f"disk /dev/sdb {SIZE} unknown"))
    assert fills == [missing.Fill("/dev/md127", ("/dev/sdb",), missing.SPARE, (SIZE,))]


def test_the_named_disk_wins_over_a_spare(tree):
    layout = degraded_layout(("/dev/sda", "/dev/sdb"))
    fills, _ = _plan(tree, layout, layout_lines(layout, f"disk /dev/sdb {SIZE} unknown"), "/dev/md127:/dev/sdc")
    assert fills[0].disks == ("/dev/sdc",)


def test_the_only_unused_disk_entry_is_taken(tree):
    layout = degraded_layout()
    lines = layout_lines(layout, f"disk /dev/sdc {SIZE} unknown")
    fills, _ = _plan(tree, layout, lines)
    assert fills == [missing.Fill("/dev/md127", ("/dev/sdc",), missing.FREE_ENTRY, (SIZE,))]


def test_two_unused_disk_entries_for_one_slot_are_not_guessed(tree):
    layout = degraded_layout()
    lines = layout_lines(layout, f"disk /dev/sdc {SIZE} unknown", f"disk /dev/sdd {SIZE} unknown")
    error = _refused(tree, layout, lines)
    assert error.problem.endswith("the layout has 2 disks that nothing else uses (/dev/sdc, /dev/sdd) for 1 "
                                  "missing: which one is not for the plugin to guess")


def test_a_disk_entry_with_partitions_is_used_by_them(tree):
    layout = degraded_layout()
    lines = layout_lines(layout, f"disk /dev/sdc {SIZE} gpt", "part /dev/sdc 1048576 1048576 boot none /dev/sdc1")
    assert "names no disk" in _refused(tree, layout, lines).problem


def test_two_degraded_containers_need_the_administrator(tree):
    second = Container(device="/dev/md125", metadata="imsm", devices=("/dev/sdb",), name="imsm1")
    volume = Volume(device="/dev/md124", container="/dev/md125", member=0, level="raid1", raid_devices=2,
                    devices=("/dev/sdb", MISSING), size_kib=1024, name="Other", metadata="imsm")
    layout = Layout((imsm_container(("/dev/sda",)), second), (raid1_volume(devices=(MISSING, "/dev/sda")), volume))
    lines = [*layout_lines(layout, f"disk /dev/sdc {SIZE} unknown", f"disk /dev/sdd {SIZE} unknown")]
    assert "2 containers miss disks" in _refused(tree, layout, lines).problem
    fills, _ = _plan(tree, layout, lines, "/dev/md127:/dev/sdc imsm1:/dev/sdd")
    assert [(f.container, f.disks) for f in fills] == [("/dev/md127", ("/dev/sdc",)), ("/dev/md125", ("/dev/sdd",))]


def test_a_setting_for_a_complete_container_is_noted_not_used(tree):
    other = Container(device="/dev/md125", metadata="imsm", devices=("/dev/sdd",), name="imsm1")
    layout = Layout((imsm_container(("/dev/sda",)), other), (raid1_volume(devices=(MISSING, "/dev/sda")),))
    fills, notes = _plan(tree, layout, layout_lines(layout), "/dev/md125:/dev/sdb /dev/md127:/dev/sdc")
    assert [f.disks for f in fills] == [("/dev/sdc",)]
    assert notes == ["MDCONTAINER_MISSING_DISKS names /dev/sdb for /dev/md125, whose volumes are complete: not used"]


# --- what a named disk must be ------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "problem"), [
    ("/dev/md127:/dev/sdx", "/dev/sdx does not exist"),
    ("/dev/md127:/dev/sdf1", "/dev/sdf1 is not a whole disk (sdf1)"),
    ("/dev/md127:/dev/sde", "/dev/sde has 512 MiB but the volumes need 1030 MiB on it"),
    ("/dev/md127:/dev/sdf", "/dev/sdf1 is mounted on /media/usb"),
    ("/dev/md127:/dev/sda", "/dev/sda is already a member of mdvolume /dev/md126"),
    ("/dev/md127:/dev/sdc,/dev/sdc", "names 2 disks for /dev/md127, whose volumes miss 1"),
    ("/dev/md127:/dev/sdb", "/dev/sdb is used by another entry of the layout ('part /dev/sdb 1048576 1048576 x none "
                            "/dev/sdb1')"),
])
def test_a_named_disk_is_checked_before_it_is_taken(tree, setting, problem):
    layout = degraded_layout()
    lines = layout_lines(layout, f"disk /dev/sdb {SIZE} gpt", "part /dev/sdb 1048576 1048576 x none /dev/sdb1")
    error = _refused(tree, layout, lines, setting)
    assert error.problem == problem
    assert error.subject in ("MDCONTAINER_MISSING_DISKS for /dev/md127", "MDCONTAINER_MISSING_DISKS")


def test_a_disk_as_large_as_the_recorded_members_is_enough(tree):
    # The surviving member was recorded with 1 GiB + 1 MiB: a replacement of that size holds the volume.
    (tree.sys / "sdc" / "size").write_text(f"{(GIB + MIB) // 512}\n", encoding="utf-8")
    layout = degraded_layout()
    lines = [f"disk /dev/sda {GIB + MIB} unknown", *layout_lines(layout)[1:]]
    fills, _ = _plan(tree, layout, lines, "/dev/md127:/dev/sdc")
    assert fills[0].sizes == (GIB + MIB,)


@pytest.mark.parametrize(("setting", "problem"), [
    ("sdb", "'sdb' is not <container>:<disk>"),
    ("/dev/md127:sdb", "'/dev/md127:sdb' is not <container>:<disk>"),
    (":/dev/sdb", "':/dev/sdb' is not <container>:<disk>"),
    ("/dev/md127:/dev/sd$(reboot)", "'/dev/sd$(reboot)' is not a disk device path"),
    ("/dev/md9:/dev/sdb", "'/dev/md9' is no mdcontainer entry of the layout (nor one of its volumes)"),
])
def test_malformed_settings(tree, setting, problem):
    layout = degraded_layout()
    error = _refused(tree, layout, layout_lines(layout), setting)
    assert error.subject == "MDCONTAINER_MISSING_DISKS"
    assert error.problem == problem


def test_parse_setting():
    assert missing.parse_setting(" /dev/md127:/dev/sdb\timsm1:/dev/sdc,/dev/disk/by-id/ata-X:1 ") == [
        ("/dev/md127", ("/dev/sdb",)), ("imsm1", ("/dev/sdc", "/dev/disk/by-id/ata-X:1"))]
    assert missing.parse_setting("") == []


def test_disk_users_match_the_disk_and_its_partitions_only():
    lines = ["disk /dev/sda 1 gpt", "part /dev/sda 1 1 x none /dev/sda1", "#part /dev/sdb 1 1 x none /dev/sdb1",
             "lvmdev /dev/vg /dev/nvme0n1p2 x 1", "raidarray /dev/md0 level=raid1 devices=/dev/sdab,/dev/sdc1"]
    assert missing.disk_users(lines, "/dev/sda") == ["part /dev/sda 1 1 x none /dev/sda1"]
    assert missing.disk_users(lines, "/dev/sdb") == []
    assert missing.disk_users(lines, "/dev/nvme0n1") == ["lvmdev /dev/vg /dev/nvme0n1p2 x 1"]
    assert missing.disk_users(lines, "/dev/sdc") == ["raidarray /dev/md0 level=raid1 devices=/dev/sdab,/dev/sdc1"]


# --- what is written --------------------------------------------------------------------------------


def test_the_filled_entries_and_a_disk_line_for_the_new_member(tree):
    layout = degraded_layout()
    lines = layout_lines(layout, f"#disk /dev/sdb {SIZE} gpt")
    fills, _ = _plan(tree, layout, lines, "/dev/md127:/dev/sdb")
    new = missing.apply(lines, layout, fills)
    assert new[:2] == lines[:2]
    assert new[2:5] == ["# rear-mdcontainer: /dev/sdb completes the degraded volume(s) of /dev/md127 "
                        "(MDCONTAINER_MISSING_DISKS)",
                        "# Format: disk <devname> <size(bytes)> <partition label type>",
                        f"disk /dev/sdb {SIZE} unknown"]
    filled = parse_layout(new)
    assert filled.containers[0].devices == ("/dev/sdb", "/dev/sda")  # the slot order of the volume
    assert filled.volumes[0].devices == ("/dev/sdb", "/dev/sda")
    assert filled.volumes[0] == raid1_volume(devices=("/dev/sdb", "/dev/sda"))
    assert new[-3:] == lines[-3:]
    plan_volumes(filled, filled.containers[0], grow_last=False)  # no missing slot left
    # A second run finds nothing to do:
    assert _plan(tree, filled, new, "/dev/md127:/dev/sdb") == (
        [], ["no volume misses a disk: MDCONTAINER_MISSING_DISKS is not used"])


def test_an_existing_disk_line_gets_the_size_of_the_disk_it_replaces(tree):
    layout = degraded_layout()
    lines = [f"disk /dev/sda {GIB + 8 * MIB} unknown", f"disk /dev/sdc {SIZE} msdos", *format_layout(layout)]
    fills, _ = _plan(tree, layout, lines)
    new = missing.apply(lines, layout, fills)
    assert new[1:3] == ["# rear-mdcontainer: /dev/sdc completes the degraded volume(s) of /dev/md127 "
                        f"({missing.FREE_ENTRY})", f"disk /dev/sdc {GIB + 8 * MIB} msdos"]


def test_a_disk_smaller_than_the_volumes_need_is_refused_even_if_the_original_was_larger(tree):
    (tree.sys / "sdc" / "size").write_text(f"{(GIB + 4 * MIB) // 512}\n", encoding="utf-8")
    layout = degraded_layout()
    lines = [f"disk /dev/sda {GIB + 8 * MIB} unknown", *format_layout(layout)]
    with pytest.raises(MdcError) as info:
        _plan(tree, layout, lines, "/dev/md127:/dev/sdc")
    assert info.value.problem == "/dev/sdc has 1028 MiB but the volumes need 1030 MiB on it"


# --- from the recorded degraded system to the code ------------------------------------------------


def test_recorded_degraded_fixture_is_recreated_complete(tmp_path, capsys, monkeypatch):
    """The fixture's volume lost its slot-0 disk; recovered onto sda (the survivor) and a blank sdb."""
    result = probe_layout(RecordedSource(str(DEGRADED)))
    assert result.layout.volumes[0].devices == (MISSING, "/dev/sda")
    assert result.layout.containers[0].devices == ("/dev/sda",)
    assert "MDCONTAINER_MISSING_DISKS" in result.warnings[0]
    lines = rewrite(["disk /dev/sda 536870912 unknown", "#disk /dev/sdb 536870912 gpt"], result.layout)
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tree = FakeTree(tmp_path / "root")
    tree.block("sda", "8:0", 512 * MIB)
    tree.block("sdb", "8:16", 512 * MIB)
    args = ["fill-missing", "--layout-file", str(layout_file)]
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tree.root))
    assert main(args) == 2
    assert "slot 0 has no disk" in capsys.readouterr().err
    assert main([*args, "--missing-disks", "/dev/md127:/dev/sdb"]) == 0
    out = capsys.readouterr().out
    assert out == ("mdvolume /dev/md126 was degraded when the layout was saved: slot(s) 0 get(s) /dev/sdb "
                   "(MDCONTAINER_MISSING_DISKS); it is recreated complete\n")
    new_lines = layout_file.read_text(encoding="utf-8").splitlines()
    filled = parse_layout(new_lines)
    assert filled.containers[0].devices == ("/dev/sdb", "/dev/sda")
    assert filled.volumes[0].devices == ("/dev/sdb", "/dev/sda")
    assert "disk /dev/sdb 536870912 unknown" in new_lines
    report = preflight(tree.system, filled, new_lines, None, no_platform=True)
    assert report[:2] == ["/dev/sdb (sdb): 512 MiB, 512 MiB needed", "/dev/sda (sda): 512 MiB, 512 MiB needed"]
    code = render_all(filled)
    assert "mdadm --create /dev/md127 --run --metadata=imsm --raid-devices=2 /dev/sdb /dev/sda >&2" in code
    assert ("mdadm --create /dev/md126 --run --level=raid1 --raid-devices=2 --size=518144 --name=Volume0 "
            "/dev/sdb /dev/sda >&2") in code


def test_a_failed_member_not_yet_removed_counts_as_missing(tmp_path):
    """sysfs of the imsm-raid1 fixture with the slot-0 member marked faulty (as md shows a failed disk)."""
    source = DEGRADED.parent / "imsm-raid1"
    copy = tmp_path / "imsm-raid1-failed"
    shutil.copytree(source, copy)
    data = json.loads((copy / "sysfs.json").read_text(encoding="utf-8"))
    data["md"]["md126"]["devs"]["dev-sdb"]["state"] = "faulty,external_bbl"
    (copy / "sysfs.json").write_text(json.dumps(data), encoding="utf-8")
    result = probe_layout(RecordedSource(str(copy)))
    volume = result.layout.volumes[0]
    assert volume.devices == (MISSING, "/dev/sda")
    # The container still lists the failed disk: it is the disk the recovery completes the volume with.
    assert result.layout.containers[0].devices == ("/dev/sda", "/dev/sdb")
    assert "failed: /dev/sdb" in result.warnings[0]
