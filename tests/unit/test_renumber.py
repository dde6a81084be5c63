"""Free md names when unrelated arrays in the rescue system hold the recorded ones."""

from __future__ import annotations

from rear_mdcontainer import renumber
from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout

from .helpers import MIB, FakeTree, imsm_raid1_layout

LAYOUT_LINES = [
    "# Format: mdcontainer ...",
    *format_layout(imsm_raid1_layout()),
    "raiddisk /dev/md126 1073741824 gpt",
    "part /dev/md126 104857600 1048576 rear-noname boot /dev/md126p1",
    "part /dev/md126 104857600 105906176 rear-noname none /dev/md126p2",
    "fs /dev/md126p1 / ext4 uuid=0 label=root options=rw",
    "lvmdev /dev/vg0 /dev/md126p2 abc 1000",
    "#fs /dev/md1260 /old ext4",
    "raidarray /dev/md125 level=raid1 raid-devices=2 devices=/dev/sdc1,/dev/sdd1",
    "# Software RAID /dev/md126 (mdadm --detail /dev/md126)",
]


def _tree(tmp_path, foreign_md: str) -> FakeTree:
    tree = FakeTree(tmp_path)
    for disk, minor in (("sda", 0), ("sdb", 16), ("sdc", 32), ("sdd", 48)):
        tree.block(disk, f"8:{minor}")
    tree.block("sdc1", "8:33", 512 * MIB, parent="sdc")
    tree.block("sdd1", "8:49", 512 * MIB, parent="sdd")
    # an unrelated array, assembled by udev in the rescue system under our volume's number
    tree.md(foreign_md, "9:126", "1.2", "clean", ("sdc1", "sdd1"))
    return tree


def test_names_held_by_unrelated_arrays_are_replaced(tmp_path):
    tree = _tree(tmp_path, "md126")
    mapping = renumber.plan(tree.system, imsm_raid1_layout(), LAYOUT_LINES)
    # md125 is used by the layout, md126 and md127 are ours: the highest free number is md124
    assert mapping == {"/dev/md126": "/dev/md124"}
    new = renumber.apply(LAYOUT_LINES, mapping)
    assert new[1] == LAYOUT_LINES[1]  # the container keeps its name
    assert new[2].startswith("mdvolume /dev/md124 container=/dev/md127 member=0 ")
    assert new[3:8] == [
        "raiddisk /dev/md124 1073741824 gpt",
        "part /dev/md124 104857600 1048576 rear-noname boot /dev/md124p1",
        "part /dev/md124 104857600 105906176 rear-noname none /dev/md124p2",
        "fs /dev/md124p1 / ext4 uuid=0 label=root options=rw",
        "lvmdev /dev/vg0 /dev/md124p2 abc 1000",
    ]
    assert new[8] == "#fs /dev/md1260 /old ext4"  # another device that only starts the same
    assert new[9:] == LAYOUT_LINES[9:]  # other arrays and comment text unchanged


def test_old_copies_of_our_arrays_keep_their_names(tmp_path):
    tree = FakeTree(tmp_path)
    for disk, minor in (("sda", 0), ("sdb", 16)):
        tree.block(disk, f"8:{minor}")
    tree.md("md127", "9:127", "external:imsm", "inactive", ("sda", "sdb"), 0)
    tree.md("md126", "9:126", "external:/md127/0", "active", ("sda", "sdb"))
    assert renumber.plan(tree.system, imsm_raid1_layout(), LAYOUT_LINES) == {}


def test_cli_rewrites_the_layout_file(tmp_path, capsys, monkeypatch):
    _tree(tmp_path / "root", "md127")
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(LAYOUT_LINES) + "\n", encoding="utf-8")
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tmp_path / "root"))
    assert main(["renumber", "--layout-file", str(layout_file)]) == 0
    text = layout_file.read_text(encoding="utf-8")
    assert "mdcontainer /dev/md124 metadata=imsm" in text
    assert "container=/dev/md124 member=0" in text
    out = capsys.readouterr().out
    assert out == "/dev/md127 is used by another array in this system: recreating it as /dev/md124\n"


def test_nothing_to_do_leaves_the_file_alone(tmp_path, monkeypatch):
    FakeTree(tmp_path / "root")
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(LAYOUT_LINES) + "\n", encoding="utf-8")
    before = layout_file.stat().st_mtime_ns
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tmp_path / "root"))
    assert main(["renumber", "--layout-file", str(layout_file)]) == 0
    assert layout_file.stat().st_mtime_ns == before


def _two_containers(tmp_path) -> tuple[FakeTree, object]:
    from rear_mdcontainer.model import Container, Layout, Volume

    tree = FakeTree(tmp_path)
    for disk, minor in (("sda", 0), ("sdb", 16), ("sdc", 32), ("sdd", 48), ("sde", 64)):
        tree.block(disk, f"8:{minor}")
    imsm = Container(device="/dev/md127", metadata="imsm", devices=("/dev/sda", "/dev/sdb"))
    ddf = Container(device="/dev/md125", metadata="ddf", devices=("/dev/sdc", "/dev/sdd"))
    volumes = (
        Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=2,
               devices=("/dev/sda", "/dev/sdb"), size_kib=1024, name="Sys", metadata="imsm"),
        Volume(device="/dev/md124", container="/dev/md125", member=0, level="raid1", raid_devices=2,
               devices=("/dev/sdc", "/dev/sdd"), size_kib=1024, name="Data", metadata="ddf"),
    )
    return tree, Layout((imsm, ddf), volumes)


def test_an_old_array_of_another_container_of_the_layout_is_stopped_for_its_name(tmp_path):
    from rear_mdcontainer.preflight import preflight
    from rear_mdcontainer.teardown import free_md_names

    tree, layout = _two_containers(tmp_path)
    # At boot udev gave the old DDF container (on sdc+sdd) the IMSM container's number.
    tree.md("md127", "9:127", "external:ddf", "inactive", ("sdc", "sdd"), 0)
    tree.md("md123", "9:123", "external:/md127/0", "active", ("sdc", "sdd"))
    report = preflight(tree.system, layout, [], ["/dev/md127"], no_platform=True)
    assert "/dev/md127 is an old array on our disks and will be stopped" in report
    assert renumber.plan(tree.system, layout, []) == {}
    done = free_md_names(tree.system, ["md127", "md126"], ["sda", "sdb", "sdc", "sdd"])
    stops = [c for c in tree.calls if c[:2] == ("mdadm", "--stop")]
    assert stops == [("mdadm", "--stop", "/dev/md123"), ("mdadm", "--stop", "/dev/md127")]
    assert not [c for c in tree.calls if c[0] in ("wipefs",) or "--zero-superblock" in c]
    assert done


def test_a_name_held_by_an_array_on_other_disks_is_never_stopped(tmp_path):
    import pytest

    from rear_mdcontainer.errors import MdcError
    from rear_mdcontainer.teardown import free_md_names

    tree, _layout = _two_containers(tmp_path)
    tree.md("md127", "9:127", "1.2", "clean", ("sde",))
    with pytest.raises(MdcError) as info:
        free_md_names(tree.system, ["md127"], ["sda", "sdb", "sdc", "sdd"])
    assert "is in use by an array on /dev/sde" in info.value.problem
    assert not [c for c in tree.calls if c[:2] == ("mdadm", "--stop")]
