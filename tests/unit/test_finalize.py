"""The finalize step: the restored system names the new arrays.

Each test builds the restored root of a distribution below tmp_path (the files
as the installer and mdadm write them there, with the *old* UUIDs), runs
finalize with the old -> new UUID map and checks the exact file contents: our
ARRAY lines replaced, every other line (native arrays included) untouched,
old UUIDs replaced in the form found, unchanged files not rewritten, modes
kept, and a second run changes nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rear_mdcontainer.cli import EXIT_ERROR, main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.finalize import (
    DRACUT_TEXT,
    Finalization,
    UuidReplacer,
    colon_form,
    dashed_form,
    finalize,
    new_uuids,
    parse_uuid_map,
    resolve_in_root,
    update_mdadm_conf,
    uuid_hex,
)
from rear_mdcontainer.model import Layout

from .helpers import UUID_C, UUID_V0, UUID_V1, ddf_layout, imsm_raid1_layout, two_volume_layout

# The new arrays (what 'mdadm --detail --scan' shows after the recreation).
NEW_C = "9e1f3b5a:0c7d2e48:b6a41f93:5d08c2e7"
NEW_V0 = "3f6a9c21:e84b07d5:12ce6fa0:97b3d418"
NEW_V1 = "c0ffee12:34567890:abcdef01:23456789"
NATIVE = "ae2fb9e0:885fab8b:da1546f5:30b702b0"  # a native RAID1 that finalize must not touch
FS_ROOT = "4f1c8d2e-0b7a-4c1e-9d3f-2a6b8c0e1f47"

UUID_MAP = f"{UUID_C} {NEW_C}\n{UUID_V0} {NEW_V0}\n"
PAIRS = parse_uuid_map(UUID_MAP)


def _write(root: Path, name: str, text: str, mode: int = 0o644) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def _read(root: Path, name: str) -> str:
    return (root / name).read_text(encoding="utf-8")


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """(inode, mtime_ns, text) of every file below root."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_text(encoding="utf-8"))
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _run(root: Path, layout: Layout | None = None, pairs: list[tuple[str, str]] | None = None,
         scan: str | None = None, extra: tuple[str, ...] = ()) -> Finalization:
    return finalize(str(root), layout or imsm_raid1_layout(), PAIRS if pairs is None else pairs, scan, extra)


# --- Debian / Ubuntu -------------------------------------------------------------------------------

DEBIAN_MDADM_CONF = f"""\
# mdadm.conf
#
# !NB! Run update-initramfs -u after updating this file.
# !NB! This will ensure that initramfs has an uptodate copy.
#
# Please refer to mdadm.conf(5) for information about this file.
#

# by default (built-in), scan all partitions (/proc/partitions) and all
# containers for MD superblocks. alternatively, specify devices to scan, using
# wildcards if desired.
#DEVICE partitions containers

# automatically tag new arrays as belonging to the local system
HOMEHOST <system>

# instruct the monitoring daemon where to send mail alerts
MAILADDR storage-admin@example.org

# definitions of existing MD arrays
ARRAY metadata=imsm UUID={UUID_C}
ARRAY /dev/md/Volume0 container={UUID_C} member=0 UUID={UUID_V0}
ARRAY /dev/md/data metadata=1.2 UUID={NATIVE} name=mdctest:data
   devices=/dev/sdc1,/dev/sdd1

# This configuration was auto-generated on Mon, 01 Jan 2024 12:00:00 +0000 by mkconf
"""

DEBIAN_GRUB_DEFAULT = f"""\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0}"
"""

DEBIAN_GRUB_CFG = f"""\
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux $menuentry_id_option 'gnulinux-simple-{FS_ROOT}' {{
	insmod part_gpt
	insmod ext2
	search --no-floppy --fs-uuid --set=root {FS_ROOT}
	echo	'Loading Linux 6.1.0-18-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID={FS_ROOT} ro rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0} quiet
	initrd	/boot/initrd.img-6.1.0-18-amd64
}}
menuentry 'Debian GNU/Linux (recovery mode)' $menuentry_id_option 'gnulinux-6.1.0-18-amd64-recovery-{FS_ROOT}' {{
	linux	/boot/vmlinuz-6.1.0-18-amd64 root=UUID={FS_ROOT} ro single rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0} md={NATIVE}
	initrd	/boot/initrd.img-6.1.0-18-amd64
}}
"""

DEBIAN_FSTAB = f"""\
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
UUID={FS_ROOT} /               ext4    errors=remount-ro 0       1
/dev/md/data /srv ext4 defaults 0 2
"""


def debian_root(root: Path) -> Path:
    _write(root, "etc/mdadm/mdadm.conf", DEBIAN_MDADM_CONF)
    _write(root, "etc/default/grub", DEBIAN_GRUB_DEFAULT)
    _write(root, "boot/grub/grub.cfg", DEBIAN_GRUB_CFG, 0o444)  # grub-mkconfig writes it read-only
    _write(root, "etc/fstab", DEBIAN_FSTAB)
    _write(root, "usr/sbin/update-initramfs", "#!/bin/sh\n", 0o755)
    return root


def test_debian(tmp_path):
    root = debian_root(tmp_path)
    result = _run(root)
    assert _read(root, "etc/mdadm/mdadm.conf") == DEBIAN_MDADM_CONF.replace(
        f"ARRAY metadata=imsm UUID={UUID_C}\n"
        f"ARRAY /dev/md/Volume0 container={UUID_C} member=0 UUID={UUID_V0}\n",
        f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
        f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert _read(root, "etc/default/grub") == DEBIAN_GRUB_DEFAULT.replace(
        f'GRUB_CMDLINE_LINUX="rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0}"',
        f'GRUB_CMDLINE_LINUX="rd.md.uuid={NEW_C} rd.md.uuid={NEW_V0}"')
    assert _read(root, "boot/grub/grub.cfg") == DEBIAN_GRUB_CFG.replace(UUID_C, NEW_C).replace(UUID_V0, NEW_V0)
    assert NATIVE in _read(root, "boot/grub/grub.cfg")
    assert _read(root, "etc/fstab") == DEBIAN_FSTAB
    assert result.changed == ("/etc/mdadm/mdadm.conf", "/etc/default/grub", "/boot/grub/grub.cfg")
    assert result.warnings == ()
    assert result.report == (
        f"mdcontainer /dev/md127 (imsm0): UUID {UUID_C} -> {NEW_C} (the UUID map)",
        f"mdvolume /dev/md126 (Volume0): UUID {UUID_V0} -> {NEW_V0} (the UUID map)",
        "/etc/mdadm/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays",
        "/etc/default/grub: 2 UUID(s) replaced",
        "/boot/grub/grub.cfg: 4 UUID(s) replaced",
    )
    # no dracut in a Debian root with initramfs-tools: nothing written for it
    assert not (root / "etc/dracut.conf.d").exists()


def test_files_without_changes_are_not_rewritten_and_modes_are_kept(tmp_path):
    root = debian_root(tmp_path)
    (root / "etc/default/grub").chmod(0o600)
    before = _snapshot(root)
    _run(root)
    after = _snapshot(root)
    assert after["etc/fstab"] == before["etc/fstab"]
    assert after["usr/sbin/update-initramfs"] == before["usr/sbin/update-initramfs"]
    assert after["etc/default/grub"][0] != before["etc/default/grub"][0]  # a new file, renamed into place
    assert stat.S_IMODE((root / "etc/default/grub").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "boot/grub/grub.cfg").stat().st_mode) == 0o444
    assert stat.S_IMODE((root / "etc/mdadm/mdadm.conf").stat().st_mode) == 0o644
    # no temporary files left behind
    assert sorted(after) == sorted(before)


def test_a_second_run_changes_nothing(tmp_path):
    root = debian_root(tmp_path)
    _run(root)
    before = _snapshot(root)
    again = _run(root)
    assert _snapshot(root) == before
    assert again.changed == ()
    assert again.report[-1] == "no other file of the restored system names the old md UUIDs"
    assert again.warnings == ()


def test_the_owner_is_kept(tmp_path):
    root = debian_root(tmp_path)
    owner = (root / "etc/default/grub").stat()
    _run(root)
    now = (root / "etc/default/grub").stat()
    assert (now.st_uid, now.st_gid) == (owner.st_uid, owner.st_gid)


# --- Fedora / RHEL ---------------------------------------------------------------------------------

FEDORA_MDADM_CONF = f"""\
# mdadm.conf written out by anaconda
MAILADDR root
AUTO +imsm +1.x -all
ARRAY /dev/md/imsm0 UUID={UUID_C}
ARRAY /dev/md/Volume0_0 level=raid1 num-devices=2 container=/dev/md/imsm0 member=0 UUID={UUID_V0}
"""

BLS_ENTRY = f"""\
title Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)
version 5.14.0-362.8.1.el9_3.x86_64
linux /vmlinuz-5.14.0-362.8.1.el9_3.x86_64
initrd /initramfs-5.14.0-362.8.1.el9_3.x86_64.img $tuned_initrd
options root=UUID={FS_ROOT} ro crashkernel=1G-4G:192M,4G-64G:256M rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0} rhgb quiet
grub_users $grub_users
grub_arg --unrestricted
grub_class rhel
"""

KERNEL_CMDLINE = f"root=UUID={FS_ROOT} ro rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0} rhgb quiet\n"

# dracut's own configuration with the volume's UUID in the dashed form, in capitals.
DRACUT_MD_CONF = f'kernel_cmdline=" rd.md.uuid={dashed_form(uuid_hex(UUID_V0) or "").upper()} "\n'


def _grubenv(options: str) -> str:
    text = f"# GRUB Environment Block\nkernelopts={options}\nboot_success=1\n"
    return text + "#" * (1024 - len(text))


def fedora_root(root: Path) -> Path:
    _write(root, "etc/mdadm.conf", FEDORA_MDADM_CONF)
    _write(root, "boot/loader/entries/0123456789abcdef-5.14.0-362.8.1.el9_3.x86_64.conf", BLS_ENTRY)
    _write(root, "boot/loader/entries/0123456789abcdef-0-rescue.conf", BLS_ENTRY.replace("5.14", "0-rescue"))
    _write(root, "etc/kernel/cmdline", KERNEL_CMDLINE)
    _write(root, "etc/dracut.conf.d/90-md.conf", DRACUT_MD_CONF)
    _write(root, "boot/grub2/grubenv", _grubenv(f"root=UUID={FS_ROOT} ro rd.md.uuid={UUID_V0}"))
    _write(root, "boot/grub2/grub.cfg", "set default=0\nblscfg\n", 0o600)
    _write(root, "usr/bin/dracut", "#!/bin/bash\n", 0o755)
    _write(root, "etc/fstab", f"UUID={FS_ROOT} / xfs defaults 0 0\n")
    return root


def test_fedora_rhel(tmp_path):
    root = fedora_root(tmp_path)
    result = _run(root)
    # The new lines keep the names the restored system knows its arrays by.
    assert _read(root, "etc/mdadm.conf") == (
        "# mdadm.conf written out by anaconda\n"
        "MAILADDR root\n"
        "AUTO +imsm +1.x -all\n"
        f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
        f"ARRAY /dev/md/Volume0_0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    for entry in ("0123456789abcdef-5.14.0-362.8.1.el9_3.x86_64.conf", "0123456789abcdef-0-rescue.conf"):
        expected = BLS_ENTRY if "5.14" in entry else BLS_ENTRY.replace("5.14", "0-rescue")
        assert _read(root, f"boot/loader/entries/{entry}") == expected.replace(UUID_C, NEW_C).replace(UUID_V0, NEW_V0)
    assert _read(root, "etc/kernel/cmdline") == f"root=UUID={FS_ROOT} ro rd.md.uuid={NEW_C} rd.md.uuid={NEW_V0} rhgb quiet\n"
    assert _read(root, "etc/dracut.conf.d/90-md.conf") == 'kernel_cmdline=" rd.md.uuid=3F6A9C21-E84B-07D5-12CE-6FA097B3D418 "\n'
    grubenv = _read(root, "boot/grub2/grubenv")
    assert grubenv == _grubenv(f"root=UUID={FS_ROOT} ro rd.md.uuid={NEW_V0}")
    assert len(grubenv.encode()) == 1024
    assert _read(root, "boot/grub2/grub.cfg") == "set default=0\nblscfg\n"
    # dracut is the restored system's initramfs builder and nothing names mdraid: our setting
    assert _read(root, "etc/dracut.conf.d/rear-mdcontainer.conf") == DRACUT_TEXT
    assert 'add_dracutmodules+=" mdraid "\n' in DRACUT_TEXT
    assert stat.S_IMODE((root / "etc/dracut.conf.d/rear-mdcontainer.conf").stat().st_mode) == 0o644
    assert result.report[2:] == (
        "/etc/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays",
        "/boot/grub2/grubenv: 1 UUID(s) replaced",
        "/boot/loader/entries/0123456789abcdef-0-rescue.conf: 2 UUID(s) replaced",
        "/boot/loader/entries/0123456789abcdef-5.14.0-362.8.1.el9_3.x86_64.conf: 2 UUID(s) replaced",
        "/etc/kernel/cmdline: 2 UUID(s) replaced",
        "/etc/dracut.conf.d/90-md.conf: 1 UUID(s) replaced",
        '/etc/dracut.conf.d/rear-mdcontainer.conf: written (add_dracutmodules+=" mdraid ": '
        "dracut puts mdadm and mdmon into the initramfs)",
    )
    before = _snapshot(root)
    assert _run(root).changed == ()
    assert _snapshot(root) == before


def test_grubenv_through_the_symlink_of_an_efi_system(tmp_path):
    """RHEL 8 on UEFI: /boot/grub2/grubenv is an absolute link into the ESP, resolved inside the restored root."""
    root = tmp_path
    _write(root, "boot/efi/EFI/redhat/grubenv", _grubenv(f"root=/dev/md/Volume0_0p3 ro rd.md.uuid={UUID_V0}"))
    (root / "boot/grub2").mkdir(parents=True)
    (root / "boot/grub2/grubenv").symlink_to("/boot/efi/EFI/redhat/grubenv")
    result = _run(root)
    assert _read(root, "boot/efi/EFI/redhat/grubenv") == _grubenv(f"root=/dev/md/Volume0_0p3 ro rd.md.uuid={NEW_V0}")
    assert (root / "boot/grub2/grubenv").is_symlink()
    assert "/boot/grub2/grubenv: 1 UUID(s) replaced" in result.report  # once, under the name found first
    assert not any(line.startswith("/boot/efi/EFI/redhat/grubenv") for line in result.report)


# --- SUSE ------------------------------------------------------------------------------------------

SUSE_MDADM_CONF = f"""\
DEVICE containers partitions
ARRAY /dev/md/imsm0 UUID={UUID_C}
ARRAY /dev/md/Volume0_0 UUID={UUID_V0}
"""

SUSE_GRUB_DEFAULT = f"""\
# If you change this file, run 'grub2-mkconfig -o /boot/grub2/grub.cfg' afterwards to update
GRUB_DISTRIBUTOR=
GRUB_DEFAULT=saved
GRUB_CMDLINE_LINUX_DEFAULT="splash=silent resume=/dev/md/Volume0_0p3 mitigations=auto quiet rd.md.uuid={UUID_V0}"
GRUB_CMDLINE_LINUX=""
"""

SUSE_GRUB_CFG = f"""\
### BEGIN /etc/grub.d/10_linux ###
menuentry 'SLES 15-SP5' --class sles --class gnu-linux $menuentry_id_option 'gnulinux-simple-{FS_ROOT}' {{
	linux	/boot/vmlinuz-5.14.21-150500.55.39-default root=UUID={FS_ROOT}  ${{extra_cmdline}} quiet rd.md.uuid={UUID_V0}
	initrd	/boot/initrd-5.14.21-150500.55.39-default
}}
### END /etc/grub.d/10_linux ###
"""


def suse_root(root: Path) -> Path:
    _write(root, "etc/mdadm.conf", SUSE_MDADM_CONF)
    _write(root, "etc/default/grub", SUSE_GRUB_DEFAULT)
    _write(root, "boot/grub2/grub.cfg", SUSE_GRUB_CFG, 0o600)
    _write(root, "usr/bin/dracut", "#!/bin/bash\n", 0o755)
    # SUSE's dracut configuration names mdraid already
    _write(root, "usr/lib/dracut/dracut.conf.d/01-dist.conf", 'add_dracutmodules+=" mdraid "\nhostonly="yes"\n')
    return root


def test_suse(tmp_path):
    root = suse_root(tmp_path)
    result = _run(root)
    assert _read(root, "etc/mdadm.conf") == (
        "DEVICE containers partitions\n"
        f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
        f"ARRAY /dev/md/Volume0_0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert _read(root, "etc/default/grub") == SUSE_GRUB_DEFAULT.replace(UUID_V0, NEW_V0)
    assert _read(root, "boot/grub2/grub.cfg") == SUSE_GRUB_CFG.replace(UUID_V0, NEW_V0)
    assert stat.S_IMODE((root / "boot/grub2/grub.cfg").stat().st_mode) == 0o600
    assert not (root / "etc/dracut.conf.d").exists()
    assert result.changed == ("/etc/mdadm.conf", "/etc/default/grub", "/boot/grub2/grub.cfg")


def test_dracut_setting_in_etc_is_respected(tmp_path):
    root = fedora_root(tmp_path)
    _write(root, "etc/dracut.conf", '# hostonly\nadd_dracutmodules+=" mdraid lvm "\n')
    _run(root)
    assert not (root / "etc/dracut.conf.d/rear-mdcontainer.conf").exists()


def test_dracut_that_omits_mdraid_gets_a_warning_not_an_override(tmp_path):
    root = fedora_root(tmp_path)
    _write(root, "etc/dracut.conf.d/50-omit.conf", 'omit_dracutmodules+=" mdraid dmraid "\n')
    result = _run(root)
    assert not (root / "etc/dracut.conf.d/rear-mdcontainer.conf").exists()
    assert result.warnings == (
        '/etc/dracut.conf.d/50-omit.conf omits dracut\'s mdraid module (omit_dracutmodules+=" mdraid dmraid "); '
        "the initramfs will not assemble the firmware RAID arrays unless that setting goes",)


def test_dracut_found_below_sbin_of_a_merged_usr_system(tmp_path):
    root = tmp_path
    _write(root, "usr/sbin/dracut", "#!/bin/bash\n", 0o755)
    (root / "sbin").symlink_to("usr/sbin")
    _write(root, "etc/fstab", "")
    result = _run(root)
    assert _read(root, "etc/dracut.conf.d/rear-mdcontainer.conf") == DRACUT_TEXT
    assert "/etc/dracut.conf.d/rear-mdcontainer.conf" in result.changed


# --- mdadm.conf ------------------------------------------------------------------------------------

def test_no_mdadm_conf_is_reported_and_none_is_written(tmp_path):
    _write(tmp_path, "etc/default/grub", DEBIAN_GRUB_DEFAULT)
    result = _run(tmp_path)
    assert not (tmp_path / "etc/mdadm.conf").exists()
    assert not (tmp_path / "etc/mdadm").exists()
    assert ("no mdadm.conf in the restored system (/etc/mdadm/mdadm.conf, /etc/mdadm.conf): none written, "
            "mdadm assembles the arrays without ARRAY lines") in result.report
    assert result.changed == ("/etc/default/grub",)


def test_lines_are_appended_to_a_file_without_lines_for_our_arrays(tmp_path):
    conf = f"HOMEHOST <system>\nMAILADDR root\nARRAY /dev/md/data metadata=1.2 UUID={NATIVE}"  # no final newline
    _write(tmp_path, "etc/mdadm/mdadm.conf", conf)
    result = _run(tmp_path)
    assert _read(tmp_path, "etc/mdadm/mdadm.conf") == (
        conf + "\n"
        "# definitions of the firmware RAID arrays recreated by 'rear recover' (rear-mdcontainer)\n"
        f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
        f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert "/etc/mdadm/mdadm.conf: had no ARRAY lines for these arrays, 2 appended" in result.report
    assert _run(tmp_path).changed == ()


def test_both_mdadm_confs_are_updated_and_a_link_between_them_counts_once(tmp_path):
    _write(tmp_path, "etc/mdadm/mdadm.conf", FEDORA_MDADM_CONF)
    (tmp_path / "etc/mdadm.conf").symlink_to("mdadm/mdadm.conf")
    result = _run(tmp_path)
    assert (tmp_path / "etc/mdadm.conf").is_symlink()
    assert NEW_V0 in _read(tmp_path, "etc/mdadm/mdadm.conf")
    assert [line for line in result.report if "mdadm.conf:" in line] == [
        "/etc/mdadm/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays"]


def test_continuation_lines_belong_to_their_array_line():
    conf = (f"ARRAY /dev/md/imsm0\n   metadata=imsm\n\tUUID={UUID_C}\n"
            "DEVICE partitions\n   containers\n"
            f"array /dev/md/Volume0 container={UUID_C}\n   member=0 UUID={UUID_V0.upper()}  # the system\n"
            "# a comment at column 0 ends a line\n"
            f"ARRAY /dev/md/data metadata=1.2\n   UUID={NATIVE}\n")
    text, what = update_mdadm_conf(conf, imsm_raid1_layout(), new_uuids(imsm_raid1_layout(), PAIRS))
    assert text == (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
                    f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n"
                    "DEVICE partitions\n   containers\n"
                    "# a comment at column 0 ends a line\n"
                    f"ARRAY /dev/md/data metadata=1.2\n   UUID={NATIVE}\n")
    assert what == "2 ARRAY line(s) replaced by 2 for the new arrays"


def test_abbreviated_keyword_and_dashed_uuid_in_mdadm_conf():
    """mdadm takes 'arr' for ARRAY and UUIDs with other separators."""
    conf = f"arr /dev/md/imsm0 uuid={dashed_form(uuid_hex(UUID_C) or '')}\nARRAY /dev/md/Volume0 UUID={UUID_V0}\n"
    text, _ = update_mdadm_conf(conf, imsm_raid1_layout(), new_uuids(imsm_raid1_layout(), PAIRS))
    assert text == (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
                    f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n")


def test_the_line_of_a_volume_that_was_not_recreated_goes():
    """A volume excluded from the recreation has no new array; its line named our old container."""
    conf = (f"ARRAY metadata=imsm UUID={UUID_C}\n"
            f"ARRAY /dev/md/Volume0 container={UUID_C} member=0 UUID={UUID_V0}\n"
            f"ARRAY /dev/md/Scratch container={UUID_C} member=1 UUID={UUID_V1}\n")
    text, what = update_mdadm_conf(conf, imsm_raid1_layout(), new_uuids(imsm_raid1_layout(), PAIRS))
    assert text == (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
                    f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert what == "3 ARRAY line(s) replaced by 2 for the new arrays"


def test_two_volumes_in_member_order_at_the_place_of_the_first_old_line():
    layout = two_volume_layout()
    pairs = [*PAIRS, *parse_uuid_map(f"{UUID_V1} {NEW_V1}")]
    conf = (f"MAILADDR root\nARRAY /dev/md/Scratch container={UUID_C} member=1 UUID={UUID_V1}\n"
            f"ARRAY /dev/md/data metadata=1.2 UUID={NATIVE}\n"
            f"ARRAY /dev/md/System container={UUID_C} member=0 UUID={UUID_V0}\n"
            f"ARRAY /dev/md/imsm0 metadata=imsm UUID={UUID_C}\n")
    text, _ = update_mdadm_conf(conf, layout, new_uuids(layout, pairs))
    assert text == ("MAILADDR root\n"
                    f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
                    f"ARRAY /dev/md/System container={NEW_C} member=0 UUID={NEW_V0}\n"
                    f"ARRAY /dev/md/Scratch container={NEW_C} member=1 UUID={NEW_V1}\n"
                    f"ARRAY /dev/md/data metadata=1.2 UUID={NATIVE}\n")


def test_a_name_that_is_no_plain_word_gives_a_line_without_device():
    layout = imsm_raid1_layout(name="Data Vol")
    text, _ = update_mdadm_conf("", layout, new_uuids(layout, PAIRS))
    assert text.splitlines()[1:] == [f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}",
                                     f"ARRAY container={NEW_C} member=0 UUID={NEW_V0}"]


def test_native_arrays_only_are_left_alone(tmp_path):
    conf = f"ARRAY /dev/md0 metadata=1.2 UUID={NATIVE}\n"
    _write(tmp_path, "etc/mdadm.conf", conf)
    _write(tmp_path, "etc/default/grub", f'GRUB_CMDLINE_LINUX="rd.md.uuid={NATIVE}"\n')
    empty = Layout()
    result = finalize(str(tmp_path), empty, [], None)
    assert _read(tmp_path, "etc/mdadm.conf") == conf
    assert result.changed == ()


# --- new UUIDs: the scan and the map ----------------------------------------------------------------

# mdadm --detail --scan in the rescue system right after the recreation (md names as created).
RESCUE_SCAN = (f"ARRAY /dev/md127 metadata=imsm UUID={NEW_C}\n"
               f"ARRAY /dev/md126 container=/dev/md127 member=0 UUID={NEW_V0}\n"
               f"ARRAY /dev/md/data metadata=1.2 name=mdctest:data UUID={NATIVE}\n")


def test_the_scan_gives_the_new_uuids_when_the_map_has_none():
    uuids = new_uuids(imsm_raid1_layout(), [], RESCUE_SCAN)
    assert uuids.new == {"mdcontainer /dev/md127": uuid_hex(NEW_C), "mdvolume /dev/md126": uuid_hex(NEW_V0)}
    assert uuids.warnings == ()
    assert uuids.report[0].endswith("(mdadm --detail --scan)")


def test_the_scan_is_preferred_and_a_different_map_is_a_warning():
    other = "01234567:89abcdef:01234567:89abcdef"
    uuids = new_uuids(imsm_raid1_layout(), parse_uuid_map(f"{UUID_C} {NEW_C}\n{UUID_V0} {other}\n"), RESCUE_SCAN)
    assert uuids.new["mdvolume /dev/md126"] == uuid_hex(NEW_V0)
    assert uuids.warnings == (f"mdvolume /dev/md126: mdadm --detail --scan shows UUID {NEW_V0}, the UUID map says "
                              f"{other}; using mdadm's",)


def test_scan_by_names_as_udev_assembles_them():
    """After a reboot of the rescue system the arrays may have their /dev/md/ names (fixture imsm-two-volumes)."""
    scan = (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
            f"ARRAY /dev/md/Volume1_0 container=/dev/md/imsm0 member=1 UUID={NEW_V1}\n"
            f"ARRAY /dev/md/Volume0_0 container=/dev/md/imsm0 member=0 UUID={NEW_V0}\n")
    uuids = new_uuids(two_volume_layout(), [], scan)
    assert uuids.new == {"mdcontainer /dev/md127": uuid_hex(NEW_C), "mdvolume /dev/md126": uuid_hex(NEW_V0),
                         "mdvolume /dev/md125": uuid_hex(NEW_V1)}


def test_scan_in_examine_style_names_the_container_by_uuid():
    scan = (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
            f"ARRAY /dev/md/Volume0 container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert new_uuids(imsm_raid1_layout(), [], scan).new["mdvolume /dev/md126"] == uuid_hex(NEW_V0)


def test_the_map_is_the_fallback_for_what_the_scan_does_not_show():
    uuids = new_uuids(imsm_raid1_layout(), PAIRS, f"ARRAY /dev/md127 metadata=imsm UUID={NEW_C}\n")
    assert uuids.new["mdvolume /dev/md126"] == uuid_hex(NEW_V0)
    assert uuids.report[1].endswith("(the UUID map, not in mdadm --detail --scan)")


def test_ddf_without_recorded_uuids_gets_its_lines_from_the_scan(tmp_path):
    layout = ddf_layout()
    scan = (f"ARRAY /dev/md127 metadata=ddf UUID={NEW_C}\n"
            f"ARRAY /dev/md126 container=/dev/md127 member=0 UUID={NEW_V0}\n")
    _write(tmp_path, "etc/mdadm.conf", "MAILADDR root\n")
    result = finalize(str(tmp_path), layout, [], scan)
    # 'Data 6' is no plain word for a /dev/md/ name: the volume's line names no device
    assert _read(tmp_path, "etc/mdadm.conf") == (
        "MAILADDR root\n"
        "# definitions of the firmware RAID arrays recreated by 'rear recover' (rear-mdcontainer)\n"
        f"ARRAY /dev/md/ddf0 metadata=ddf UUID={NEW_C}\n"
        f"ARRAY container={NEW_C} member=0 UUID={NEW_V0}\n")
    assert result.report[:2] == (f"mdcontainer /dev/md127 (ddf0): UUID (not recorded) -> {NEW_C} (mdadm --detail --scan)",
                                 f"mdvolume /dev/md126 (Data 6): UUID (not recorded) -> {NEW_V0} (mdadm --detail --scan)")


def test_an_entry_without_new_uuid_is_a_warning_and_its_lines_stay(tmp_path):
    """Only the container's new UUID is known: the volume's line stays (nothing right to write for it)."""
    _write(tmp_path, "etc/mdadm.conf", FEDORA_MDADM_CONF)
    _write(tmp_path, "etc/kernel/cmdline", KERNEL_CMDLINE)
    result = _run(tmp_path, pairs=parse_uuid_map(f"{UUID_C} {NEW_C}\n"))
    assert _read(tmp_path, "etc/mdadm.conf") == FEDORA_MDADM_CONF.replace(
        f"ARRAY /dev/md/imsm0 UUID={UUID_C}", f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}")
    assert _read(tmp_path, "etc/kernel/cmdline") == KERNEL_CMDLINE.replace(UUID_C, NEW_C)
    assert result.warnings == ("mdvolume /dev/md126: its new UUID is neither recorded in the UUID map; the restored "
                               "system's mdadm.conf and kernel arguments are not updated for it (update them by hand)",)


# --- replacing UUIDs --------------------------------------------------------------------------------

def test_forms_and_case_are_kept():
    replacer = UuidReplacer(dict(PAIRS))
    old_dashed = dashed_form(uuid_hex(UUID_V0) or "")
    new_dashed = dashed_form(uuid_hex(NEW_V0) or "")
    text = (f"rd.md.uuid={UUID_V0} rd.md.uuid={UUID_V0.upper()} uuid={old_dashed} UUID={old_dashed.upper()} "
            f"a={UUID_C.replace('f', 'F')}\n")
    assert replacer.sub(text) == (
        f"rd.md.uuid={NEW_V0} rd.md.uuid={NEW_V0.upper()} uuid={new_dashed} UUID={new_dashed.upper()} a={NEW_C}\n", 5)


@pytest.mark.parametrize("text", [
    f"x=0{UUID_C}",             # longer hex run
    f"x={UUID_C}0",
    f"x=deadbeef:{UUID_C}",     # part of a longer UUID-like run
    f"x={UUID_C}:deadbeef",
    f"x={UUID_C[:-1]}",          # shorter
    "x=" + uuid_hex(UUID_C),     # 32 digits without separators: another notation, left alone
])
def test_only_whole_uuids_are_replaced(text):
    assert UuidReplacer(dict(PAIRS)).sub(text) == (text, 0)


def test_uuid_helpers():
    digits = "4d5cf21580024c95e19fdff42fba35a8"
    assert uuid_hex(UUID_C) == digits
    assert uuid_hex("4D5CF215-8002-4C95-E19F-DFF42FBA35A8") == digits
    assert uuid_hex("4d5cf215.80024c95.e19fdff4.2fba35a8") == digits
    assert uuid_hex("4d5cf215:80024c95") is None
    assert uuid_hex("/dev/md/imsm0") is None
    assert colon_form(digits) == UUID_C
    assert dashed_form(digits) == "4d5cf215-8002-4c95-e19f-dff42fba35a8"


def test_uuid_map_parsing():
    assert parse_uuid_map(f"# comment\n\n{UUID_C} {NEW_C}\n") == [(uuid_hex(UUID_C), uuid_hex(NEW_C))]
    with pytest.raises(MdcError) as info:
        parse_uuid_map(f"{UUID_C} {NEW_C}\n{UUID_C}\n", "/var/lib/rear/layout/mdcontainer-uuid-map")
    assert info.value.message == (f"/var/lib/rear/layout/mdcontainer-uuid-map line 2: '{UUID_C}' is not 'old-uuid new-uuid' "
                                  "(the verification of the recreated arrays writes this file; rerun the recovery)")
    with pytest.raises(MdcError):
        parse_uuid_map(f"{UUID_C} not-a-uuid\n")


# --- the files of the restored system ---------------------------------------------------------------

def test_symlinks_are_followed_inside_the_restored_root(tmp_path):
    root = tmp_path / "root"
    _write(root, "etc/default/grub", f'GRUB_CMDLINE_LINUX="rd.md.uuid={UUID_V0}"\n')
    (root / "etc/sysconfig").mkdir()
    (root / "etc/sysconfig/grub").symlink_to("../default/grub")
    (root / "etc/mtab").symlink_to("/proc/self/mounts")  # the rescue system's /proc is bind-mounted there
    _write(root, "proc/self/mounts", f"/dev/md126p1 / ext4 rw 0 0 {UUID_V0}\n")
    (root / "etc/dangling").symlink_to("/nowhere")
    result = _run(root, extra=("etc/sysconfig/grub", "etc/mtab", "etc/dangling", "/etc/default/grub"))
    assert result.changed == ("/etc/default/grub",)
    assert UUID_V0 in _read(root, "proc/self/mounts")
    assert resolve_in_root(root, "etc/sysconfig/grub") == root / "etc/default/grub"
    assert resolve_in_root(root, "etc/mtab") == root / "proc/self/mounts"
    assert resolve_in_root(root, "etc/dangling") is None
    assert resolve_in_root(root, "../../etc/default/grub") == root / "etc/default/grub"


def test_extra_files_are_patched(tmp_path):
    _write(tmp_path, "etc/sysconfig/bootloader", f'DEFAULT_APPEND="rd.md.uuid={UUID_V0}"\n')
    result = _run(tmp_path, extra=("etc/sysconfig/bootloader",))
    assert _read(tmp_path, "etc/sysconfig/bootloader") == f'DEFAULT_APPEND="rd.md.uuid={NEW_V0}"\n'
    assert "/etc/sysconfig/bootloader: 1 UUID(s) replaced" in result.report


def test_efi_grub_cfg_and_crypttab(tmp_path):
    _write(tmp_path, "boot/efi/EFI/ubuntu/grub.cfg", f"search.fs_uuid {FS_ROOT} root md/{UUID_V0}\n", 0o700)
    _write(tmp_path, "etc/crypttab", f"cryptdata /dev/disk/by-id/md-uuid-{UUID_V0}-part2 none luks\n")
    result = _run(tmp_path)
    assert _read(tmp_path, "boot/efi/EFI/ubuntu/grub.cfg") == f"search.fs_uuid {FS_ROOT} root md/{NEW_V0}\n"
    assert _read(tmp_path, "etc/crypttab") == f"cryptdata /dev/disk/by-id/md-uuid-{NEW_V0}-part2 none luks\n"
    assert stat.S_IMODE((tmp_path / "boot/efi/EFI/ubuntu/grub.cfg").stat().st_mode) == 0o700
    assert result.changed == ("/boot/efi/EFI/ubuntu/grub.cfg", "/etc/crypttab")


def test_bytes_that_are_not_utf8_survive(tmp_path):
    path = tmp_path / "boot/grub/grub.cfg"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"menuentry 'D\xe9bian' {\r\n\tlinux /vmlinuz rd.md.uuid=" + UUID_V0.encode() + b"\r\n}\r\n")
    _run(tmp_path)
    assert path.read_bytes() == b"menuentry 'D\xe9bian' {\r\n\tlinux /vmlinuz rd.md.uuid=" + NEW_V0.encode() + b"\r\n}\r\n"


def test_root_must_be_a_directory(tmp_path):
    with pytest.raises(MdcError) as info:
        _run(tmp_path / "missing")
    assert info.value.problem == "is not a directory"


# --- the command line -------------------------------------------------------------------------------

def _cli_files(tmp_path: Path, layout: Layout, uuid_map: str) -> tuple[Path, Path]:
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(format_layout(layout)) + "\n", encoding="utf-8")
    map_file = tmp_path / "mdcontainer-uuid-map"
    map_file.write_text(uuid_map, encoding="utf-8")
    return layout_file, map_file


def test_cli(tmp_path, capsys):
    root = debian_root(tmp_path / "root")
    layout_file, map_file = _cli_files(tmp_path, imsm_raid1_layout(), UUID_MAP)
    scan = tmp_path / "scan"
    scan.write_text(RESCUE_SCAN, encoding="utf-8")
    assert main(["finalize", "--root", str(root), "--layout-file", str(layout_file), "--uuid-map", str(map_file),
                 "--mdadm-scan-file", str(scan), "--file", "etc/fstab"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"mdcontainer /dev/md127 (imsm0): UUID {UUID_C} -> {NEW_C} (mdadm --detail --scan)",
        f"mdvolume /dev/md126 (Volume0): UUID {UUID_V0} -> {NEW_V0} (mdadm --detail --scan)",
        "/etc/mdadm/mdadm.conf: 2 ARRAY line(s) replaced by 2 for the new arrays",
        "/etc/default/grub: 2 UUID(s) replaced",
        "/boot/grub/grub.cfg: 4 UUID(s) replaced",
    ]
    assert err == ""
    assert NEW_V0 in _read(root, "etc/mdadm/mdadm.conf")


def test_cli_warnings_go_to_stderr(tmp_path, capsys):
    root = debian_root(tmp_path / "root")
    layout_file, map_file = _cli_files(tmp_path, imsm_raid1_layout(), f"{UUID_C} {NEW_C}\n")
    assert main(["finalize", "--root", str(root), "--layout-file", str(layout_file), "--uuid-map", str(map_file)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("WARNING: mdvolume /dev/md126: its new UUID is neither recorded in the UUID map;")


def test_cli_bad_map_is_one_error_line(tmp_path, capsys):
    root = debian_root(tmp_path / "root")
    layout_file, map_file = _cli_files(tmp_path, imsm_raid1_layout(), "garbage\n")
    before = _snapshot(root)
    assert main(["finalize", "--root", str(root), "--layout-file", str(layout_file), "--uuid-map", str(map_file)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err == f"ERROR: {map_file} line 1: 'garbage' is not 'old-uuid new-uuid' (the verification of the recreated " \
                  "arrays writes this file; rerun the recovery)\n"
    assert _snapshot(root) == before


def test_cli_missing_map_is_an_error(tmp_path, capsys):
    root = debian_root(tmp_path / "root")
    layout_file, map_file = _cli_files(tmp_path, imsm_raid1_layout(), "")
    os.unlink(map_file)
    assert main(["finalize", "--root", str(root), "--layout-file", str(layout_file), "--uuid-map", str(map_file)]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith(f"ERROR: {map_file}: ")


def test_a_file_that_cannot_be_written_is_a_warning_and_the_others_are_done(tmp_path, monkeypatch):
    import errno

    from rear_mdcontainer import finalize as module

    root = debian_root(tmp_path)
    real = module.write_atomically

    def read_only_boot(path: Path, text: str, like: Path | None = None) -> None:
        if "boot" in path.parts:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real(path, text, like)

    monkeypatch.setattr(module, "write_atomically", read_only_boot)
    result = _run(root)
    assert _read(root, "boot/grub/grub.cfg") == DEBIAN_GRUB_CFG
    assert NEW_V0 in _read(root, "etc/default/grub")
    assert result.changed == ("/etc/mdadm/mdadm.conf", "/etc/default/grub")
    assert result.warnings == ("/boot/grub/grub.cfg: not changed: Read-only file system (update it by hand)",)
