"""Where the boot loader goes when /boot is on a firmware RAID volume (bootloader.py, boot-volumes)."""

from __future__ import annotations

from pathlib import Path

from rear_mdcontainer.bootloader import boot_volumes, members_named, parse_deps, volumes_below
from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout

from .helpers import imsm_raid1_layout, two_volume_layout

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
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(format_layout(imsm_raid1_layout())) + "\n")
    deps_file = tmp_path / "diskdeps.conf"
    deps_file.write_text(DEPS)
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
