"""Other firmware RAID (issue #5): dmraid sets and AMD RAIDXpert (rcraid) disks on fake sysfs trees.

The trees follow the kernel's layout: a dmraid set is a device-mapper map with
the dm UUID ``DMRAID-<set>`` and the member disks as slaves, its partitions
maps on top (dmraid's own ``DMRAID-<set>p1``, kpartx's ``part1-DMRAID-<set>``);
an rcraid disk's ``device`` link leads to a SCSI device below
``host<N>/scsi_host/host<N>/proc_name`` = ``rcraid``, below the PCI function
whose ``driver`` link ends in ``rcraid``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rear_mdcontainer import cli, fakeraid
from rear_mdcontainer.cli import main
from rear_mdcontainer.disklayout import rewrite
from rear_mdcontainer.fakeraid import DmraidSet, FakeRaid, RcraidDisk
from rear_mdcontainer.report import LiveFacts, build_report, render_json, render_text
from rear_mdcontainer.system import System
from rear_mdcontainer.teardown import release

from .helpers import GIB, MIB, FakeTree, imsm_raid1_layout

ISW = "isw_cfbhgfbcdd_Volume0"
PDC = "pdc_dbfjbcaga"


@pytest.fixture
def tree(tmp_path: Path) -> FakeTree:
    return FakeTree(tmp_path)


def dm(tree: FakeTree, kernel: str, number: int, name: str, uuid: str, *held: str) -> None:
    tree.dm(kernel, f"253:{number}", name, *held)
    (tree.sys / kernel / "dm" / "uuid").write_text(f"{uuid}\n", encoding="utf-8")


def disks(tree: FakeTree, *names: str) -> None:
    for index, name in enumerate(names):
        tree.block(name, f"8:{16 * index}")


def isw_set(tree: FakeTree) -> None:
    """dmraid runs an IMSM RAID1 on sda+sdb, with dmraid's own partition map on top."""
    disks(tree, "sda", "sdb")
    dm(tree, "dm-0", 0, ISW, f"DMRAID-{ISW}", "sda", "sdb")
    dm(tree, "dm-1", 1, f"{ISW}p1", f"DMRAID-{ISW}p1", "dm-0")


def pdc_set(tree: FakeTree) -> None:
    """dmraid runs a Promise FastTrak set on sdc+sdd, a kpartx partition map on top."""
    disks(tree, "sda", "sdb", "sdc", "sdd")
    dm(tree, "dm-2", 2, PDC, f"DMRAID-{PDC}", "sdc", "sdd")
    dm(tree, "dm-3", 3, f"{PDC}1", f"part1-DMRAID-{PDC}", "dm-2")


def scsi_disk(tree: FakeTree, name: str, host: int, driver: str, vendor: str, model: str,
              size_bytes: int = 500 * GIB) -> None:
    """A SCSI disk below host<host> of a PCI function driven by ``driver`` (SCSI host proc_name the same)."""
    tree.block(name, f"8:{16 * host}", size_bytes)
    pci = tree.root / "sys" / "devices" / "pci0000:00" / f"0000:00:{0x11 + host:02x}.0"
    scsi_device = pci / f"host{host}" / f"target{host}:0:0" / f"{host}:0:0:0"
    scsi_device.mkdir(parents=True)
    (scsi_device / "vendor").write_text(f"{vendor}\n", encoding="utf-8")
    (scsi_device / "model").write_text(f"{model}\n", encoding="utf-8")
    (scsi_device / "driver").symlink_to("../../../../../../bus/scsi/drivers/sd")
    proc = pci / f"host{host}" / "scsi_host" / f"host{host}"
    proc.mkdir(parents=True)
    (proc / "proc_name").write_text(f"{driver}\n", encoding="utf-8")
    (pci / "driver").symlink_to(f"../../../bus/pci/drivers/{driver}")
    (tree.sys / name / "device").symlink_to(f"../../../devices/pci0000:00/{pci.name}/host{host}/"
                                            f"target{host}:0:0/{host}:0:0:0")


def rcraid_tree(tree: FakeTree) -> None:
    """An AMD RAIDXpert array (sda) next to a disk on an AHCI port (sdb), the rcraid module loaded."""
    scsi_disk(tree, "sda", 0, "rcraid", "AMD-RAID", "Array 1")
    scsi_disk(tree, "sdb", 1, "ahci", "ATA", "Samsung SSD 870")
    (tree.root / "sys" / "module" / "rcraid").mkdir(parents=True)


# --- probing ------------------------------------------------------------------------------------


def test_none_on_a_system_with_imsm_lvm_and_native_md(tree):
    tree.standard_imsm()  # an LVM map (no dm UUID), md arrays, no SCSI device links
    (tree.sys / "dm-0" / "dm" / "uuid").write_text("LVM-abc\n", encoding="utf-8")
    found = fakeraid.probe(tree.system)
    assert found == FakeRaid()
    assert not found
    assert fakeraid.findings(found, {"/dev/md127": ("/dev/sda", "/dev/sdb")}) == []
    assert fakeraid.record_lines([]) == []


def test_none_on_an_empty_tree(tmp_path):
    assert fakeraid.probe(System(str(tmp_path))) == FakeRaid()


def test_dmraid_isw_set(tree):
    isw_set(tree)
    found = fakeraid.probe(tree.system)
    assert found.dmraid_sets == (DmraidSet(name=ISW, kernel_name="dm-0", format="isw", disks=("/dev/sda", "/dev/sdb"),
                                           partitions=(f"/dev/mapper/{ISW}p1",)),)
    (raid_set,) = found.dmraid_sets
    assert raid_set.device == f"/dev/mapper/{ISW}"
    assert raid_set.md_metadata == "imsm"
    assert found.rcraid_disks == ()


def test_dmraid_isw_set_run_by_dmraid_is_not_recreated(tree):
    """No md container holds the disks (md and dm both claim disks exclusively): nothing records this set."""
    isw_set(tree)
    (finding,) = fakeraid.findings(fakeraid.probe(tree.system), {})
    assert finding.code == fakeraid.DMRAID_IMSM_DDF
    assert finding.subject == f"/dev/mapper/{ISW}"
    assert finding.recreated is False
    assert finding.message.startswith(f"dmraid set /dev/mapper/{ISW} (Intel IMSM) on /dev/sda, /dev/sdb is run by "
                                      "dmraid, not by md")
    assert "NOT recreated" in finding.message
    assert "Switch to mdadm" in finding.message
    assert finding.record == f"# mdfakeraid dmraid /dev/mapper/{ISW} format=isw disks=/dev/sda,/dev/sdb recreated=no"


def test_dmraid_isw_set_over_imsm_members_is_handled_by_the_md_path(tree):
    isw_set(tree)
    containers = {"/dev/md127": ("/dev/sda", "/dev/sdb"), "/dev/md125": ("/dev/sdc",)}
    (finding,) = fakeraid.findings(fakeraid.probe(tree.system), containers)
    assert finding.code == fakeraid.DMRAID_ON_MD
    assert finding.recreated is True
    assert finding.containers == ("/dev/md127",)
    assert "members of the md container /dev/md127, which is recorded and recreated with mdadm" in finding.message
    assert "dmsetup remove" in finding.message
    assert finding.record == (f"# mdfakeraid dmraid /dev/mapper/{ISW} format=isw disks=/dev/sda,/dev/sdb "
                              "recreated=yes containers=/dev/md127")


def test_recovery_removes_the_dmraid_maps_before_it_wipes_the_disks(tree):
    """teardown.release: the partition map, then the set, then the disks are wiped."""
    isw_set(tree)
    done = release(tree.system, ["/dev/sda", "/dev/sdb"])
    dmsetup = [i for i, line in enumerate(done) if line.startswith("dmsetup remove")]
    wipes = [i for i, line in enumerate(done) if line.startswith("wipefs")]
    assert [done[i] for i in dmsetup] == [f"dmsetup remove --retry {ISW}p1", f"dmsetup remove --retry {ISW}"]
    assert max(dmsetup) < min(wipes)
    assert tree.system.holders("sda") == tree.system.holders("sdb") == []  # nothing holds the disks any more


def test_dmraid_set_of_another_format(tree):
    pdc_set(tree)
    found = fakeraid.probe(tree.system)
    (raid_set,) = found.dmraid_sets
    assert raid_set == DmraidSet(name=PDC, kernel_name="dm-2", format="pdc", disks=("/dev/sdc", "/dev/sdd"),
                                 partitions=(f"/dev/mapper/{PDC}1",))
    assert raid_set.md_metadata is None
    (finding,) = fakeraid.findings(found, {"/dev/md127": ("/dev/sdc", "/dev/sdd")})  # no md path for pdc
    assert finding.code == fakeraid.DMRAID_OTHER
    assert finding.message.startswith(f"dmraid set /dev/mapper/{PDC} (Promise FastTrak) on /dev/sdc, /dev/sdd is NOT "
                                      "recreated")
    assert "RAID BIOS setup" in finding.message
    assert "migrate to Linux md RAID (mdadm)" in finding.message
    assert finding.record == f"# mdfakeraid dmraid /dev/mapper/{PDC} format=pdc disks=/dev/sdc,/dev/sdd recreated=no"


@pytest.mark.parametrize(("name", "expected"), [
    ("ddf1_RaidSet0", "ddf1"), ("nvidia_fbdcfeab", "nvidia"), ("via_bfcedfghib", "via"), ("sil_aiabcfbebdca", "sil"),
    ("jmicron_GRAID", "jmicron"), ("asr_Raid0", "asr"), ("hpt37x_bdeefbadf", "hpt37x"), ("hpt45x_ccdfaeab", "hpt45x"),
    ("lsi_ddacfcbea", "lsi"), ("something_else", ""),
])
def test_dmraid_formats_by_name(tree, name, expected):
    disks(tree, "sda", "sdb")
    dm(tree, "dm-0", 0, name, f"DMRAID-{name}", "sda", "sdb")
    (raid_set,) = fakeraid.probe(tree.system).dmraid_sets
    assert raid_set.format == expected
    (finding,) = fakeraid.findings(fakeraid.probe(tree.system), {})
    assert finding.code == (fakeraid.DMRAID_IMSM_DDF if expected == "ddf1" else fakeraid.DMRAID_OTHER)
    assert f"format={expected or 'unknown'}" in finding.record


def test_dmraid_raid10_sub_sets_are_one_set_with_all_disks(tree):
    disks(tree, "sda", "sdb", "sdc", "sdd")
    dm(tree, "dm-1", 1, "isw_x_Vol10-0", "DMRAID-isw_x_Vol10-0", "sda", "sdb")
    dm(tree, "dm-2", 2, "isw_x_Vol10-1", "DMRAID-isw_x_Vol10-1", "sdc", "sdd")
    dm(tree, "dm-0", 0, "isw_x_Vol10", "DMRAID-isw_x_Vol10", "dm-1", "dm-2")
    dm(tree, "dm-3", 3, "isw_x_Vol10p1", "DMRAID-isw_x_Vol10p1", "dm-0")
    (raid_set,) = fakeraid.probe(tree.system).dmraid_sets
    assert raid_set.name == "isw_x_Vol10"
    assert raid_set.disks == ("/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd")
    assert raid_set.partitions == ("/dev/mapper/isw_x_Vol10p1",)


def test_dmraid_set_on_partitions_names_the_whole_disks(tree):
    disks(tree, "sda", "sdb")
    tree.block("sda1", "8:1", GIB, parent="sda")
    tree.block("sdb1", "8:17", GIB, parent="sdb")
    dm(tree, "dm-0", 0, "nvidia_abc", "DMRAID-nvidia_abc", "sda1", "sdb1")
    assert fakeraid.probe(tree.system).dmraid_sets[0].disks == ("/dev/sda", "/dev/sdb")


def test_rcraid_disk(tree):
    rcraid_tree(tree)
    found = fakeraid.probe(tree.system)
    assert found.dmraid_sets == ()
    assert found.rcraid_module is True
    (disk,) = found.rcraid_disks
    assert disk == RcraidDisk(device="/dev/sda", vendor="AMD-RAID", model="Array 1", size_bytes=500 * GIB,
                              evidence=("SCSI host host0 is rcraid's", "0000:00:11.0 is driven by rcraid",
                                        "SCSI vendor AMD-RAID"))
    (finding,) = fakeraid.findings(found, {})
    assert finding.code == fakeraid.RCRAID_DISK
    assert finding.subject == "/dev/sda"
    assert finding.message.startswith("/dev/sda (AMD-RAID Array 1) is a disk of AMD's RAIDXpert driver (rcraid): "
                                      "ReaR records it as a plain disk, and the RAID array behind it is NOT recreated")
    assert "create the array in the AMD RAID BIOS setup first" in finding.message
    assert "rear recover restores onto it like onto a plain disk" in finding.message
    assert finding.record == "# mdfakeraid rcraid /dev/sda recreated=no vendor=AMD-RAID model=Array%201"


@pytest.mark.parametrize(("driver", "vendor", "found"), [
    ("rcraid", "ATA", True),  # the driver alone (a disk it passes through)
    ("ahci", "AMD-RAID", True),  # the vendor alone
    ("ahci", "ATA", False),
])
def test_rcraid_evidence(tree, driver, vendor, found):
    scsi_disk(tree, "sda", 0, driver, vendor, "Array 1")
    assert bool(fakeraid.probe(tree.system).rcraid_disks) is found


def test_rcraid_module_without_disks_is_no_finding(tree):
    (tree.root / "sys" / "module" / "rcraid").mkdir(parents=True)
    found = fakeraid.probe(tree.system)
    assert found == FakeRaid(rcraid_module=True)
    assert fakeraid.findings(found, {}) == []


def test_partitions_of_an_rcraid_disk_are_not_disks(tree):
    rcraid_tree(tree)
    tree.block("sda1", "8:1", GIB, parent="sda")
    assert [d.device for d in fakeraid.probe(tree.system).rcraid_disks] == ["/dev/sda"]


# --- the record in disklayout.conf ------------------------------------------------------------------


def _all_findings(tree: FakeTree) -> list[fakeraid.Finding]:
    pdc_set(tree)
    dm(tree, "dm-0", 0, ISW, f"DMRAID-{ISW}", "sda", "sdb")
    scsi_disk(tree, "sde", 4, "rcraid", "AMD-RAID", "Array 1")
    return fakeraid.findings(fakeraid.probe(tree.system), {})


def test_record_lines_parse_back(tree):
    found = _all_findings(tree)
    lines = fakeraid.record_lines(found)
    assert lines[:2] == [fakeraid.HEADING, fakeraid.FORMAT]
    assert all(line.startswith("#") for line in lines)
    recorded = fakeraid.parse_record(lines)
    assert [(r.kind, r.device, r.recreated) for r in recorded] == [
        ("dmraid", f"/dev/mapper/{ISW}", False), ("dmraid", f"/dev/mapper/{PDC}", False), ("rcraid", "/dev/sde", False)]
    assert recorded[2].options["model"] == "Array 1"


def test_rewrite_puts_the_record_at_the_end_and_replaces_an_earlier_one(tree):
    found = _all_findings(tree)
    upstream = ["# Disk layout dated 20240101000000 (YYYYmmddHHMMSS)", "disk /dev/sde 536870912000 gpt"]
    first = rewrite(upstream, imsm_raid1_layout(), None, fakeraid.record_lines(found))
    assert first[-len(found) - 2:] == fakeraid.record_lines(found)
    assert rewrite(first, imsm_raid1_layout(), None, fakeraid.record_lines(found)) == first  # checklayout: no change
    gone = rewrite(first, imsm_raid1_layout())
    assert not any(fakeraid.is_record_line(line) for line in gone)
    assert [line for line in first if not line.startswith("#")] == [line for line in gone if not line.startswith("#")]


# --- save ---------------------------------------------------------------------------------------------


def _save(tmp_path: Path, monkeypatch, tree: FakeTree, *options: str) -> Path:
    layout = tmp_path / "disklayout.conf"
    layout.write_text("disk /dev/sda 536870912000 gpt\n", encoding="utf-8")
    monkeypatch.setattr(cli, "_system", lambda: tree.system)
    monkeypatch.setenv("MDCONTAINER_SYSFS", str(tree.root / "sys"))  # no md arrays below it
    assert main(["save", "--layout-file", str(layout), *options]) == 0
    return layout


def test_save_warns_and_records_an_rcraid_disk(tmp_path, monkeypatch, capsys):
    tree = FakeTree(tmp_path / "root")
    rcraid_tree(tree)
    layout = _save(tmp_path, monkeypatch, tree)
    captured = capsys.readouterr()
    assert captured.err.startswith("WARNING: /dev/sda (AMD-RAID Array 1) is a disk of AMD's RAIDXpert driver")
    assert len(captured.err.splitlines()) == 1
    assert "recorded 1 other firmware RAID device(s) as '# mdfakeraid' comments" in captured.out
    assert layout.read_text(encoding="utf-8").splitlines() == [
        "disk /dev/sda 536870912000 gpt", fakeraid.HEADING, fakeraid.FORMAT,
        "# mdfakeraid rcraid /dev/sda recreated=no vendor=AMD-RAID model=Array%201"]


def test_save_with_fakeraid_warnings_no_only_logs(tmp_path, monkeypatch, capsys):
    tree = FakeTree(tmp_path / "root")
    pdc_set(tree)
    layout = _save(tmp_path, monkeypatch, tree, "--fakeraid-warnings", "no")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert f"not warned (MDCONTAINER_FAKERAID_WARNINGS=no): dmraid set /dev/mapper/{PDC}" in captured.out
    assert f"# mdfakeraid dmraid /dev/mapper/{PDC} format=pdc" in layout.read_text(encoding="utf-8")


def test_save_without_fake_raid_changes_nothing(tmp_path, monkeypatch, capsys):
    tree = FakeTree(tmp_path / "root")
    layout = _save(tmp_path, monkeypatch, tree)
    assert layout.read_text(encoding="utf-8") == "disk /dev/sda 536870912000 gpt\n"
    assert capsys.readouterr().err == ""


def test_save_of_a_recording_does_not_look_at_the_live_system(tmp_path, monkeypatch):
    def no_system() -> System:
        raise AssertionError("a recording holds no fake-RAID facts; the live system is not probed")

    monkeypatch.setattr(cli, "_system", no_system)
    layout = tmp_path / "disklayout.conf"
    layout.write_text("disk /dev/sda 536870912 gpt\n", encoding="utf-8")
    recording = Path(__file__).resolve().parents[1] / "fixtures" / "mdadm" / "bookworm" / "imsm-raid1"
    assert main(["save", "--layout-file", str(layout), "--recorded", str(recording)]) == 0
    assert "# mdfakeraid" not in layout.read_text(encoding="utf-8")


# --- report -------------------------------------------------------------------------------------------


def _live_report(tree: FakeTree) -> dict:
    from rear_mdcontainer.probe import LiveSource

    facts = LiveFacts(tree.system, {}, platform=lambda: tree("mdadm", "--detail-platform"))
    return build_report(LiveSource(str(tree.root / "sys")), facts)


def test_report_of_all_kinds(tmp_path):
    tree = FakeTree(tmp_path)
    found = _all_findings(tree)
    report = _live_report(tree)
    fake = report["fake_raid"]
    assert fake["checked"] is True
    assert fake["rcraid_module_loaded"] is False
    assert [(s["device"], s["format"], s["md_metadata"], s["recreated"]) for s in fake["dmraid_sets"]] == [
        (f"/dev/mapper/{ISW}", "isw", "imsm", False), (f"/dev/mapper/{PDC}", "pdc", None, False)]
    assert fake["dmraid_sets"][1]["partitions"] == [f"/dev/mapper/{PDC}1"]
    assert [(d["device"], d["vendor"], d["model"], d["size_bytes"]) for d in fake["rcraid_disks"]] == [
        ("/dev/sde", "AMD-RAID", "Array 1", 500 * GIB)]
    assert fake["would_record"] == fakeraid.record_lines(found)
    assert [(w["code"], w["subject"]) for w in report["warnings"]] == [
        (fakeraid.DMRAID_IMSM_DDF, f"/dev/mapper/{ISW}"), (fakeraid.DMRAID_OTHER, f"/dev/mapper/{PDC}"),
        (fakeraid.RCRAID_DISK, "/dev/sde")]
    assert json.loads(render_json(report))["fake_raid"] == fake
    text = render_text(report)
    assert (f"Other firmware RAID (dmraid sets, AMD RAIDXpert/rcraid disks)\n"
            f"  /dev/mapper/{ISW}: dmraid set, Intel IMSM\n"
            f"    disks       /dev/sda, /dev/sdb\n"
            f"    partitions  none\n"
            f"    recreated   no\n") in text
    assert "  /dev/sde: AMD RAIDXpert (rcraid) disk\n    vendor, model  AMD-RAID Array 1\n" in text
    assert "  would record (comments at the end of disklayout.conf)\n    # Other firmware RAID" in text
    assert f"\n    # mdfakeraid dmraid /dev/mapper/{PDC} format=pdc disks=/dev/sdc,/dev/sdd recreated=no\n" in text
    for finding in found:
        assert f"  - {finding.message}\n" in text


def test_report_of_a_dmraid_set_over_imsm_members_recorded_as_md(tmp_path):
    """The report's containers decide, as save's layout does (here a stub with an IMSM container on sda+sdb)."""
    from .test_report import StubFacts, _build, _container, _volume

    tree = FakeTree(tmp_path / "root")
    isw_set(tree)
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()},
                    StubFacts(fake=fakeraid.probe(tree.system)))
    (raid_set,) = report["fake_raid"]["dmraid_sets"]
    assert raid_set["recreated"] is True
    assert raid_set["md_containers"] == ["/dev/md127"]
    assert [w["code"] for w in report["warnings"]] == [fakeraid.DMRAID_ON_MD]
    assert "    recreated   yes, as the md container /dev/md127\n" in render_text(report)


def test_report_without_fake_raid(tmp_path):
    tree = FakeTree(tmp_path)
    tree.standard_imsm()
    report = _live_report(tree)
    assert report["fake_raid"] == {"checked": True, "rcraid_module_loaded": False, "dmraid_sets": [],
                                   "rcraid_disks": [], "would_record": []}
    assert ("Other firmware RAID (dmraid sets, AMD RAIDXpert/rcraid disks)\n"
            "  none (the rcraid module is not loaded)\n") in render_text(report)


def test_report_of_an_rcraid_disk(tmp_path):
    tree = FakeTree(tmp_path)
    rcraid_tree(tree)
    report = _live_report(tree)
    assert report["fake_raid"]["rcraid_module_loaded"] is True
    assert [d["evidence"] for d in report["fake_raid"]["rcraid_disks"]] == [
        ["SCSI host host0 is rcraid's", "0000:00:11.0 is driven by rcraid", "SCSI vendor AMD-RAID"]]
    text = render_text(report)
    assert "    recreated      no (the array: make it in the AMD RAID BIOS setup first)\n" in text
    assert "  the rcraid module is loaded\n" in text


def test_sizes_are_read_from_sysfs(tree):
    scsi_disk(tree, "sda", 0, "rcraid", "AMD-RAID", "Array 1", size_bytes=10 * MIB)
    assert fakeraid.probe(tree.system).rcraid_disks[0].size_bytes == 10 * MIB
