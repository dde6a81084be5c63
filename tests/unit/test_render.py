"""Rendering diskrestore.sh code: valid bash, exact argv for mdadm, nothing a name says is executed."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.render import plan_volumes, render_container, render_volume

from .helpers import (
    bash_syntax_ok,
    ddf_layout,
    imsm_container,
    imsm_raid1_layout,
    raid1_volume,
    render_all,
    run_with_stubs,
    two_volume_layout,
)

SHELLCHECK = shutil.which("shellcheck") or "/usr/bin/shellcheck"

# --- syntax and lint ---------------------------------------------------------------------------

LAYOUTS = {
    "imsm-raid1": imsm_raid1_layout(),
    "imsm-two-volumes": two_volume_layout(),
    "ddf-raid6": ddf_layout(),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("grow_last", [False, True])
def test_rendered_code_is_valid_bash(name, grow_last):
    done = bash_syntax_ok(render_all(LAYOUTS[name], grow_last=grow_last))
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not Path(SHELLCHECK).exists(), reason="shellcheck is not installed")
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_shellcheck_finds_nothing(name, tmp_path):
    layout = LAYOUTS[name]
    hostile = Layout(layout.containers,
                     tuple(dataclasses.replace(v, name=f"$(x) `y` '{v.member}\"") for v in layout.volumes))
    for model in (layout, hostile):
        script = tmp_path / "code.sh"
        script.write_text("#!/bin/bash\n" + render_all(model, no_platform=True) + render_all(model, no_platform=False),
                          encoding="utf-8")
        done = subprocess.run([SHELLCHECK, "-s", "bash", "-S", "warning", "-e", "SC2034,SC2154", str(script)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


# --- what the code runs --------------------------------------------------------------------------

HOSTILE_NAMES = [
    "a b",
    "'",
    '"',
    "$(touch CANARY)",
    "`touch CANARY`",
    "x;rm -rf KEEP",
    "x&&touch CANARY",
    "a|touch CANARY",
    ">CANARY",
    "$HOME",
    "*",
    "\\",
    "-x --force",
    "Daten äöü ß",
    "ボリューム",
    "%20x",
    "a  b ",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_volume_names_are_passed_as_one_argument(tmp_path, name):
    (tmp_path / "KEEP").write_text("keep", encoding="utf-8")
    layout = imsm_raid1_layout(name=name)
    calls = run_with_stubs(tmp_path, render_all(layout))
    assert not (tmp_path / "CANARY").exists()
    assert (tmp_path / "KEEP").exists()
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates[1] == ("mdadm", "--create", "/dev/md126", "--run", "--level=raid1", "--raid-devices=2",
                          "--size=1048576", f"--name={name}", "/dev/sda", "/dev/sdb")
    logs = [c[1] for c in calls if c[0] == "LogPrint"]
    assert f"rear-mdcontainer: creating raid1 volume /dev/md126 '{name}' (member 0)" in logs


def test_container_code_runs_the_steps_in_order(tmp_path):
    calls = run_with_stubs(tmp_path, render_all(imsm_raid1_layout(), no_platform=True))
    steps = [c for c in calls if c[0] != "LogPrint" and c[0] != "systemctl"]
    assert steps == [
        ("mdcontainer_helper", "prepare-container", "--layout-file", str(tmp_path / "disklayout.conf"), "--container",
         "/dev/md127", "--target-root", "/mnt/local", "--imsm-no-platform", "yes", "--grow-last-volume", "no"),
        ("mdadm", "--create", "/dev/md127", "--run", "--metadata=imsm", "--raid-devices=2", "/dev/sda", "/dev/sdb"),
        ("mdadm", "--create", "/dev/md126", "--run", "--level=raid1", "--raid-devices=2", "--size=1048576",
         "--name=Volume0", "/dev/sda", "/dev/sdb"),
        ("mdcontainer_helper", "wait-writable", "--container", "/dev/md127", "--timeout", "60", "/dev/md126"),
        ("my_udevsettle",),
        ("mdcontainer_helper", "wait-writable", "--container", "/dev/md127", "--member", "0", "--timeout", "60",
         "/dev/md126"),
        ("wipefs", "--all", "--force", "/dev/md126"),
        ("mdcontainer_helper", "assembly", "unblock"),  # the EXIT trap
    ]


def test_no_platform_exports_imsm_no_platform(tmp_path):
    code = render_all(imsm_raid1_layout(), no_platform=True)
    assert "export IMSM_NO_PLATFORM=1\n" in code
    assert "MDCONTAINER_IMSM_NO_PLATFORM=yes" in code
    script = code + 'printf "%s\\n" "$IMSM_NO_PLATFORM" > "$HOME/env"\n'
    run_with_stubs(tmp_path, script)
    assert (tmp_path / "env").read_text(encoding="utf-8") == "1\n"


def test_platform_code_does_not_export_imsm_no_platform():
    code = render_all(imsm_raid1_layout(), no_platform=False)
    assert "IMSM_NO_PLATFORM=1" not in code
    assert "--imsm-no-platform no" in code


def test_ddf_never_gets_imsm_no_platform(tmp_path):
    code = render_all(ddf_layout(), no_platform=True)
    assert "IMSM_NO_PLATFORM=1" not in code
    calls = run_with_stubs(tmp_path, code)
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates == [
        ("mdadm", "--create", "/dev/md127", "--run", "--metadata=ddf", "--raid-devices=4", "/dev/sda", "/dev/sdb",
         "/dev/sdc", "/dev/sdd"),
        ("mdadm", "--create", "/dev/md126", "--run", "--level=raid6", "--raid-devices=4", "--size=1048576",
         "--chunk=64", "--layout=ddf-N-restart", "--name=Data 6", "/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"),
    ]


def _two_volumes_reversed() -> Layout:
    layout = two_volume_layout()
    return Layout(layout.containers, tuple(reversed(layout.volumes)))


def test_volumes_are_created_in_member_order_with_recorded_geometry(tmp_path):
    calls = run_with_stubs(tmp_path, render_all(_two_volumes_reversed()))
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")][1:]
    assert creates == [
        ("mdadm", "--create", "/dev/md126", "--run", "--level=raid1", "--raid-devices=2", "--size=1048576",
         "--name=System", "/dev/sda", "/dev/sdb"),
        ("mdadm", "--create", "/dev/md125", "--run", "--level=raid0", "--raid-devices=2", "--size=524288",
         "--chunk=64", "--name=Scratch", "/dev/sda", "/dev/sdb"),
    ]
    waits = [c for c in calls if c[:2] == ("mdcontainer_helper", "wait-writable")]
    # the container's code waits for both, each volume's code again for itself
    assert waits[0][-2:] == ("/dev/md126", "/dev/md125")
    assert [w[-1] for w in waits[1:]] == ["/dev/md126", "/dev/md125"]


def test_grow_last_omits_size_for_the_last_volume_only(tmp_path):
    calls = run_with_stubs(tmp_path, render_all(_two_volumes_reversed(), grow_last=True))
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")][1:]
    assert "--size=1048576" in creates[0]
    assert not [arg for arg in creates[1] if arg.startswith("--size")]
    assert "--chunk=64" in creates[1]
    prepare = next(c for c in calls if c[:2] == ("mdcontainer_helper", "prepare-container"))
    assert prepare[-2:] == ("--grow-last-volume", "yes")


def test_grow_last_with_one_volume_omits_its_size():
    plans = plan_volumes(imsm_raid1_layout(), imsm_container(), grow_last=True)
    assert [p.size_arg for p in plans] == [None]
    plans = plan_volumes(imsm_raid1_layout(), imsm_container(), grow_last=False)
    assert [p.size_arg for p in plans] == [1048576]


def test_volume_devices_in_slot_order(tmp_path):
    volume = raid1_volume(devices=("/dev/sdb", "/dev/sda"))
    calls = run_with_stubs(tmp_path, render_all(Layout((imsm_container(),), (volume,))))
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates[0][-2:] == ("/dev/sda", "/dev/sdb")  # the container keeps its own order
    assert creates[1][-2:] == ("/dev/sdb", "/dev/sda")


def test_disk_paths_are_quoted(tmp_path):
    disks = ("/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001", "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002")
    container = Container(device="/dev/md127", metadata="imsm", devices=disks)
    volume = Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid1", raid_devices=2,
                    devices=disks, size_kib=1024, name="Vol", metadata="imsm")
    calls = run_with_stubs(tmp_path, render_all(Layout((container,), (volume,))))
    creates = [c for c in calls if c[:2] == ("mdadm", "--create")]
    assert creates[0][-2:] == disks
    assert creates[1][-2:] == disks


def test_missing_slot_is_refused():
    volume = raid1_volume(devices=("/dev/sda", "missing"))
    layout = Layout((imsm_container(),), (volume,))
    with pytest.raises(MdcError) as info:
        render_all(layout)
    assert info.value.subject == "mdvolume /dev/md126"
    assert "slot 1 has no disk (devices=/dev/sda,missing)" in info.value.problem
    assert "MDCONTAINER_MISSING_DISKS='/dev/md127:<disk>'" in info.value.fix


def test_member_gap_is_refused():
    layout = two_volume_layout()
    only_second = Layout(layout.containers, layout.volumes[1:])
    with pytest.raises(MdcError) as info:
        render_container(only_second, "/dev/md127", no_platform=False, no_platform_setting="no", grow_last=False,
                         wait_seconds=5)
    assert info.value.subject == "mdcontainer /dev/md127"
    assert "member indexes [1]" in info.value.problem


def test_unknown_devices_are_refused():
    layout = imsm_raid1_layout()
    with pytest.raises(MdcError) as info:
        render_container(layout, "/dev/md1", no_platform=False, no_platform_setting="no", grow_last=False,
                         wait_seconds=5)
    assert info.value.message.startswith("mdcontainer /dev/md1: there is no such entry")
    with pytest.raises(MdcError) as info:
        render_volume(layout, "/dev/md1", wait_seconds=5)
    assert info.value.message.startswith("mdvolume /dev/md1: there is no such entry")


def test_container_without_volumes_renders(tmp_path):
    layout = Layout((imsm_container(),), ())
    calls = run_with_stubs(tmp_path, render_all(layout))
    assert [c for c in calls if c[0] == "mdadm"] == [
        ("mdadm", "--create", "/dev/md127", "--run", "--metadata=imsm", "--raid-devices=2", "/dev/sda", "/dev/sdb")]


def test_volume_comment_shows_the_name_in_printable_ascii():
    code = render_volume(imsm_raid1_layout(name="Daten äöü"), "/dev/md126", wait_seconds=5)
    assert code.splitlines()[1] == "# Contents of raid1 volume /dev/md126 'Daten ???' (member 0 of /dev/md127, rear-mdcontainer)"


def test_wait_seconds_is_an_integer_in_the_code():
    code = render_volume(imsm_raid1_layout(), "/dev/md126", wait_seconds=7)
    assert "--timeout 7 /dev/md126" in code


# ReaR (lib/_input-output-functions.sh, 2.7 and later) runs diskrestore.sh as `( source $LAYOUT_CODE )` in a shell
# where `trap` is a function that aborts: "Forbidden usage of trap with '...'. Use AddExitTask instead."
REAR_TRAP = ("function trap () {\n"
             "    echo \"BugError: Forbidden usage of trap with '$*'. Use AddExitTask instead.\" >&2\n"
             "    exit 99\n"
             "}\n")


def test_container_code_runs_where_rear_forbids_trap(tmp_path):
    calls = run_with_stubs(tmp_path, REAR_TRAP + "( source /dev/stdin ) <<'CODE'\n" + render_all(imsm_raid1_layout())
                           + "CODE\n")
    assert calls[-1] == ("mdcontainer_helper", "assembly", "unblock")
