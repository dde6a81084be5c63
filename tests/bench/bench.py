"""``make bench``: what the plugin costs, measured side by side (issues #3 and #7). A benchmark, not a test.

Four parts, each printed as it finishes and written to a results file:

(a) ``savelayout``: ``rear savelayout`` on one IMSM container with two volumes (RAID1 + RAID0), in one VM
    session, alternating the plugin removed (every file ``make install`` wrote deleted: plain Debian
    ReaR), installed with ``MDCONTAINER_ENABLED=no`` and installed and on; medians. Plus what starting
    a process costs in the VM and on the host (tests/bench/procbench.sh), to relate the emulated
    figures to native ones.
(b) ``recreate``: ``rear layoutonly`` in one VM session on the same blank disks each time, alternating
    ours (plugin on, its recording) with upstream ReaR 2.7 (plugin removed, the recording made
    without it) on an IMSM RAID1, and upstream on a native md RAID1 of the same size (metadata 1.2);
    the time diskrestore.sh runs (from ReaR's log), the layout/recreate stage and the whole command.
(c) ``rescue``: ``rear mkrescue`` (OUTPUT=ISO) with and without the plugin: the initrd compressed and
    uncompressed, the ISO, the rescue tree, and what the plugin adds, by directory.
(d) ``codegen``: generating our entries' diskrestore.sh code on the host (tests/bench/codegen.py).

Usage: ``python -m tests.bench.bench [PART...] [--rounds N] [--recreate-rounds N] [--out FILE]``
(``make bench [BENCH="codegen"]``). One VM at a time. With all four parts the results go to
tests/bench/results.txt (committed), otherwise to build/bench-<date>-<parts>.txt. The VMs' work
directories (logs, shares) stay in build/bench/<date>/, their disk images are deleted.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.bench import analysis, codegen
from tests.bench.analysis import LogEvent, Measurement, ProcCost, median, mib, ratio, verdict
from tests.vm.vmlib import VM, DiskSpec, RunResult, VMError, ensure_image

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "mdadm" / "bookworm" / "imsm-two-volumes"
RESULTS = HERE / "results.txt"
PARTS = ("savelayout", "recreate", "rescue", "codegen")
HOST_PYTHON = "/usr/bin/python3"

#: (a) target: the plugin adds at most this much to 'rear savelayout' (issue #7).
SAVELAYOUT_TARGET_S = 0.3
#: (b) targets: ours / upstream's recreation time, IMSM RAID1 / native md RAID1.
OURS_UPSTREAM_TARGET = 1.0
IMSM_NATIVE_TARGET = 0.9
#: (c) targets: what the plugin adds to the rescue image.
RESCUE_TARGET_BYTES = 6 * 1024 * 1024
RESCUE_TARGET_FRACTION = 0.05


def guest_files() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "layouts.sh": (REPO_ROOT / "tests" / "vm" / "layouts.sh").read_text(),
        "guest.sh": (HERE / "guest.sh").read_text(),
        "procbench.sh": (HERE / "procbench.sh").read_text(),
    }
    for path in sorted(FIXTURE.iterdir()):
        if path.is_file():
            files[f"fixture/{path.name}"] = path.read_bytes()
    return files


SETUP_TWO_VOLUMES = r"""
. /mnt/host/layouts.sh
. /mnt/host/guest.sh
step "original system: an IMSM container with two volumes (RAID1 + RAID0), a file system on each"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Sys raid1 262144 - $(disk a) $(disk b)
make_volume Data raid0 max 64 $(disk a) $(disk b)
settle
with_fs Sys /srv/bench/sys sys
with_fs Data /srv/bench/data data
cat /proc/mdstat
"""

SAVELAYOUT = SETUP_TWO_VOLUMES + r"""
step "warm-up (not counted): rear savelayout with the plugin"
plugin_state plugin
bench_rear savelayout-warmup-0 savelayout
bench_note $(layout_entries)
bench_end
for round in $(seq 1 "$BENCH_ROUNDS"); do
    for variant in $(rotation "$round" none disabled plugin); do
        step "round $round of $BENCH_ROUNDS: rear savelayout, $variant"
        plugin_state "$variant"
        bench_rear "savelayout-$variant-$round" savelayout
        bench_note $(layout_entries)
        bench_end
        [[ $variant == disabled ]] || cp /var/lib/rear/layout/disklayout.conf "/root/disklayout-$variant.conf"
    done
done
step "the helper's two calls in savelayout alone: save (layout/save/GNU/Linux/290) and deps (300)"
plugin_state plugin
export PYTHONPATH=/usr/share/rear/mdcontainer/python
for i in 1 2 3; do
    cp /root/disklayout-none.conf /root/disklayout-work.conf
    bench_cmd "helper-save-$i" /usr/bin/python3 -m rear_mdcontainer save --layout-file /root/disklayout-work.conf
    bench_end
    bench_cmd "helper-deps-$i" /usr/bin/python3 -m rear_mdcontainer deps --layout-file /root/disklayout-plugin.conf
    bench_end
done
unset PYTHONPATH
step "what starting processes costs in the VM"
for i in 1 2 3; do
    bash /mnt/host/procbench.sh /usr/bin/python3 /usr/share/rear/mdcontainer/python /mnt/host/fixture \
        >"$VMTEST_SHARE/procbench-$i.txt"
done
cat "$VMTEST_SHARE"/procbench-*.txt
"""

RESCUE = SETUP_TWO_VOLUMES + r"""
mkfs.ext4 -q -F -L scratch "$(disk s)"
mkdir -p /mnt/scratch
mount "$(disk s)" /mnt/scratch
# The build area and the ISO on a scratch disk below /mnt (ReaR leaves /mnt out of the layout):
export TMPDIR=/mnt/scratch/tmp
for variant in plugin none; do
    step "rear mkrescue, $variant"
    rm -rf /mnt/scratch/tmp /mnt/scratch/output
    mkdir -p /mnt/scratch/tmp /mnt/scratch/output
    plugin_state "$variant" BOOTLOADER=GRUB2 KEEP_BUILD_DIR=yes ISO_DIR=/mnt/scratch/output
    bench_rear "mkrescue-$variant-1" mkrescue
    rescue_sizes "$variant"
    bench_end
done
"""

RECREATE = r"""
. /mnt/host/layouts.sh
. /mnt/host/guest.sh
L=/var/lib/rear/layout/disklayout.conf
step "original system: IMSM RAID1 of 256 MiB per member on a b, native md RAID1 (metadata 1.2) on c d"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume R1 raid1 262144 - $(disk a) $(disk b)
# Upstream records no size= for a native array and recreates it on the whole disks: c and d are as
# big as a 256 MiB member needs (plus 1 MiB of data offset).
mdadm --create /dev/md/native --run --metadata=1.2 --level=1 --raid-devices=2 --assume-clean \
    "$(disk c)" "$(disk d)" >&2
settle
imsm_size=$(cat "/sys/block/$(basename "$(md_of R1)")/md/component_size")
native_size=$(cat "/sys/block/$(basename "$(md_of native)")/md/component_size")
echo "imsm=$imsm_size native=$native_size" | tee "$VMTEST_SHARE/sizes.txt"
two_filesystems R1 imsm
two_filesystems native nat
cat /proc/mdstat
imsm_set="$(md_of imsm0)|$(md_of R1)|$(disk a)|$(disk b)"
native_set="$(md_of native)|$(disk c)|$(disk d)"
step "recordings: without the plugin (upstream's), then with it"
plugin_state none
bench_rear savelayout-none-0 savelayout
bench_note $(layout_entries)
bench_end
cp $L "$VMTEST_SHARE/disklayout-none.conf"
tar -C /var/lib/rear -cf /root/recording-none.tar .
rm -rf /var/lib/rear/layout /var/lib/rear/recovery
plugin_state plugin
bench_rear savelayout-plugin-0 savelayout
bench_note $(layout_entries)
bench_end
cp $L "$VMTEST_SHARE/disklayout-plugin.conf"
tar -C /var/lib/rear -cf /root/recording-plugin.tar .
umount /srv/bench/*
# 'rear layoutonly' runs only in a rescue system:
touch /etc/rear-release
for round in $(seq 1 "$BENCH_ROUNDS"); do
    for variant in $(rotation "$round" ours upstream native); do
        case $variant in
            ours) state=plugin recording=plugin set=$imsm_set root=imsmroot meta=external:imsm size=$imsm_size ;;
            upstream) state=none recording=none set=$imsm_set root=imsmroot meta=external:imsm size=$imsm_size ;;
            native) state=none recording=none set=$native_set root=natroot meta=1.2 size=$native_size ;;
        esac
        step "round $round of $BENCH_ROUNDS: rear layoutonly, $variant (blank disks)"
        blank_disks $(disk a) $(disk b) $(disk c) $(disk d)
        plugin_state "$state"
        rm -rf /var/lib/rear
        mkdir -p /var/lib/rear
        tar -C /var/lib/rear -xf "/root/recording-$recording.tar"
        only_devices "$set"
        as_rescue_system "$(awk -v m="/srv/bench/$root" '$1 == "fs" && $3 == m {print $2}' $L)"
        cp $L "$VMTEST_SHARE/disklayout-used-$variant.conf"
        sync
        bench_rear "layoutonly-$variant-$round" layoutonly
        bench_note $(array_check "$root" raid1 "$size" "$meta")
        bench_end
        cp /var/lib/rear/layout/diskrestore.sh "$VMTEST_SHARE/diskrestore-$variant.sh" 2>/dev/null || true
    done
done
umount -R /mnt/local 2>/dev/null || true
cat /proc/mdstat
"""


@dataclasses.dataclass
class PartReport:
    """A part's report lines and its rows of the targets table: (target, measured, verdict)."""

    lines: list[str]
    targets: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _median_or_none(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return median(present) if present else None


# --- (a) savelayout ---------------------------------------------------------------------------------

SAVELAYOUT_VARIANTS = {"none": "plugin removed (plain ReaR)", "disabled": "MDCONTAINER_ENABLED=no",
                       "plugin": "with the plugin"}


def summarize_savelayout(runs: Sequence[Measurement], logs: Mapping[str, Sequence[LogEvent]],
                         guest: Mapping[str, ProcCost], host: Mapping[str, ProcCost]) -> PartReport:
    """Part (a) from the timings lines, the ReaR logs by tag and the best process costs of VM and host."""
    variants = analysis.by_variant(runs, "savelayout")
    out = ["(a) rear savelayout, one IMSM container with two volumes (RAID1 + RAID0); one VM session, the three",
           "    variants alternating (rotated each round), after one uncounted warm-up; medians",
           "",
           f"    {'variant':<28} {'runs':>4} {'wall s':>7} {'min-max s':>11} {'QEMU CPU s':>10} {'processes':>9} "
           f"{'plugin hooks s':>14} {'300_list_deps s':>15}"]
    medians: dict[str, float] = {}
    cpus: dict[str, float] = {}
    forks: dict[str, float] = {}
    hook_medians: dict[str, float] = {}
    deps_medians: dict[str, float] = {}
    problems = []
    for key, title in SAVELAYOUT_VARIANTS.items():
        ok = [m for m in variants.get(key, []) if m.rc == 0]
        for m in variants.get(key, []):
            expected = 1 if key == "plugin" else 0
            if m.rc != 0:
                problems.append(f"{m.tag}: rc {m.rc}")
            elif int(m.fields.get("mdcontainer", "-1")) != expected:
                problems.append(f"{m.tag}: {m.fields.get('mdcontainer')} mdcontainer entries, expected {expected}")
        if not ok:
            out.append(f"    {title:<28} {0:>4} (no successful run)")
            continue
        medians[key] = median(m.wall for m in ok)
        forks[key] = median(m.forks for m in ok)
        hooks = hook_medians[key] = median(analysis.plugin_script_seconds(logs.get(m.tag, [])) for m in ok)
        deps = deps_medians[key] = median(analysis.script_seconds(logs.get(m.tag, [])).get(
            "layout/save/default/300_list_dependencies.sh", 0.0) for m in ok)
        walls = [m.wall for m in ok]
        cpu = _median_or_none([m.cpu for m in ok])
        if cpu is not None:
            cpus[key] = cpu
        out.append(f"    {title:<28} {len(ok):>4} {medians[key]:>7.1f} {min(walls):>5.1f}-{max(walls):<5.1f} "
                   f"{_seconds(cpu):>10} {forks[key]:>9.0f} {hooks:>14.1f} {deps:>15.1f}")
    report = PartReport(out)
    if "plugin" not in medians or "none" not in medians:
        out.append("    not enough successful runs for a comparison")
        report.targets.append(("(a) savelayout: plugin adds <= 0.3 s", "no result", "NOT met"))
        return report
    added = medians["plugin"] - medians["none"]
    added_forks = forks["plugin"] - forks["none"]
    # Less noisy than the difference of whole runs: the time ReaR's log gives the plugin's own stage
    # scripts, plus what the dependency step (whose function the plugin wraps) takes longer.
    attributed = hook_medians["plugin"] + max(0.0, deps_medians["plugin"] - deps_medians["none"])
    out += ["",
            f"    the plugin adds {added:+.1f} s ({ratio(medians['plugin'], medians['none']):.2f} x plain ReaR) "
            f"and {added_forks:+.0f} processes under emulation (difference of the medians);",
            "    by the QEMU process's CPU time (what other VMs on the host do not change): "
            + (f"{cpus['plugin'] - cpus['none']:+.1f} s ({ratio(cpus['plugin'], cpus['none']):.2f} x)"
               if "plugin" in cpus and "none" in cpus else "-") + ";",
            f"    from the logs: its hooks {hook_medians['plugin']:.1f} s + the dependency step "
            f"{max(0.0, deps_medians['plugin'] - deps_medians['none']):.1f} s longer = {attributed:.1f} s"]
    if "disabled" in medians:
        out.append(f"    installed but MDCONTAINER_ENABLED=no: {medians['disabled'] - medians['none']:+.1f} s, "
                   f"{forks['disabled'] - forks['none']:+.0f} processes (every hook returns at once; what is left "
                   "is sourcing the files)")
    estimate = _native_estimate(out, attributed, analysis.by_variant(runs, "helper"), guest, host)
    for problem in problems:
        out.append(f"    problem: {problem}")
    met_native = estimate is not None and estimate[1] <= SAVELAYOUT_TARGET_S  # the higher estimate
    measured = (f"{added:+.1f} s under TCG (x{ratio(medians['plugin'], medians['none']):.2f}; "
                + (f"CPU {cpus['plugin'] - cpus['none']:+.1f} s; " if "plugin" in cpus and "none" in cpus else "")
                + f"{attributed:.1f} s by the logs)")
    if estimate is not None:
        measured += f"; natively est. {estimate[0]:.2f}-{estimate[1]:.2f} s"
    report.targets.append((f"(a) savelayout: plugin adds <= {SAVELAYOUT_TARGET_S} s", measured,
                           f"{verdict(added <= SAVELAYOUT_TARGET_S)} under TCG; "
                           f"{verdict(met_native) if estimate else 'no estimate'} natively (est.)"))
    return report


PROC_ITEMS = {"fork_exec": "/bin/true", "date": "date +%s.%N", "python_start": "python3 -c pass",
              "plumbum": "python3 -c 'import plumbum'", "helper_start": "python3 -m rear_mdcontainer --version",
              "helper_save": "helper save, recorded mdadm output"}


def _native_estimate(out: list[str], added: float, helper: Mapping[str, Sequence[Measurement]],
                     guest: Mapping[str, ProcCost], host: Mapping[str, ProcCost]) -> tuple[float, float] | None:
    """Print the helper's calls and the process costs in the VM and on the host; return two native
    estimates of ``added`` (the plugin's time in the VM, scaled; bottom up), smaller first."""
    save = [m for m in helper.get("save", []) if m.rc == 0]
    deps = [m for m in helper.get("deps", []) if m.rc == 0]
    if not save or not deps or not all(name in guest and name in host for name in PROC_ITEMS):
        out.append("    (no figures of the helper alone or of process costs: no native estimate)")
        return None
    save_s, save_n = median(m.wall for m in save), median(m.forks for m in save)
    deps_s, deps_n = median(m.wall for m in deps), median(m.forks for m in deps)
    out += ["",
            f"    the helper's two calls alone in the VM (median of {len(save)}): save {save_s:.1f} s with "
            f"{save_n:.0f} processes (mdadm, udevadm, ...), deps {deps_s:.1f} s with {deps_n:.0f}: "
            f"{save_s + deps_s:.1f} s of the {added:.1f} s",
            "",
            "    what starting a process costs (best of 3 runs of tests/bench/procbench.sh; VM: wall time, host:",
            "    CPU time of the process, as other VMs share the host's CPUs):",
            f"      {'':<40} {'VM ms':>8} {'host ms':>8} {'VM/host':>8}"]
    for name, title in PROC_ITEMS.items():
        out.append(f"      {title:<40} {guest[name].wall * 1e3:>8.1f} {host[name].cpu * 1e3:>8.1f} "
                   f"{ratio(guest[name].wall, host[name].cpu):>8.0f}")
    factor = ratio(guest["helper_save"].wall, host["helper_save"].cpu)
    scaled = added / factor
    # Bottom up: the helper's Python work on the host (save on recorded output, plus plumbum, which the
    # live probe imports), a second interpreter for deps, and every process they start as a 'date'.
    bottom_up = (host["helper_save"].cpu + host["plumbum"].cpu - host["python_start"].cpu + host["helper_start"].cpu
                 + max(0.0, save_n + deps_n - 2) * host["date"].cpu)
    out += ["",
            f"    natively (estimates): the plugin's {added:.1f} s divided by the VM/host factor of the helper's "
            f"Python work ({factor:.0f}): {scaled:.2f} s;",
            f"    bottom up (host CPU: helper save + plumbum import + a second helper start + "
            f"{max(0.0, save_n + deps_n - 2):.0f} processes like date): {bottom_up:.2f} s"]
    return min(scaled, bottom_up), max(scaled, bottom_up)


# --- (b) recreate ---------------------------------------------------------------------------------------

RECREATE_VARIANTS = {"ours": "IMSM RAID1, with the plugin", "upstream": "IMSM RAID1, upstream ReaR 2.7",
                     "native": "native md RAID1, upstream"}


@dataclasses.dataclass(frozen=True)
class RecreateFigures:
    runs: int
    ok: int
    diskrestore: float | None
    diskrestore_cpu: float | None
    cpu: float | None
    recreate: float | None
    prepare: float | None
    hooks: float | None
    wall: float | None
    forks: float | None


def recreate_figures(runs: Sequence[Measurement], logs: Mapping[str, Sequence[LogEvent]],
                     restore_cpu: Mapping[str, float]) -> RecreateFigures:
    ok = [m for m in runs if m.ok]
    events = [logs.get(m.tag, []) for m in ok]
    return RecreateFigures(
        runs=len(runs), ok=len(ok),
        diskrestore=_median_or_none([analysis.diskrestore_seconds(e) for e in events]),
        diskrestore_cpu=_median_or_none([restore_cpu.get(m.tag) for m in ok]),
        cpu=_median_or_none([m.cpu for m in ok]),
        recreate=_median_or_none([analysis.stage_seconds(e, "layout/recreate") for e in events]),
        prepare=_median_or_none([analysis.stage_seconds(e, "layout/prepare") for e in events]),
        hooks=_median_or_none([analysis.plugin_script_seconds(e) for e in events]),
        wall=_median_or_none([m.wall for m in ok]),
        forks=_median_or_none([float(m.forks) for m in ok]),
    )


def _ratio_text(a: float | None, b: float | None) -> tuple[str, float | None]:
    if a is None or b is None or b <= 0:
        return "-", None
    value = ratio(a, b)
    return f"{value:.2f}", value


def summarize_recreate(runs: Sequence[Measurement], logs: Mapping[str, Sequence[LogEvent]],
                       sizes: Mapping[str, str] | None = None, restore_cpu: Mapping[str, float] | None = None
                       ) -> PartReport:
    """Part (b); ``restore_cpu``: QEMU CPU seconds of each run's diskrestore.sh, by tag."""
    variants = analysis.by_variant(runs, "layoutonly")
    figures = {key: recreate_figures(variants.get(key, []), logs, restore_cpu or {}) for key in RECREATE_VARIANTS}
    sizes = sizes or {}
    out = ["(b) layout recreation: rear layoutonly onto blank disks, a RAID1 with a GPT and two ext4 file systems",
           f"    (128 MiB and the rest), IMSM on 2 x 512 MiB disks ({sizes.get('imsm', '?')} KiB per member), native",
           f"    md (metadata 1.2) on 2 x 257 MiB disks ({sizes.get('native', '?')} KiB per member); one VM session, the",
           "    three variants alternating; upstream = the plugin's files removed, on the recording made without it;",
           "    medians of the successful runs; wall seconds, and CPU seconds of the QEMU process (what other",
           "    VMs on the host do not change)",
           "",
           f"    {'variant':<30} {'ok':>4} {'diskrestore.sh':>14} {'(CPU)':>6} {'layout/recreate':>15} "
           f"{'layout/prepare':>14} {'plugin hooks':>12} {'layoutonly':>10} {'(CPU)':>6} {'processes':>9}"]
    for key, title in RECREATE_VARIANTS.items():
        f = figures[key]
        out.append(f"    {title:<30} {f'{f.ok}/{f.runs}':>4} {_seconds(f.diskrestore):>14} {_seconds(f.diskrestore_cpu):>6} "
                   f"{_seconds(f.recreate):>15} {_seconds(f.prepare):>14} {_seconds(f.hooks):>12} "
                   f"{_seconds(f.wall):>10} {_seconds(f.cpu):>6} {'-' if f.forks is None else f'{f.forks:.0f}':>9}")
    for m in runs:
        if m.workflow == "layoutonly" and not m.ok:
            out.append(f"    failed: {m.tag} rc {m.rc} check={m.fields.get('check', '-')}")
    ours, upstream, native = figures["ours"], figures["upstream"], figures["native"]
    rows = [("ours / upstream", ours, upstream), ("ours / native", ours, native),
            ("upstream / native", upstream, native)]
    out += ["", f"    {'ratio':<20} {'diskrestore.sh':>14} {'(CPU)':>6} {'layout/recreate':>15} {'layoutonly':>10} "
                f"{'(CPU)':>6}"]
    values: dict[str, float | None] = {}
    for title, a, b in rows:
        d_text, values[title] = _ratio_text(a.diskrestore, b.diskrestore)
        dc_text, values[f"{title} cpu"] = _ratio_text(a.diskrestore_cpu, b.diskrestore_cpu)
        r_text, _ = _ratio_text(a.recreate, b.recreate)
        w_text, values[f"{title} wall"] = _ratio_text(a.wall, b.wall)
        wc_text, _ = _ratio_text(a.cpu, b.cpu)
        out.append(f"    {title:<20} {d_text:>14} {dc_text:>6} {r_text:>15} {w_text:>10} {wc_text:>6}")
    report = PartReport(out)
    for title, target, name in (("ours / upstream", OURS_UPSTREAM_TARGET, "(b) recreation ours / upstream 2.7"),
                                ("ours / native", IMSM_NATIVE_TARGET, "(b) recreation IMSM RAID1 / native RAID1")):
        value, cpu, whole = values[title], values[f"{title} cpu"], values[f"{title} wall"]
        if value is None:
            report.targets.append((f"{name} <= {target}", "no result", "no result"))
            continue
        measured = f"{value:.2f} diskrestore.sh" + ("" if cpu is None else f" ({cpu:.2f} by CPU)") + \
            "; whole layoutonly " + ("-" if whole is None else f"{whole:.2f}")
        if title == "ours / native" and values["upstream / native"] is not None:
            measured += f"; upstream's {values['upstream / native']:.2f}"
        result = verdict(value <= target)
        if cpu is not None and (cpu <= target) != (value <= target):
            result += f" ({verdict(cpu <= target)} by CPU)"
        report.targets.append((f"{name} <= {target}", measured, result))
    return report


# --- (c) rescue ----------------------------------------------------------------------------------------

RESCUE_SIZES = {"initrd": "initrd, compressed (gzip)", "initrd_raw": "initrd, uncompressed (cpio)",
                "rootfs": "rescue tree (du -sb)", "iso": "ISO image"}


def summarize_rescue(runs: Sequence[Measurement], files_plugin: Mapping[str, int],
                     files_none: Mapping[str, int]) -> PartReport:
    variants = analysis.by_variant(runs, "mkrescue")
    plugin = next((m for m in variants.get("plugin", []) if m.rc == 0 and "initrd" in m.fields), None)
    none = next((m for m in variants.get("none", []) if m.rc == 0 and "initrd" in m.fields), None)
    out = ["(c) rescue image, rear mkrescue (OUTPUT=ISO, ReaR's defaults: all kernel modules, gzip) on the system of (a),",
           "    with the plugin and with its files removed; one VM session",
           ""]
    report = PartReport(out)
    if plugin is None or none is None:
        for m in runs:
            out.append(f"    {m.tag}: rc {m.rc} {m.fields.get('check', '')}")
        out.append("    no comparison: a mkrescue failed")
        report.targets.append(("(c) rescue image: plugin adds <= 6 MiB and <= 5 %", "no result", "NOT met"))
        return report
    out.append(f"    {'':<30} {'without':>12} {'with plugin':>12} {'added':>12} {'added %':>8}")
    added: dict[str, tuple[int, float]] = {}
    for key, title in RESCUE_SIZES.items():
        a, b = none.number(key), plugin.number(key)
        added[key] = (b - a, (b - a) / a)
        out.append(f"    {title:<30} {mib(a):>12} {mib(b):>12} {mib(b - a):>12} {100 * (b - a) / a:>7.1f}%")
    out.append(f"    {'files and directories':<30} {none.number('entries'):>12} {plugin.number('entries'):>12} "
               f"{plugin.number('entries') - none.number('entries'):>12}")
    out.append(f"    mkrescue wall time: {none.wall:.0f} s without, {plugin.wall:.0f} s with the plugin")
    rows = analysis.added_by_directory(files_plugin, files_none)
    if rows:
        out += ["", "    what the plugin adds to the rescue tree, by directory (largest first):"]
        for directory, size, count in rows:
            out.append(f"      {mib(size):>10} {count:>6} files  {directory}")
    for key, name in (("initrd", "compressed"), ("initrd_raw", "uncompressed")):
        size, fraction = added[key]
        met = size <= RESCUE_TARGET_BYTES and fraction <= RESCUE_TARGET_FRACTION
        report.targets.append((f"(c) rescue initrd {name}: plugin adds <= 6 MiB and <= 5 %",
                               f"{mib(size)}, {100 * fraction:.1f} %", verdict(met)))
    return report


# --- running the parts ---------------------------------------------------------------------------------


def _finish_vm(vm: VM) -> None:
    """Delete a VM's disk images and root overlay (logs and shares stay)."""
    shutil.rmtree(vm.workdir / "disks", ignore_errors=True)
    vm.overlay.unlink(missing_ok=True)


def _logs(share: Path, runs: Sequence[Measurement]) -> dict[str, list[LogEvent]]:
    result = {}
    for m in runs:
        path = share / f"rear-{m.tag}.log"
        if path.exists():
            result[m.tag] = analysis.parse_rear_log(path.read_text(errors="replace"))
    return result


class QemuCpuSampler(threading.Thread):
    """Samples the CPU time of the QEMU process of one VM (found by its work directory in its command
    line) twice a second, and the guest/host clock offset from the share's clock.txt (guest.sh writes
    the guest's time into it when sourced; its first sighting on the host gives the offset)."""

    def __init__(self, workdir: Path, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.workdir = str(workdir)
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self.offset: float | None = None
        self._pid: int | None = None
        self._done = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")

    def _find(self) -> int | None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"qemu-system-x86_64") and any(self.workdir.encode() in a for a in argv):
                return int(entry.name)
        return None

    def _cpu(self) -> float | None:
        try:
            stat = Path(f"/proc/{self._pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime

    def run(self) -> None:
        while not self._done.is_set():
            if self._pid is None:
                self._pid = self._find()
            if self._pid is not None:
                cpu = self._cpu()
                if cpu is not None:
                    self.samples.append((time.time(), cpu))
            if self.offset is None:
                for clock in Path(self.workdir).glob("runs/*/share/clock.txt"):
                    text = clock.read_text().strip()
                    if text:
                        self.offset = time.time() - float(text)
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


@dataclasses.dataclass
class VMRun:
    """A finished bench VM: its result, its timings lines (with the QEMU CPU seconds where known),
    the CPU samples and the guest/host clock offset."""

    result: RunResult
    runs: list[Measurement]
    samples: list[tuple[float, float]]
    offset: float | None


def _run_vm(vm: VM, script: str, label: str, timeout: int, rounds: int) -> VMRun:
    started = time.monotonic()
    print(f"    booting the VM ({label}, work directory {vm.workdir}) ...", flush=True)
    sampler = QemuCpuSampler(vm.workdir)
    sampler.start()
    try:
        res = vm.run(script, files=guest_files(), env={"BENCH_ROUNDS": str(rounds)}, label=label, timeout=timeout)
    finally:
        sampler.stop()
    print(f"    VM done in {time.monotonic() - started:.0f} s (rc {res.rc})", flush=True)
    if res.rc != 0:
        raise VMError(f"the {label} scenario failed with rc {res.rc} (share {res.share_dir}):\n{res.output[-3000:]}")
    runs = analysis.parse_timings(res.file("timings.txt"))
    if sampler.offset is not None:
        runs = analysis.with_cpu(runs, sampler.samples, sampler.offset)
    return VMRun(res, runs, sampler.samples, sampler.offset)


def host_process_costs(runs: int = 3) -> dict[str, ProcCost]:
    samples = []
    for _ in range(runs):
        done = subprocess.run(["bash", str(HERE / "procbench.sh"), HOST_PYTHON, str(REPO_ROOT / "pyhelpers"),
                               str(FIXTURE)], capture_output=True, text=True, check=True)
        samples.append(analysis.parse_procbench(done.stdout))
    return analysis.best_costs(samples)


def part_savelayout(workdir: Path, rounds: int) -> PartReport:
    vm = VM(workdir / "savelayout", [DiskSpec("a", 1024), DiskSpec("b", 1024)], plugin=True)
    done = _run_vm(vm, SAVELAYOUT, "savelayout", timeout=1800 + (3 * rounds + 1) * 900, rounds=rounds)
    share = done.result.share_dir
    guest = analysis.best_costs(analysis.parse_procbench(p.read_text()) for p in sorted(share.glob("procbench-*.txt")))
    report = summarize_savelayout(done.runs, _logs(share, done.runs), guest, host_process_costs())
    _finish_vm(vm)
    return report


def part_recreate(workdir: Path, rounds: int) -> PartReport:
    disks = [DiskSpec("a", 512), DiskSpec("b", 512), DiskSpec("c", 257), DiskSpec("d", 257)]
    vm = VM(workdir / "recreate", disks, plugin=True)
    done = _run_vm(vm, RECREATE, "recreate", timeout=2400 + 3 * rounds * 1500, rounds=rounds)
    sizes = dict(word.split("=", 1) for word in done.result.file("sizes.txt").split() if "=" in word)
    logs = _logs(done.result.share_dir, done.runs)
    restore_cpu = {}
    if done.offset is not None:
        for tag, events in logs.items():
            cpu = analysis.events_cpu(events, "Start system layout restoration.", "Disk layout created.",
                                      done.samples, done.offset)
            if cpu is not None:
                restore_cpu[tag] = cpu
    report = summarize_recreate(done.runs, logs, sizes, restore_cpu)
    _finish_vm(vm)
    return report


def part_rescue(workdir: Path) -> PartReport:
    vm = VM(workdir / "rescue", [DiskSpec("a", 1024), DiskSpec("b", 1024), DiskSpec("s", 6144)], plugin=True)
    done = _run_vm(vm, RESCUE, "rescue", timeout=4 * 3600, rounds=1)

    def files(variant: str) -> dict[str, int]:
        path = done.result.share_dir / f"files-{variant}.txt"
        return analysis.parse_file_list(path.read_text(errors="replace")) if path.exists() else {}

    report = summarize_rescue(done.runs, files("plugin"), files("none"))
    _finish_vm(vm)
    return report


def part_codegen(repeats: int) -> PartReport:
    lines, figures = codegen.run(repeats=repeats, python=HOST_PYTHON)
    linear = figures["per_volume_ratio"] <= 1.5 and figures["sweep_spread"] <= 1.5
    return PartReport(lines, [("(d) code generation scales linearly",
                               f"8/4/64 vs 2/1/2: x{figures['ratio']:.2f} total, x{figures['per_volume_ratio']:.2f} "
                               f"per volume; per volume within x{figures['sweep_spread']:.2f} up to 16 volumes",
                               verdict(linear))])


def header(parts: Sequence[str]) -> list[str]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", "pyhelpers", "usr", "rear-plugin") \
        else ""
    load = os.getloadavg()
    lines = [f"rear-mdcontainer benchmark (make bench), {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, "
             f"commit {git('rev-parse', '--short', 'HEAD')}{dirty}, parts: {' '.join(parts)}",
             f"host: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start "
             "(other VMs share it: wall times are noisy, hence alternation and medians)"]
    if any(p != "codegen" for p in parts):
        lines.append(f"VMs: QEMU {os.environ.get('MDC_VM_ACCEL', '') or 'tcg'} (software emulation), "
                     f"{os.environ.get('MDC_VM_CPUS', '') or '1'} CPU, 1 GiB, Debian bookworm, Debian's rear 2.7 and "
                     "mdadm 4.2, IMSM_NO_PLATFORM=1; one VM at a time")
    return lines


def targets_table(reports: Sequence[PartReport]) -> list[str]:
    rows = [row for report in reports for row in report.targets]
    if not rows:
        return []
    width = max(len(r[0]) for r in rows)
    lines = ["Targets"]
    for target, measured, result in rows:
        lines.append(f"  {target:<{width}}  {result:<10}  {measured}")
    return lines


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench", description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", help=f"parts to run (default all): {', '.join(PARTS)}")
    parser.add_argument("--rounds", type=int, default=4, help="savelayout rounds (each runs the three variants)")
    parser.add_argument("--recreate-rounds", type=int, default=3, help="layoutonly rounds (three variants each)")
    parser.add_argument("--codegen-repeats", type=int, default=15)
    parser.add_argument("--out", help="results file (default: tests/bench/results.txt for all parts, "
                                      "else build/bench-<date>-<parts>.txt)")
    parser.add_argument("--workdir", help="where the VMs work (default build/bench/<date>)")
    args = parser.parse_args(argv)
    parts = [p for word in args.parts for p in word.replace(",", " ").split()] or list(PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    args.parts = [p for p in PARTS if p in parts]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.out:
        out_path = Path(args.out)
    elif args.parts == list(PARTS):
        out_path = RESULTS
    else:
        out_path = REPO_ROOT / "build" / f"bench-{stamp}-{'-'.join(args.parts)}.txt"
    workdir = Path(args.workdir) if args.workdir else REPO_ROOT / "build" / "bench" / stamp
    text = header(args.parts)
    print("\n".join(text), flush=True)
    reports: list[PartReport] = []
    failed = False
    if any(p != "codegen" for p in args.parts):
        ensure_image()
    for part in args.parts:
        print(f"\n--- {part} ---", flush=True)
        started = time.monotonic()
        try:
            if part == "savelayout":
                report = part_savelayout(workdir, args.rounds)
            elif part == "recreate":
                report = part_recreate(workdir, args.recreate_rounds)
            elif part == "rescue":
                report = part_rescue(workdir)
            else:
                report = part_codegen(args.codegen_repeats)
        except (VMError, subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
            failed = True
            report = PartReport([f"({part}) FAILED: {type(exc).__name__}: {str(exc)[:3000]}"],
                                [(f"({part})", "failed", "no result")])
        report.lines.append(f"    ({part}: {time.monotonic() - started:.0f} s)")
        reports.append(report)
        print("\n".join(report.lines), flush=True)
        text += ["", *report.lines]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text("\n".join([*text, "", *targets_table(reports)]) + "\n")
    table = targets_table(reports)
    print("\n" + "\n".join(table))
    print(f"\nresults written to {out_path}" + (f"; VM work directories in {workdir}" if workdir.exists() else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
