"""Part (d) of ``make bench``: the time to generate the diskrestore.sh code of our entries, on the host.

ReaR's layout/prepare calls ``create_mdcontainer`` once per container and ``create_mdvolume`` once per
volume; each runs the helper, which reads and parses the whole disklayout.conf and renders one jinja2
template (``python3 -m rear_mdcontainer render``). Here the same work runs in-process through the Python
API (entries.parse_layout, render.render_container / render_volume) on synthetic layouts as
``rear savelayout`` writes them (disk, mdcontainer, mdvolume, raiddisk, part and fs lines), so the
figures show how the work grows with the layout, without the interpreter's start-up, which is
measured separately (one helper process as ReaR starts it).
"""

from __future__ import annotations

import dataclasses
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYHELPERS = REPO_ROOT / "pyhelpers"
if str(PYHELPERS) not in sys.path:
    sys.path.insert(0, str(PYHELPERS))

from rear_mdcontainer.entries import format_container, format_volume, parse_layout  # noqa: E402
from rear_mdcontainer.model import Container, Volume  # noqa: E402
from rear_mdcontainer.render import render_container, render_volume  # noqa: E402
from tests.bench.analysis import median  # noqa: E402

GIB_KIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Shape:
    """A layout: ``containers`` IMSM containers, each on its own disks, with its volumes and partitions."""

    containers: int
    disks_per_container: int
    volumes_per_container: int
    partitions_per_volume: int

    @property
    def disks(self) -> int:
        return self.containers * self.disks_per_container

    @property
    def volumes(self) -> int:
        return self.containers * self.volumes_per_container

    @property
    def partitions(self) -> int:
        return self.volumes * self.partitions_per_volume

    @property
    def calls(self) -> int:
        """How often ReaR runs the helper's render for this layout (one per container and per volume)."""
        return self.containers + self.volumes

    def label(self) -> str:
        return (f"{self.disks} disks / {self.volumes} volume{'s' if self.volumes != 1 else ''} / "
                f"{self.partitions} partitions")


#: The two layouts issue #7 names: 2 disks / 1 volume / 2 partitions and 8 disks / 4 volumes / 64 partitions
#: (two containers of four disks, each with a RAID10 and a RAID5 volume of 16 partitions).
SMALL = Shape(1, 2, 1, 2)
LARGE = Shape(2, 4, 2, 16)


def disk_name(index: int) -> str:
    """/dev/sda ... /dev/sdz, /dev/sdaa, ... as the kernel names them."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"/dev/sd{letters}"


def _level(disks: int, member: int) -> tuple[str, int | None]:
    """RAID level and chunk of volume ``member`` in a container of ``disks`` disks."""
    if disks == 2:
        return ("raid1", None) if member == 0 else ("raid0", 64)
    if disks >= 4:
        return ("raid10", 64) if member == 0 else ("raid5", 64) if member == 1 else ("raid0", 64)
    return ("raid5", 64) if member == 0 else ("raid0", 64)


def _data_disks(level: str, disks: int) -> int:
    return {"raid1": 1, "raid10": disks // 2, "raid5": disks - 1}.get(level, disks)


def layout_lines(shape: Shape) -> list[str]:
    """disklayout.conf lines of ``shape``: what rear savelayout with the plugin writes for it."""
    lines = ["# Disk layout dated 20260101000000 (YYYYmmddHHMMSS)", "disk /dev/vda 4294967296 loop"]
    md = 100
    disk_index = 0
    for c in range(shape.containers):
        disks = tuple(disk_name(disk_index + i) for i in range(shape.disks_per_container))
        disk_index += shape.disks_per_container
        lines += [f"disk {d} {shape.volumes_per_container * 2 * GIB_KIB * 1024} unknown" for d in disks]
        container = Container(device=f"/dev/md{md}", metadata="imsm", devices=disks, name=f"imsm{c}",
                              uuid=f"{c:08x}:00000000:00000000:0000abcd")
        md += 1
        lines.append(format_container(container))
        offset = 0
        for v in range(shape.volumes_per_container):
            level, chunk = _level(len(disks), v)
            size_kib = GIB_KIB
            array_kib = size_kib * _data_disks(level, len(disks))
            volume = Volume(device=f"/dev/md{md}", container=container.device, member=v, level=level,
                            raid_devices=len(disks), devices=disks, size_kib=size_kib, name=f"Vol{c}_{v}",
                            array_size_kib=array_kib, uuid=f"{c:08x}:{v:08x}:00000000:0000beef", chunk_kib=chunk,
                            offset_sectors=offset, metadata="imsm")
            md += 1
            offset += size_kib * 2 + 8192
            lines.append(format_volume(volume))
            lines.append(f"raiddisk {volume.device} {array_kib * 1024} gpt")
            part_bytes = (array_kib * 1024 - 2 * 1024 * 1024) // shape.partitions_per_volume // 4096 * 4096
            for p in range(1, shape.partitions_per_volume + 1):
                start = 1024 * 1024 + (p - 1) * part_bytes
                lines.append(f"part {volume.device} {part_bytes} {start} p{p} none {volume.device}p{p}")
            for p in range(1, shape.partitions_per_volume + 1):
                lines.append(f"fs {volume.device}p{p} /srv/v{c}_{v}/p{p} ext4 uuid=00000000-0000-4000-8000-"
                             f"{c:04x}{v:04x}{p:04x} label=p{p} blocksize=4096 options=rw,relatime")
    lines.append("fs /dev/vda / ext4 uuid=43a428e3-a4fc-4c95-b13e-32408916966d label=root options=rw,relatime")
    return lines


def generate(lines: Sequence[str]) -> str:
    """The code ReaR's layout/prepare collects for our entries, the helper's way: each call parses the layout."""
    code = []
    layout = parse_layout(lines)
    for container in layout.containers:
        code.append(render_container(parse_layout(lines), container.device, no_platform=True,
                                     no_platform_setting="yes", grow_last=False, wait_seconds=60))
        for volume in layout.volumes_of(container):
            code.append(render_volume(parse_layout(lines), volume.device, wait_seconds=60))
    return "".join(code)


def time_generate(shapes: Sequence[Shape], repeats: int) -> dict[Shape, list[float]]:
    """CPU seconds (this process's, so that other load on the machine does not count) of ``generate``
    for each shape, ``repeats`` times, the shapes taking turns (so that drift hits all alike)."""
    layouts = {shape: layout_lines(shape) for shape in shapes}
    for lines in layouts.values():
        generate(lines)  # imports, first template load
    samples: dict[Shape, list[float]] = {shape: [] for shape in shapes}
    for _ in range(repeats):
        for shape, lines in layouts.items():
            gc.collect()
            started = time.process_time()
            generate(lines)
            samples[shape].append(time.process_time() - started)
    return samples


def parse_seconds(shape: Shape, repeats: int = 50) -> float:
    """CPU seconds of one parse_layout of ``shape``'s layout (best of ``repeats``)."""
    lines = layout_lines(shape)
    samples = []
    for _ in range(repeats):
        started = time.process_time()
        parse_layout(lines)
        samples.append(time.process_time() - started)
    return min(samples)


@dataclasses.dataclass(frozen=True)
class HelperCall:
    """One ``python3 -m rear_mdcontainer render container`` process: wall and CPU seconds (min of runs)."""

    wall: float
    cpu: float


def time_helper_process(python: str, runs: int) -> HelperCall:
    """One render call as ReaR makes it, a new Python process each time (the small layout)."""
    with tempfile.TemporaryDirectory(prefix="mdc-bench-") as tmp:
        layout = Path(tmp) / "disklayout.conf"
        layout.write_text("\n".join(layout_lines(SMALL)) + "\n", encoding="utf-8")
        argv = [python, "-m", "rear_mdcontainer", "render", "container", "--layout-file", str(layout),
                "--device", "/dev/md100", "--imsm-no-platform", "yes"]
        env = {**os.environ, "PYTHONPATH": str(PYHELPERS)}
        walls, cpus = [], []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return HelperCall(wall=min(walls), cpu=min(cpus))


@dataclasses.dataclass(frozen=True)
class Point:
    shape: Shape
    best: float
    median: float


def measure(shapes: Sequence[Shape], repeats: int) -> list[Point]:
    samples = time_generate(shapes, repeats)
    return [Point(shape, min(samples[shape]), median(samples[shape])) for shape in shapes]


def run(repeats: int = 15, python: str = "/usr/bin/python3") -> tuple[list[str], dict[str, float]]:
    """Part (d): report lines and the figures (for the targets table)."""
    volume_shapes = [Shape(k, 2, 1, 2) for k in (1, 2, 4, 8, 16)]
    partition_shapes = [Shape(1, 2, 1, p) for p in (16, 64, 256)]
    points = dict(zip([SMALL, LARGE, *volume_shapes[1:], *partition_shapes],
                      measure([SMALL, LARGE, *volume_shapes[1:], *partition_shapes], repeats)))
    small, large = points[SMALL], points[LARGE]
    volume_sweep = [points[shape] for shape in volume_shapes]
    partition_sweep = [small, *(points[shape] for shape in partition_shapes)]
    out = [
        "(d) Code generation on the host: the diskrestore.sh code of our entries through the Python API",
        "    (parse_layout + render_container/render_volume, one parse per call as the helper does it;",
        f"    in-process, no interpreter start-up; CPU time of this process, best and median of {repeats} runs,",
        "    the layouts taking turns)",
        "",
        f"    {'layout':<40} {'render calls':>12} {'best ms':>9} {'median ms':>10} {'ms/volume':>10} "
        f"{'ms/partition':>13}",
    ]
    for point in (small, large):
        s = point.shape
        out.append(f"    {s.label():<40} {s.calls:>12} {point.best * 1e3:>9.2f} {point.median * 1e3:>10.2f} "
                   f"{point.best / s.volumes * 1e3:>10.2f} {point.best / s.partitions * 1e3:>13.3f}")
    ratio = large.best / small.best
    per_volume_ratio = (large.best / large.shape.volumes) / (small.best / small.shape.volumes)
    per_call_ratio = (large.best / large.shape.calls) / (small.best / small.shape.calls)
    out += [
        "",
        f"    large / small: {ratio:.2f} (render calls x{large.shape.calls / small.shape.calls:.0f}, volumes "
        f"x{large.shape.volumes // small.shape.volumes}, partitions x{large.shape.partitions // small.shape.partitions});"
        f" per render call x{per_call_ratio:.2f}, per volume x{per_volume_ratio:.2f}",
        "",
        "    more containers of 2 disks / 1 volume / 2 partitions (best ms, per volume):",
    ]
    base = volume_sweep[0].best
    for point in volume_sweep:
        n = point.shape.volumes
        out.append(f"      {n:>3} volume(s): {point.best * 1e3:8.2f} ms  {point.best / n * 1e3:6.2f} ms/volume  "
                   f"(x{point.best / base:.2f} for x{n})")
    out.append("    one volume with more partitions (best ms; the partitions are only parsed, upstream's code makes them):")
    first = partition_sweep[0]
    for point in partition_sweep:
        extra = point.shape.partitions - first.shape.partitions
        per = (point.best - first.best) / extra * 1e6 if extra else 0.0
        out.append(f"      {point.shape.partitions:>3} partitions: {point.best * 1e3:8.2f} ms"
                   + (f"  (+{per:.1f} us per added partition)" if extra else ""))
    sweep_per_volume = [p.best / p.shape.volumes for p in volume_sweep]
    spread = max(sweep_per_volume) / min(sweep_per_volume)
    helper = time_helper_process(python, 5)
    first_parse, last_parse = parse_seconds(volume_sweep[0].shape), parse_seconds(volume_sweep[-1].shape)
    last = volume_sweep[-1]
    out += [
        "",
        f"    linear: the time per volume stays within x{spread:.2f} from 1 to {last.shape.volumes} volumes; "
        f"large/small per volume x{per_volume_ratio:.2f}. What grows faster is parsing the layout, once per call:",
        f"    {first_parse * 1e3:.2f} ms at 1 volume, {last_parse * 1e3:.2f} ms at {last.shape.volumes} "
        f"({last.shape.calls} calls x {last_parse * 1e3:.2f} ms = "
        f"{100 * last.shape.calls * last_parse / last.best:.0f} % of that layout's time)",
        f"    for comparison, one helper process as ReaR starts it ({python} -m rear_mdcontainer render container,",
        f"    small layout, best of 5): {helper.wall * 1e3:.0f} ms wall, {helper.cpu * 1e3:.0f} ms CPU: the interpreter "
        "start-up, not the rendering, is the cost",
    ]
    figures = {"small_s": small.best, "large_s": large.best, "ratio": ratio, "per_volume_ratio": per_volume_ratio,
               "per_call_ratio": per_call_ratio, "sweep_spread": spread, "helper_wall_s": helper.wall,
               "helper_cpu_s": helper.cpu, "parse_small_s": first_parse, "parse_large_s": last_parse}
    return out, figures
