"""MDCONTAINER_REUSE=yes: which path for which state of the target.

The target states are arrays recorded from real mdadm (tests/fixtures): what a
firmware's setup could have left on the recovery's disks.  The layout is what
the original system recorded: an IMSM RAID1 volume 'System' of 400 MiB per
disk in a container on sda and sdb.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rear_mdcontainer import renumber, reuse
from rear_mdcontainer.cli import main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.preflight import preflight
from rear_mdcontainer.probe import RecordedSource
from rear_mdcontainer.verify import verify

from .helpers import MIB, FakeTree, render_all

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mdadm" / "bookworm"
FIRMWARE_UUID = "1505f7c9:23cc81c5:5368396c:31295b28"  # the imsm-raid1 recording's container


def kernel(disk: str) -> str:
    return disk.rsplit("/", 1)[-1]


def recorded(device: str = "/dev/md127", volume: str = "/dev/md126", metadata: str = "imsm",
             devices: tuple[str, ...] = ("/dev/sda", "/dev/sdb"), level: str = "raid1", size_kib: int = 409600,
             chunk: int | None = None) -> Layout:
    """The original system's layout (its own UUIDs, name 'System')."""
    container = Container(device=device, metadata=metadata, devices=devices, name="imsm0",
                          uuid="aaaaaaaa:bbbbbbbb:cccccccc:dddddddd")
    vol = Volume(device=volume, container=device, member=0, level=level, raid_devices=len(devices), devices=devices,
                 size_kib=size_kib, name="System", uuid="11111111:22222222:33333333:44444444", chunk_kib=chunk,
                 offset_sectors=0, metadata=metadata)
    return Layout((container,), (vol,))


def target(name: str) -> reuse.LiveArrays:
    """What exists on the target: a recording."""
    return reuse.live_arrays(RecordedSource(str(FIXTURES / name)))


def _decide(layout: Layout, live: reuse.LiveArrays) -> reuse.Decision:
    return reuse.decide(layout, layout.containers[0], live, kernel)


# --- which path ------------------------------------------------------------------------------------


def test_nothing_there_creates():
    decision = _decide(recorded(), target("native-raid1"))
    assert decision.action == reuse.CREATE
    assert decision.reasons == ("no existing container uses its disks",)
    assert reuse.describe(decision) == ("mdcontainer /dev/md127: recreating it (MDCONTAINER_REUSE=yes, nothing to "
                                        "keep: no existing container uses its disks)")


def test_a_matching_container_is_kept_whatever_its_name_order_and_larger_size():
    # The firmware named the volume Volume0, put sdb in slot 0 and gave it 506 MiB per disk.
    decision = _decide(recorded(), target("imsm-raid1"))
    assert decision.action == reuse.REUSE
    assert decision.live is not None and decision.live.uuid == FIRMWARE_UUID
    assert decision.names == {"/dev/md127": "/dev/md127", "/dev/md126": "/dev/md126"}
    assert reuse.describe(decision) == ("mdcontainer /dev/md127: keeping the existing imsm container /dev/md127 on "
                                        "/dev/sda,/dev/sdb and its volume(s) (MDCONTAINER_REUSE=yes)")


def test_a_kept_container_under_other_md_names_gives_its_names_to_the_layout():
    decision = _decide(recorded(device="/dev/md125", volume="/dev/md124"), target("imsm-raid1"))
    assert decision.action == reuse.REUSE
    assert decision.names == {"/dev/md125": "/dev/md127", "/dev/md124": "/dev/md126"}
    assert reuse.describe(decision).endswith("; /dev/md124 as /dev/md126, /dev/md125 as /dev/md127")


def test_ddf_is_kept_too():
    layout = recorded(metadata="ddf", size_kib=491520)
    assert _decide(layout, target("ddf-raid1")).action == reuse.REUSE


@pytest.mark.parametrize(("layout", "live", "reason"), [
    (recorded(level="raid0", chunk=128), "imsm-raid1",
     "/dev/md127: member 0 (/dev/md126 in the layout) is raid1, the layout says raid0"),
    (recorded(size_kib=600000), "imsm-raid1",
     "/dev/md127: member 0 (/dev/md126 in the layout) has 518144 KiB per disk, the layout needs 600000"),
    (recorded(metadata="ddf"), "imsm-raid1", "/dev/md127: it is imsm, the layout says ddf"),
    (recorded(size_kib=131072), "imsm-two-volumes", "/dev/md127: it has 2 volume(s), the layout 1"),
    (recorded(), "imsm-raid1-degraded",
     "/dev/md127: it is on /dev/sda, the layout says /dev/sda,/dev/sdb; member 0 (/dev/md126 in the layout) is "
     "degraded (missing,/dev/sda)"),
])
def test_an_existing_container_that_does_not_match_is_recreated(layout, live, reason):
    decision = _decide(layout, target(live))
    assert decision.action == reuse.CREATE
    assert decision.reasons == (reason,)


def test_a_volume_that_does_not_run_is_not_kept():
    live = target("imsm-raid1")
    states = dict(live.states, **{"/dev/md126": "inactive"})
    decision = _decide(recorded(), reuse.LiveArrays(live.layout, states))
    assert decision.action == reuse.CREATE
    assert decision.reasons == ("/dev/md127: member 0 (/dev/md126 in the layout) (/dev/md126) is not running "
                                "(array_state 'inactive')",)


def test_a_container_that_also_uses_a_disk_outside_the_layout_stops_the_recovery():
    # The layout names sda and sdc; the existing container is on sda and sdb.
    layout = recorded(devices=("/dev/sda", "/dev/sdc"))
    with pytest.raises(MdcError) as info:
        _decide(layout, target("imsm-raid1"))
    error = info.value
    assert error.subject == "mdcontainer /dev/md127"
    assert error.problem.startswith("the existing imsm container /dev/md127 on /dev/sda,/dev/sdb also uses /dev/sdb, "
                                    "which the layout does not name")
    assert "MDCONTAINER_REUSE=no" in error.fix


def test_a_container_on_disks_of_another_container_of_the_layout_is_recreated():
    # The firmware made one container of sda+sdb; the layout has two, one on each disk.
    first = recorded(devices=("/dev/sda",))
    second = Container(device="/dev/md125", metadata="imsm", devices=("/dev/sdb",), name="imsm1")
    layout = Layout((first.containers[0], second), first.volumes)
    decision = reuse.decide(layout, first.containers[0], target("imsm-raid1"), kernel)
    assert decision.action == reuse.CREATE
    assert decision.reasons[0].startswith("/dev/md127: it is on /dev/sda,/dev/sdb, the layout says /dev/sda")


def test_unreadable_arrays_stop_the_decision(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sysfs.json").write_text('{"md126": {"metadata_version": "external:/md127/0"}}', encoding="utf-8")
    with pytest.raises(MdcError) as info:
        reuse.live_arrays(RecordedSource(str(broken)))
    assert info.value.subject == "MDCONTAINER_REUSE"
    assert info.value.problem.startswith("cannot tell whether existing arrays can be kept: /dev/md126: its container")


# --- the kept list ---------------------------------------------------------------------------------


def test_kept_list(tmp_path):
    path = str(tmp_path / "mdcontainer-kept")
    assert reuse.read_kept(path) == {}
    reuse.write_kept(path, "/dev/md127", FIRMWARE_UUID)
    reuse.write_kept(path, "/dev/md125", "")
    assert reuse.read_kept(path) == {"/dev/md127": FIRMWARE_UUID, "/dev/md125": "-"}
    reuse.write_kept(path, "/dev/md127", None)
    assert Path(path).read_text(encoding="utf-8") == "/dev/md125 -\n"


# --- preflight, renumber, verify with a kept container ---------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    fake = FakeTree(tmp_path)
    fake.block("sda", "8:0", 512 * MIB)
    fake.block("sdb", "8:16", 512 * MIB)
    # the firmware-made arrays, as udev assembled them in the rescue system
    fake.md("md127", "9:127", "external:imsm", "inactive", ("sda", "sdb"), 0)
    fake.md("md126", "9:126", "external:/md127/0", "active", ("sda", "sdb"))
    fake.platform = False
    return fake


def test_preflight_of_a_kept_container_checks_only_that_its_disks_are_not_in_use(tree):
    layout = recorded()
    report = preflight(tree.system, layout, [], None, no_platform=False, live=target("imsm-raid1"))
    # No platform check (nothing is created), no "old array will be stopped":
    assert report == ["mdcontainer /dev/md127: keeping the existing imsm container /dev/md127 on /dev/sda,/dev/sdb "
                      "and its volume(s) (MDCONTAINER_REUSE=yes)"]
    assert tree.calls == []
    tree.block("md126p1", "259:0", 100 * MIB, parent="md126")
    tree.mount("md126p1", "/media/old")
    with pytest.raises(MdcError) as info:
        preflight(tree.system, layout, [], None, no_platform=False, live=target("imsm-raid1"))
    assert info.value.problem == "/dev/md126p1 is mounted on /media/old"


def test_preflight_of_a_container_to_recreate_checks_everything(tree):
    layout = recorded(level="raid0", chunk=128)
    with pytest.raises(MdcError) as info:
        preflight(tree.system, layout, [], None, no_platform=False, live=target("imsm-raid1"))
    assert "no Intel RST/VROC platform" in info.value.problem


def test_renumber_gives_the_layout_the_names_of_the_kept_arrays(tree):
    layout = recorded(device="/dev/md125", volume="/dev/md124")
    decision = _decide(layout, target("imsm-raid1"))
    lines = [*format_layout(layout), "part /dev/md124 1048576 1048576 rear-noname none /dev/md124p1",
             "fs /dev/md124p1 / ext4 uuid=0 label=root"]
    mapping = renumber.plan(tree.system, layout, lines, decision.names)
    assert mapping == {"/dev/md125": "/dev/md127", "/dev/md124": "/dev/md126"}
    new = renumber.apply(lines, mapping)
    assert new[0].startswith("mdcontainer /dev/md127 ")
    assert new[1].startswith("mdvolume /dev/md126 container=/dev/md127 ")
    assert new[2:] == ["part /dev/md126 1048576 1048576 rear-noname none /dev/md126p1",
                       "fs /dev/md126p1 / ext4 uuid=0 label=root"]


def test_renumber_moves_an_array_of_ours_out_of_the_way_of_a_kept_one(tree):
    # The layout's second container is md127, the name the kept container of the first one has.
    layout = recorded(device="/dev/md125", volume="/dev/md124")
    other = Container(device="/dev/md127", metadata="ddf", devices=("/dev/sdc",), name="ddf0")
    both = Layout((layout.containers[0], other), layout.volumes)
    tree.block("sdc", "8:32", 512 * MIB)
    mapping = renumber.plan(tree.system, both, format_layout(both), {"/dev/md125": "/dev/md127",
                                                                      "/dev/md124": "/dev/md126"})
    assert mapping == {"/dev/md125": "/dev/md127", "/dev/md124": "/dev/md126", "/dev/md127": "/dev/md123"}


def test_renumber_refuses_a_kept_name_that_another_array_of_the_layout_has(tree):
    layout = recorded(device="/dev/md125", volume="/dev/md124")
    lines = [*format_layout(layout), "raidarray /dev/md126 level=raid1 raid-devices=2 devices=/dev/sdc1,/dev/sdd1"]
    with pytest.raises(MdcError) as info:
        renumber.plan(tree.system, layout, lines, {"/dev/md125": "/dev/md127", "/dev/md124": "/dev/md126"})
    assert info.value.problem == ("the existing array kept for it is /dev/md126, the md name of another array of "
                                  "the layout")


def test_verify_checks_a_kept_container_for_what_made_it_fit():
    live = target("imsm-raid1")
    layout = recorded()
    # Not kept: the firmware's name and size are differences.
    assert verify(layout, live.layout).problems
    result = verify(layout, live.layout, kept={"/dev/md127": FIRMWARE_UUID}, states=live.states)
    assert result.problems == ()
    assert result.report == ("mdcontainer /dev/md127: kept as it was (MDCONTAINER_REUSE=yes), imsm on "
                             "/dev/sdb,/dev/sda, /dev/md126 raid1 518144 KiB per disk 'Volume0'",)
    assert result.uuid_map == (("aaaaaaaa:bbbbbbbb:cccccccc:dddddddd", FIRMWARE_UUID),
                               ("11111111:22222222:33333333:44444444", "53a29e59:1619e7d0:427a9236:ff06b3ab"))
    other = verify(layout, live.layout, kept={"/dev/md127": "00000000:00000000:00000000:00000000"})
    assert other.problems == ("mdcontainer /dev/md127 (kept): its UUID is 1505f7c9:23cc81c5:5368396c:31295b28, the "
                              "kept container had 00000000:00000000:00000000:00000000",)
    bigger = verify(recorded(size_kib=600000), live.layout, kept={"/dev/md127": "-"})
    assert bigger.problems == ("mdcontainer /dev/md127 (kept): member 0 (/dev/md126 in the layout) has 518144 KiB "
                               "per disk, the layout needs 600000",)


# --- the helper in diskrestore.sh ----------------------------------------------------------------------


def _reuse_check(tmp_path, tree: FakeTree, layout: Layout, live: str, monkeypatch) -> tuple[int, str, Path]:
    layout_file = tmp_path / "disklayout.conf"
    layout_file.write_text("\n".join(format_layout(layout)) + "\n", encoding="utf-8")
    kept = tmp_path / "mdcontainer-kept"
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tree.root))
    rc = main(["reuse-check", "--layout-file", str(layout_file), "--container", layout.containers[0].device,
               "--kept-file", str(kept), "--recorded", str(FIXTURES / live)])
    return rc, str(kept), kept


def test_reuse_check_keeps_and_lists_the_container(tmp_path, tree, monkeypatch, capsys):
    rc, _, kept = _reuse_check(tmp_path, tree, recorded(), "imsm-raid1", monkeypatch)
    assert rc == 0
    assert capsys.readouterr().out.startswith("reuse mdcontainer /dev/md127: keeping the existing imsm container")
    assert kept.read_text(encoding="utf-8") == f"/dev/md127 {FIRMWARE_UUID}\n"


def test_reuse_check_recreates_and_forgets_the_container(tmp_path, tree, monkeypatch, capsys):
    (tmp_path / "mdcontainer-kept").write_text(f"/dev/md127 {FIRMWARE_UUID}\n", encoding="utf-8")
    rc, _, kept = _reuse_check(tmp_path, tree, recorded(level="raid0", chunk=128), "imsm-raid1", monkeypatch)
    assert rc == 0
    assert capsys.readouterr().out.startswith("create mdcontainer /dev/md127: recreating it (MDCONTAINER_REUSE=yes, "
                                              "nothing to keep: /dev/md127: member 0")
    assert kept.read_text(encoding="utf-8") == ""


def test_reuse_check_refuses_arrays_under_other_names_than_the_code_was_made_for(tmp_path, tree, monkeypatch,
                                                                                 capsys):
    rc, _, kept = _reuse_check(tmp_path, tree, recorded(device="/dev/md125", volume="/dev/md124"), "imsm-raid1",
                               monkeypatch)
    assert rc == 2
    assert "match the layout but under other md names (/dev/md124 is /dev/md126, /dev/md125 is /dev/md127)" in (
        capsys.readouterr().err)
    assert not kept.exists()


def _run_container_code(tmp_path: Path, answer: str) -> list[str]:
    """The rendered container code with MDCONTAINER_REUSE=yes, reuse-check answering ``answer``: the commands run."""
    bindir = tmp_path / "bin"
    bindir.mkdir(parents=True)
    log = tmp_path / "calls"
    for name in ("mdadm", "LogPrint", "my_udevsettle", "systemctl", "wipefs"):
        (bindir / name).write_text(f'#!/bin/bash\necho "{name} $*" >>"{log}"\n', encoding="utf-8")
    (bindir / "mdcontainer_helper").write_text(
        f'#!/bin/bash\necho "mdcontainer_helper $*" >>"{log}"\n'
        f'if [ "$1" = reuse-check ]; then echo "{answer}"; fi\n', encoding="utf-8")
    for path in bindir.iterdir():
        path.chmod(0o755)
    code = render_all(recorded(), reuse=True)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "LAYOUT_FILE": "L", "TARGET_FS_ROOT": "/mnt/local", "VAR_DIR": "/v"}
    subprocess.run(["bash", "-e", "-c", code], env=env, check=True, capture_output=True)
    calls = [line.strip() for line in log.read_text(encoding="utf-8").splitlines()]
    return calls[next(i for i, c in enumerate(calls) if "reuse-check" in c):]


def test_generated_code_keeps_or_creates_as_reuse_check_says(tmp_path):
    kept = _run_container_code(tmp_path / "kept", "reuse mdcontainer /dev/md127: keeping ...")
    assert kept == [
        "mdcontainer_helper reuse-check --layout-file L --container /dev/md127 --kept-file /v/layout/mdcontainer-kept "
        "--target-root /mnt/local",
        "LogPrint rear-mdcontainer: mdcontainer /dev/md127: keeping ...",
        "mdcontainer_helper assembly block",
        "mdcontainer_helper wait-writable --container /dev/md127 --timeout 60 /dev/md126",
        "my_udevsettle",
        "mdcontainer_helper wait-writable --container /dev/md127 --member 0 --timeout 60 /dev/md126",
        "LogPrint rear-mdcontainer: wiping old signatures inside /dev/md126",
        "wipefs --all --force /dev/md126",
        "mdcontainer_helper assembly unblock",
    ]
    created = _run_container_code(tmp_path / "created", "create mdcontainer /dev/md127: recreating it ...")
    assert [c.split()[0:2] for c in created if c.startswith(("mdadm", "mdcontainer_helper prepare"))] == [
        ["mdcontainer_helper", "prepare-container"], ["mdadm", "--create"], ["mdadm", "--create"]]
    assert not any("assembly block" in c for c in created)
