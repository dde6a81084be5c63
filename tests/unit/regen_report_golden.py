"""Regenerate the golden files of ``report`` (tests/unit/golden/report/<layout>.txt and .json).

    .venv/bin/python -m tests.unit.regen_report_golden

runs ``python3 -m rear_mdcontainer report [--json] --recorded <recording>`` (in
process) on every recording in tests/fixtures/mdadm/bookworm and writes what
it prints.  Check the differences (git diff) before committing them:
tests/unit/test_report.py compares the report with these files exactly.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from rear_mdcontainer.cli import main

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "fixtures" / "mdadm" / "bookworm"
GOLDEN = Path(__file__).resolve().parent / "golden" / "report"


def recordings() -> list[Path]:
    return sorted(p for p in RECORDINGS.iterdir() if (p / "sysfs.json").is_file())


def run_report(recording: Path, as_json: bool) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of the report subcommand on a recording."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["report", *(["--json"] if as_json else []), "--recorded", str(recording)])
    return status, out.getvalue(), err.getvalue()


def golden_path(recording: Path, as_json: bool) -> Path:
    return GOLDEN / f"{recording.name}.{'json' if as_json else 'txt'}"


def regenerate() -> list[Path]:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    written = []
    for recording in recordings():
        for as_json in (False, True):
            status, out, err = run_report(recording, as_json)
            if status != 0:
                raise SystemExit(f"report on {recording} failed with exit status {status}: {err}")
            path = golden_path(recording, as_json)
            path.write_text(out, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in regenerate():
        print(path.relative_to(ROOT))
    sys.exit(0)
