"""Tests of tests/pytest_bats.py, the plugin that runs the bats tests under pytest."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pytest_bats import Variant, ere_escape, filter_regex, map_results, parse_bats_tests, parse_tap, parse_variants

REPO = Path(__file__).resolve().parent.parent

BATS_FILE = textwrap.dedent(
    """\
    #!/usr/bin/env bats
    load helper

    @test "plain name" {
        true
    }
    @test 'single quoted [x] (y)' {
      true
    }
      @test "one-liner" { true; }
    @test "name with $HOME and \\"quotes\\"" {
        true
    }
    function by_comment { # @test
        true
    }
    # @test "a comment is not a test" {
    @test "crlf"\t{\r
    }\r
    """
)


def test_parse_bats_tests_names_and_lines_as_bats_preprocess_does() -> None:
    tests = parse_bats_tests(BATS_FILE)
    assert [(t.name, t.lineno) for t in tests] == [
        ("plain name", 4),
        ("single quoted [x] (y)", 7),
        ("one-liner", 10),
        ('name with $HOME and \\"quotes\\"', 11),
        ("by_comment", 14),
        ("crlf", 18),
    ]


@pytest.mark.skipif(shutil.which("bats") is None, reason="bats is not installed")
def test_parse_bats_tests_agrees_with_bats_count(tmp_path: Path) -> None:
    path = tmp_path / "t.bats"
    path.write_text(BATS_FILE.replace("load helper", ""), encoding="utf-8")
    count = subprocess.run(["bats", "--count", str(path)], capture_output=True, text=True, check=True).stdout
    assert int(count) == len(parse_bats_tests(path.read_text(encoding="utf-8")))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30))
def test_ere_escape_matches_the_name_literally_in_bash(name: str) -> None:
    # bats matches --filter with bash's [[ name =~ regex ]]
    script = '[[ $1 =~ $2 ]] && [[ ! $1x =~ $2 ]]'
    result = subprocess.run(["bash", "-c", script, "_", name, f"^{ere_escape(name)}$"], check=False)
    assert result.returncode == 0


def test_filter_regex_selects_exactly_the_names() -> None:
    regex = filter_regex(["a.b", "c"])
    for name, wanted in [("a.b", 0), ("c", 0), ("axb", 1), ("a.b c", 1), ("cc", 1)]:
        result = subprocess.run(["bash", "-c", "[[ $1 =~ $2 ]]", "_", name, regex], check=False)
        assert result.returncode == wanted, name


TAP = textwrap.dedent(
    """\
    1..4
    ok 1 passes
    ok 2 skips # skip no disks here
    not ok 3 fails in /root
    # (in test file t.bats, line 14)
    #   `false' failed
    # some output
    ok 4 skips plain # skip
    """
)


def test_parse_tap_results_skips_and_diagnostics() -> None:
    names = ["passes", "skips", "fails in $HOME", "skips plain"]
    stream = parse_tap(TAP, names)
    assert stream.plan == 4
    assert [(r.ok, r.number, r.skip) for r in stream.results] == [
        (True, 1, None), (True, 2, "no disks here"), (False, 3, None), (True, 4, ""),
    ]
    assert stream.results[2].diagnostics == ["(in test file t.bats, line 14)", "  `false' failed", "some output"]


def test_map_results_by_position_not_by_expanded_description() -> None:
    names = ["passes", "skips", "fails in $HOME", "skips plain"]
    outcomes = map_results(names, parse_tap(TAP, names), 1, TAP)
    assert {n: o.status for n, o in outcomes.items()} == {
        "passes": "passed", "skips": "skipped", "fails in $HOME": "failed", "skips plain": "skipped",
    }
    assert outcomes["skips"].message == "no disks here"
    assert "`false' failed" in outcomes["fails in $HOME"].message


def test_map_results_setup_file_failure_fails_every_test() -> None:
    tap = "1..2\nnot ok 1 setup_file failed\n# broken setup\n# bats warning: Executed 1 instead of expected 2 tests\n"
    names = ["one", "two"]
    outcomes = map_results(names, parse_tap(tap, names), 1, tap)
    assert [o.status for o in outcomes.values()] == ["failed", "failed"]
    assert all("broken setup" in o.message for o in outcomes.values())


def test_map_results_teardown_file_failure_fails_the_last_test() -> None:
    tap = "1..2\nok 1 one\nok 2 two\nnot ok 3 teardown_file failed\n# broken teardown\n"
    names = ["one", "two"]
    outcomes = map_results(names, parse_tap(tap, names), 1, tap)
    assert outcomes["one"].status == "passed"
    assert outcomes["two"].status == "failed"
    assert "broken teardown" in outcomes["two"].message


def test_map_results_unexplained_exit_status_fails() -> None:
    tap = "1..1\nok 1 one\n"
    outcomes = map_results(["one"], parse_tap(tap, ["one"]), 1, tap)
    assert outcomes["one"].status == "failed"
    assert "exited with status 1" in outcomes["one"].message


def test_map_results_missing_result_fails() -> None:
    tap = "1..2\nok 1 one\n"
    outcomes = map_results(["one", "two"], parse_tap(tap, ["one", "two"]), 0, tap)
    assert outcomes["one"].status == "passed"
    assert outcomes["two"].status == "failed"


def test_parse_variants_plain_run_first_then_one_per_line() -> None:
    variants = parse_variants(["", "# a comment", "rear-2.6: MDC_REAR_SUITE=bullseye", "two: A=1 B='x y'"])
    assert variants == [Variant(""), Variant("rear-2.6", (("MDC_REAR_SUITE", "bullseye"),)),
                        Variant("two", (("A", "1"), ("B", "x y")))]
    assert parse_variants([]) == [Variant("")]


@pytest.mark.parametrize("lines", [["no colon"], [": A=1"], ["bad id: A=1"], ["x: A"], ["x: 1A=2"],
                                   ["x: A=1", "x: B=2"]])
def test_parse_variants_refuses_malformed_lines(lines: list[str]) -> None:
    with pytest.raises(ValueError, match="bats_variants"):
        parse_variants(lines)


def _run_pytest(tmp_path: Path, *args: str, ini: str = "") -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    bats: a bats test\n" + ini, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.pytest_bats", "-p", "no:cacheprovider", "-rs", *args],
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        capture_output=True, text=True, check=False,
    )


@pytest.mark.skipif(shutil.which("bats") is None, reason="bats is not installed")
def test_a_failing_bats_test_fails_pytest(tmp_path: Path) -> None:
    (tmp_path / "t.bats").write_text(textwrap.dedent(
        """\
        @test "passes" { true; }
        @test "is skipped" { skip "not today"; }
        @test "fails" {
            touch "$BATS_TEST_DIRNAME/fails-ran"
            echo "the reason is here"
            false
        }
        """), encoding="utf-8")
    result = _run_pytest(tmp_path, "t.bats")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed, 1 skipped" in result.stdout
    assert "the reason is here" in result.stdout
    assert "SKIPPED [1] t.bats:2: not today" in result.stdout

    # one test alone, by node id: bats runs only that one (--filter)
    (tmp_path / "fails-ran").unlink()
    result = _run_pytest(tmp_path, "t.bats::passes", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert not (tmp_path / "fails-ran").exists()


@pytest.mark.skipif(shutil.which("bats") is None, reason="bats is not installed")
def test_variants_run_every_test_again_with_their_environment(tmp_path: Path) -> None:
    (tmp_path / "t.bats").write_text(textwrap.dedent(
        """\
        @test "sees its variant" {
            echo "${WHICH:-plain}" >>"$BATS_TEST_DIRNAME/seen"
            [ "${WHICH:-plain}" != broken ]
        }
        """), encoding="utf-8")
    ini = "bats_variants =\n    one: WHICH=first\n    two: WHICH=broken\n"
    result = _run_pytest(tmp_path, "t.bats", "-v", ini=ini)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "t.bats::sees its variant PASSED" in result.stdout
    assert "t.bats::sees its variant[one] PASSED" in result.stdout
    assert "t.bats::sees its variant[two] FAILED" in result.stdout
    assert "WHICH=broken bats --tap --filter" in result.stdout
    assert sorted((tmp_path / "seen").read_text().split()) == ["broken", "first", "plain"]

    # one variant alone, by node id
    (tmp_path / "seen").unlink()
    result = _run_pytest(tmp_path, "t.bats::sees its variant[one]", ini=ini)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "seen").read_text().split() == ["first"]
