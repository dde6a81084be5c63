"""Rewriting an upstream disklayout.conf: generic md lines out, mdcontainer/mdvolume entries in."""

from __future__ import annotations

import os
import stat

import pytest

from rear_mdcontainer import disklayout
from rear_mdcontainer.disklayout import rewrite, rewrite_file
from rear_mdcontainer.entries import CONTAINER_FORMAT, VOLUME_FORMAT, format_container, format_volume, parse_layout
from rear_mdcontainer.model import Layout

from .helpers import UUID_C, UUID_V0, imsm_raid1_layout, two_volume_layout

RAID_FORMAT = ("# Format: raidarray /dev/<kernel RAID device> level=<RAID level> raid-devices=<nr of active devices> "
               "devices=<component device1,component device2,...> [name=<array name>] [metadata=<metadata style>] "
               "[uuid=<UUID>] [layout=<data layout>] [chunk=<chunk size>] [spare-devices=<nr of spare devices>] "
               "[size=<container size>]")
RAIDDISK_FORMAT = "# Format: raiddisk <devname> <size(bytes)> <partition label type>"
PART_FORMAT = ("# Format: part <device> <partition size(bytes)> <partition start(bytes)> <partition type|name> <flags> "
               "/dev/<partition>")
NATIVE_UUID = "8d05eb84:2de831d1:dfed54b2:ad592118"
BLANK = " "  # upstream leaves a blank at the end of a raiddisk line without label type

# The member disks sda and sdb as ReaR (2.6 and 2.7 alike) writes them: the volume's GPT seen at LBA 0.
MEMBER_DISKS = f"""\
# Disk /dev/sda
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sda 2147483648 gpt
# Partitions on /dev/sda
{PART_FORMAT}
part /dev/sda 1048576 1048576 rear-noname bios_grub /dev/sda1
part /dev/sda 2142240768 2097152 rear-noname none /dev/sda2
# Disk /dev/sdb
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdb 2147483648 gpt
# Partitions on /dev/sdb
{PART_FORMAT}
part /dev/sdb 1048576 1048576 rear-noname bios_grub /dev/sdb1
part /dev/sdb 2142240768 2097152 rear-noname none /dev/sdb2"""

# What ReaR 2.7 writes for an IMSM RAID1 volume md126 (GPT: bios_grub + root) in container md127 on
# sda+sdb, and a native RAID1 md0 on sdc1+sdd1 (trailing blanks as upstream's echo leaves them).
UPSTREAM = f"""\
# Disk layout dated 20240217191350 (YYYYmmddHHMMSS)
# NAME            KNAME      PKNAME     TRAN TYPE  FSTYPE          LABEL SIZE MOUNTPOINT
# /dev/sda        /dev/sda              sata disk  isw_raid_member         2G
# |-/dev/md126    /dev/md126 /dev/sda        raid1                         2G
# `-/dev/md127    /dev/md127 /dev/sda        md                            0B
{MEMBER_DISKS}
# Disk /dev/sdc
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdc 1073741824 msdos
# Partitions on /dev/sdc
{PART_FORMAT}
part /dev/sdc 1072693248 1048576 primary raid /dev/sdc1
# Disk /dev/sdd
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdd 1073741824 msdos
# Partitions on /dev/sdd
{PART_FORMAT}
part /dev/sdd 1072693248 1048576 primary raid /dev/sdd1
# Software RAID devices (mdadm --detail --scan --config=partitions)
# ARRAY /dev/md/imsm0 metadata=imsm UUID={UUID_C}
# ARRAY /dev/md/Volume0_0 container=/dev/md/imsm0 member=0 UUID={UUID_V0}
# ARRAY /dev/md/0 metadata=1.2 name=bookworm:0 UUID={NATIVE_UUID}
# Software RAID imsm0 device /dev/md127 (mdadm --misc --detail /dev/md127)
# /dev/md127:
#            Version : imsm
#         Raid Level : container
#      Total Devices : 2
# RAID device /dev/md127
{RAID_FORMAT}
raidarray /dev/md127 level=container raid-devices=2 devices=/dev/sda,/dev/sdb name=imsm0 metadata=imsm uuid={UUID_C}
# RAID disk /dev/md127
{RAIDDISK_FORMAT}
raiddisk /dev/md127 0{BLANK}
# Partitions on /dev/md127
{PART_FORMAT}
# Software RAID Volume0_0 device /dev/md126 (mdadm --misc --detail /dev/md126)
# /dev/md126:
#          Container : /dev/md/imsm0, member 0
#         Raid Level : raid1
# RAID device /dev/md126
{RAID_FORMAT}
raidarray /dev/md126 level=raid1 raid-devices=2 devices=/dev/md127 name=Volume0_0 uuid={UUID_V0} size=1048576
# RAID disk /dev/md126
{RAIDDISK_FORMAT}
raiddisk /dev/md126 1073741824 gpt
# Partitions on /dev/md126
{PART_FORMAT}
part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1
part /dev/md126 1070596096 2097152 rear-noname none /dev/md126p2
# Software RAID 0 device /dev/md0 (mdadm --misc --detail /dev/md0)
# /dev/md0:
#            Version : 1.2
# RAID device /dev/md0
{RAID_FORMAT}
raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sdc1,/dev/sdd1 name=0 metadata=1.2 uuid={NATIVE_UUID}
# RAID disk /dev/md0
{RAIDDISK_FORMAT}
raiddisk /dev/md0 1071644672{BLANK}
# Partitions on /dev/md0
{PART_FORMAT}
# Filesystems (only ext2,ext3,ext4,vfat,xfs,reiserfs,btrfs are supported).
# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]
fs /dev/md126p2 / ext4 uuid=0f4b6d8e-1e7c-4f0a-9f55-0a4d8bd2e5b1 label= blocksize=4096 reserved_blocks=5% max_mounts=-1
fs /dev/md0 /srv ext4 uuid=5b0a3c1e-8f2d-4e6b-a7c9-1d3e5f7a9b0c label=srv blocksize=4096 reserved_blocks=5%
"""

CONTAINER_ENTRY = f"mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb name=imsm0 uuid={UUID_C}"
VOLUME_ENTRY = (f"mdvolume /dev/md126 container=/dev/md127 member=0 level=raid1 raid-devices=2 devices=/dev/sda,/dev/sdb "
                f"size=1048576 name=Volume0 array-size=1048576 uuid={UUID_V0} offset=0")

EXPECTED = f"""\
# Disk layout dated 20240217191350 (YYYYmmddHHMMSS)
# NAME            KNAME      PKNAME     TRAN TYPE  FSTYPE          LABEL SIZE MOUNTPOINT
# /dev/sda        /dev/sda              sata disk  isw_raid_member         2G
# |-/dev/md126    /dev/md126 /dev/sda        raid1                         2G
# `-/dev/md127    /dev/md127 /dev/sda        md                            0B
# Disk /dev/sda
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sda 2147483648 gpt
# Partitions on /dev/sda
{PART_FORMAT}
# Disk /dev/sdb
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdb 2147483648 gpt
# Partitions on /dev/sdb
{PART_FORMAT}
# Disk /dev/sdc
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdc 1073741824 msdos
# Partitions on /dev/sdc
{PART_FORMAT}
part /dev/sdc 1072693248 1048576 primary raid /dev/sdc1
# Disk /dev/sdd
# Format: disk <devname> <size(bytes)> <partition label type>
disk /dev/sdd 1073741824 msdos
# Partitions on /dev/sdd
{PART_FORMAT}
part /dev/sdd 1072693248 1048576 primary raid /dev/sdd1
# Software RAID devices (mdadm --detail --scan --config=partitions)
# ARRAY /dev/md/imsm0 metadata=imsm UUID={UUID_C}
# ARRAY /dev/md/Volume0_0 container=/dev/md/imsm0 member=0 UUID={UUID_V0}
# ARRAY /dev/md/0 metadata=1.2 name=bookworm:0 UUID={NATIVE_UUID}
# Software RAID imsm0 device /dev/md127 (mdadm --misc --detail /dev/md127)
# /dev/md127:
#            Version : imsm
#         Raid Level : container
#      Total Devices : 2
# Firmware RAID container /dev/md127 (imsm)
{CONTAINER_FORMAT}
{CONTAINER_ENTRY}
# Partitions on /dev/md127
{PART_FORMAT}
# Software RAID Volume0_0 device /dev/md126 (mdadm --misc --detail /dev/md126)
# /dev/md126:
#          Container : /dev/md/imsm0, member 0
#         Raid Level : raid1
# Firmware RAID volume /dev/md126 (member 0 of /dev/md127)
{VOLUME_FORMAT}
{VOLUME_ENTRY}
# RAID disk /dev/md126
{RAIDDISK_FORMAT}
raiddisk /dev/md126 1073741824 gpt
# Partitions on /dev/md126
{PART_FORMAT}
part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1
part /dev/md126 1070596096 2097152 rear-noname none /dev/md126p2
# Software RAID 0 device /dev/md0 (mdadm --misc --detail /dev/md0)
# /dev/md0:
#            Version : 1.2
# RAID device /dev/md0
{RAID_FORMAT}
raidarray /dev/md0 level=raid1 raid-devices=2 devices=/dev/sdc1,/dev/sdd1 name=0 metadata=1.2 uuid={NATIVE_UUID}
# RAID disk /dev/md0
{RAIDDISK_FORMAT}
raiddisk /dev/md0 1071644672{BLANK}
# Partitions on /dev/md0
{PART_FORMAT}
# Filesystems (only ext2,ext3,ext4,vfat,xfs,reiserfs,btrfs are supported).
# Format: fs <device> <mountpoint> <fstype> [uuid=<uuid>] [label=<label>] [<attributes>]
fs /dev/md126p2 / ext4 uuid=0f4b6d8e-1e7c-4f0a-9f55-0a4d8bd2e5b1 label= blocksize=4096 reserved_blocks=5% max_mounts=-1
fs /dev/md0 /srv ext4 uuid=5b0a3c1e-8f2d-4e6b-a7c9-1d3e5f7a9b0c label=srv blocksize=4096 reserved_blocks=5%
"""


def _layout() -> Layout:
    return imsm_raid1_layout(size_kib=1048576)


def _rewrite(text: str, layout: Layout) -> str:
    return "\n".join(rewrite(text.splitlines(), layout)) + "\n"


def test_rewrite_gives_the_expected_file():
    assert _rewrite(UPSTREAM, _layout()) == EXPECTED


def test_rewrite_replaces_container_and_volume_lines_by_our_entries():
    lines = rewrite(UPSTREAM.splitlines(), _layout())
    assert not [line for line in lines if line.startswith(("raidarray /dev/md127", "raidarray /dev/md126"))]
    assert lines.count(CONTAINER_ENTRY) == 1
    assert lines.count(VOLUME_ENTRY) == 1
    assert lines[lines.index(CONTAINER_ENTRY) - 1] == CONTAINER_FORMAT
    assert lines[lines.index(VOLUME_ENTRY) - 1] == VOLUME_FORMAT
    assert lines.index(CONTAINER_ENTRY) < lines.index(VOLUME_ENTRY)


def test_rewrite_drops_the_container_raiddisk_and_its_comments():
    lines = rewrite(UPSTREAM.splitlines(), _layout())
    assert not [line for line in lines if line.startswith("raiddisk /dev/md127")]
    assert "# RAID disk /dev/md127" not in lines
    assert "# RAID device /dev/md127" not in lines
    assert "# RAID device /dev/md126" not in lines


def test_rewrite_keeps_volume_raiddisk_and_part_lines():
    lines = rewrite(UPSTREAM.splitlines(), _layout())
    assert "raiddisk /dev/md126 1073741824 gpt" in lines
    assert "part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1" in lines
    assert "part /dev/md126 1070596096 2097152 rear-noname none /dev/md126p2" in lines


def test_rewrite_drops_raw_member_part_lines_and_keeps_member_disk_lines():
    lines = rewrite(UPSTREAM.splitlines(), _layout())
    assert not [line for line in lines if line.startswith(("part /dev/sda ", "part /dev/sdb "))]
    assert "disk /dev/sda 2147483648 gpt" in lines
    assert "disk /dev/sdb 2147483648 gpt" in lines


def test_rewrite_keeps_native_md_and_foreign_lines_byte_identical():
    lines = rewrite(UPSTREAM.splitlines(), _layout())
    for line in UPSTREAM.splitlines():
        if "md0" in line or "sdc" in line or "sdd" in line or line.startswith("fs "):
            assert line in lines, line
    assert "raiddisk /dev/md0 1071644672 " in lines  # the trailing blank too


def test_rewrite_is_deterministic():
    assert rewrite(UPSTREAM.splitlines(), _layout()) == rewrite(UPSTREAM.splitlines(), _layout())


def test_rewrite_twice_changes_nothing():
    once = rewrite(UPSTREAM.splitlines(), _layout())
    twice = rewrite(once, _layout())
    assert twice == once


def test_rewrite_twice_with_appended_entries_changes_nothing():
    text = "disk /dev/sda 2147483648 gpt\ndisk /dev/sdb 2147483648 gpt\n"
    once = rewrite(text.splitlines(), two_volume_layout())
    assert rewrite(once, two_volume_layout()) == once


def test_rewrite_replaces_an_earlier_entry_when_the_model_changed():
    once = rewrite(UPSTREAM.splitlines(), _layout())
    renamed = imsm_raid1_layout(name="Renamed", size_kib=1048576)
    again = rewrite(once, renamed)
    assert [line for line in again if line.startswith("mdvolume ")] == [VOLUME_ENTRY.replace("Volume0", "Renamed")]
    assert len(again) == len(once)


def test_rewrite_appends_entries_missing_from_the_file():
    text = "disk /dev/sda 2147483648 gpt\ndisk /dev/sdb 2147483648 gpt\nfs /dev/md126p2 / ext4\n"
    layout = two_volume_layout()
    lines = rewrite(text.splitlines(), layout)
    assert lines[:3] == text.splitlines()
    assert lines[3].startswith("# Firmware RAID containers and volumes (rear-mdcontainer)")
    entries = [line for line in lines if not line.startswith("#")][3:]
    assert entries == [format_container(layout.containers[0]), format_volume(layout.volumes[0]),
                       format_volume(layout.volumes[1])]
    assert parse_layout(lines) == layout


def test_rewrite_appends_only_what_is_missing():
    text = UPSTREAM.replace("raidarray /dev/md126", "#raidarray-gone /dev/md126")
    lines = rewrite(text.splitlines(), _layout())
    assert lines.count(CONTAINER_ENTRY) == 1
    assert lines.count(VOLUME_ENTRY) == 1
    assert lines[-1] == VOLUME_ENTRY
    assert lines.index(CONTAINER_ENTRY) < lines.index(VOLUME_ENTRY)


def test_rewrite_with_empty_model_changes_nothing():
    assert rewrite(UPSTREAM.splitlines(), Layout()) == UPSTREAM.splitlines()


def test_rewrite_result_parses_back_to_the_model():
    assert parse_layout(rewrite(UPSTREAM.splitlines(), _layout())) == _layout()


# --- rewrite_file -----------------------------------------------------------------------------

def _write(tmp_path, text: str, mode: int = 0o640):
    path = tmp_path / "disklayout.conf"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def test_rewrite_file_writes_the_rewritten_lines_and_keeps_the_mode(tmp_path):
    path = _write(tmp_path, UPSTREAM, 0o600)
    rewrite_file(str(path), _layout())
    assert path.read_text(encoding="utf-8") == EXPECTED
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disklayout.conf"]


def test_rewrite_file_keeps_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "disklayout.conf"
    path.write_bytes(b"# Disk /dev/sda caf\xe9 label\n" + UPSTREAM.encode("utf-8"))
    rewrite_file(str(path), _layout())
    data = path.read_bytes()
    assert data.startswith(b"# Disk /dev/sda caf\xe9 label\n")
    assert data[len(b"# Disk /dev/sda caf\xe9 label\n"):] == EXPECTED.encode("utf-8")


def test_rewrite_file_replaces_via_a_temporary_file_in_the_same_directory(tmp_path, monkeypatch):
    path = _write(tmp_path, UPSTREAM)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), str(dst)))
        assert open(src, encoding="utf-8").read() == EXPECTED
        assert path.read_text(encoding="utf-8") == UPSTREAM  # not touched before the rename
        real_replace(src, dst)

    monkeypatch.setattr(disklayout.os, "replace", spy)
    rewrite_file(str(path), _layout())
    assert len(seen) == 1
    assert seen[0][0] == str(tmp_path)
    assert seen[0][1].startswith(".disklayout.")
    assert seen[0][2] == str(path)


def test_rewrite_file_leaves_the_original_when_the_rename_fails(tmp_path, monkeypatch):
    path = _write(tmp_path, UPSTREAM)

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(disklayout.os, "replace", broken)
    with pytest.raises(OSError):
        rewrite_file(str(path), _layout())
    assert path.read_text(encoding="utf-8") == UPSTREAM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disklayout.conf"]


def test_rewrite_file_leaves_the_original_when_rewriting_fails(tmp_path, monkeypatch):
    path = _write(tmp_path, UPSTREAM)

    def broken(lines, layout, platform=None, fake_raid=None):
        raise KeyError("/dev/md126")

    monkeypatch.setattr(disklayout, "rewrite", broken)
    with pytest.raises(KeyError):
        rewrite_file(str(path), _layout())
    assert path.read_text(encoding="utf-8") == UPSTREAM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disklayout.conf"]


def test_rewrite_file_leaves_the_original_when_chmod_fails(tmp_path, monkeypatch):
    path = _write(tmp_path, UPSTREAM)

    def broken(target, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(disklayout.os, "chmod", broken)
    with pytest.raises(PermissionError):
        rewrite_file(str(path), _layout())
    assert path.read_text(encoding="utf-8") == UPSTREAM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disklayout.conf"]


def test_rewrite_file_twice_is_stable(tmp_path):
    path = _write(tmp_path, UPSTREAM)
    rewrite_file(str(path), _layout())
    first = path.read_bytes()
    rewrite_file(str(path), _layout())
    assert path.read_bytes() == first


# What ReaR 2.6 (Debian bullseye, recorded in the VM) writes for the same arrays: 'raid' lines without
# comments and without 'raiddisk' lines; the volume's partitions follow its line.
UPSTREAM_26 = f"""\
{MEMBER_DISKS}
raid /dev/md127 metadata=imsm level=container raid-devices= uuid={UUID_C} name=imsm0 devices=/dev/sda,/dev/sdb
raid /dev/md126 metadata= level=raid1 raid-devices=2 uuid={UUID_V0} name=Volume0 devices=/dev/sda,/dev/sdb
part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1
part /dev/md126 1070596096 2097152 rear-noname none /dev/md126p2
raid /dev/md0 metadata=1.2 level=raid1 raid-devices=2 uuid={NATIVE_UUID} name=0 devices=/dev/sdc1,/dev/sdd1
fs /dev/md126p2 / ext4 uuid=0f4b6d8e-1e7c-4f0a-9f55-0a4d8bd2e5b1 label= blocksize=4096 reserved_blocks=5% max_mounts=-1
"""


def test_rewrite_replaces_rear_2_6_raid_lines_and_keeps_native_ones():
    lines = rewrite(UPSTREAM_26.splitlines(), _layout())
    assert not [line for line in lines if line.startswith(("raid /dev/md127 ", "raid /dev/md126 "))]
    assert not [line for line in lines if line.startswith(("part /dev/sda ", "part /dev/sdb "))]
    assert lines.count(CONTAINER_ENTRY) == 1
    assert lines.count(VOLUME_ENTRY) == 1
    # the volume's partitions stay where they were, after its entry; the native array is ReaR's
    assert lines.index(VOLUME_ENTRY) < lines.index("part /dev/md126 1048576 1048576 rear-noname bios_grub /dev/md126p1")
    assert [line for line in lines if line.startswith("raid ")] == [
        f"raid /dev/md0 metadata=1.2 level=raid1 raid-devices=2 uuid={NATIVE_UUID} name=0 devices=/dev/sdc1,/dev/sdd1"]
    assert rewrite(lines, _layout()) == lines
    assert parse_layout(lines).volumes == _layout().volumes
