"""Waiting for a writable volume (mdmon) and blocking udev's md auto-assembly during the recovery."""

from __future__ import annotations

import os

import pytest

from rear_mdcontainer import assembly
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.readiness import mdmon_running, wait_writable

from .helpers import FakeTree


class Clock:
    """A monotonic clock that only moves when the code sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def tree(tmp_path):
    fake = FakeTree(tmp_path)
    fake.block("sda", "8:0")
    fake.block("sdb", "8:16")
    fake.md("md127", "9:127", "external:imsm", "inactive", ("sda", "sdb"), 0)
    fake.md("md126", "9:126", "external:/md127/0", "read-auto", ("sda", "sdb"))
    return fake


def _wait(tree: FakeTree, clock: Clock, device: str = "/dev/md126", container: str = "/dev/md127",
          member: int | None = 0, timeout: float = 5) -> str:
    return wait_writable(tree.system, device, container, member, timeout, sleep=clock.sleep, clock=clock)


def _mdmon(tree: FakeTree, pid: str = "4242", alive: bool = True, directory: str = "run/mdadm") -> None:
    (tree.root / directory).mkdir(parents=True, exist_ok=True)
    (tree.root / directory / "md127.pid").write_text(f"{pid}\n", encoding="utf-8")
    if alive:
        (tree.root / "proc" / pid).mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("state", ["clean", "active", "active-idle", "write-pending"])
def test_writable_at_once(tree, state):
    tree.set_md_state("md126", state)
    _mdmon(tree)
    clock = Clock()
    assert _wait(tree, clock) == f"/dev/md126 is writable ({state})"
    assert tree.calls == []
    assert clock.sleeps == []


@pytest.mark.parametrize("state", ["clean", "active", "write-pending"])
def test_writable_state_without_mdmon_is_an_error_not_a_hang(tree, state):
    # mdmon killed after the creation: the next metadata change would wait for it in the kernel forever.
    tree.set_md_state("md126", state)
    _mdmon(tree, alive=False)
    clock = Clock()
    with pytest.raises(MdcError) as info:
        _wait(tree, clock, timeout=20)
    assert info.value.problem == f"/dev/md126 stays '{state}': mdmon is not running for /dev/md127"
    assert info.value.fix.startswith("start it with 'mdmon /dev/md127'")
    assert 20 <= sum(clock.sleeps) <= 21


def test_writable_once_mdmon_is_up(tree):
    tree.set_md_state("md126", "active")
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now - 1000.0 >= 1.5:  # mdadm started mdmon a moment after the creation
            _mdmon(tree)

    assert wait_writable(tree.system, "/dev/md126", "/dev/md127", 0, 60, sleep=sleep, clock=clock) == \
        "/dev/md126 is writable (active)"


def test_read_auto_asks_for_readwrite_once(tree):
    _mdmon(tree)
    clock = Clock()
    assert _wait(tree, clock) == "/dev/md126 is writable (active)"
    assert tree.calls == [("mdadm", "--readwrite", "/dev/md126")]


def test_member_none_accepts_any_member(tree):
    tree.set_md_state("md126", "clean")
    _mdmon(tree)
    assert _wait(tree, Clock(), member=None) == "/dev/md126 is writable (clean)"


def test_wrong_member_is_refused(tree):
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), member=1)
    assert info.value.subject == "mdvolume /dev/md126"
    assert info.value.problem == "/dev/md126 is not member 1 of /dev/md127 (metadata_version 'external:/md127/0')"
    assert "rerun the recovery" in info.value.fix
    assert tree.calls == []


def test_wrong_container_is_refused(tree):
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), container="/dev/md125")
    assert info.value.problem == "/dev/md126 is not member 0 of /dev/md125 (metadata_version 'external:/md127/0')"
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), container="/dev/md125", member=None)
    assert info.value.problem == "/dev/md126 is not a volume in /dev/md125 (metadata_version 'external:/md127/0')"


def test_native_array_or_no_array_is_refused(tree):
    tree.md("md0", "9:0", "1.2", "clean", ())
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), device="/dev/md0")
    assert "(metadata_version '1.2')" in info.value.problem
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), device="/dev/md125")
    assert info.value.problem == "/dev/md125 is not member 0 of /dev/md127 (no such md array)"


def test_container_itself_is_refused(tree):
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), device="/dev/md127")
    assert "(metadata_version 'external:imsm')" in info.value.problem


@pytest.mark.parametrize("device", ["/dev/md/Volume0", "/dev/sda", "md126", "/dev/md126p1"])
def test_only_dev_md_numbers(tree, device):
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), device=device)
    assert info.value.problem == f"'{device}' is not an md device"


def test_timeout_without_mdmon_names_mdmon(tree):
    tree.readwrite_state = None  # stays read-auto
    clock = Clock()
    with pytest.raises(MdcError) as info:
        _wait(tree, clock, timeout=5)
    assert info.value.problem == "/dev/md126 stays 'read-auto': mdmon is not running for /dev/md127"
    assert info.value.fix.startswith("start it with 'mdmon /dev/md127'")
    assert "IMSM_NO_PLATFORM=1" in info.value.fix
    assert tree.calls == [("mdadm", "--readwrite", "/dev/md126")]
    assert clock.sleeps == [0.5] * 10


def test_timeout_with_a_stale_mdmon_pid_file_names_mdmon(tree):
    tree.readwrite_state = None
    _mdmon(tree, alive=False)
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), timeout=1)
    assert "mdmon is not running" in info.value.problem


def test_read_auto_with_mdmon_is_writable_on_its_first_write(tree):
    # A clean RAID1 (firmware-made, kept with MDCONTAINER_REUSE=yes) stays read-auto until written:
    # mdadm --readwrite only pings mdmon, the first write goes through mdmon (measured in the VM).
    tree.readwrite_state = None
    _mdmon(tree)
    clock = Clock()
    assert _wait(tree, clock, timeout=60) == ("/dev/md126 is writable on its first write (read-auto, mdmon runs for "
                                              "/dev/md127)")
    assert tree.calls == [("mdadm", "--readwrite", "/dev/md126")]
    assert clock.sleeps == [0.5] * 4  # the grace period for a switch by itself


def test_timeout_with_mdmon_running(tree):
    tree.set_md_state("md126", "inactive")
    _mdmon(tree)
    with pytest.raises(MdcError) as info:
        _wait(tree, Clock(), timeout=2.5)
    assert info.value.problem == "/dev/md126 is still 'inactive' after 2.5 seconds"
    assert "MDCONTAINER_WAIT_SECONDS" in info.value.fix
    assert tree.calls == []


def test_becomes_writable_while_waiting(tree):
    tree.set_md_state("md126", "inactive")
    _mdmon(tree)
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 3:
            tree.set_md_state("md126", "clean")

    assert wait_writable(tree.system, "/dev/md126", "/dev/md127", 0, 60, sleep=sleep, clock=clock) == \
        "/dev/md126 is writable (clean)"
    assert len(clock.sleeps) == 3
    assert tree.calls == []


@pytest.mark.parametrize("directory", ["run/mdadm", "var/run/mdadm", "dev/.mdadm"])
def test_mdmon_running(tree, directory):
    assert not mdmon_running(tree.system, "md127")
    _mdmon(tree, directory=directory)
    assert mdmon_running(tree.system, "md127")
    assert not mdmon_running(tree.system, "md125")


def test_mdmon_pid_file_with_garbage(tree):
    _mdmon(tree, pid="../../etc", alive=False)
    assert not mdmon_running(tree.system, "md127")


# --- assembly --------------------------------------------------------------------------------

RELOAD = ("udevadm", "control", "--reload")


@pytest.fixture
def rules(tmp_path):
    fake = FakeTree(tmp_path)
    return fake, tmp_path / "run" / "udev" / "rules.d"


def test_block_writes_the_rule_and_masks(rules):
    fake, directory = rules
    report = assembly.block(fake.system)
    rule = (directory / assembly.BLOCK_RULE).read_text(encoding="utf-8")
    assert rule.startswith(assembly.MARKER + "\n")
    assert 'SUBSYSTEM=="block", ENV{ANACONDA}="1"' in rule
    for name in assembly.MASKED_RULES:
        assert (directory / name).is_symlink()
        assert os.readlink(directory / name) == "/dev/null"
    assert fake.calls == [RELOAD]
    assert assembly.is_blocked(fake.system)
    assert "masked: 64-md-raid-assembly.rules, 65-md-incremental.rules, 65-md-incremental-imsm.rules" in report[0]


def test_block_does_not_mask_a_rule_that_etc_overrides(rules):
    fake, directory = rules
    etc = fake.root / "etc" / "udev" / "rules.d"
    etc.mkdir(parents=True)
    (etc / "64-md-raid-assembly.rules").write_text("# local copy\n", encoding="utf-8")
    assembly.block(fake.system)
    assert not (directory / "64-md-raid-assembly.rules").exists()
    assert not (directory / "64-md-raid-assembly.rules").is_symlink()
    assert (directory / "65-md-incremental.rules").is_symlink()
    assembly.unblock(fake.system)
    assert (etc / "64-md-raid-assembly.rules").read_text(encoding="utf-8") == "# local copy\n"


def test_unblock_removes_exactly_what_block_made(rules):
    fake, directory = rules
    directory.mkdir(parents=True)
    (directory / "65-md-incremental.rules").symlink_to("/dev/null")  # the administrator's own mask
    (directory / "99-local.rules").write_text('ACTION=="add", RUN+="/bin/true"\n', encoding="utf-8")
    assembly.block(fake.system)
    fake.calls.clear()
    report = assembly.unblock(fake.system)
    assert sorted(p.name for p in directory.iterdir()) == ["65-md-incremental.rules", "99-local.rules"]
    assert os.readlink(directory / "65-md-incremental.rules") == "/dev/null"
    assert (directory / "99-local.rules").read_text(encoding="utf-8") == 'ACTION=="add", RUN+="/bin/true"\n'
    assert fake.calls == [RELOAD]
    assert not assembly.is_blocked(fake.system)
    assert report == ["md auto-assembly allowed again (removed 00-rear-mdcontainer-no-md-assembly.rules, "
                      "64-md-raid-assembly.rules, 65-md-incremental-imsm.rules)"]


def test_block_twice_then_unblock_removes_everything(rules):
    fake, directory = rules
    assembly.block(fake.system)
    assembly.block(fake.system)
    assembly.unblock(fake.system)
    assert list(directory.iterdir()) == []


def test_unblock_without_block_changes_nothing(rules):
    fake, directory = rules
    directory.mkdir(parents=True)
    (directory / "64-md-raid-assembly.rules").symlink_to("/dev/null")
    assert assembly.unblock(fake.system) == ["md auto-assembly allowed again (removed nothing)"]
    assert fake.calls == []
    assert (directory / "64-md-raid-assembly.rules").is_symlink()


def test_unblock_leaves_a_foreign_file_with_our_name(rules):
    fake, directory = rules
    directory.mkdir(parents=True)
    (directory / assembly.BLOCK_RULE).write_text("# someone else's\n", encoding="utf-8")
    assembly.unblock(fake.system)
    assert (directory / assembly.BLOCK_RULE).read_text(encoding="utf-8") == "# someone else's\n"


def test_unblock_leaves_a_replaced_mask(rules):
    fake, directory = rules
    assembly.block(fake.system)
    (directory / "65-md-incremental.rules").unlink()
    (directory / "65-md-incremental.rules").write_text("# replaced meanwhile\n", encoding="utf-8")
    assembly.unblock(fake.system)
    assert (directory / "65-md-incremental.rules").read_text(encoding="utf-8") == "# replaced meanwhile\n"
    assert not (directory / "64-md-raid-assembly.rules").is_symlink()
