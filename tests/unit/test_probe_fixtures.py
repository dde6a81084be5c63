"""The probe on output recorded from real mdadm in the VM (tests/fixtures/mdadm/<suite>/<layout>).

Each recorded layout is probed through RecordedSource exactly as the live
system would be, and the model is cross-checked against *other* mdadm output
of the same recording than the probe reads: the sizes against ``mdadm
--detail``'s Used Dev Size / Array Size / Chunk Size, the member order against
the ``MD_DEVICE_dev_X_ROLE`` keys of ``--detail --export``, the names against
``--examine --scan``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rear_mdcontainer.disklayout import rewrite
from rear_mdcontainer.entries import parse_layout
from rear_mdcontainer.mdadm_parse import chunk_kib, parse_detail, parse_export, parse_scan, size_kib
from rear_mdcontainer.probe import RecordedSource, probe_layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mdadm"
LAYOUTS = sorted(p for p in FIXTURES.glob("*/*") if (p / "sysfs.json").exists())
FIRMWARE = [p for p in LAYOUTS if not p.name.startswith("native")]
# One directory per captured Debian suite: bookworm (mdadm 4.2), trixie (mdadm 4.4; issue #6).
SUITES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def test_fixtures_exist() -> None:
    names = {p.name for p in LAYOUTS}
    assert {"imsm-raid1", "imsm-raid0", "imsm-raid5", "imsm-raid10", "imsm-two-volumes", "ddf-raid1",
            "imsm-raid1-degraded", "imsm-raid1-resync", "native-raid1"} <= names
    assert {"bullseye", "bookworm", "trixie"} <= set(SUITES)
    for suite in SUITES:
        assert {p.name for p in LAYOUTS if p.parent.name == suite} == names, suite


@pytest.mark.parametrize("recording", FIRMWARE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_probe_matches_mdadm_detail(recording: Path) -> None:
    result = probe_layout(RecordedSource(str(recording)))
    layout = result.layout
    assert len(layout.containers) == 1
    container = layout.containers[0]
    assert container.metadata == ("ddf" if recording.name.startswith("ddf") else "imsm")
    scan = parse_scan((recording / "examine-scan.txt").read_text())
    for volume in layout.volumes:
        md = volume.device.rsplit("/", 1)[-1]
        detail = parse_detail((recording / f"detail-{md}.txt").read_text())
        export = parse_export((recording / f"detail-export-{md}.txt").read_text())
        assert volume.level == detail.get("Raid Level")
        assert volume.raid_devices == int(detail.get("Raid Devices"))
        array_size = size_kib("t", "Array Size", detail.get("Array Size"))
        assert volume.array_size_kib == array_size
        if detail.get("Used Dev Size"):
            assert volume.size_kib == size_kib("t", "Used Dev Size", detail.get("Used Dev Size"))
        else:  # mdadm prints no Used Dev Size for RAID0
            assert volume.level == "raid0" and volume.size_kib * volume.raid_devices == array_size
        if volume.level != "raid1":
            assert volume.chunk_kib == chunk_kib("t", detail.get("Chunk Size"))
        assert volume.uuid == export["MD_UUID"]
        assert int(export["MD_MEMBER"]) == volume.member
        # MD_DEVICE_<key>_ROLE and MD_DEVICE_<key>_DEV: the key is dev_sda, or ev_sda from mdadm 4.1
        # (which cuts the wrong prefix off); the device comes from _DEV.
        roles = {int(v): export[f"{k[:-len('_ROLE')]}_DEV"] for k, v in export.items()
                 if k.startswith("MD_DEVICE_") and k.endswith("_ROLE") and v.isdigit()}
        expected = tuple(roles.get(slot, "missing") for slot in range(volume.raid_devices))
        assert volume.devices == expected
        names = [a.name for a in scan if a.options.get("UUID") == volume.uuid]
        assert names == [volume.name]
    # every present member of a volume is a member of the container, and the other way round
    used = {d for v in layout.volumes for d in v.devices if d != "missing"}
    assert used == set(container.devices)


@pytest.mark.parametrize("suite", SUITES)
def test_degraded_and_resync_warn(suite: str) -> None:
    degraded = probe_layout(RecordedSource(str(FIXTURES / suite / "imsm-raid1-degraded")))
    assert degraded.layout.volumes[0].degraded
    assert any("degraded" in w for w in degraded.warnings)
    resync = probe_layout(RecordedSource(str(FIXTURES / suite / "imsm-raid1-resync")))
    assert any("resync" in w for w in resync.warnings)


@pytest.mark.parametrize("suite", SUITES)
def test_two_volumes_in_member_order_with_offsets(suite: str) -> None:
    layout = probe_layout(RecordedSource(str(FIXTURES / suite / "imsm-two-volumes"))).layout
    first, second = layout.volumes_of(layout.containers[0])
    assert (first.member, second.member) == (0, 1)
    assert first.offset_sectors == 0
    assert second.offset_sectors is not None and second.offset_sectors >= first.size_kib * 2


@pytest.mark.parametrize("suite", SUITES)
def test_native_array_is_not_ours(suite: str) -> None:
    layout = probe_layout(RecordedSource(str(FIXTURES / suite / "native-raid1"))).layout
    assert layout.containers == () and layout.volumes == ()


@pytest.mark.parametrize("suite", SUITES)
def test_ddf_container_is_not_mistaken_for_a_volume(suite: str) -> None:
    # 'Container GUID :' in DDF's --detail: ReaR 2.7's grep records 'devices= devices=' here.
    recording = FIXTURES / suite / "ddf-raid1"
    detail = (recording / "detail-md127.txt").read_text()
    assert "Container GUID" in detail or "Container" not in parse_detail(detail).fields
    layout = probe_layout(RecordedSource(str(recording))).layout
    assert len(layout.containers[0].devices) == 2


@pytest.mark.parametrize("recording", FIRMWARE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_entries_round_trip_through_disklayout(recording: Path) -> None:
    layout = probe_layout(RecordedSource(str(recording))).layout
    lines = rewrite(["# empty layout"], layout)
    assert parse_layout(lines) == layout
    for line in lines:
        if line.startswith(("mdcontainer ", "mdvolume ")):
            assert re.fullmatch(r"[\x21-\x7e ]+", line), line
