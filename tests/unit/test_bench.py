"""make bench's parsing and arithmetic on canned input (tests/bench/analysis.py, the summaries, codegen's layouts)."""

from __future__ import annotations

import subprocess

import pytest

from tests.bench import analysis, bench, codegen
from tests.bench.analysis import ProcCost

LOG = """\
2026-11-29 16:28:04.390843730 Including layout/recreate/default/100_confirm_layout_code.sh
2026-11-29 16:28:08.688400011 Including layout/recreate/default/200_run_layout_code.sh
2026-11-29 16:28:08.936703535 Start system layout restoration.
+++ mdadm --create /dev/md127 --run --metadata=imsm
2026-11-29 16:28:20.000000000 Disk layout created.
2026-11-29 16:28:21.000000000 Start system layout restoration.
2026-11-29 16:28:54.436703535 Disk layout created.
2026-11-29 16:28:59.387293022 Including layout/recreate/default/215_mdcontainer_verify.sh
   a continuation line of a multi-line message
2026-11-29 16:29:04.610753381 Including layout/recreate/default/220_verify_layout.sh
2026-11-29 16:29:06.906044363 Finished running 'layout/recreate' stage
"""


def test_rear_log_durations() -> None:
    events = analysis.parse_rear_log(LOG)
    assert len(events) == 9
    # The last complete run of diskrestore.sh (a rerun after a failure replaces the first):
    assert analysis.diskrestore_seconds(events) == pytest.approx(33.4367, abs=1e-5)
    assert analysis.stage_seconds(events, "layout/recreate") == pytest.approx(62.5152006, abs=1e-5)
    assert analysis.stage_seconds(events, "layout/prepare") is None
    scripts = analysis.script_seconds(events)
    assert scripts["layout/recreate/default/215_mdcontainer_verify.sh"] == pytest.approx(5.22346, abs=1e-5)
    assert scripts["layout/recreate/default/220_verify_layout.sh"] == pytest.approx(2.29529, abs=1e-5)
    assert analysis.plugin_script_seconds(events) == pytest.approx(5.22346, abs=1e-5)


def test_diskrestore_unfinished_run_does_not_count() -> None:
    events = analysis.parse_rear_log("2026-01-01 00:00:00.5 Start system layout restoration.\n")
    assert analysis.diskrestore_seconds(events) is None


TIMINGS = """\
savelayout-warmup-0 rc=0 start=100.0 end=190.0 forks=3000 mdcontainer=1 mdvolume=2 raidarray=0
savelayout-none-1 rc=0 start=200.0 end=280.5 forks=2500 mdcontainer=0 mdvolume=0 raidarray=3
savelayout-disabled-1 rc=0 start=300.0 end=381.0 forks=2510 mdcontainer=0 mdvolume=0 raidarray=3
savelayout-plugin-1 rc=0 start=400.0 end=490.0 forks=2700 mdcontainer=1 mdvolume=2 raidarray=0
savelayout-plugin-2 rc=0 start=500.0 end=588.0 forks=2690 mdcontainer=1 mdvolume=2 raidarray=0
savelayout-disabled-2 rc=0 start=600.0 end=680.0 forks=2508 mdcontainer=0 mdvolume=0 raidarray=3
savelayout-none-2 rc=0 start=700.0 end=779.5 forks=2502 mdcontainer=0 mdvolume=0 raidarray=3
helper-save-1 rc=0 start=800.0 end=806.0 forks=12
helper-deps-1 rc=0 start=810.0 end=812.0 forks=2
layoutonly-ours-1 rc=0 start=1000 end=1150 forks=4000 check=ok
layoutonly-upstream-1 rc=1 start=1200 end=1300 forks=3000 check=no-fs-imsmroot
"""


def test_timings_lines() -> None:
    runs = analysis.parse_timings(TIMINGS)
    assert [m.tag for m in runs][:2] == ["savelayout-warmup-0", "savelayout-none-1"]
    first = runs[1]
    assert (first.workflow, first.variant, first.round, first.rc, first.forks) == ("savelayout", "none", 1, 0, 2500)
    assert first.wall == pytest.approx(80.5)
    variants = analysis.by_variant(runs, "savelayout")
    assert sorted(variants) == ["disabled", "none", "plugin"]  # the warm-up (round 0) does not count
    assert [m.round for m in variants["none"]] == [1, 2]
    ours, upstream = runs[-2:]
    assert ours.ok and not upstream.ok


def test_median_and_ratio() -> None:
    assert analysis.median([3.0, 1.0, 2.0]) == 2.0
    assert analysis.median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert analysis.ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError):
        analysis.ratio(1.0, 0.0)
    with pytest.raises(ValueError):
        analysis.median([])


PROCBENCH = """\
fork_exec 100 1000.000000 1001.000000 0m0.003s 0m0.000s 0m0.103s 0m0.100s
python_start 5 1001.0 1006.0 0m0.103s 0m0.100s 1m0.103s 0m0.600s
"""


def test_procbench_output() -> None:
    assert analysis.bash_time_seconds("1m2.345s") == pytest.approx(62.345)
    costs = analysis.parse_procbench(PROCBENCH)
    assert costs["fork_exec"].wall == pytest.approx(0.01)
    assert costs["fork_exec"].cpu == pytest.approx(0.002)
    assert costs["python_start"].cpu == pytest.approx((60.0 + 0.5) / 5)
    best = analysis.best_costs([{"x": ProcCost(1.0, 3.0)}, {"x": ProcCost(2.0, 0.5)}])
    assert best["x"] == ProcCost(1.0, 0.5)


def test_added_by_directory() -> None:
    without = analysis.parse_file_list("10 f usr/bin/rear\n5 l usr/bin/x\n")
    with_plugin = analysis.parse_file_list("10 f usr/bin/rear\n5 l usr/bin/x\n100 f usr/lib/python3.11/os.py\n"
                                           "50 f usr/lib/python3.11/json/__init__.py\n7 f usr/bin/python3.11\n")
    rows = analysis.added_by_directory(with_plugin, without, depth=3)
    assert rows == [("usr/lib/python3.11", 150, 2), ("usr/bin", 7, 1)]


def _events(text: str) -> list[analysis.LogEvent]:
    return analysis.parse_rear_log(text)


def test_savelayout_summary_and_targets() -> None:
    runs = analysis.parse_timings(TIMINGS)
    logs = {"savelayout-plugin-1": _events(
        "2026-01-01 00:00:10.0 Including layout/save/GNU/Linux/290_mdcontainer_layout.sh\n"
        "2026-01-01 00:00:16.5 Including layout/save/default/300_list_dependencies.sh\n"
        "2026-01-01 00:00:20.0 Including layout/save/default/310_include_exclude.sh\n")}
    guest = {name: ProcCost(1.0, 1.0) for name in bench.PROC_ITEMS}
    host = {name: ProcCost(0.05, 0.01) for name in guest}
    report = bench.summarize_savelayout(runs, logs, guest, host)
    text = "\n".join(report.lines)
    # medians: none 80.0, disabled 80.5, plugin 89.0 -> +9.0 s, x1.11; forks 2501 -> 2695
    assert "the plugin adds +9.0 s (1.11 x plain ReaR) and +194 processes" in text
    assert "MDCONTAINER_ENABLED=no: +0.5 s, +8 processes" in text
    (target, measured, result), = report.targets
    assert target.startswith("(a)") and measured.startswith("+9.0 s under TCG")
    assert result.startswith("NOT met under TCG")
    assert "problem" not in text
    # by the logs (plugin-2 has none: 0): hooks median(6.5, 0) + dependency step median(3.5, 0) - 0 = 5.0 s;
    # natively: 5.0 s / (1.0 / 0.01) = 0.05 s; bottom up 0.01 + 0.01 - 0.01 + 0.01 + 12 x 0.01 = 0.14 s
    assert "its hooks 3.2 s + the dependency step 1.8 s longer = 5.0 s" in text
    assert "save 6.0 s with 12 processes" in text
    assert measured.endswith("(x1.11; 5.0 s by the logs); natively est. 0.05-0.14 s")
    assert result.endswith("met natively (est.)") and "NOT met natively" not in result


def test_recreate_summary_ratios() -> None:
    def log(start: float, restore: float) -> str:
        return (f"2026-01-01 00:00:{start:09.6f} Start system layout restoration.\n"
                f"2026-01-01 00:00:{start + restore:09.6f} Disk layout created.\n")

    runs = analysis.parse_timings("layoutonly-ours-1 rc=0 start=0 end=100 forks=10 check=ok\n"
                                  "layoutonly-upstream-1 rc=0 start=0 end=120 forks=10 check=ok\n"
                                  "layoutonly-native-1 rc=0 start=0 end=110 forks=10 check=ok\n"
                                  "layoutonly-ours-2 rc=0 start=0 end=90 forks=10 check=size:1\n")
    logs = {"layoutonly-ours-1": _events(log(1, 18)), "layoutonly-upstream-1": _events(log(1, 20)),
            "layoutonly-native-1": _events(log(1, 24)), "layoutonly-ours-2": _events(log(1, 5))}
    report = bench.summarize_recreate(runs, logs)
    text = "\n".join(report.lines)
    assert "failed: layoutonly-ours-2 rc 0 check=size:1" in text
    ours_up, ours_native = report.targets
    assert ours_up[1] == "0.90 diskrestore.sh; whole layoutonly 0.83" and ours_up[2] == "met"
    assert ours_native[1] == "0.75 diskrestore.sh; whole layoutonly 0.91; upstream's 0.83" and ours_native[2] == "met"
    # By the QEMU CPU time the first target is missed: both verdicts are given.
    cpu = {"layoutonly-ours-1": 11.0, "layoutonly-upstream-1": 10.0, "layoutonly-native-1": 20.0}
    ours_up, _ = bench.summarize_recreate(runs, logs, {"imsm": "262144", "native": "262144"}, cpu).targets
    assert ours_up[1] == "0.90 diskrestore.sh (1.10 by CPU); whole layoutonly 0.83"
    assert ours_up[2] == "met (NOT met by CPU)"


def test_qemu_cpu_of_intervals() -> None:
    samples = [(100.0, 10.0), (101.0, 10.5), (103.0, 12.5)]
    assert analysis.cpu_at(samples, 102.0) == pytest.approx(11.5)
    assert analysis.cpu_at(samples, 99.0) is None
    assert analysis.cpu_between(samples, 100.5, 103.0) == pytest.approx(12.5 - 10.25)
    runs = analysis.parse_timings("x-a-1 rc=0 start=50.5 end=53 forks=1\nx-a-2 rc=0 start=60 end=70 forks=1\n")
    first, second = analysis.with_cpu(runs, samples, offset=50.0)
    assert first.cpu == pytest.approx(2.25) and second.cpu is None
    events = analysis.parse_rear_log("1970-01-01 00:00:50.5 Start system layout restoration.\n"
                                     "1970-01-01 00:00:53.0 Disk layout created.\n")
    assert analysis.events_cpu(events, "Start system", "Disk layout created.", samples, 50.0) == pytest.approx(2.25)


def test_rescue_summary_targets() -> None:
    mib = 1024 * 1024
    runs = analysis.parse_timings(
        f"mkrescue-plugin-1 rc=0 start=0 end=600 forks=1 initrd={110 * mib} initrd_raw={330 * mib} iso={130 * mib} "
        f"rootfs={320 * mib} rootfs_kib=1 entries=5000\n"
        f"mkrescue-none-1 rc=0 start=0 end=500 forks=1 initrd={100 * mib} initrd_raw={300 * mib} iso={120 * mib} "
        f"rootfs={290 * mib} rootfs_kib=1 entries=4000\n")
    report = bench.summarize_rescue(runs, {"usr/lib/python3.11/os.py": 5}, {})
    compressed, uncompressed = report.targets
    assert compressed[1] == "10.00 MiB, 10.0 %" and compressed[2] == "NOT met"
    assert uncompressed[1] == "30.00 MiB, 10.0 %"
    assert "usr/lib/python3.11" in "\n".join(report.lines)


@pytest.mark.parametrize("shape", [codegen.SMALL, codegen.LARGE])
def test_codegen_layouts_are_what_the_issue_names(shape: codegen.Shape) -> None:
    lines = codegen.layout_lines(shape)
    layout = codegen.parse_layout(lines)
    assert (len({d for c in layout.containers for d in c.devices}), len(layout.volumes)) == (shape.disks, shape.volumes)
    assert sum(line.startswith("part ") for line in lines) == shape.partitions
    code = codegen.generate(lines)
    assert code.count("mdadm --create") == shape.containers + shape.volumes
    assert subprocess.run(["bash", "-n"], input=code, text=True, check=False).returncode == 0
    assert codegen.LARGE.label() == "8 disks / 4 volumes / 64 partitions"
    assert codegen.SMALL.label() == "2 disks / 1 volume / 2 partitions"


def test_disk_names() -> None:
    assert [codegen.disk_name(i) for i in (0, 25, 26, 27)] == ["/dev/sda", "/dev/sdz", "/dev/sdaa", "/dev/sdab"]


def test_parts_argument() -> None:
    assert bench.parse_args([]).parts == list(bench.PARTS)
    assert bench.parse_args(["codegen"]).parts == ["codegen"]
    assert bench.parse_args(["rescue,codegen savelayout"]).parts == ["savelayout", "rescue", "codegen"]
    with pytest.raises(SystemExit):
        bench.parse_args(["nonsense"])
