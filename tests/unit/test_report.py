"""``report``: on every recording (golden files, and key facts checked on their own), each warning
on small synthetic inputs, the live facts on a fake tree, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rear_mdcontainer import cli
from rear_mdcontainer.cli import EXIT_ERROR, main
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.fakeraid import FakeRaid
from rear_mdcontainer.probe import RecordedSource, probe_layout
from rear_mdcontainer.report import (
    MD_RULES,
    DiskFacts,
    LiveFacts,
    MdmonFacts,
    RecordedFacts,
    RuleFile,
    UdevFacts,
    build_report,
    parse_recorded_platform,
    render_json,
    render_text,
)
from rear_mdcontainer.system import Result, System

from .regen_report_golden import golden_path, recordings, run_report

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = recordings()
MIB = 1024 * 1024


def _report(recording: Path) -> dict:
    return build_report(RecordedSource(str(recording)), RecordedFacts(str(recording)))


def _by_name(name: str) -> Path:
    return next(p for p in RECORDINGS if p.name == name)


def _codes(report: dict) -> list[str]:
    return [w["code"] for w in report["warnings"]]


# --- every recording ---------------------------------------------------------------------------


def test_all_recordings_are_there():
    assert {p.name for p in RECORDINGS} >= {"imsm-raid1", "imsm-raid0", "imsm-raid5", "imsm-raid10", "imsm-two-volumes",
                                            "ddf-raid1", "imsm-raid1-degraded", "imsm-raid1-resync", "native-raid1"}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_report_matches_golden_file(recording: Path, as_json: bool):
    status, out, err = run_report(recording, as_json)
    assert (status, err) == (0, "")
    golden = golden_path(recording, as_json)
    assert golden.is_file(), f"no {golden.relative_to(ROOT)}: run .venv/bin/python -m tests.unit.regen_report_golden"
    assert out == golden.read_text(encoding="utf-8"), (
        f"the report differs from {golden.relative_to(ROOT)}; if the change is intended, run "
        ".venv/bin/python -m tests.unit.regen_report_golden and check the diff")


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_json_is_stable_and_versioned(recording: Path):
    report = _report(recording)
    text = render_json(report)
    assert json.loads(text)["version"] == 1
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert text == render_json(_report(recording)), "the same input gives the same report"
    assert render_text(report) == render_text(_report(recording))
    assert set(json.loads(text)) == {"version", "source", "containers", "volumes", "native_arrays", "platform",
                                     "udev", "would_record", "fake_raid", "warnings", "errors"}


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_would_record_is_what_save_writes(recording: Path):
    report = _report(recording)
    expected = format_layout(probe_layout(RecordedSource(str(recording))).layout)
    assert report["would_record"] == expected
    text = render_text(report)
    for line in expected:
        assert f"\n  {line}\n" in text
    assert report["errors"] == []


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_member_disks_match_disks_txt(recording: Path):
    """Serials and sizes of the members against disks.txt, which the VM test bed wrote when it made the disks."""
    serials = {}
    for line in (recording / "disks.txt").read_text().splitlines():
        if line.startswith("#") or not line.split():
            continue
        _name, serial, device, size = line.split()
        assert size.endswith("MiB")
        serials[device] = (serial, int(size[:-3]))
    for container in _report(recording)["containers"]:
        for member in container["members"]:
            serial, mib = serials[member["device"]]
            assert member["serial"] == serial
            assert member["size_bytes"] == mib * MIB
            assert member["size_mib"] == mib
            assert member["model"] == "QEMU HARDDISK"


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_recording_platform_and_unknowns(recording: Path):
    report = _report(recording)
    platform = report["platform"]
    assert platform["mdadm_version"].startswith("mdadm - v4.2")
    assert platform["detail_platform"]["platform_found"] is False  # QEMU has no Intel option ROM
    assert platform["detail_platform"]["exit_status"] == 1
    assert platform["imsm_no_platform"]["environment"] is None  # not in a recording
    assert report["udev"]["checked"] is False
    assert "imsm-no-platform" not in _codes(report)  # unknown environment: no guess
    imsm = [c for c in report["containers"] if c["metadata"] == "imsm"]
    # The test bed's udev rule sets IMSM_NO_PLATFORM=1 on every block device:
    assert all(platform["imsm_no_platform"]["udev"][m["device"]] is True for c in imsm for m in c["members"])


def test_degraded_recording():
    report = _report(_by_name("imsm-raid1-degraded"))
    (volume,) = report["volumes"]
    assert volume["degraded"] is True
    assert volume["slots"] == ["missing", "/dev/sda"]
    assert volume["missing_slots"] == 1
    assert _codes(report) == ["degraded"]
    assert "volume /dev/md126 is degraded (1 of 2 slots missing" in report["warnings"][0]["message"]
    text = render_text(report)
    assert "degraded       yes, 1 of 2 slots missing" in text
    assert "slots          0: missing, 1: /dev/sda" in text


def test_resync_recording():
    report = _report(_by_name("imsm-raid1-resync"))
    (volume,) = report["volumes"]
    assert volume["sync_action"] == "resync"
    assert volume["sync_progress"] == {"completed_sectors": 0, "total_sectors": 1036288, "permille": 0}
    assert _codes(report) == ["sync-in-progress"]
    assert "sync_action    resync, 0.0% (0 / 1036288 sectors)" in render_text(report)


def test_ddf_recording():
    report = _report(_by_name("ddf-raid1"))
    (container,) = report["containers"]
    assert container["metadata"] == "ddf"
    assert container["name"] == "ddf0"
    assert [m["device"] for m in container["members"]] == ["/dev/sda", "/dev/sdb"]
    assert report["volumes"][0]["name"] == "data"
    assert report["platform"]["imsm_no_platform"]["mdmon"] == {}  # IMSM only
    assert report["warnings"] == []
    assert "  /dev/md127: ddf container\n" in render_text(report)


def test_native_recording():
    report = _report(_by_name("native-raid1"))
    assert report["containers"] == [] and report["volumes"] == []
    (native,) = report["native_arrays"]
    assert native["device"] == "/dev/md127"
    assert native["level"] == "raid1"
    assert native["metadata_version"] == "1.2"
    assert native["members"] == ["/dev/sda", "/dev/sdb"]
    assert report["would_record"] == []
    text = render_text(report)
    native_section = text.split("Native md arrays (left to ReaR's own raidarray code)\n", 1)[1].split("\n\n", 1)[0]
    assert native_section.startswith("  /dev/md127 'data': raid1, metadata 1.2, on /dev/sda, /dev/sdb")
    assert "nothing: no IMSM/DDF containers (the native md arrays stay ReaR's raidarray lines)" in text


def test_two_volumes_recording():
    report = _report(_by_name("imsm-two-volumes"))
    assert [(v["device"], v["member"], v["name"], v["offset_sectors"]) for v in report["volumes"]] == [
        ("/dev/md125", 0, "Volume0", 0), ("/dev/md126", 1, "Volume1", 270336)]
    assert report["containers"][0]["volumes"] == ["/dev/md125", "/dev/md126"]


def test_text_has_its_sections_in_order():
    text = render_text(_report(_by_name("imsm-raid1")))
    headings = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headings == ["rear-mdcontainer report of recording imsm-raid1 (it holds no environment, mdmon, udev "
                        "rule or fake-RAID facts: those show as unknown)", "Containers", "Volumes",
                        "Native md arrays (left to ReaR's own raidarray code)", "Platform", "udev",
                        "Other firmware RAID (dmraid sets, AMD RAIDXpert/rcraid disks)",
                        "Would record (mdcontainer/mdvolume lines of disklayout.conf)", "Warnings"]


# --- synthetic inputs --------------------------------------------------------------------------


@dataclass
class StubFacts:
    """Facts for the warnings' tests: every answer set by the test."""

    disks: dict[str, DiskFacts] = field(default_factory=dict)
    platform: Result | None = field(default_factory=lambda: Result(1, "", "mdadm: no platform\n"))
    version: str | None = "mdadm - v4.2"
    environment: bool | None = True
    mdmons: dict[str, MdmonFacts] = field(default_factory=dict)
    rules: UdevFacts | None = None
    kind: str = "live"
    fake: FakeRaid | None = field(default_factory=FakeRaid)

    def source(self) -> dict[str, str]:
        return {"kind": self.kind}

    def disk(self, name: str) -> DiskFacts:
        return self.disks.get(name, DiskFacts(serial=f"SERIAL-{name}", size_bytes=1024 * MIB))

    def detail_platform(self) -> Result | None:
        return self.platform

    def mdadm_version(self) -> str | None:
        return self.version

    def environment_no_platform(self) -> bool | None:
        return self.environment

    def mdmon(self, md: str) -> MdmonFacts:
        return self.mdmons.get(md, MdmonFacts(pid=100, running=True, imsm_no_platform=False))

    def udev(self) -> UdevFacts | None:
        return self.rules

    def fake_raid(self) -> FakeRaid | None:
        return self.fake


UUID_C = "11111111:22222222:33333333:44444444"
UUID_V = "55555555:66666666:77777777:88888888"


def _container(metadata: str = "imsm", disks: tuple[str, ...] = ("sda", "sdb")) -> dict:
    return {"md": {"metadata_version": f"external:{metadata}", "array_state": "inactive"}, "size": "0",
            "devs": {f"dev-{d}": {"slot": "none", "offset": "0"} for d in disks}}


def _volume(parent: str = "md127", slots: dict[str, int] | None = None, level: str = "raid1",
            state: str = "clean", sync: str = "idle", completed: str = "none") -> dict:
    slots = {"sda": 0, "sdb": 1} if slots is None else slots
    return {"md": {"metadata_version": f"external:/{parent}/0", "level": level, "raid_disks": "2",
                   "component_size": "1048576", "chunk_size": "65536", "array_state": state, "sync_action": sync,
                   "sync_completed": completed, "degraded": "0"},
            "size": "2097152", "devs": {f"dev-{d}": {"slot": str(s), "offset": "0"} for d, s in slots.items()}}


def _recording(tmp_path: Path, md: dict, *, names: dict[str, str] | None = None, scan_name: str = "Volume0") -> Path:
    """A recording directory with sysfs.json, --detail --export and --examine --scan output."""
    (tmp_path / "sysfs.json").write_text(json.dumps({"md": md}), encoding="utf-8")
    names = names or {}
    for name, values in md.items():
        version = values["md"]["metadata_version"]
        uuid = UUID_V if "/" in version else UUID_C
        export = f"MD_UUID={uuid}\nMD_DEVNAME={names.get(name, 'imsm0' if '/' not in version else 'Volume0_0')}\n"
        (tmp_path / f"detail-export-{name}.txt").write_text(export, encoding="utf-8")
    device = f"/dev/md/{scan_name} " if scan_name else ""
    (tmp_path / "examine-scan.txt").write_text(
        f"ARRAY metadata=imsm UUID={UUID_C}\nARRAY {device}container={UUID_C} member=0 UUID={UUID_V}\n",
        encoding="utf-8")
    return tmp_path


def _build(tmp_path: Path, md: dict, facts: StubFacts | None = None, **kwargs) -> dict:
    directory = _recording(tmp_path, md, **kwargs)
    return build_report(RecordedSource(str(directory)), facts or StubFacts())


def test_a_healthy_synthetic_system_has_no_warnings(tmp_path):
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()})
    assert report["warnings"] == [] and report["errors"] == []
    assert report["would_record"][0].startswith("mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb")


def test_warns_degraded(tmp_path):
    report = _build(tmp_path, {"md127": _container(disks=("sdb",)), "md126": _volume(slots={"sdb": 1})})
    assert _codes(report) == ["degraded"]
    assert report["volumes"][0]["slots"] == ["missing", "/dev/sdb"]
    assert report["warnings"][0]["subject"] == "/dev/md126"


@pytest.mark.parametrize(("action", "completed", "done"), [("resync", "1000 / 4000", "25.0%"),
                                                            ("recover", "1 / 3", "33.3%"),
                                                            ("reshape", "none", None)])
def test_warns_resync_and_recovery(tmp_path, action, completed, done):
    report = _build(tmp_path, {"md127": _container(), "md126": _volume(sync=action, completed=completed)})
    assert _codes(report) == ["sync-in-progress"]
    message = report["warnings"][0]["message"]
    assert f"volume /dev/md126 is in '{action}'" in message
    assert (f", {done} done" in message) if done else " done" not in message


@pytest.mark.parametrize("action", ["idle", "frozen", ""])
def test_no_sync_warning_when_idle(tmp_path, action):
    assert _codes(_build(tmp_path, {"md127": _container(), "md126": _volume(sync=action)})) == []


def test_warns_unsupported_metadata_and_fails(tmp_path, capsys):
    directory = _recording(tmp_path, {"md127": _container(metadata="sun-nvram")})
    report = build_report(RecordedSource(str(directory)), StubFacts())
    assert _codes(report) == ["unsupported-metadata"]
    assert report["containers"][0]["supported"] is False
    assert report["would_record"] is None
    assert [e["problem"] for e in report["errors"]] == ["unknown external metadata 'sun-nvram'"]
    assert "nothing: the probe failed (see Errors)" in render_text(report)


def test_warns_volume_without_active_container(tmp_path):
    report = _build(tmp_path, {"md126": _volume(parent="md127")})
    assert _codes(report) == ["container-not-active"]
    assert report["volumes"][0]["container_active"] is False
    assert report["errors"][0]["subject"] == "/dev/md126"
    assert "is not an active IMSM/DDF container" in report["errors"][0]["problem"]


@pytest.mark.parametrize(("second_mib", "warned"), [(1020, True), (1011, True), (1010, False), (1000, False), (991, False),
                                                    (990, True)])
def test_warns_member_disks_of_different_size(tmp_path, second_mib, warned):
    facts = StubFacts(disks={"sda": DiskFacts(size_bytes=1000 * MIB), "sdb": DiskFacts(size_bytes=second_mib * MIB)})
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()}, facts)
    assert ("disk-sizes-differ" in _codes(report)) is warned
    if warned:
        assert f"/dev/sdb {second_mib * MIB} bytes ({second_mib} MiB)" in report["warnings"][0]["message"]


def test_no_size_warning_when_a_size_is_unknown(tmp_path):
    facts = StubFacts(disks={"sda": DiskFacts(size_bytes=1000 * MIB), "sdb": DiskFacts()})
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()}, facts)
    assert _codes(report) == []
    assert "size unknown" in render_text(report)


@pytest.mark.parametrize(("facts", "warned"), [
    (StubFacts(environment=False), True),
    (StubFacts(environment=True), False),
    (StubFacts(environment=None), False),  # unknown (a recording): no guess
    (StubFacts(environment=False, mdmons={"md127": MdmonFacts(pid=7, running=True, imsm_no_platform=True)}), False),
    (StubFacts(environment=False, platform=Result(0, "       Platform : Intel(R) Rapid Storage Technology\n", "")),
     False),
    (StubFacts(environment=False, platform=None), False),
])
def test_warns_imsm_without_platform(tmp_path, facts, warned):
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()}, facts)
    assert ("imsm-no-platform" in _codes(report)) is warned
    if warned:
        assert "MDCONTAINER_IMSM_NO_PLATFORM=yes" in report["warnings"][0]["message"]


def test_no_platform_warning_for_ddf(tmp_path):
    report = _build(tmp_path, {"md127": _container(metadata="ddf"), "md126": _volume()}, StubFacts(environment=False),
                    names={"md127": "ddf0"})
    assert _codes(report) == []


@pytest.mark.parametrize(("mdmon", "state", "warned"), [
    (MdmonFacts(running=False), "clean", True),
    (MdmonFacts(pid=4242, running=False), "read-auto", True),
    (MdmonFacts(pid=1, running=True), "clean", False),
    (MdmonFacts(), "clean", False),  # unknown
    (MdmonFacts(running=False), "inactive", False),  # nothing runs that mdmon would serve
])
def test_warns_missing_mdmon(tmp_path, mdmon, state, warned):
    facts = StubFacts(mdmons={"md127": mdmon})
    report = _build(tmp_path, {"md127": _container(), "md126": _volume(state=state)}, facts)
    assert ("mdmon-missing" in _codes(report)) is warned
    if warned:
        assert "no mdmon runs for container /dev/md127" in report["warnings"][0]["message"]
        assert "not running" in render_text(report)


def test_warns_volume_without_name(tmp_path):
    report = _build(tmp_path, {"md127": _container(metadata="ddf"), "md126": _volume()},
                    names={"md127": "ddf0", "md126": "md126"}, scan_name="")
    assert _codes(report) == ["volume-without-name"]
    assert report["volumes"][0]["name"] is None
    assert report["errors"][0]["problem"] == "the volume has no name, neither in its metadata nor as array name"
    assert "/dev/md126: no name, member 0" in render_text(report)


def test_unnamed_ddf_volume_takes_the_array_name(tmp_path):
    report = _build(tmp_path, {"md127": _container(metadata="ddf"), "md126": _volume()},
                    names={"md127": "ddf0", "md126": "data"}, scan_name="")
    assert (report["volumes"][0]["name"], report["volumes"][0]["name_from"]) == ("data", "array name")
    assert _codes(report) == []


def test_warns_blocked_assembly(tmp_path):
    rules = UdevFacts(rules={"64-md-raid-assembly.rules": (RuleFile("/run/udev/rules.d", True),
                                                           RuleFile("/usr/lib/udev/rules.d", False))},
                      blocking_rule=True, masked_by_us=("64-md-raid-assembly.rules",))
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()}, StubFacts(rules=rules))
    assert _codes(report) == ["assembly-blocked"]
    rule = next(r for r in report["udev"]["rules"] if r["name"] == "64-md-raid-assembly.rules")
    assert rule["state"] == "masked"
    text = render_text(report)
    assert "64-md-raid-assembly.rules     masked: /run/udev/rules.d (masked), /usr/lib/udev/rules.d" in text
    assert "rear-mdcontainer's block      active" in text


def test_warns_missing_mdadm_only_live(tmp_path):
    assert _codes(_build(tmp_path, {}, StubFacts(version=None))) == ["mdadm-missing"]
    assert _codes(_build(tmp_path, {}, StubFacts(version=None, kind="recorded"))) == []


def test_everything_at_once_keeps_a_stable_order(tmp_path):
    facts = StubFacts(disks={"sda": DiskFacts(size_bytes=1000 * MIB), "sdb": DiskFacts(size_bytes=2000 * MIB)},
                      mdmons={"md127": MdmonFacts(running=False)}, environment=False,
                      rules=UdevFacts(rules={}, blocking_rule=True, masked_by_us=()))
    md = {"md127": _container(), "md126": _volume(slots={"sda": 0}, sync="recover", completed="5 / 10")}
    report = _build(tmp_path, md, facts)
    assert _codes(report) == ["disk-sizes-differ", "mdmon-missing", "degraded", "sync-in-progress",
                              "imsm-no-platform", "assembly-blocked"]
    text = render_text(report)
    assert text.split("\nWarnings\n", 1)[1].count("\n  - ") == 5  # six lines, the first without a leading newline


# --- recorded and live facts -------------------------------------------------------------------


PLATFORM_OUT = """\
       Platform : Intel(R) Rapid Storage Technology
        Version : 12.7.0.1936
    RAID Levels : raid0 raid1 raid10 raid5
    Chunk Sizes : 4k 8k 16k 32k 64k 128k
      Max Disks : 6
    Max Volumes : 2 per array, 4 per controller
 I/O Controller : /sys/devices/pci0000:00/0000:00:1f.2 (SATA)
          Port0 : /dev/sda (WD-1234)
"""


def test_parse_recorded_platform_prefers_the_run_without_imsm_no_platform():
    text = ("### mdadm --detail-platform with IMSM_NO_PLATFORM=1: rc=0\n### stdout\nfake\n### stderr\n\n"
            "### mdadm --detail-platform with IMSM_NO_PLATFORM unset: rc=1\n### stdout\n### stderr\nmdadm: none\n")
    assert parse_recorded_platform(text) == Result(1, "", "mdadm: none\n")
    assert parse_recorded_platform(PLATFORM_OUT) == Result(-1, PLATFORM_OUT, "")


def test_platform_fields_are_shown(tmp_path):
    report = _build(tmp_path, {"md127": _container(), "md126": _volume()},
                    StubFacts(platform=Result(0, PLATFORM_OUT, "")))
    detail = report["platform"]["detail_platform"]
    assert detail["platform_found"] is True
    assert detail["fields"]["Max Volumes"] == "2 per array, 4 per controller"
    assert detail["controllers"] == ["/sys/devices/pci0000:00/0000:00:1f.2 (SATA)"]
    text = render_text(report)
    assert "mdadm --detail-platform  Intel(R) Rapid Storage Technology (exit status 0)" in text
    assert "                         RAID Levels: raid0 raid1 raid10 raid5" in text


def test_recorded_facts_without_optional_files(tmp_path):
    (tmp_path / "sysfs.json").write_text(json.dumps({"md": {}, "disks": {"sda": {"size": "2048"}}}))
    facts = RecordedFacts(str(tmp_path))
    assert facts.disk("sda") == DiskFacts(size_bytes=1024 * 1024)
    assert facts.disk("sdz") == DiskFacts()
    assert facts.detail_platform() is None
    assert facts.mdadm_version() is None


class FakeRunner:
    def __init__(self, results: dict[tuple[str, ...], Result]) -> None:
        self.results = results
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *argv: str) -> Result:
        self.calls.append(argv)
        return self.results.get(argv, Result(1, "", "unknown device"))


def _live_tree(root: Path) -> None:
    sda = root / "sys" / "class" / "block" / "sda"
    (sda / "device").mkdir(parents=True)
    (sda / "size").write_text("2097152\n")
    (sda / "device" / "model").write_text("Samsung SSD 870   \n")
    sdb = root / "sys" / "class" / "block" / "sdb"
    sdb.mkdir(parents=True)
    (sdb / "size").write_text("2097152\n")
    (root / "run" / "mdadm").mkdir(parents=True)
    (root / "run" / "mdadm" / "md127.pid").write_text("4242\n")
    (root / "run" / "mdadm" / "md125.pid").write_text("999\n")
    (root / "proc" / "4242").mkdir(parents=True)
    (root / "proc" / "4242" / "environ").write_bytes(b"PATH=/usr/bin\0IMSM_NO_PLATFORM=1\0")
    usr_rules = root / "usr" / "lib" / "udev" / "rules.d"
    usr_rules.mkdir(parents=True)
    for name in ("63-md-raid-arrays.rules", "64-md-raid-assembly.rules", "01-md-raid-creating.rules"):
        (usr_rules / name).write_text("# rule\n")
    (root / "lib").symlink_to("usr/lib")  # merged /usr: the same files, listed once
    run_rules = root / "run" / "udev" / "rules.d"
    run_rules.mkdir(parents=True)
    (run_rules / "64-md-raid-assembly.rules").symlink_to("/dev/null")
    (run_rules / "00-rear-mdcontainer-no-md-assembly.rules").write_text(
        "# rear-mdcontainer: md auto-assembly blocked during rear recover\n")
    (run_rules / ".rear-mdcontainer-masked").write_text("64-md-raid-assembly.rules\n")
    etc_rules = root / "etc" / "udev" / "rules.d"
    etc_rules.mkdir(parents=True)
    (etc_rules / "65-md-incremental.rules").write_text("")


def test_live_facts_on_a_fake_tree(tmp_path):
    _live_tree(tmp_path)
    runner = FakeRunner({
        ("udevadm", "info", "--query=property", "--name=/dev/sda"): Result(0, "ID_SERIAL_SHORT=S4X1\n", ""),
        ("udevadm", "info", "--query=property", "--name=/dev/sdb"):
            Result(0, "ID_SERIAL_SHORT=S4X2\nID_MODEL=WDC_WD10\nIMSM_NO_PLATFORM=1\n", ""),
        ("mdadm", "--version"): Result(0, "", "mdadm - v4.2 - 2021-12-30\n"),
    })
    facts = LiveFacts(System(str(tmp_path), runner), {"IMSM_NO_PLATFORM": "1"},
                      platform=lambda: Result(0, PLATFORM_OUT, ""))
    assert facts.source() == {"kind": "live"}
    assert facts.disk("sda") == DiskFacts(serial="S4X1", size_bytes=1024 * MIB, model="Samsung SSD 870",
                                          udev_imsm_no_platform=False)
    assert facts.disk("sdb") == DiskFacts(serial="S4X2", size_bytes=1024 * MIB, model="WDC_WD10",
                                          udev_imsm_no_platform=True)
    assert facts.disk("sdz") == DiskFacts()
    assert facts.mdadm_version() == "mdadm - v4.2 - 2021-12-30"
    assert facts.environment_no_platform() is True
    assert LiveFacts(System(str(tmp_path), runner), {}).environment_no_platform() is False
    assert facts.mdmon("md127") == MdmonFacts(pid=4242, running=True, imsm_no_platform=True)
    assert facts.mdmon("md125") == MdmonFacts(pid=999, running=False)
    assert facts.mdmon("md126") == MdmonFacts(running=False)
    assert facts.detail_platform() == Result(0, PLATFORM_OUT, "")
    udev = facts.udev()
    assert udev is not None
    assert set(udev.rules) == set(MD_RULES)
    assert udev.rules["64-md-raid-assembly.rules"] == (RuleFile("/run/udev/rules.d", True),
                                                      RuleFile("/usr/lib/udev/rules.d", False))
    assert udev.rules["63-md-raid-arrays.rules"] == (RuleFile("/usr/lib/udev/rules.d", False),)
    assert udev.rules["65-md-incremental.rules"] == (RuleFile("/etc/udev/rules.d", True),)
    assert udev.rules["65-md-incremental-imsm.rules"] == ()
    assert udev.blocking_rule is True
    assert udev.masked_by_us == ("64-md-raid-assembly.rules",)


def test_live_facts_without_udevadm_mdadm_or_proc(tmp_path):
    from rear_mdcontainer.errors import MdcError

    def missing(*argv: str) -> Result:
        raise MdcError(argv[0], "the command is not installed")

    def no_platform() -> Result:
        raise MdcError("mdadm", "the command is not installed")

    (tmp_path / "sys" / "class" / "block" / "sda").mkdir(parents=True)
    (tmp_path / "sys" / "class" / "block" / "sda" / "size").write_text("100\n")
    facts = LiveFacts(System(str(tmp_path), missing), {}, platform=no_platform)
    assert facts.disk("sda") == DiskFacts(size_bytes=51200)
    assert facts.mdadm_version() is None
    assert facts.detail_platform() is None
    assert facts.udev() == UdevFacts(rules={name: () for name in MD_RULES}, blocking_rule=False, masked_by_us=())


# --- the command line --------------------------------------------------------------------------


def test_cli_report_exits_2_after_the_report_when_the_probe_fails(tmp_path, capsys):
    directory = _recording(tmp_path, {"md126": _volume(parent="md127")})
    assert main(["report", "--recorded", str(directory)]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert "Volumes\n  /dev/md126: 'Volume0', member 0 of /dev/md127 (unknown metadata, not an assembled container)" \
        in captured.out
    assert "\nErrors\n  - /dev/md126: its container /dev/md127 is not an active IMSM/DDF container" in captured.out
    assert captured.err.splitlines()[-1].startswith("ERROR: /dev/md126: its container /dev/md127 is not an active")
    assert main(["report", "--json", "--recorded", str(directory)]) == EXIT_ERROR
    document = json.loads(capsys.readouterr().out)
    assert document["would_record"] is None
    assert document["errors"][0]["subject"] == "/dev/md126"


def test_cli_report_without_a_recording(tmp_path, capsys):
    assert main(["report", "--recorded", str(tmp_path / "nothing")]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"ERROR: {tmp_path / 'nothing' / 'sysfs.json'}: cannot read the recorded sysfs")


def test_cli_report_live(tmp_path, capsys, monkeypatch):
    """The live path: LiveSource on MDCONTAINER_SYSFS, LiveFacts on the system (here a fake tree and runner)."""
    _live_tree(tmp_path)
    runner = FakeRunner({("mdadm", "--version"): Result(0, "", "mdadm - v4.2\n")})
    monkeypatch.setattr(cli, "_system", lambda: System(str(tmp_path), runner))
    monkeypatch.setattr("rear_mdcontainer.report.detail_platform_live", lambda: Result(1, "", "mdadm: no platform\n"))
    monkeypatch.setenv("MDCONTAINER_SYSFS", str(tmp_path / "sys"))
    monkeypatch.delenv("IMSM_NO_PLATFORM", raising=False)
    assert main(["report", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["source"] == {"kind": "live"}
    assert document["platform"]["mdadm_version"] == "mdadm - v4.2"
    assert document["platform"]["imsm_no_platform"]["environment"] is False
    assert document["platform"]["detail_platform"]["messages"] == ["mdadm: no platform"]
    assert document["udev"]["blocking_rule_active"] is True
    assert [w["code"] for w in document["warnings"]] == ["assembly-blocked"]
    assert main(["report"]) == 0
    assert "rear-mdcontainer report of this system" in capsys.readouterr().out


def test_report_imports_nothing_heavy():
    code = ("import sys, rear_mdcontainer.cli, rear_mdcontainer.report; "
            "heavy = [m for m in ('plumbum', 'jinja2') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT / "pyhelpers")})
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("recording", RECORDINGS, ids=lambda p: p.name)
def test_platform_would_record_is_what_save_writes(recording: Path, tmp_path, capsys):
    """The Platform section shows the '# mdplatform' lines of save (none without IMSM)."""
    layout = tmp_path / "disklayout.conf"
    layout.write_text("disk /dev/sda 536870912 gpt\n", encoding="utf-8")
    assert main(["save", "--layout-file", str(layout), "--recorded", str(recording)]) == 0
    capsys.readouterr()
    written = [line for line in layout.read_text(encoding="utf-8").splitlines() if line.startswith("# mdplatform ")]
    report = _report(recording)
    assert report["platform"]["would_record"] == written
    has_imsm = any(c["metadata"] == "imsm" for c in report["containers"])
    assert bool(written) is has_imsm
    text = render_text(report)
    if written:
        assert f"  would record             {written[0]}\n" in text
    else:
        assert "  would record             nothing (no IMSM container)\n" in text


def test_platform_would_record_is_unknown_when_the_probe_fails(tmp_path):
    report = _build(tmp_path, {"md126": _volume(parent="md127")})
    assert report["platform"]["would_record"] is None
    assert "would record             unknown: the probe failed (see Errors)" in render_text(report)
