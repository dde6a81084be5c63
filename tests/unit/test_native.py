"""Migration to native md (MDCONTAINER_MIGRATE=native): decisions, geometry, code, checks, verification."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.native import (
    MIGRATE,
    RECREATE,
    REUSE,
    MigratedArray,
    boot_volumes,
    creation_mode,
    format_records,
    metadata_for,
    migrate_setting,
    needed_bytes,
    parse_records,
    partition_device,
    plan_native,
)
from rear_mdcontainer.native_verify import verify_native
from rear_mdcontainer.preflight import check_container
from rear_mdcontainer.readiness import wait_native_writable
from rear_mdcontainer.render import render_container, render_native_container, render_native_volume

from .helpers import (
    GIB,
    MIB,
    UUID_C,
    UUID_V0,
    UUID_V1,
    FakeTree,
    bash_syntax_ok,
    ddf_layout,
    imsm_raid1_layout,
    run_with_stubs,
    two_volume_layout,
)
from .test_render import HOSTILE_NAMES, SHELLCHECK

# / on md126p2 (with /boot/efi on md126p1), /data on md125p1: diskdeps.conf as ReaR writes it.
DEPS_SYSTEM = [
    ("/dev/md126p1", "/dev/md126"), ("/dev/md126p2", "/dev/md126"), ("/dev/md125p1", "/dev/md125"),
    ("/dev/md126", "/dev/md127"), ("/dev/md125", "/dev/md127"), ("/dev/md127", "/dev/sda"), ("/dev/md127", "/dev/sdb"),
    ("fs:/", "/dev/md126p2"), ("fs:/boot/efi", "/dev/md126p1"), ("fs:/boot/efi", "fs:/"),
    ("fs:/data", "/dev/md125p1"), ("fs:/data", "fs:/"),
]
DEPS_DATA_ONLY = [("/dev/md126p1", "/dev/md126"), ("fs:/srv", "/dev/md126p1"), ("fs:/", "/dev/vda1")]


def render_native_all(layout: Layout, deps=DEPS_SYSTEM, grow_last: bool = False) -> str:
    code = []
    for container in layout.containers:
        code.append(render_native_container(layout, container.device, grow_last=grow_last, wait_seconds=60, deps=deps))
        for volume in layout.volumes_of(container):
            code.append(render_native_volume(layout, volume.device, grow_last=grow_last, wait_seconds=60, deps=deps))
    return "".join(code)


# --- the decisions -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "migrate"), [("native", True), ("Native ", True), ("", False), ("no", False),
                                                ("off", False)])
def test_migrate_setting(value, migrate):
    assert migrate_setting(value) is migrate


@pytest.mark.parametrize("value", ["yes", "imsm", "md", "native1"])
def test_unknown_migrate_setting_is_refused(value):
    with pytest.raises(MdcError) as info:
        migrate_setting(value)
    assert info.value.subject == "MDCONTAINER_MIGRATE"
    assert "native" in info.value.fix


def test_migrate_or_reuse_or_recreate():
    assert creation_mode(migrate=True, reuse=False) == MIGRATE
    assert creation_mode(migrate=False, reuse=True) == REUSE
    assert creation_mode(migrate=False, reuse=False) == RECREATE
    with pytest.raises(MdcError) as info:
        creation_mode(migrate=True, reuse=True)
    assert "MDCONTAINER_REUSE=no" in info.value.fix


def test_volume_with_root_or_esp_gets_metadata_1_0_others_1_2():
    layout = two_volume_layout()
    boot = boot_volumes(layout, DEPS_SYSTEM)
    assert boot == {"/dev/md126": "/boot/efi"}
    assert metadata_for("/dev/md126", boot) == "1.0"
    assert metadata_for("/dev/md125", boot) == "1.2"


@pytest.mark.parametrize("mountpoint", ["/boot", "/", "/efi", "/boot/efi"])
def test_each_boot_mountpoint_gives_1_0(mountpoint):
    deps = [("/dev/md126p1", "/dev/md126"), (f"fs:{mountpoint}", "/dev/md126p1")]
    assert boot_volumes(imsm_raid1_layout(), deps) == {"/dev/md126": mountpoint}


def test_boot_through_lvm_gives_1_0():
    deps = [("/dev/md126p2", "/dev/md126"), ("pv:/dev/md126p2", "/dev/md126p2"), ("/dev/mapper/vg-root", "pv:/dev/md126p2"),
            ("fs:/", "/dev/mapper/vg-root")]
    plan = plan_native(imsm_raid1_layout(), imsm_raid1_layout().containers[0], False, deps)
    assert plan.arrays[0].metadata == "1.0"


def test_data_volume_gets_1_2_with_a_fixed_data_offset():
    plan = plan_native(imsm_raid1_layout(), imsm_raid1_layout().containers[0], False, DEPS_DATA_ONLY)
    (array,) = plan.arrays
    assert (array.metadata, array.data_offset_kib, array.boot) == ("1.2", 1024, "")


# --- the geometry --------------------------------------------------------------------------------------

def test_one_volume_uses_the_whole_disks_in_slot_order():
    layout = imsm_raid1_layout()
    volume = dataclasses.replace(layout.volumes[0], devices=("/dev/sdb", "/dev/sda"))
    layout = Layout(layout.containers, (volume,))
    plan = plan_native(layout, layout.containers[0], False, DEPS_SYSTEM)
    assert not plan.partitioned
    (array,) = plan.arrays
    assert array.create_devices == ("/dev/sdb", "/dev/sda")
    assert (array.size_arg, array.level, array.raid_devices, array.name, array.bitmap) == (
        1048576, "raid1", 2, "Volume0", True)
    assert array.old_uuid == UUID_V0


def test_two_volumes_get_one_partition_each_on_every_disk():
    layout = two_volume_layout()
    plan = plan_native(layout, layout.containers[0], False, DEPS_SYSTEM)
    assert plan.partitioned
    assert [(p.disk, p.number, p.start_mib, p.end_mib, p.label) for p in plan.partitions] == [
        ("/dev/sda", 1, 1, 1026, "md126"), ("/dev/sdb", 1, 1, 1026, "md126"),
        ("/dev/sda", 2, 1026, 1539, "md125"), ("/dev/sdb", 2, 1026, 1539, "md125"),
    ]
    first, second = plan.arrays
    assert first.create_devices == ("/dev/sda1", "/dev/sdb1")
    assert second.create_devices == ("/dev/sda2", "/dev/sdb2")
    assert (second.level, second.chunk_kib, second.size_arg, second.bitmap, second.metadata) == (
        "raid0", 64, 524288, False, "1.2")


def test_grow_last_gives_the_last_partition_the_rest():
    layout = two_volume_layout()
    plan = plan_native(layout, layout.containers[0], True, DEPS_SYSTEM)
    assert [p.end_mib for p in plan.partitions] == [1026, 1026, None, None]
    assert plan.arrays[1].size_arg is None and plan.arrays[0].size_arg == 1048576
    code = render_native_container(layout, "/dev/md127", grow_last=True, wait_seconds=60, deps=DEPS_SYSTEM)
    assert "mkpart md126 1 1026 mkpart md125 1026 100% set 1 raid on set 2 raid on" in code


@pytest.mark.parametrize(("disk", "number", "device"), [
    ("/dev/sda", 1, "/dev/sda1"), ("/dev/nvme0n1", 2, "/dev/nvme0n1p2"), ("/dev/mmcblk0", 1, "/dev/mmcblk0p1"),
    ("/dev/disk/by-id/ata-X_1", 1, "/dev/disk/by-id/ata-X_1-part1"), ("/dev/vdb", 3, "/dev/vdb3"),
])
def test_partition_device_names(disk, number, device):
    assert partition_device(disk, number) == device


def test_needed_bytes_native():
    one = imsm_raid1_layout()
    assert needed_bytes(one, one.containers[0], "/dev/sda") == 1025 * MIB
    two = two_volume_layout()
    assert needed_bytes(two, two.containers[0], "/dev/sda") == (1 + 1025 + 513 + 1) * MIB
    assert needed_bytes(two, two.containers[0], "/dev/sdz") == 0


def test_volumes_on_some_disks_only_number_their_partitions_per_disk():
    container = Container("/dev/md127", "ddf", ("/dev/sda", "/dev/sdb", "/dev/sdc"))
    first = Volume("/dev/md126", "/dev/md127", 0, "raid1", 2, ("/dev/sda", "/dev/sdb"), 1024, "A", metadata="ddf")
    second = Volume("/dev/md125", "/dev/md127", 1, "raid1", 2, ("/dev/sdb", "/dev/sdc"), 2048, "B", metadata="ddf")
    layout = Layout((container,), (first, second))
    plan = plan_native(layout, container, False, [])
    assert plan.arrays[0].create_devices == ("/dev/sda1", "/dev/sdb1")
    assert plan.arrays[1].create_devices == ("/dev/sdb2", "/dev/sdc1")
    assert [(p.device, p.start_mib, p.end_mib) for p in plan.partitions] == [
        ("/dev/sda1", 1, 3), ("/dev/sdb1", 1, 3), ("/dev/sdb2", 3, 6), ("/dev/sdc1", 1, 4)]


def test_unused_container_disk_is_reported():
    container = Container("/dev/md127", "imsm", ("/dev/sda", "/dev/sdb", "/dev/sdc"))
    volume = Volume("/dev/md126", "/dev/md127", 0, "raid1", 2, ("/dev/sda", "/dev/sdb"), 1024, "V", metadata="imsm")
    plan = plan_native(Layout((container,), (volume,)), container, False, [])
    assert plan.unused_disks == ("/dev/sdc",)


def test_a_container_without_volumes_cannot_be_migrated():
    layout = Layout(imsm_raid1_layout().containers, ())
    with pytest.raises(MdcError, match="nothing to migrate"):
        plan_native(layout, layout.containers[0], False, [])


# --- the generated code ---------------------------------------------------------------------------------

LAYOUTS = {"imsm-raid1": imsm_raid1_layout(), "imsm-two-volumes": two_volume_layout(), "ddf-raid6": ddf_layout()}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("grow_last", [False, True])
def test_native_code_is_valid_bash(name, grow_last):
    done = bash_syntax_ok(render_native_all(LAYOUTS[name], grow_last=grow_last))
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not Path(SHELLCHECK).exists(), reason="shellcheck is not installed")
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_native_code_passes_shellcheck(name, tmp_path):
    layout = LAYOUTS[name]
    hostile = Layout(layout.containers,
                     tuple(dataclasses.replace(v, name=f"$(x) `y` '{v.member}\"") for v in layout.volumes))
    for model in (layout, hostile):
        script = tmp_path / "code.sh"
        script.write_text("#!/bin/bash\n" + render_native_all(model), encoding="utf-8")
        done = subprocess.run([SHELLCHECK, "-s", "bash", "-S", "warning", "-e", "SC2034,SC2154", str(script)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_single_volume_steps(tmp_path):
    calls = run_with_stubs(tmp_path, render_native_all(imsm_raid1_layout()))
    steps = [c for c in calls if c[0] != "LogPrint"]
    assert steps == [
        ("mdcontainer_helper", "prepare-container", "--layout-file", str(tmp_path / "disklayout.conf"), "--container",
         "/dev/md127", "--target-root", "/mnt/local", "--imsm-no-platform", "no", "--grow-last-volume", "no",
         "--migrate", "native"),
        ("mdadm", "--create", "/dev/md126", "--run", "--metadata=1.0", "--homehost=any", "--name=Volume0",
         "--level=raid1", "--raid-devices=2", "--size=1048576", "--bitmap=internal", "/dev/sda", "/dev/sdb"),
        ("mdcontainer_helper", "wait-writable", "--native", "1.0", "--timeout", "60", "/dev/md126"),
        ("my_udevsettle",),
        ("mdcontainer_helper", "wait-writable", "--native", "1.0", "--timeout", "60", "/dev/md126"),
        ("wipefs", "--all", "--force", "/dev/md126"),
        ("mdcontainer_helper", "assembly", "unblock"),  # the EXIT trap
    ]
    assert not [c for c in calls if c[0] == "LogPrintError"], "one volume on whole disks: no boot warning"
    logs = [c[1] for c in calls if c[0] == "LogPrint"]
    assert "rear-mdcontainer: creating native raid1 array /dev/md126 'Volume0' with metadata 1.0 (it holds " \
           "/boot/efi)" in logs
    code = render_native_all(imsm_raid1_layout())
    assert "IMSM_NO_PLATFORM" not in code and "--metadata=imsm" not in code and "mdmon" not in code.replace(
        "(no mdmon)", "")


def test_two_volume_steps_partition_first(tmp_path):
    code = render_native_all(two_volume_layout())
    # The partition nodes do not exist here: pretend they are block devices.
    code = code.replace('until test -b "$mdcontainer_partition"', 'until test -n "$mdcontainer_partition"')
    calls = run_with_stubs(tmp_path, code)
    assert ("LogPrintError", "rear-mdcontainer: /dev/md126 holds /boot/efi but becomes a native array on partitions "
            "(its container had several volumes): set up the boot loader by hand after the recovery (user guide: "
            "Migrating to native md)") in calls
    steps = [c for c in calls if c[0] not in ("LogPrint", "LogPrintError", "mdcontainer_helper")]
    assert steps == [
        ("parted", "-s", "/dev/sda", "mklabel", "gpt", "unit", "MiB", "mkpart", "md126", "1", "1026", "mkpart", "md125",
         "1026", "1539", "set", "1", "raid", "on", "set", "2", "raid", "on"),
        ("parted", "-s", "/dev/sdb", "mklabel", "gpt", "unit", "MiB", "mkpart", "md126", "1", "1026", "mkpart", "md125",
         "1026", "1539", "set", "1", "raid", "on", "set", "2", "raid", "on"),
        ("my_udevsettle",),
        ("wipefs", "--all", "--force", "/dev/sda1"), ("wipefs", "--all", "--force", "/dev/sdb1"),
        ("wipefs", "--all", "--force", "/dev/sda2"), ("wipefs", "--all", "--force", "/dev/sdb2"),
        ("mdadm", "--create", "/dev/md126", "--run", "--metadata=1.0", "--homehost=any", "--name=System",
         "--level=raid1", "--raid-devices=2", "--size=1048576", "--bitmap=internal", "/dev/sda1", "/dev/sdb1"),
        ("mdadm", "--create", "/dev/md125", "--run", "--metadata=1.2", "--data-offset=1024K", "--homehost=any",
         "--name=Scratch", "--level=raid0", "--raid-devices=2", "--size=524288", "--chunk=64", "/dev/sda2",
         "/dev/sdb2"),
        ("my_udevsettle",), ("wipefs", "--all", "--force", "/dev/md126"),
        ("my_udevsettle",), ("wipefs", "--all", "--force", "/dev/md125"),
    ]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_in_native_code(tmp_path, name):
    (tmp_path / "KEEP").write_text("keep", encoding="utf-8")
    calls = run_with_stubs(tmp_path, render_native_all(imsm_raid1_layout(name=name)))
    assert not (tmp_path / "CANARY").exists() and (tmp_path / "KEEP").exists()
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates[0][6] == f"--name={name}"


def test_ddf_raid6_keeps_level_chunk_and_layout(tmp_path):
    calls = run_with_stubs(tmp_path, render_native_all(ddf_layout(), deps=[]))
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates == [("mdadm", "--create", "/dev/md126", "--run", "--metadata=1.2", "--data-offset=1024K",
                        "--homehost=any", "--name=Data 6", "--level=raid6", "--raid-devices=4", "--size=1048576",
                        "--chunk=64", "--layout=ddf-N-restart", "--bitmap=internal", "/dev/sda", "/dev/sdb", "/dev/sdc",
                        "/dev/sdd")]


def test_recreate_code_is_unchanged_by_the_migration_code():
    """The non-migrate path renders as before (the golden steps are in test_render.py)."""
    code = render_container(imsm_raid1_layout(), "/dev/md127", no_platform=True, no_platform_setting="yes",
                            grow_last=False, wait_seconds=60)
    assert "--migrate" not in code and "native" not in code


# --- the command line ------------------------------------------------------------------------------------

def _layout_file(tmp_path: Path, layout: Layout) -> Path:
    path = tmp_path / "disklayout.conf"
    path.write_text("\n".join(format_layout(layout)) + "\n", encoding="utf-8")
    return path


def _deps_file(tmp_path: Path, deps) -> Path:
    path = tmp_path / "diskdeps.conf"
    path.write_text("".join(f"{child} {parent}\n" for child, parent in deps), encoding="utf-8")
    return path


def test_cli_render_migrates(tmp_path, capsys):
    layout_file = _layout_file(tmp_path, two_volume_layout())
    deps = _deps_file(tmp_path, DEPS_SYSTEM)
    assert main(["render", "container", "--layout-file", str(layout_file), "--device", "/dev/md127",
                 "--migrate", "native", "--deps-file", str(deps)]) == 0
    out = capsys.readouterr().out
    assert "--metadata=1.0" in out and "--metadata=1.2" in out and "parted -s /dev/sda" in out
    assert main(["render", "volume", "--layout-file", str(layout_file), "--device", "/dev/md125",
                 "--migrate", "native", "--deps-file", str(deps)]) == 0
    assert "wait-writable --native 1.2" in capsys.readouterr().out


def test_cli_render_without_migrate_is_the_container_code(tmp_path, capsys):
    layout_file = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "container", "--layout-file", str(layout_file), "--device", "/dev/md127",
                 "--migrate", ""]) == 0
    assert "--metadata=imsm" in capsys.readouterr().out


def test_cli_migrate_and_reuse_is_an_error(tmp_path, capsys):
    layout_file = _layout_file(tmp_path, imsm_raid1_layout())
    deps = _deps_file(tmp_path, DEPS_SYSTEM)
    assert main(["render", "container", "--layout-file", str(layout_file), "--device", "/dev/md127",
                 "--migrate", "native", "--reuse", "yes", "--deps-file", str(deps)]) == 2
    assert "contradict" in capsys.readouterr().err


def test_cli_migrate_needs_the_deps_file(tmp_path, capsys):
    layout_file = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "container", "--layout-file", str(layout_file), "--device", "/dev/md127",
                 "--migrate", "native"]) == 2
    assert "diskdeps.conf" in capsys.readouterr().err


# --- preflight ---------------------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    fake = FakeTree(tmp_path)
    fake.block("sda", "8:0")
    fake.block("sdb", "8:16")
    fake.platform = False
    return fake


def test_preflight_migrate_needs_no_platform(tree):
    layout = imsm_raid1_layout()
    report = check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=False,
                             migrate=True, deps=DEPS_SYSTEM)
    assert ("mdadm", "--detail-platform", "--metadata=imsm") not in tree.calls
    assert "/dev/sda (sda): 2048 MiB, 1025 MiB needed" in report
    assert any("becomes a native md array with metadata 1.0 (it holds /boot/efi)" in line for line in report)
    assert report[-1].startswith("migrating to native md")
    with pytest.raises(MdcError, match="Intel"):  # the same layout without migration needs the platform
        check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=False)


def test_preflight_migrate_refuses_small_disks(tree):
    layout = imsm_raid1_layout(size_kib=2 * GIB // 1024)
    with pytest.raises(MdcError, match="need 2049 MiB as native md arrays"):
        check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=True, migrate=True)


def test_preflight_migrate_does_not_need_the_container_name(tree):
    tree.block("sdc", "8:32")
    tree.md("md127", "9:127", "1.2", "clean", ("sdc",))  # another array holds the container's name
    layout = imsm_raid1_layout()
    check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=True, migrate=True)
    with pytest.raises(MdcError, match="already in use"):
        check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=True)


def test_preflight_migrate_needs_mdadm_3_3(tree):
    tree.mdadm_version = "mdadm - v3.2.6 - 25th October 2012"
    layout = imsm_raid1_layout()
    with pytest.raises(MdcError, match=r"older than 3\.3"):
        check_container(tree.system, layout, layout.containers[0], original_sizes={}, no_platform=True, migrate=True)


# --- waiting for the arrays --------------------------------------------------------------------------------

def _clock():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return sleep, lambda: now[0]


def test_native_array_is_writable_right_away(tree):
    tree.md("md126", "9:126", "1.0", "active", ("sda", "sdb"))
    sleep, clock = _clock()
    assert wait_native_writable(tree.system, "/dev/md126", "1.0", 5, sleep, clock) == \
        "/dev/md126 is writable (active, native md, metadata 1.0)"


def test_native_read_auto_is_switched(tree):
    tree.md("md126", "9:126", "1.2", "read-auto", ("sda", "sdb"))
    sleep, clock = _clock()
    assert "writable (active" in wait_native_writable(tree.system, "/dev/md126", "1.2", 5, sleep, clock)
    assert ("mdadm", "--readwrite", "/dev/md126") in tree.calls


@pytest.mark.parametrize("version", ["external:/md127/0", "1.2", ""])
def test_native_wait_refuses_other_arrays(tree, version):
    if version:
        tree.md("md126", "9:126", version, "active", ("sda", "sdb"))
    with pytest.raises(MdcError, match=r"not a native md array with metadata 1\.0"):
        wait_native_writable(tree.system, "/dev/md126", "1.0", 5, *_clock())


def test_native_wait_times_out(tree):
    tree.md("md126", "9:126", "1.0", "inactive", ("sda", "sdb"))
    tree.readwrite_state = None
    with pytest.raises(MdcError, match="still 'inactive' after 5 seconds"):
        wait_native_writable(tree.system, "/dev/md126", "1.0", 5, *_clock())


# --- verification -----------------------------------------------------------------------------------------

NEW_V0 = "11111111:22222222:33333333:44444444"
NEW_V1 = "55555555:66666666:77777777:88888888"


class FakeSource:
    def __init__(self, arrays: dict[str, dict[str, str]], exports: dict[str, str], details: dict[str, str] | None = None):
        self.arrays, self.exports, self.details = arrays, exports, details or {}

    def md_devices(self):
        return sorted(self.arrays)

    def sysfs(self, md):
        return dict(self.arrays.get(md, {}))

    def detail(self, md):
        return self.details.get(md, "")

    def detail_export(self, md):
        return self.exports.get(md, "")

    def examine_scan(self):
        return ""


def _native_sysfs(version: str, level: str, members: list[str], size: int, chunk: int = 0) -> dict[str, str]:
    values = {"metadata_version": version, "level": level, "raid_disks": str(len(members)),
              "component_size": str(size), "chunk_size": str(chunk), "array_state": "clean"}
    for slot, member in enumerate(members):
        values[f"dev-{member}/slot"] = str(slot)
    return values


def _two_volume_source() -> FakeSource:
    return FakeSource(
        {"md126": _native_sysfs("1.0", "raid1", ["sda1", "sdb1"], 1048576),
         "md125": _native_sysfs("1.2", "raid0", ["sda2", "sdb2"], 524288, 65536)},
        {"md126": f"MD_LEVEL=raid1\nMD_UUID={NEW_V0}\nMD_NAME=any:System\n",
         "md125": f"MD_LEVEL=raid0\nMD_UUID={NEW_V1}\nMD_NAME=any:Scratch\n"})


def test_verify_native_maps_volume_and_container_uuids():
    layout = two_volume_layout()
    plans = [plan_native(layout, layout.containers[0], False, DEPS_SYSTEM)]
    result = verify_native(plans, _two_volume_source(), lambda d: d.rsplit("/", 1)[-1])
    assert result.problems == ()
    assert result.uuid_map == ((UUID_V0, NEW_V0), (UUID_V1, NEW_V1), (UUID_C, NEW_V0))
    assert [(a.device, a.uuid, a.metadata, a.name) for a in result.arrays] == [
        ("/dev/md126", NEW_V0, "1.0", "any:System"), ("/dev/md125", NEW_V1, "1.2", "any:Scratch")]
    assert result.report[0].startswith("mdcontainer /dev/md127: migrated to native md: /dev/md126 raid1 metadata 1.0")


def test_verify_native_finds_differences():
    layout = two_volume_layout()
    plans = [plan_native(layout, layout.containers[0], False, DEPS_SYSTEM)]
    source = _two_volume_source()
    source.arrays["md126"] = _native_sysfs("1.2", "raid1", ["sdb1", "sda1"], 1048000)
    source.arrays.pop("md125")
    result = verify_native(plans, source, lambda d: d.rsplit("/", 1)[-1])
    text = "; ".join(result.problems)
    assert "the metadata is 1.2, the plan says 1.0" in text
    assert "the members in slot order is sdb1,sda1, the plan says sda1,sdb1" in text
    assert "the size per member (KiB) is 1048000" in text
    assert "mdvolume /dev/md125 (native): no such md array after the recovery" in text


def test_native_records_round_trip():
    arrays = [MigratedArray("/dev/md126", NEW_V0, "1.0", "any:Data 6"), MigratedArray("/dev/md125", NEW_V1, "1.2", "x")]
    assert parse_records(format_records(arrays)) == arrays
    with pytest.raises(MdcError):
        parse_records("/dev/md126 nope 1.0 x\n")


def test_cli_verify_native_writes_map_and_records(tmp_path, capsys, monkeypatch):
    layout_file = _layout_file(tmp_path, imsm_raid1_layout())
    deps = _deps_file(tmp_path, DEPS_SYSTEM)
    source = FakeSource({"md126": _native_sysfs("1.0", "raid1", ["sda", "sdb"], 1048576)},
                        {"md126": f"MD_UUID={NEW_V0}\nMD_NAME=any:Volume0\n"})
    monkeypatch.setattr("rear_mdcontainer.cli._source", lambda args: source)
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tmp_path / "root"))
    native = tmp_path / "native"
    uuid_map = tmp_path / "map"
    assert main(["verify", "--layout-file", str(layout_file), "--uuid-map", str(uuid_map), "--migrate", "native",
                 "--deps-file", str(deps), "--native-file", str(native)]) == 0, capsys.readouterr().err
    assert uuid_map.read_text() == f"{UUID_V0} {NEW_V0}\n{UUID_C} {NEW_V0}\n"
    assert native.read_text() == f"/dev/md126 {NEW_V0} 1.0 any:Volume0\n"
    # Not migrating (a later run): the record goes, so that finalize does not take it.
    monkeypatch.setattr("rear_mdcontainer.verify.check", lambda *a, **k: _Empty())
    monkeypatch.setattr("rear_mdcontainer.probe.probe_layout", lambda source: _EmptyProbe())
    assert main(["verify", "--layout-file", str(layout_file), "--native-file", str(native)]) == 0
    assert not native.exists()


class _Empty:
    report = ()
    uuid_map = ()


class _EmptyProbe:
    layout = Layout()
