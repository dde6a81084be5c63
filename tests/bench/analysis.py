"""What ``make bench`` reads back from the VMs and how it turns that into figures.

Pure functions on text (unit-tested on canned input in tests/unit/test_bench.py): ReaR's log
timestamps, the guest's timings.txt lines, procbench.sh output, rescue-system file lists; medians,
differences and ratios.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence

# ReaR's Log(): "YYYY-mm-dd HH:MM:SS.NNNNNNNNN message" (date +"%Y-%m-%d %H:%M:%S.%N ").
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{1,9}) (.*)$")
_BASH_TIME = re.compile(r"^(\d+)m(\d+(?:\.\d+)?)s$")


def median(values: Iterable[float]) -> float:
    data = list(values)
    if not data:
        raise ValueError("median of no values")
    return float(statistics.median(data))


def ratio(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        raise ValueError(f"ratio with a denominator of {denominator}")
    return numerator / denominator


# --- ReaR's log ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogEvent:
    seconds: float  # since the epoch, as the timestamp says (the guest's local time zone: only differences count)
    message: str


def parse_rear_log(text: str) -> list[LogEvent]:
    """The timestamped lines of a ReaR log (continuation lines and the set -x trace have no timestamp)."""
    events = []
    for line in text.splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        fraction = float("0." + match.group(2))
        events.append(LogEvent(stamp.timestamp() + fraction, match.group(3).rstrip()))
    return events


def _first(events: Sequence[LogEvent], predicate_start: int, text: str) -> int | None:
    for index in range(predicate_start, len(events)):
        if events[index].message.startswith(text):
            return index
    return None


def diskrestore_seconds(events: Sequence[LogEvent]) -> float | None:
    """How long diskrestore.sh ran: its first line logs "Start system layout restoration.", its last
    "Disk layout created." (layout/prepare/default/540 and 550 write them into the script). The last
    complete run counts (ReaR may rerun the script after a failure)."""
    result = None
    for index, event in enumerate(events):
        if event.message.startswith("Start system layout restoration."):
            end = _first(events, index + 1, "Disk layout created.")
            restart = _first(events, index + 1, "Start system layout restoration.")
            if end is not None and (restart is None or restart > end):
                result = events[end].seconds - event.seconds
    return result


def stage_seconds(events: Sequence[LogEvent], stage: str) -> float | None:
    """From ReaR's first "Including <stage>/..." to "Finished running '<stage>' stage"."""
    start = _first(events, 0, f"Including {stage}/")
    if start is None:
        return None
    end = _first(events, start, f"Finished running '{stage}' stage")
    return None if end is None else events[end].seconds - events[start].seconds


def script_seconds(events: Sequence[LogEvent]) -> dict[str, float]:
    """Each sourced script's time: from its "Including SCRIPT" to the next "Including" or "Finished running"."""
    result: dict[str, float] = {}
    for index, event in enumerate(events):
        if not event.message.startswith("Including "):
            continue
        script = event.message[len("Including "):].strip()
        for later in events[index + 1:]:
            if later.message.startswith(("Including ", "Finished running")):
                result[script] = result.get(script, 0.0) + later.seconds - event.seconds
                break
    return result


def plugin_script_seconds(events: Sequence[LogEvent]) -> float:
    """Time spent in the plugin's own stage scripts (their names contain 'mdcontainer')."""
    return sum(seconds for script, seconds in script_seconds(events).items() if "mdcontainer" in script)


# --- the guest's timings.txt ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One line of timings.txt: "TAG key=value ...", TAG = <workflow>-<variant>-<round>."""

    tag: str
    fields: Mapping[str, str]

    @property
    def workflow(self) -> str:
        return self.tag.split("-")[0]

    @property
    def variant(self) -> str:
        return self.tag.split("-")[1] if self.tag.count("-") >= 2 else ""

    @property
    def round(self) -> int:
        last = self.tag.rsplit("-", 1)[-1]
        return int(last) if last.isdigit() else 0

    @property
    def rc(self) -> int:
        return int(self.fields.get("rc", "255"))

    @property
    def wall(self) -> float:
        return float(self.fields["end"]) - float(self.fields["start"])

    @property
    def forks(self) -> int:
        return int(self.fields.get("forks", "0"))

    @property
    def ok(self) -> bool:
        return self.rc == 0 and self.fields.get("check", "ok") == "ok"

    @property
    def cpu(self) -> float | None:
        """CPU seconds of the QEMU process during the run (with_cpu), if known."""
        return float(self.fields["cpu"]) if "cpu" in self.fields else None

    def number(self, key: str) -> int:
        return int(self.fields[key])


def parse_timings(text: str) -> list[Measurement]:
    result = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        fields = {}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if sep:
                fields[key] = value
        result.append(Measurement(words[0], fields))
    return result


def by_variant(measurements: Iterable[Measurement], workflow: str) -> dict[str, list[Measurement]]:
    """The counted runs (round >= 1) of ``workflow``, by variant, in round order."""
    result: dict[str, list[Measurement]] = {}
    for m in measurements:
        if m.workflow == workflow and m.round >= 1:
            result.setdefault(m.variant, []).append(m)
    for runs in result.values():
        runs.sort(key=lambda m: m.round)
    return result


# --- the QEMU process's CPU time ----------------------------------------------------------------------
# Wall time in the VM depends on how much of the host's CPUs other VMs leave it; the CPU time the QEMU
# process used does not (much): the host samples it while the VM runs, and each measurement's
# interval (guest clock, shifted by the guest/host clock offset) is mapped onto those samples.


def cpu_at(samples: Sequence[tuple[float, float]], when: float) -> float | None:
    """The CPU seconds at host time ``when``, linearly interpolated between (time, cpu) samples."""
    if not samples or when < samples[0][0] or when > samples[-1][0]:
        return None
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if t0 <= when <= t1:
            return c0 if t1 == t0 else c0 + (c1 - c0) * (when - t0) / (t1 - t0)
    return samples[-1][1]


def cpu_between(samples: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    first, last = cpu_at(samples, start), cpu_at(samples, end)
    return None if first is None or last is None else last - first


def with_cpu(runs: Iterable[Measurement], samples: Sequence[tuple[float, float]], offset: float) -> list[Measurement]:
    """The measurements with cpu=<QEMU CPU seconds> added where the samples cover them; ``offset`` is
    host time minus guest time."""
    result = []
    for m in runs:
        cpu = None
        if "start" in m.fields and "end" in m.fields:
            cpu = cpu_between(samples, float(m.fields["start"]) + offset, float(m.fields["end"]) + offset)
        result.append(m if cpu is None else Measurement(m.tag, {**m.fields, "cpu": f"{cpu:.3f}"}))
    return result


def events_cpu(events: Sequence[LogEvent], first: str, last: str, samples: Sequence[tuple[float, float]],
               offset: float) -> float | None:
    """QEMU CPU seconds between the last log line starting with ``first`` and the next one starting with
    ``last`` (log timestamps are the guest's UTC)."""
    start = None
    result = None
    for event in events:
        if event.message.startswith(first):
            start = event.seconds
        elif start is not None and event.message.startswith(last):
            result = cpu_between(samples, start + offset, event.seconds + offset)
            start = None
    return result


# --- procbench.sh ------------------------------------------------------------------------------


def bash_time_seconds(text: str) -> float:
    """bash's 'times' notation: 1m2.345s -> 62.345."""
    match = _BASH_TIME.match(text.strip())
    if not match:
        raise ValueError(f"not a bash time: {text!r}")
    return int(match.group(1)) * 60 + float(match.group(2))


@dataclasses.dataclass(frozen=True)
class ProcCost:
    """Per run of one procbench item: wall and CPU (user + system of the children) seconds."""

    wall: float
    cpu: float


def parse_procbench(text: str) -> dict[str, ProcCost]:
    """procbench.sh output: "NAME COUNT START END USER0 SYS0 USER1 SYS1" -> cost per run."""
    result = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) != 8:
            continue
        name, count = words[0], int(words[1])
        wall = (float(words[3]) - float(words[2])) / count
        cpu = (bash_time_seconds(words[6]) + bash_time_seconds(words[7])
               - bash_time_seconds(words[4]) - bash_time_seconds(words[5])) / count
        result[name] = ProcCost(wall, cpu)
    return result


def best_costs(runs: Iterable[Mapping[str, ProcCost]]) -> dict[str, ProcCost]:
    """The lowest wall and the lowest CPU time of each item over several procbench runs (noise only adds)."""
    result: dict[str, ProcCost] = {}
    for run in runs:
        for name, cost in run.items():
            old = result.get(name)
            result[name] = cost if old is None else ProcCost(min(old.wall, cost.wall), min(old.cpu, cost.cpu))
    return result


# --- rescue-system file lists --------------------------------------------------------------------


def parse_file_list(text: str) -> dict[str, int]:
    """find -printf '%s %y %P\\n' lines -> path: size in bytes (symlinks count with their own size)."""
    result = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0].isdigit():
            result[parts[2]] = int(parts[0])
    return result


def added_by_directory(with_plugin: Mapping[str, int], without: Mapping[str, int], depth: int = 4,
                       top: int = 12) -> list[tuple[str, int, int]]:
    """What the files only in ``with_plugin`` (or bigger there) add, summed by their first ``depth``
    directories: (directory, bytes, files), largest first, at most ``top`` entries."""
    sums: dict[str, list[int]] = {}
    for path, size in with_plugin.items():
        added = size - without.get(path, 0)
        if added <= 0 and path in without:
            continue
        parts = path.split("/")
        key = "/".join(parts[:depth]) if len(parts) > depth else "/".join(parts[:-1]) or path
        entry = sums.setdefault(key, [0, 0])
        entry[0] += added
        entry[1] += 1
    rows = sorted(((key, value[0], value[1]) for key, value in sums.items()), key=lambda row: -row[1])
    return rows[:top]


# --- formatting -----------------------------------------------------------------------------------


def mib(size: float) -> str:
    return f"{size / 1048576:.2f} MiB"


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"
