"""The conventions the project holds itself to, checked in every test run: ruff on the
Python code, shellcheck and bash -n on the hooks (the same as ``make lint``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(p for d in ("usr/share/rear", "rear-plugin") for p in (ROOT / d).rglob("*.sh"))


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is installed by tests/setup-deps.sh into .venv")
    result = subprocess.run([str(ruff), "check", "pyhelpers", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_pass_shellcheck() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is installed by tests/setup-deps.sh")
    # SC2168: ReaR sources stage scripts inside a function, 'local' is right there.
    result = subprocess.run(["shellcheck", "-s", "bash", "-S", "warning", "-e", "SC2034,SC2154,SC2168",
                             *map(str, HOOKS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("hook", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hook_is_valid_bash(hook: Path) -> None:
    result = subprocess.run(["bash", "-n", str(hook)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
