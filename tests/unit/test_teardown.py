"""Freeing our disks: holders stopped top-down, our disks wiped, nothing else touched."""

from __future__ import annotations

import pytest

from rear_mdcontainer import teardown
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.teardown import Holder, check_not_in_use, devices_below, holder_tree, release

from .helpers import FakeTree

FOREIGN = ("sdc", "sdc1", "sdd", "sdd1", "md0")


@pytest.fixture
def tree(tmp_path):
    fake = FakeTree(tmp_path / "root")
    fake.standard_imsm()
    return fake


def _destructive(tree: FakeTree) -> list[tuple[str, ...]]:
    return [c for c in tree.calls if c[0] in ("mdadm", "dmsetup", "wipefs", "umount")]


def test_holder_tree_deepest_first_volumes_before_containers(tree):
    assert holder_tree(tree.system, ["sda", "sdb"]) == [
        Holder("dm-0", 2, "dm"),
        Holder("md126", 1, "md-volume"),
        Holder("md127", 1, "md-container"),
    ]


def test_holder_tree_dm_before_md_at_the_same_depth(tmp_path):
    fake = FakeTree(tmp_path)
    fake.block("sde", "8:64")
    fake.md("md5", "9:5", "1.2", "clean", ("sde",))
    fake.dm("dm-3", "253:3", "crypt", "sde")
    fake.md("md6", "9:6", "external:imsm", "inactive", ("sde",))
    fake.md("md4", "9:4", "external:-md6/0", "active", ("sde",))
    assert [(h.name, h.kind) for h in holder_tree(fake.system, ["sde"])] == [
        ("dm-3", "dm"), ("md5", "md"), ("md4", "md-volume"), ("md6", "md-container")]


def test_holder_tree_of_the_foreign_disk_is_its_own(tree):
    assert holder_tree(tree.system, ["sdc"]) == [Holder("md0", 1, "md")]
    assert holder_tree(tree.system, ["sda"]) == holder_tree(tree.system, ["sda", "sdb"])


def test_devices_below(tree):
    assert devices_below(tree.system, ["sda"]) == ["sda", "sda1", "sda2", "dm-0", "md126", "md126p1", "md126p2",
                                                   "md127"]


def test_release_stops_holders_then_wipes_partitions_then_disks(tree):
    done = release(tree.system, ["/dev/sda", "/dev/sdb"])
    settle = ("udevadm", "settle", "--timeout=30")
    wipes = []
    for disk in ("sda", "sdb"):
        for device in (f"/dev/{disk}1", f"/dev/{disk}2", f"/dev/{disk}"):
            wipes += [("mdadm", "--zero-superblock", "--force", device), ("wipefs", "--all", "--force", device)]
    assert tree.calls == [
        settle,
        ("dmsetup", "remove", "--retry", "vg0-root"),
        ("mdadm", "--stop", "/dev/md126"),
        ("mdadm", "--stop", "/dev/md127"),
        settle,
        *wipes,
        settle,
    ]
    assert done[1] == "dmsetup remove --retry vg0-root"
    assert len(done) == len(tree.calls)


def test_release_never_touches_a_foreign_disk_or_its_array(tree):
    release(tree.system, ["/dev/sda", "/dev/sdb"])
    for name in FOREIGN:
        assert tree.mentions(name) == [], name
    assert tree.md_state("md0") == "clean"


def test_release_of_one_container_leaves_the_other(tmp_path):
    fake = FakeTree(tmp_path)
    fake.standard_imsm()
    fake.md("md125", "9:125", "external:ddf", "inactive", ("sdc", "sdd"))
    release(fake.system, ["/dev/sda", "/dev/sdb"])
    assert fake.mentions("md125") == []
    assert fake.md_state("md125") == "inactive"


def test_release_follows_by_id_links(tree):
    by_id = tree.root / "dev" / "disk" / "by-id"
    by_id.mkdir(parents=True)
    (by_id / "ata-QEMU_HARDDISK_QM00001").symlink_to("../../sda")
    (by_id / "ata-QEMU_HARDDISK_QM00002").symlink_to("../../sdb")
    release(tree.system, ["/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001", "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002"])
    assert ("wipefs", "--all", "--force", "/dev/sda") in tree.calls
    assert ("wipefs", "--all", "--force", "/dev/sdb") in tree.calls


def test_release_does_not_stop_an_array_without_state(tree):
    """An md device whose array_state is '' or 'clear' is not stopped; if it still holds a disk, that is reported."""
    tree.md("md124", "9:124", "external:/md127/1", "clear", ("sda",))
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.problem == "still held by /dev/md124 after teardown"
    assert ("mdadm", "--stop", "/dev/md124") not in tree.calls
    assert ("mdadm", "--stop", "/dev/md127") in tree.calls


def test_release_of_a_missing_disk(tree):
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdx"])
    assert info.value.message.startswith("/dev/sdx: no such block device")
    assert _destructive(tree) == []


def test_release_refuses_a_mounted_partition_outside_the_target(tree):
    tree.mount("dm-0", "/")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.subject == "rear-mdcontainer release"
    assert info.value.problem == "/dev/dm-0 is mounted on /"
    assert "disk mapping" in info.value.fix
    assert tree.calls == []


def test_release_refuses_a_raw_member_partition_mounted_elsewhere(tree):
    tree.mount("sdb2", "/mnt/local-old data")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.problem == "/dev/sdb2 is mounted on /mnt/local-old data"
    assert tree.calls == []


def test_release_unmounts_what_is_mounted_below_the_target(tree):
    tree.mount("dm-0", "/mnt/local")
    tree.mount("md126p1", "/mnt/local/boot")
    tree.mount("md126p1", "/mnt/local/boot/efi")
    release(tree.system, ["/dev/sda", "/dev/sdb"])
    umounts = [c for c in tree.calls if c[0] == "umount"]
    assert umounts == [("umount", "/mnt/local/boot/efi"), ("umount", "/mnt/local/boot"), ("umount", "/mnt/local")]
    assert tree.calls.index(("umount", "/mnt/local")) < tree.calls.index(("dmsetup", "remove", "--retry", "vg0-root"))


def test_release_leaves_foreign_mounts_below_the_target(tree):
    tree.mount("md0", "/mnt/local/srv")
    release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert [c for c in tree.calls if c[0] == "umount"] == []


def test_release_with_another_target_root(tree):
    tree.mount("dm-0", "/target")
    release(tree.system, ["/dev/sda", "/dev/sdb"], target_root="/target/")
    assert ("umount", "/target") in tree.calls


def test_release_refuses_swap(tree):
    tree.swap("md126p1")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.problem == "/dev/md126p1 is in use as swap"
    assert info.value.fix == "run 'swapoff /dev/md126p1' first"
    assert tree.calls == []


def test_foreign_swap_is_no_obstacle(tree):
    tree.swap("sdc1")
    check_not_in_use(tree.system, "t", ["sda", "sdb"])
    with pytest.raises(MdcError):
        check_not_in_use(tree.system, "t", ["sdc"])


@pytest.mark.parametrize("label", ["REAR-000", "RELAXRECOVER", "REAR-EFI"])
def test_release_refuses_the_rescue_medium(tree, label):
    tree.label(label, "sdb1")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.problem == f"/dev/sdb1 holds the rescue medium (file system label {label})"
    assert "disk mapping" in info.value.fix
    assert tree.calls == []


def test_other_labels_are_no_obstacle(tree):
    tree.label("rootfs", "sdb2")
    tree.label("REAR-000", "sdc1")
    release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert ("wipefs", "--all", "--force", "/dev/sdb2") in tree.calls


def test_release_reports_holders_that_come_back(tree):
    tree.effects = False
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.subject == "/dev/sda /dev/sdb"
    assert info.value.problem == "still held by /dev/dm-0, /dev/md126, /dev/md127 after teardown"


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(teardown, "_sleep", slept.append)
    return slept


def test_release_stops_on_a_failing_stop_before_wiping(tree, sleeps):
    from rear_mdcontainer.system import Result

    tree.results[("mdadm", "--stop", "/dev/md126")] = Result(1, "", "mdadm: Cannot get exclusive access to /dev/md126\n")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.subject == "mdadm --stop /dev/md126"
    assert "Cannot get exclusive access" in info.value.problem
    assert "failed with exit code 1 (4 attempts)" in info.value.problem
    # tried STOP_ATTEMPTS times, udev settled and a growing pause between the tries
    assert tree.calls.count(("mdadm", "--stop", "/dev/md126")) == teardown.STOP_ATTEMPTS == 4
    assert sleeps == [1.0, 2.0, 3.0]
    assert tree.argvs("wipefs") == []
    assert ("mdadm", "--stop", "/dev/md127") not in tree.calls


def test_a_stop_that_fails_once_is_tried_again_and_the_release_goes_on(tree, sleeps):
    from rear_mdcontainer.system import Result

    # what the race runs met once: mdadm killed by SIGPIPE while mdmon went away
    tree.results_once[("mdadm", "--stop", "/dev/md126")] = [Result(-13, "", "")]
    done = release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert tree.calls.count(("mdadm", "--stop", "/dev/md126")) == 2
    assert "mdadm --stop /dev/md126  (exit -13)" in done
    assert sleeps == [1.0]
    assert ("mdadm", "--stop", "/dev/md127") in tree.calls
    assert tree.argvs("wipefs")


def test_a_signal_is_named_as_such_when_every_attempt_fails(tree, sleeps):
    from rear_mdcontainer.system import Result

    tree.results[("mdadm", "--stop", "/dev/md126")] = Result(-13, "", "")
    with pytest.raises(MdcError) as info:
        release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert info.value.problem.startswith("was killed by signal 13 (4 attempts)")


def test_a_failing_stop_of_an_array_that_went_away_meanwhile_is_no_error(tree, sleeps):
    from rear_mdcontainer.system import Result

    # the stop fails, but the array went away all the same (udev or mdmon stopped it)
    def runner(*argv: str) -> Result:
        result = tree(*argv)
        if argv == ("mdadm", "--stop", "/dev/md126"):
            return Result(1, "", "mdadm: failed to stop array /dev/md126\n")
        return result

    tree.system.run = runner
    release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert tree.calls.count(("mdadm", "--stop", "/dev/md126")) == 1
    assert sleeps == [1.0]
    assert tree.argvs("wipefs")


def test_release_ignores_zero_superblock_failures(tree):
    from rear_mdcontainer.system import Result

    tree.results[("mdadm", "--zero-superblock", "--force", "/dev/sda1")] = Result(1, "", "Unrecognised md component\n")
    done = release(tree.system, ["/dev/sda", "/dev/sdb"])
    assert "mdadm --zero-superblock --force /dev/sda1  (exit 1)" in done
    assert ("wipefs", "--all", "--force", "/dev/sdb") in tree.calls


def test_release_refuses_a_holder_that_is_neither_md_nor_dm(tmp_path):
    fake = FakeTree(tmp_path)
    fake.block("sde", "8:64")
    fake.block("bcache0", "252:0")
    fake.hold("bcache0", "sde")
    with pytest.raises(MdcError) as info:
        release(fake.system, ["/dev/sde"])
    assert info.value.subject == "/dev/bcache0"
    assert "is neither md nor device-mapper" in info.value.problem
    assert fake.argvs("wipefs") == []
