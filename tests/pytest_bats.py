"""Bats tests as pytest items: one item per ``@test`` of every ``*.bats`` file.

Loaded from tests/conftest.py.  A ``.bats`` file is read the way bats-core's
own preprocessor reads it (the same ``@test`` patterns, the same quote
stripping), so each item's name is exactly what ``bats --filter`` matches.

Running: the first item of a file that runs starts ``bats --tap`` once for the
whole file (``--filter '^(name|...)$'`` when only some of its tests are
selected) and the results are cached for the file's other items.  bats numbers
its TAP results in file order, counting only the tests it ran, so result *i*
belongs to the *i*-th selected test of the file; the TAP description is not
used for the mapping because bats expands ``$variables`` in it.

Outcomes: ``ok`` passes, ``ok ... # skip <reason>`` is a pytest skip with that
reason, ``not ok`` fails with the TAP diagnostics (bats' ``# `` lines: the
failing command, its line, the test's output).  A failing ``setup_file`` fails
every test bats could not run; a failing ``teardown_file`` or a bats exit
status that no test explains fails the file's last selected item, so a broken
file can never pass.

Variants: the ini setting ``bats_variants`` runs every file again once per
line ``ID: NAME=VALUE ...`` with those variables in bats' environment; the
items are ``<test name>[ID]`` beside the plain ones (the project runs its hook
tests against other ReaR versions that way).

Settings (setup.cfg ``[tool:pytest]``): ``bats_executable`` (default ``bats``),
``bats_timeout`` (seconds for one run of a file, default 900),
``bats_variants`` (default none).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# bats-core's bats-preprocess: BATS_TEST_PATTERN and BATS_TEST_PATTERN_COMMENT.
_TEST = re.compile(r"^[ \t]*@test[ \t]+(.*[^ \t])[ \t]+\{(.*)$")
_TEST_COMMENT = re.compile(r"[ \t]*([^ \t()]+)[ \t]*\(?\)?[ \t]+\{[ \t]+#[ \t]*@test[ \t]*$")
_RESULT = re.compile(r"^(ok|not ok) ([0-9]+)(?: (.*))?$")
_PLAN = re.compile(r"^1\.\.([0-9]+)$")
# Results bats reports for the file rather than for a test.
_FILE_RESULTS = ("setup_file failed", "teardown_file failed")
# Characters special in a POSIX extended regular expression (bats matches --filter with bash's =~).
_ERE_SPECIAL = frozenset("\\^.[$()|*+?{")


@dataclass(frozen=True)
class Variant:
    """One more run of every .bats file, with ``env`` added to bats' environment; ``""`` is the plain run."""

    id: str
    env: tuple[tuple[str, str], ...] = ()


_VARIANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_variants(lines: Sequence[str]) -> list[Variant]:
    """The plain run, then one ``Variant`` per ``ID: NAME=VALUE ...`` line (shell-like words)."""
    variants = [Variant("")]
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        ident, sep, rest = line.partition(":")
        ident = ident.strip()
        if not sep or not _VARIANT_ID.match(ident) or ident in {v.id for v in variants}:
            raise ValueError(f"bats_variants: {line!r} is not 'ID: NAME=VALUE ...' with an ID of its own")
        env = []
        for word in shlex.split(rest):
            name, eq, value = word.partition("=")
            if not eq or not _ENV_NAME.match(name):
                raise ValueError(f"bats_variants: {word!r} in {line!r} is not NAME=VALUE")
            env.append((name, value))
        variants.append(Variant(ident, tuple(env)))
    return variants


@dataclass(frozen=True)
class BatsTest:
    """One ``@test`` of a file: its name as bats sees it and its line (1-based)."""

    name: str
    lineno: int


def parse_bats_tests(text: str) -> list[BatsTest]:
    """The tests of a .bats file in file order, named as bats-preprocess names them."""
    tests = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.replace("\r", "")
        match = _TEST.match(line) or _TEST_COMMENT.search(line)
        if not match:
            continue
        name = match.group(1)
        if name[:1] in ("'", '"'):
            name = name[1:]
        if name[-1:] in ("'", '"'):
            name = name[:-1]
        tests.append(BatsTest(name, lineno))
    return tests


def ere_escape(text: str) -> str:
    """``text`` as a POSIX ERE that matches it literally."""
    return "".join("\\" + ch if ch in _ERE_SPECIAL else ch for ch in text)


def filter_regex(names: Sequence[str]) -> str:
    """The ``bats --filter`` argument that selects exactly ``names``."""
    return "^(" + "|".join(ere_escape(name) for name in names) + ")$"


@dataclass
class TapResult:
    ok: bool
    number: int
    description: str
    skip: str | None = None  # the reason ('' if none) when the test was skipped
    diagnostics: list[str] = field(default_factory=list)


@dataclass
class TapStream:
    plan: int | None
    results: list[TapResult]
    comments: list[str]  # '#' lines that belong to no result (bats warnings)


def parse_tap(text: str, names: Sequence[str] = ()) -> TapStream:
    """Parse bats' TAP output; ``names`` (the tests bats ran, in order) help to split off '# skip'."""
    plan: int | None = None
    results: list[TapResult] = []
    comments: list[str] = []
    for line in text.splitlines():
        plan_match = _PLAN.match(line)
        if plan_match and plan is None and not results:
            plan = int(plan_match.group(1))
            continue
        match = _RESULT.match(line)
        if match:
            ok = match.group(1) == "ok"
            number = int(match.group(2))
            description = match.group(3) or ""
            expected = names[number - 1] if 0 < number <= len(names) else None
            skip = None
            if ok and expected is not None and description.startswith(expected + " # skip"):
                skip = description[len(expected) + len(" # skip"):].strip()
                description = expected
            elif ok and (" # skip" in description or description.endswith("# skip")):
                description, _, reason = description.rpartition(" # skip")
                skip = reason.strip()
            results.append(TapResult(ok, number, description, skip))
            continue
        if line.startswith("#"):
            text_line = line[2:] if line.startswith("# ") else line[1:]
            if results and not line.startswith("# bats warning:"):
                results[-1].diagnostics.append(text_line)
            else:
                comments.append(text_line)
            continue
        if line.strip():
            comments.append(line)
    return TapStream(plan, results, comments)


class BatsError(Exception):
    """A bats test failed, or bats could not run it; the message is the report."""


@dataclass
class Outcome:
    status: str  # 'passed', 'failed', 'skipped'
    message: str = ""


@dataclass
class BatsRun:
    """One run of bats over (part of) a file, mapped to the tests it ran."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    outcomes: dict[str, Outcome]


def _format_block(result: TapResult) -> str:
    head = f"{'ok' if result.ok else 'not ok'} {result.number} {result.description}"
    return "\n".join([head, *result.diagnostics])


def map_results(names: Sequence[str], stream: TapStream, returncode: int, output: str,
                notes: Sequence[str] = ()) -> dict[str, Outcome]:
    """The outcome of every test in ``names`` (the tests bats was asked to run, in file order).

    ``notes`` are problems of the run itself (a timeout) that fail it whatever bats said.
    """
    own: dict[int, TapResult] = {}
    file_level: list[TapResult] = []
    for result in stream.results:
        index = result.number - 1
        expected = names[index] if 0 <= index < len(names) else None
        if result.description in _FILE_RESULTS and expected != result.description:
            file_level.append(result)
        elif expected is not None and index not in own:
            own[index] = result
        else:
            file_level.append(result)

    problems = [*notes, *(_format_block(r) for r in file_level if not r.ok)]
    problems += [c for c in stream.comments if c.startswith("bats warning:")]
    if returncode != 0 and not notes and not any(not r.ok for r in stream.results):
        problems.append(f"bats exited with status {returncode} but reported no failing test")

    outcomes: dict[str, Outcome] = {}
    for index, name in enumerate(names):
        result = own.get(index)
        if result is None:
            message = "\n".join([f"bats reported no result for this test ({name!r})",
                                 *(problems or ["--- bats output ---", output])])
            outcomes[name] = Outcome("failed", message)
        elif result.skip is not None:
            outcomes[name] = Outcome("skipped", result.skip or "skipped in bats")
        elif result.ok:
            outcomes[name] = Outcome("passed")
        else:
            outcomes[name] = Outcome("failed", _format_block(result))
    if problems and names and len(own) == len(names):
        # Every test has its result, yet the file failed (teardown_file, a crash):
        # the last test carries that, so that the run fails.
        last = outcomes[names[-1]]
        text = "\n".join(["the bats file failed after its tests:", *problems])
        outcomes[names[-1]] = Outcome("failed", f"{last.message}\n{text}" if last.status == "failed" else text)
    return outcomes


def run_bats(executable: str, path: str, names: Sequence[str], all_names: Sequence[str], cwd: str,
             timeout: float, env: Sequence[tuple[str, str]] = ()) -> BatsRun:
    """Run bats on ``path`` for ``names`` (all of the file's tests when they are ``all_names``),
    with ``env`` added to the environment."""
    command = [executable, "--tap"]
    if list(names) != list(all_names):
        command += ["--filter", filter_regex(names)]
    command.append(path)
    # A session of its own, so that a timeout ends bats and everything it started.
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
                               env={**os.environ, **dict(env)} if env else None)
    notes = []
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        notes.append(f"bats did not finish within {timeout:g} s and was killed (the setting bats_timeout)")
    returncode = process.returncode
    output = stdout + (f"\n--- stderr ---\n{stderr}" if stderr.strip() else "")
    stream = parse_tap(stdout, names)
    return BatsRun(command, returncode, stdout, stderr, map_results(names, stream, returncode, output, notes))


class BatsFile(pytest.File):
    """A .bats file: its tests are items; bats runs once per file (and selection) and variant."""

    tests: tuple[BatsTest, ...] = ()
    _runs: dict[str, BatsRun]

    def collect(self) -> Iterator[BatsItem]:
        self.tests = tuple(parse_bats_tests(self.path.read_text(encoding="utf-8", errors="surrogateescape")))
        self._runs = {}
        for variant in parse_variants(self.config.getini("bats_variants")):
            for test in self.tests:
                name = f"{test.name}[{variant.id}]" if variant.id else test.name
                yield BatsItem.from_parent(self, name=name, test=test, variant=variant)

    def outcome_of(self, item: BatsItem) -> tuple[Outcome, BatsRun]:
        run = self._runs.get(item.variant.id)
        if run is None:
            run = self._runs[item.variant.id] = self._start(item.variant)
        return run.outcomes.get(item.test.name, Outcome("failed", "not in the bats run")), run

    def _selected(self, variant: Variant) -> list[str]:
        """Names of this file's tests that the session runs in ``variant``, in file order."""
        items = getattr(self.session, "items", None) or []
        chosen = {item.test.name for item in items
                  if isinstance(item, BatsItem) and item.parent is self and item.variant == variant}
        names = [test.name for test in self.tests if test.name in chosen]
        return names or [test.name for test in self.tests]

    def _start(self, variant: Variant) -> BatsRun:
        config = self.config
        executable = str(config.getini("bats_executable") or "bats")
        if shutil.which(executable) is None:
            raise BatsError(f"'{executable}' was not found: install bats (tests/setup-deps.sh does)")
        timeout = float(config.getini("bats_timeout") or 900)
        rootpath = config.rootpath
        try:
            path = str(self.path.relative_to(rootpath))
        except ValueError:
            path = str(self.path)
        all_names = [test.name for test in self.tests]
        return run_bats(executable, path, self._selected(variant), all_names, str(rootpath), timeout, variant.env)


class BatsItem(pytest.Item):
    """One ``@test`` of a .bats file."""

    def __init__(self, *, test: BatsTest, variant: Variant | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test
        self.variant = variant or Variant("")
        self.add_marker(pytest.mark.bats)

    def runtest(self) -> None:
        assert isinstance(self.parent, BatsFile)
        outcome, run = self.parent.outcome_of(self)
        if outcome.status == "skipped":
            _skip_here(outcome.message)
        if outcome.status == "failed":
            one = [*(f"{k}={v}" for k, v in self.variant.env), run.command[0], "--tap", "--filter",
                   f"^{ere_escape(self.test.name)}$", run.command[-1]]
            raise BatsError(f"{outcome.message}\n\nrerun this test alone: (cd {shlex.quote(str(self.config.rootpath))}"
                            f" && {shlex.join(one)})")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
        if isinstance(excinfo.value, BatsError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test.lineno - 1, f"bats: {self.name}"


def _skip_here(reason: str) -> None:
    """pytest.skip, reported at the item's location (the @test line) rather than in this file."""
    try:
        raise pytest.skip.Exception(reason, _use_item_location=True)
    except TypeError:  # a pytest without the (private) argument
        pytest.skip(reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("bats_executable", "the bats command that runs .bats files", default="bats")
    parser.addini("bats_timeout", "seconds one run of a .bats file may take", default="900")
    parser.addini("bats_variants", "more runs of every .bats file, one per line 'ID: NAME=VALUE ...'",
                  type="linelist", default=[])


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> BatsFile | None:
    if file_path.suffix == ".bats":
        return BatsFile.from_parent(parent, path=file_path)
    return None
