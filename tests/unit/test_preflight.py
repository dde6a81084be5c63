"""Checks before the first write: disks, sizes, md names in use, platform, mdadm version."""

from __future__ import annotations

import pytest

from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.preflight import METADATA_RESERVE, check_container, disk_sizes, mdadm_version, needed_bytes, preflight
from rear_mdcontainer.system import Result

from .helpers import GIB, MIB, FakeTree, ddf_layout, imsm_container, imsm_raid1_layout, raid1_volume, two_volume_layout

LINES = ["disk /dev/sda 2147483648 gpt", "disk /dev/sdb 2147483648 gpt"]


@pytest.fixture
def tree(tmp_path):
    """Two blank 2 GiB disks and a foreign RAID1 (md0 on sdc1+sdd1)."""
    fake = FakeTree(tmp_path)
    fake.block("sda", "8:0")
    fake.block("sdb", "8:16")
    for disk, minor in (("sdc", 32), ("sdd", 48)):
        fake.block(disk, f"8:{minor}")
        fake.block(f"{disk}1", f"8:{minor + 1}", GIB, parent=disk)
    fake.md("md0", "9:0", "1.2", "clean", ("sdc1", "sdd1"))
    return fake


def _check(tree: FakeTree, layout: Layout, **kwargs) -> list[str]:
    options = {"original_sizes": {}, "no_platform": False}
    options.update(kwargs)
    return check_container(tree.system, layout, layout.containers[0], **options)


def _refused(tree: FakeTree, layout: Layout, **kwargs) -> MdcError:
    with pytest.raises(MdcError) as info:
        _check(tree, layout, **kwargs)
    assert info.value.fix
    return info.value


def _no_writes(tree: FakeTree) -> None:
    assert [c for c in tree.calls if c[:2] not in (("mdadm", "--version"), ("mdadm", "--detail-platform"))] == []


def test_all_well(tree):
    report = _check(tree, imsm_raid1_layout())
    assert report == [
        "/dev/sda (sda): 2048 MiB, 1030 MiB needed",
        "/dev/sdb (sdb): 2048 MiB, 1030 MiB needed",
        "IMSM platform present: Intel(R) Rapid Storage Technology; it allows the recorded volumes",
    ]
    assert tree.calls == [("mdadm", "--version"), ("mdadm", "--detail-platform", "--metadata=imsm")]


def test_missing_disk(tree):
    layout = Layout((imsm_container(("/dev/sda", "/dev/sdx")),), ())
    error = _refused(tree, layout)
    assert error.subject == "mdcontainer /dev/md127"
    assert error.problem == "member disk /dev/sdx does not exist"
    assert "disk mapping" in error.fix
    _no_writes(tree)


def test_too_small_disk_names_both_sizes(tree):
    (tree.sys / "sdb" / "size").write_text(f"{512 * MIB // 512}\n", encoding="utf-8")
    error = _refused(tree, imsm_raid1_layout())
    assert error.problem == "disk /dev/sdb has 512 MiB but the recorded volumes need 1030 MiB"
    assert "at least as large as the original" in error.fix


def test_a_disk_as_large_as_the_original_is_enough(tree):
    # The recorded volume and the reserve end 1 GiB + 6 MiB into the disk; the original disk had just 1 GiB + 1 MiB.
    (tree.sys / "sda" / "size").write_text(f"{(GIB + MIB) // 512}\n", encoding="utf-8")
    (tree.sys / "sdb" / "size").write_text(f"{(GIB + MIB) // 512}\n", encoding="utf-8")
    sizes = {"/dev/sda": GIB + MIB, "/dev/sdb": GIB + MIB}
    assert _check(tree, imsm_raid1_layout(), original_sizes=sizes)[0] == "/dev/sda (sda): 1025 MiB, 1025 MiB needed"
    assert _refused(tree, imsm_raid1_layout()).problem.startswith("disk /dev/sda has 1025 MiB")


def test_partition_instead_of_disk(tree):
    tree.block("sda1", "8:1", GIB, parent="sda")
    layout = Layout((imsm_container(("/dev/sda1", "/dev/sdb")),), ())
    error = _refused(tree, layout)
    assert error.problem == "/dev/sda1 is not a whole disk (sda1)"
    assert "own whole disks" in error.fix


def test_md_device_instead_of_disk(tree):
    layout = Layout((imsm_container(("/dev/md0", "/dev/sdb")),), ())
    assert _refused(tree, layout).problem == "/dev/md0 is not a whole disk (md0)"


def test_md_name_held_by_an_array_on_foreign_disks_is_refused(tree):
    tree.md("md126", "9:126", "1.2", "clean", ("sdc1", "sdd1"))
    error = _refused(tree, imsm_raid1_layout())
    assert error.problem == "/dev/md126 is already in use by another array (/dev/sdc1, /dev/sdd1)"
    assert error.fix.startswith("stop it with 'mdadm --stop /dev/md126'")
    _no_writes(tree)


def test_container_name_held_by_an_array_on_foreign_disks_is_refused(tree):
    tree.md("md127", "9:127", "external:ddf", "inactive", ("sdc", "sdd"))
    error = _refused(tree, imsm_raid1_layout())
    assert error.problem == "/dev/md127 is already in use by another array (/dev/sdc, /dev/sdd)"


def test_md_names_held_by_old_arrays_on_our_disks_are_allowed(tree):
    tree.md("md127", "9:127", "external:imsm", "inactive", ("sda", "sdb"), 0)
    tree.md("md126", "9:126", "external:/md127/0", "read-auto", ("sda", "sdb"))
    report = _check(tree, imsm_raid1_layout())
    assert "/dev/md127 is an old array on our disks and will be stopped" in report
    assert "/dev/md126 is an old array on our disks and will be stopped" in report


def test_stopped_arrays_do_not_hold_names(tree):
    tree.md("md126", "9:126", "1.2", "clear", ())
    assert _check(tree, imsm_raid1_layout())[-1].startswith("IMSM platform present")


def test_disk_in_use_is_refused(tree):
    tree.block("sda1", "8:1", GIB, parent="sda")
    tree.mount("sda1", "/boot")
    error = _refused(tree, imsm_raid1_layout())
    assert error.problem == "/dev/sda1 is mounted on /boot"


def test_imsm_without_platform_is_refused_unless_no_platform(tree):
    tree.platform = False
    error = _refused(tree, imsm_raid1_layout(), no_platform=False)
    assert "no Intel RST/VROC platform" in error.problem
    assert "MDCONTAINER_IMSM_NO_PLATFORM=yes" in error.fix
    tree.calls.clear()
    report = _check(tree, imsm_raid1_layout(), no_platform=True)
    assert report[-1] == "IMSM platform check skipped (IMSM_NO_PLATFORM=1)"
    assert ("mdadm", "--detail-platform", "--metadata=imsm") not in tree.calls


def test_ddf_needs_no_platform(tree):
    tree.platform = False
    layout = ddf_layout()
    report = check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=False)
    assert [c for c in tree.calls if c[:2] == ("mdadm", "--detail-platform")] == []
    assert len(report) == 4  # one line per disk, nothing about a platform


@pytest.mark.parametrize("version", ["mdadm - v3.1.4 - 31st August 2010", "mdadm - v2.6.9 - 10th March 2009"])
def test_old_mdadm_is_refused(tree, version):
    tree.mdadm_version = version
    error = _refused(tree, imsm_raid1_layout())
    assert error.problem == "mdadm is older than 3.2 and cannot create IMSM/DDF containers reliably"


def test_mdadm_version(tree):
    assert mdadm_version(tree.system) == (4, 2)
    tree.mdadm_version = "mdadm - v3.2 - 1st February 2011"
    assert mdadm_version(tree.system) == (3, 2)
    tree.results[("mdadm", "--version")] = Result(127, "", "mdadm: command not found\n")
    with pytest.raises(MdcError) as info:
        mdadm_version(tree.system)
    assert info.value.subject == "mdadm"
    assert "REQUIRED_PROGS" in info.value.fix


def test_degraded_volume_is_refused_before_anything_is_looked_at(tree):
    volume = raid1_volume(devices=("/dev/sda", "missing"))
    error = _refused(tree, Layout((imsm_container(),), (volume,)))
    assert error.subject == "mdvolume /dev/md126"
    assert "slot 1 has no disk" in error.problem
    assert tree.calls == []


def test_preflight_checks_the_named_containers(tree):
    layout = imsm_raid1_layout()
    report = preflight(tree.system, layout, LINES, ["/dev/md127"], no_platform=True)
    assert report[0] == "/dev/sda (sda): 2048 MiB, 1030 MiB needed"
    with pytest.raises(MdcError) as info:
        preflight(tree.system, layout, LINES, ["/dev/md127", "/dev/md9"], no_platform=True)
    assert info.value.message.startswith("mdcontainer /dev/md9: there is no such entry in the layout file")


def test_preflight_uses_the_original_disk_sizes(tree):
    (tree.sys / "sda" / "size").write_text(f"{(GIB + MIB) // 512}\n", encoding="utf-8")
    layout = imsm_raid1_layout()
    with pytest.raises(MdcError):
        preflight(tree.system, layout, [], None, no_platform=True)
    lines = ["disk /dev/sda 1074790400 gpt", "disk /dev/sdb 2147483648 gpt"]
    assert preflight(tree.system, layout, lines, None, no_platform=True)[0] == "/dev/sda (sda): 1025 MiB, 1025 MiB needed"


# --- sizes -----------------------------------------------------------------------------------

def test_disk_sizes():
    lines = ["# Disk /dev/sda", "disk /dev/sda 2147483648 gpt", "disk /dev/sdb 1073741824", "disk /dev/sdc unknown",
             "#disk /dev/sdd 5 gpt", "disk /dev/sde ²³ gpt", "part /dev/sda 1048576 1048576 x none /dev/sda1", "disk"]
    assert disk_sizes(lines) == {"/dev/sda": 2147483648, "/dev/sdb": 1073741824}


def test_needed_bytes_one_volume():
    layout = imsm_raid1_layout(size_kib=1048576)
    container = layout.containers[0]
    assert needed_bytes(layout, container, "/dev/sda", None) == GIB + METADATA_RESERVE["imsm"]
    assert needed_bytes(layout, container, "/dev/sda", GIB) == GIB


def test_needed_bytes_two_volumes_with_offsets():
    layout = two_volume_layout()  # member 1 starts at sector 2101248, 512 MiB per disk
    container = layout.containers[0]
    end = 2101248 * 512 + 524288 * 1024
    assert needed_bytes(layout, container, "/dev/sdb", None) == end + METADATA_RESERVE["imsm"]
    assert needed_bytes(layout, container, "/dev/sdb", 2 * GIB) == end + METADATA_RESERVE["imsm"]
    assert needed_bytes(layout, container, "/dev/sdb", end) == end


def test_needed_bytes_without_offsets_puts_volumes_one_after_the_other():
    container = imsm_container()
    first = raid1_volume(size_kib=1000, offset=None)
    second = Volume(device="/dev/md125", container="/dev/md127", member=1, level="raid0", raid_devices=2,
                    devices=("/dev/sda", "/dev/sdb"), size_kib=3000, name="B", metadata="imsm")
    layout = Layout((container,), (second, first))
    assert needed_bytes(layout, container, "/dev/sda", None) == 4000 * 1024 + METADATA_RESERVE["imsm"]


def test_needed_bytes_for_a_spare_and_ddf():
    container = Container(device="/dev/md127", metadata="ddf", devices=("/dev/sda", "/dev/sdb", "/dev/sdc"))
    volume = Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=2,
                    devices=("/dev/sda", "/dev/sdb"), size_kib=1024, name="v", metadata="ddf")
    layout = Layout((container,), (volume,))
    assert needed_bytes(layout, container, "/dev/sda", None) == MIB + 32 * MIB
    assert needed_bytes(layout, container, "/dev/sdc", None) == 32 * MIB
