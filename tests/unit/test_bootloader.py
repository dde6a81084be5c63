"""Where the boot loader goes when /boot is on a firmware RAID volume (bootloader.py, boot-volumes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rear_mdcontainer.bootloader import boot_volumes, members_named, native_boot_disks, parse_deps, volumes_below
from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Layout

from .helpers import ddf_layout, imsm_raid1_layout, two_volume_layout

# diskdeps.conf as ReaR 2.7's generate_layout_dependencies writes it (with the
# plugin's mdvolume -> mdcontainer -> disk edges) for / on md126p2, /boot on md126p1.
DEPS = """\
/dev/md126p1 /dev/md126
/dev/md126p2 /dev/md126
fs:/ /dev/md126p2
fs:/boot /dev/md126p1
fs:/boot fs:/
/dev/md127 /dev/sda
/dev/md127 /dev/sdb
/dev/md126 /dev/md127
"""


def write_inputs(tmp_path: Path, layout: Layout, deps: str) -> tuple[Path, Path]:
    """disklayout.conf with ``layout`` and diskdeps.conf with ``deps``, for the boot-volumes CLI."""
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(format_layout(layout)) + "\n")
    deps_file = tmp_path / "diskdeps.conf"
    deps_file.write_text(deps)
    return layout_file, deps_file


def test_parse_deps_skips_blank_and_comment_lines():
    assert parse_deps(["# x y", "", "a b", "c d e"]) == [("a", "b"), ("c", "d")]


def test_boot_on_the_volume():
    assert boot_volumes(imsm_raid1_layout(), parse_deps(DEPS.splitlines())) == ("/boot", ["/dev/md126"])


def test_without_boot_the_root_file_system_counts():
    deps = [pair for pair in parse_deps(DEPS.splitlines()) if not pair[0].startswith("fs:/boot")]
    assert boot_volumes(imsm_raid1_layout(), deps) == ("/", ["/dev/md126"])


def test_boot_on_a_plain_disk_is_not_ours_even_when_root_is():
    deps = parse_deps(DEPS.replace("fs:/boot /dev/md126p1", "fs:/boot /dev/sdc1\n/dev/sdc1 /dev/sdc").splitlines())
    assert boot_volumes(imsm_raid1_layout(), deps) == ("/boot", [])


def test_lvm_and_luks_between_the_file_system_and_the_volume_are_followed():
    deps = parse_deps([
        "/dev/md126p1 /dev/md126", "/dev/md126 /dev/md127", "/dev/md127 /dev/sda",
        "/dev/mapper/luks-1 /dev/md126p1", "pv:/dev/mapper/luks-1 /dev/mapper/luks-1",
        "/dev/vg0 pv:/dev/mapper/luks-1", "/dev/mapper/vg0-root /dev/vg0", "fs:/ /dev/mapper/vg0-root",
    ])
    assert volumes_below(imsm_raid1_layout(), deps, "fs:/") == ["/dev/md126"]


def test_the_walk_stops_at_the_volume_and_survives_cycles():
    layout = two_volume_layout()
    second = layout.volumes[1].device
    deps = parse_deps([f"fs:/boot {second}p1", f"{second}p1 {second}", f"{second} /dev/md127",
                       "/dev/md127 /dev/sda", "/dev/sda fs:/boot", "x y"])
    assert volumes_below(layout, deps, "fs:/boot") == [second]


def test_nothing_in_the_layout():
    assert boot_volumes(imsm_raid1_layout(), []) == (None, [])


def test_members_named():
    assert members_named(imsm_raid1_layout(), ["/dev/md126", "/dev/sdb", "/dev/sdc"]) == ["/dev/sdb"]


def test_cli_prints_volume_and_mount_point_and_warns_about_member_disks(tmp_path: Path, capsys):
    layout_file, deps_file = write_inputs(tmp_path, imsm_raid1_layout(), DEPS)
    rc = main(["boot-volumes", "--layout-file", str(layout_file), "--deps-file", str(deps_file),
               "--check-device", "/dev/sda", "--check-device", "/dev/md126"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert out == "/dev/md126 /boot\n"
    assert err == ("WARNING: /dev/sda is a member disk of a firmware RAID container: a boot loader written there "
                   "bypasses md (use the volume device /dev/md126)\n")
    rc = main(["boot-volumes", "--layout-file", str(layout_file), "--deps-file", str(deps_file),
               "--mountpoint", "/boot/efi"])
    assert rc == 0
    assert capsys.readouterr().out == ""


def test_native_boot_disks_are_the_raid1_members_in_slot_order():
    # Migrated to native md, GRUB cannot write through the array: it goes onto each member disk.
    assert native_boot_disks(imsm_raid1_layout(), ["/dev/md126"]) == ["/dev/sda", "/dev/sdb"]
    assert native_boot_disks(imsm_raid1_layout(), []) == []


def test_native_boot_disks_refuse_levels_no_member_disk_can_boot():
    raid0 = imsm_raid1_layout()
    raid0 = dataclasses.replace(raid0, volumes=tuple(dataclasses.replace(v, level="raid0") for v in raid0.volumes))
    with pytest.raises(MdcError) as raised:
        native_boot_disks(raid0, ["/dev/md126"])
    assert "native md raid0 array no BIOS can boot it from a member disk" in str(raised.value)
    assert "mdvolume /dev/md126" in str(raised.value)
    # two volumes in the container: the native arrays are on partitions of the disks
    with pytest.raises(MdcError, match="several volumes, so as a native md array it lives on partitions"):
        native_boot_disks(two_volume_layout(), ["/dev/md126"])
    with pytest.raises(MdcError):
        native_boot_disks(ddf_layout(), ["/dev/md126"])
    with pytest.raises(MdcError, match="is not an mdvolume"):
        native_boot_disks(imsm_raid1_layout(), ["/dev/md1"])


def test_cli_with_migrate_native_prints_the_member_disks(tmp_path: Path, capsys):
    layout_file, deps_file = write_inputs(tmp_path, imsm_raid1_layout(), DEPS)
    rc = main(["boot-volumes", "--layout-file", str(layout_file), "--deps-file", str(deps_file),
               "--migrate", "native"])
    assert rc == 0
    assert capsys.readouterr().out == "/dev/sda /boot\n/dev/sdb /boot\n"
    layout_file, deps_file = write_inputs(tmp_path, two_volume_layout(), DEPS.replace("/dev/md126", "/dev/md125"))
    rc = main(["boot-volumes", "--layout-file", str(layout_file), "--deps-file", str(deps_file),
               "--migrate", "native"])
    out, err = capsys.readouterr()
    # a warning, not an error: the recovery goes on (ReaR's own boot loader code decides)
    assert rc == 0 and out == ""
    assert err.startswith("WARNING: mdvolume /dev/md125") and "no BIOS boot code finds GRUB" in err
