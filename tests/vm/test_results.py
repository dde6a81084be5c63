"""The upstream/plugin comparison table of the recovery scenarios (tests/vm/results.py), without booting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vm.results import RESULTS_ENV, Outcome, format_table, read_outcomes, record_outcome

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def test_outcomes_round_trip_into_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "results"))
    record_outcome(Outcome("dirty", "upstream", "layoutonly rc 1: ERROR: No filesystem mounted on '/mnt/local'", 90))
    record_outcome(Outcome("dirty", "plugin", "", 212.4))
    record_outcome(Outcome("simple", "plugin", "x" * 200, 5))
    table = read_outcomes(tmp_path / "results")
    assert table["dirty"]["plugin"].passed and not table["dirty"]["upstream"].passed
    lines = format_table(table)
    assert [cell.strip() for cell in lines[0].split("|")] == ["scenario", "upstream ReaR 2.7", "with rear-mdcontainer"]
    assert [cell.strip() for cell in lines[1].split("|")] == [
        "dirty", "FAIL: layoutonly rc 1: ERROR: No filesystem mounted on '/mnt/local'", "pass (212 s)"]
    simple = [cell.strip() for cell in lines[2].split("|")]
    assert simple[:2] == ["simple", "not run"] and simple[2].endswith("...") and len(simple[2]) < 100


SCENARIO_TESTS = '''
from tests.vm.results import Outcome, record_outcome

def test_one():
    record_outcome(Outcome("scenario-one", "upstream", "layoutonly rc 1: ERROR: boom", 10))
    record_outcome(Outcome("scenario-one", "plugin", "", 20))

def test_two():
    record_outcome(Outcome("scenario-two", "plugin", "", 30))
    record_outcome(Outcome("scenario-two", "upstream", "", 40))
'''


def test_summary_collects_the_outcomes_of_all_workers(tmp_path: Path) -> None:
    """With xdist each test runs in a worker process; the controller prints the table of all of them."""
    (tmp_path / "test_scenarios.py").write_text(SCENARIO_TESTS)
    env = {k: v for k, v in os.environ.items() if k != RESULTS_ENV}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.vm.results", "-p", "no:cacheprovider",
                           "-n", "2", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]]
            for line in proc.stdout.splitlines() if line.startswith("scenario")}
    assert rows.pop("scenario") == ["upstream ReaR 2.7", "with rear-mdcontainer"], proc.stdout
    assert rows == {"scenario-one": ["FAIL: layoutonly rc 1: ERROR: boom", "pass (20 s)"],
                    "scenario-two": ["pass (40 s)", "pass (30 s)"]}, proc.stdout
