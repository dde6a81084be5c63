"""Outcomes of the VM recovery scenarios, per column, and the comparison table in pytest's summary.

A scenario that also runs with plain upstream ReaR (no plugin installed) records two outcomes:
``upstream`` and ``plugin``. Each is a JSON file ``<scenario>--<column>.json`` in the directory
named by MDC_VM_RESULTS. This module is a pytest plugin (tests/conftest.py loads it, so that the
xdist controller has it too, which never imports tests/vm/conftest.py): on the controller (or a
run without xdist) it names a fresh directory and exports MDC_VM_RESULTS before xdist starts its
workers, which inherit it; at the end it prints the table "scenario | upstream ReaR 2.7 | with
rear-mdcontainer" and removes the directory. A MDC_VM_RESULTS set by the caller is used as is and
kept (e.g. for CI artifacts).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Literal

import pytest
from _pytest.terminal import TerminalReporter

RESULTS_ENV = "MDC_VM_RESULTS"
Column = Literal["upstream", "plugin"]
COLUMNS: dict[Column, str] = {"upstream": "upstream ReaR 2.7", "plugin": "with rear-mdcontainer"}
REASON_WIDTH = 90

_created: list[Path] = []


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One run of a scenario: passed, or the first reason it did not; wall seconds of its recovery boot."""

    scenario: str
    column: Column
    reason: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.reason

    def cell(self) -> str:
        if self.passed:
            return f"pass ({self.seconds:.0f} s)"
        reason = " ".join(self.reason.split())
        if len(reason) > REASON_WIDTH:
            reason = reason[: REASON_WIDTH - 3] + "..."
        return f"FAIL: {reason}"


def results_dir() -> Path | None:
    value = os.environ.get(RESULTS_ENV, "")
    return Path(value) if value else None


def record_outcome(outcome: Outcome) -> None:
    """Write the outcome for the summary table (nothing when no results directory is set)."""
    directory = results_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{outcome.scenario}--{outcome.column}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(outcome), indent=1) + "\n")
    os.replace(tmp, path)


def read_outcomes(directory: Path) -> dict[str, dict[Column, Outcome]]:
    table: dict[str, dict[Column, Outcome]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            outcome = Outcome(scenario=str(data["scenario"]), column=data["column"],
                              reason=str(data.get("reason", "")), seconds=float(data.get("seconds", 0.0)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if outcome.column in COLUMNS:
            table.setdefault(outcome.scenario, {})[outcome.column] = outcome
    return table


def format_table(table: dict[str, dict[Column, Outcome]]) -> list[str]:
    header = ["scenario", *COLUMNS.values()]
    rows = [[scenario, *(cols[c].cell() if c in cols else "not run" for c in COLUMNS)]
            for scenario, cols in sorted(table.items())]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [" | ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_xdist_worker(config) or results_dir() is not None:
        return
    # Named now, made by the first record_outcome: a session without recovery scenarios leaves nothing behind.
    directory = Path(tempfile.gettempdir()) / f"mdc-vm-results-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    _created.append(directory)
    os.environ[RESULTS_ENV] = str(directory)


def pytest_terminal_summary(terminalreporter: TerminalReporter, config: pytest.Config) -> None:
    directory = results_dir()
    if _is_xdist_worker(config) or directory is None or not directory.is_dir():
        return
    table = read_outcomes(directory)
    if not table:
        return
    terminalreporter.section("recovery scenarios: upstream ReaR 2.7 and with rear-mdcontainer")
    for line in format_table(table):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_xdist_worker(config):
        return
    while _created:
        directory = _created.pop()
        shutil.rmtree(directory, ignore_errors=True)
        if os.environ.get(RESULTS_ENV) == str(directory):
            del os.environ[RESULTS_ENV]
