"""Finalize after a migration to native md: the restored system names native arrays, no container.

The restored roots are those of test_finalize.py (Debian, Fedora/RHEL), with
the old IMSM UUIDs; the UUID map and the migrated arrays are what the
verification of a migration writes (the container's UUID maps to the native
array of member 0).
"""

from __future__ import annotations

from pathlib import Path

from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.finalize import finalize, parse_uuid_map
from rear_mdcontainer.native import MigratedArray, format_records
from rear_mdcontainer.native_finalize import update_mdadm_conf_native

from .helpers import UUID_C, UUID_V0, UUID_V1, imsm_raid1_layout, two_volume_layout
from .test_finalize import (
    DEBIAN_GRUB_CFG,
    DEBIAN_GRUB_DEFAULT,
    DEBIAN_MDADM_CONF,
    FS_ROOT,
    NATIVE,
    _grubenv,
    _read,
    _snapshot,
    _write,
    debian_root,
    fedora_root,
)

N0 = "0a0a0a0a:1b1b1b1b:2c2c2c2c:3d3d3d3d"
N1 = "4e4e4e4e:5f5f5f5f:60606060:71717171"
MAP = parse_uuid_map(f"{UUID_V0} {N0}\n{UUID_C} {N0}\n")
ARRAYS = [MigratedArray("/dev/md126", N0, "1.0", "any:Volume0")]


def _run(root: Path, layout=None, pairs=MAP, arrays=ARRAYS):
    return finalize(str(root), layout or imsm_raid1_layout(), pairs, None, (), native=list(arrays))


def test_debian_native(tmp_path):
    root = debian_root(tmp_path)
    result = _run(root)
    conf = _read(root, "etc/mdadm/mdadm.conf")
    assert conf == DEBIAN_MDADM_CONF.replace(
        f"ARRAY metadata=imsm UUID={UUID_C}\n"
        f"ARRAY /dev/md/Volume0 container={UUID_C} member=0 UUID={UUID_V0}\n",
        f"ARRAY /dev/md/Volume0 metadata=1.0 UUID={N0} name=any:Volume0\n")
    assert "container=" not in conf and "member=" not in conf and "imsm" not in conf
    assert f"UUID={NATIVE} name=mdctest:data" in conf, "the unrelated native array stays"
    # The container's rd.md.uuid names the native array too (a harmless duplicate, no wait for a missing array).
    assert _read(root, "etc/default/grub") == DEBIAN_GRUB_DEFAULT.replace(
        f'"rd.md.uuid={UUID_C} rd.md.uuid={UUID_V0}"', f'"rd.md.uuid={N0} rd.md.uuid={N0}"')
    assert _read(root, "boot/grub/grub.cfg") == DEBIAN_GRUB_CFG.replace(UUID_C, N0).replace(UUID_V0, N0)
    assert result.warnings == ()
    assert result.report[:3] == (
        f"mdvolume /dev/md126 (Volume0): UUID {UUID_V0} -> {N0} (native md, metadata 1.0)",
        f"mdcontainer /dev/md127: migrated to native md, the container is gone; its UUID {UUID_C} is replaced by "
        f"{N0} (the native array of member 0) where it is named",
        "/etc/mdadm/mdadm.conf: 2 ARRAY line(s) of the firmware RAID replaced by 1 for the native md arrays",
    )
    before = _snapshot(root)
    assert _run(root).changed == ()
    assert _snapshot(root) == before


def test_fedora_native(tmp_path):
    root = fedora_root(tmp_path)
    _run(root)
    assert _read(root, "etc/mdadm.conf") == (
        "# mdadm.conf written out by anaconda\n"
        "MAILADDR root\n"
        "AUTO +imsm +1.x -all\n"
        f"ARRAY /dev/md/Volume0_0 metadata=1.0 UUID={N0} name=any:Volume0\n")
    assert _read(root, "etc/kernel/cmdline") == f"root=UUID={FS_ROOT} ro rd.md.uuid={N0} rd.md.uuid={N0} rhgb quiet\n"
    grubenv = _read(root, "boot/grub2/grubenv")
    assert grubenv == _grubenv(f"root=UUID={FS_ROOT} ro rd.md.uuid={N0}")
    assert len(grubenv.encode()) == 1024
    assert "rd.md.uuid=0A0A0A0A-1B1B-1B1B-2C2C-2C2C3D3D3D3D" in _read(root, "etc/dracut.conf.d/90-md.conf")


def test_two_volumes_each_get_their_line_in_member_order():
    layout = two_volume_layout()
    text = (f"ARRAY /dev/md/imsm0 metadata=imsm UUID={UUID_C}\n"
            f"ARRAY /dev/md/System container={UUID_C} member=0 UUID={UUID_V0}\n"
            "MAILADDR root\n"
            f"ARRAY /dev/md/Scratch container=/dev/md/imsm0 member=1 UUID={UUID_V1}\n")
    arrays = [MigratedArray("/dev/md126", N0, "1.0", "any:System"), MigratedArray("/dev/md125", N1, "1.2", "any:Scratch")]
    pairs = parse_uuid_map(f"{UUID_V0} {N0}\n{UUID_V1} {N1}\n{UUID_C} {N0}\n")
    from rear_mdcontainer.native_finalize import native_uuids

    new, what = update_mdadm_conf_native(text, layout, native_uuids(layout, pairs, arrays), arrays)
    assert new == (f"ARRAY /dev/md/System metadata=1.0 UUID={N0} name=any:System\n"
                   f"ARRAY /dev/md/Scratch metadata=1.2 UUID={N1} name=any:Scratch\n"
                   "MAILADDR root\n")
    assert what == "3 ARRAY line(s) of the firmware RAID replaced by 2 for the native md arrays"


def test_a_conf_without_our_lines_gets_them_appended(tmp_path):
    _write(tmp_path, "etc/mdadm/mdadm.conf", "HOMEHOST <system>\n")
    _run(tmp_path)
    assert _read(tmp_path, "etc/mdadm/mdadm.conf") == (
        "HOMEHOST <system>\n"
        "# native md arrays that replaced firmware RAID volumes in 'rear recover' (rear-mdcontainer)\n"
        f"ARRAY /dev/md/Volume0 metadata=1.0 UUID={N0} name=any:Volume0\n")


def test_a_name_that_is_no_plain_word_is_left_out(tmp_path):
    _write(tmp_path, "etc/mdadm/mdadm.conf", f"ARRAY /dev/md/x container={UUID_C} member=0 UUID={UUID_V0}\n")
    _run(tmp_path, arrays=[MigratedArray("/dev/md126", N0, "1.0", "any:Data 6")])
    assert _read(tmp_path, "etc/mdadm/mdadm.conf") == f"ARRAY /dev/md/x metadata=1.0 UUID={N0}\n"


def test_a_volume_without_native_record_is_a_warning(tmp_path):
    root = debian_root(tmp_path)
    result = _run(root, arrays=[])
    assert any("no native array was recorded" in w for w in result.warnings)


def test_cli_finalize_with_native_file(tmp_path, capsys):
    root = debian_root(tmp_path / "root")
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(format_layout(imsm_raid1_layout())) + "\n", encoding="utf-8")
    uuid_map = tmp_path / "map"
    uuid_map.write_text(f"{UUID_V0} {N0}\n{UUID_C} {N0}\n", encoding="utf-8")
    native = tmp_path / "native"
    native.write_text(format_records(ARRAYS), encoding="utf-8")
    assert main(["finalize", "--root", str(root), "--layout-file", str(layout_file), "--uuid-map", str(uuid_map),
                 "--native-file", str(native)]) == 0
    assert "for the native md arrays" in capsys.readouterr().out
    assert f"ARRAY /dev/md/Volume0 metadata=1.0 UUID={N0} name=any:Volume0" in _read(root, "etc/mdadm/mdadm.conf")
