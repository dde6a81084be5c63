"""The documentation keeps up with the code.

- Every configuration variable the code reads is described in the user guide
  (doc/user-guide/mdcontainer.adoc), every default with its value.
- Every subcommand of the helper's command line, with its options, has its
  section in the manual page (doc/rear-mdcontainer.8).
- The newcomer commands of the README exist, and CI runs what the README says.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from rear_mdcontainer.cli import EXIT_BUG, EXIT_ERROR, build_parser

ROOT = Path(__file__).resolve().parents[2]
USER_GUIDE = ROOT / "doc" / "user-guide" / "mdcontainer.adoc"
MAN_PAGE = ROOT / "doc" / "rear-mdcontainer.8"
DEFAULTS = ROOT / "rear-plugin" / "lib" / "mdcontainer-defaults.sh"
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
MAKEFILE = ROOT / "Makefile"

# Where the code is: ReaR hooks, the plugin's lib/ files, the Python helper.
CODE_GLOBS = (("usr/share/rear", "*.sh"), ("rear-plugin", "*.sh"), ("pyhelpers", "*.py"))

VARIABLE = re.compile(r"\bMDCONTAINER_[A-Z0-9]+(?:_[A-Z0-9]+)*")

# Names in the code that are not configuration: nobody sets them in local.conf.
INTERNAL = frozenset({
    "MDCONTAINER_HELPER_OUT",  # file with the helper's stdout, set by mdcontainer_helper_or_error for its caller
    "MDCONTAINER_MEMBER_DISKS",  # array of all member disks, set by layout/prepare 125 for create_disk and 545
    "MDCONTAINER_MEMBER_DISKS_LAYOUT_SUM",  # cksum of the layout file the member disk list was read from
    "MDCONTAINER_CONFIG_ARGS",  # helper options built from the settings by mdcontainer_config_args
    "MDCONTAINER_HIDE_SYSFS_DEVICE",  # the volume hidden from get_sysfs_name while its partitions are generated
    "MDCONTAINER_UUID_MAP",  # path of the old -> new UUID map, set by layout/recreate 215
    "MDCONTAINER_SYSFS",  # fake sysfs root of the bats tests for the hooks' "any external metadata?" tests
    "MDCONTAINER_SYSROOT",  # fake root (sys, proc, dev, run) of the helper's unit tests
})

# `: "${MDCONTAINER_X:=value}"` (quoted or not) in rear-plugin/lib/mdcontainer-defaults.sh
DEFAULT_LINE = re.compile(r'^:\s+"?\$\{(MDCONTAINER_[A-Z0-9_]+):=([^}]*)\}"?\s*$')


def _code_files() -> list[Path]:
    files: list[Path] = []
    for folder, pattern in CODE_GLOBS:
        files.extend(path for path in sorted((ROOT / folder).rglob(pattern)) if "__pycache__" not in path.parts)
    return files


def _names_in_code() -> dict[str, list[str]]:
    """Every MDCONTAINER_* name in the code -> the files (relative) that use it."""
    names: dict[str, list[str]] = {}
    for path in _code_files():
        for name in sorted(set(VARIABLE.findall(path.read_text(encoding="utf-8")))):
            names.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return names


def _defaults() -> list[tuple[str, str]]:
    return [m.groups() for m in map(DEFAULT_LINE.match, DEFAULTS.read_text(encoding="utf-8").splitlines()) if m]


NAMES_IN_CODE = _names_in_code()
CONFIG_VARIABLES = sorted(set(NAMES_IN_CODE) - INTERNAL)
DEFAULTS_LIST = _defaults()


def _user_guide() -> str:
    return USER_GUIDE.read_text(encoding="utf-8")


# --- (a) configuration variables in the user guide ----------------------------------------------


def test_the_code_is_found():
    """Guards the tests below against an empty scan (moved folders, a broken pattern)."""
    assert len(_code_files()) >= 5
    assert "MDCONTAINER_ENABLED" in CONFIG_VARIABLES
    assert DEFAULTS_LIST, f"no ': \"${{MDCONTAINER_X:=value}}\"' lines in {DEFAULTS}"


@pytest.mark.parametrize("variable", CONFIG_VARIABLES)
def test_configuration_variable_is_in_the_user_guide(variable):
    described = re.search(rf"\b{variable}\b", _user_guide()) is not None
    assert described, (
        f"{variable} (used in {', '.join(NAMES_IN_CODE[variable])}) is not described in "
        f"{USER_GUIDE.relative_to(ROOT)}; describe it there, or add it to INTERNAL in this test "
        "if it is not configuration")


@pytest.mark.parametrize("variable", sorted(INTERNAL))
def test_internal_name_is_still_used(variable):
    """An internal name the code no longer uses should leave the list, so that the list stays true."""
    assert variable in NAMES_IN_CODE, f"{variable} is no longer in the code: remove it from INTERNAL"


def test_every_default_is_parsed():
    """Each `:=` line of the defaults file is one the next test checks."""
    assignments = [line for line in DEFAULTS.read_text(encoding="utf-8").splitlines()
                   if ":=" in line and not line.lstrip().startswith("#")]
    assert len(assignments) == len(DEFAULTS_LIST), (
        f"write defaults in {DEFAULTS.relative_to(ROOT)} as ': \"${{MDCONTAINER_X:=value}}\"', one per line")


@pytest.mark.parametrize(("variable", "default"), DEFAULTS_LIST)
def test_default_is_in_the_user_guide(variable, default):
    assert variable not in INTERNAL, f"{variable} has a default, so it is configuration: remove it from INTERNAL"
    shown = f"{variable}={default}" in _user_guide()
    assert shown, (
        f"{USER_GUIDE.relative_to(ROOT)} does not show the default '{variable}={default}' "
        f"of {DEFAULTS.relative_to(ROOT)}")


# --- (b) subcommands in the manual page ----------------------------------------------------------


def _plain(roff: str) -> str:
    """roff text without font changes and with plain dashes: '\\fB\\-\\-device\\fR' -> '--device'."""
    text = re.sub(r"\\f[BIRP]", "", roff)
    return text.replace("\\-", "-").replace("\\e", "\\").replace("\\(dq", '"')


def _man_sections(macro: str) -> dict[str, str]:
    """Sections of the manual page started by `macro` ('.SH' or '.SS'): name -> text up to the next section."""
    sections: dict[str, str] = {}
    name = None
    for line in _plain(MAN_PAGE.read_text(encoding="utf-8")).splitlines():
        if line.startswith((".SH", ".SS")):
            name = line[3:].strip().strip('"') if line.startswith(macro) else None
            if name is not None:
                sections[name] = ""
            continue
        if name is not None:
            sections[name] += line + "\n"
    return sections


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("build_parser() has no subcommands")


SUBCOMMANDS = sorted(_subparsers())


def _documented_words(parser: argparse.ArgumentParser) -> list[str]:
    """Option strings (without -h/--help) and the choices of positional arguments."""
    words = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            words.extend(action.option_strings)
        elif action.choices:
            words.extend(str(choice) for choice in action.choices)
    return words


def test_subcommands_are_found():
    assert {"save", "render", "verify", "preflight"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_subcommand_has_a_man_page_section(subcommand):
    sections = _man_sections(".SS")
    assert subcommand in sections, (
        f"{MAN_PAGE.relative_to(ROOT)} has no '.SS {subcommand}' section (it has: {', '.join(sections)})")
    text = sections[subcommand]
    missing = [word for word in _documented_words(_subparsers()[subcommand]) if word not in text]
    assert not missing, f"the '{subcommand}' section of {MAN_PAGE.relative_to(ROOT)} does not mention {missing}"


def test_man_page_has_no_section_of_a_removed_subcommand():
    sections = _man_sections(".SH")
    listed = set(_man_sections(".SS"))
    assert "SUBCOMMANDS" in sections
    assert listed <= set(SUBCOMMANDS), f"sections of unknown subcommands: {sorted(listed - set(SUBCOMMANDS))}"


def test_man_page_top_level_options_and_exit_status():
    sections = _man_sections(".SH")
    options = [word for word in _documented_words(build_parser()) if word.startswith("-")]
    assert "--version" in options
    for word in options:
        assert word in sections["OPTIONS"], f"the OPTIONS section does not mention {word}"
    exit_status = sections["EXIT STATUS"]
    for code in (0, EXIT_ERROR, EXIT_BUG):
        assert re.search(rf"^\.B {code}$", exit_status, re.M), f"exit status {code} is not described"


# --- (c) the README's newcomer commands ----------------------------------------------------------


@pytest.mark.parametrize("target", ["demo", "test"])
def test_readme_newcomer_command(target):
    assert re.search(rf"^make {target}\b", README.read_text(encoding="utf-8"), re.M), (
        f"README.md does not show 'make {target}'")
    assert re.search(rf"^{target}:", MAKEFILE.read_text(encoding="utf-8"), re.M), (
        f"the Makefile has no '{target}' target, which README.md tells newcomers to run")


def test_ci_runs_make_test():
    commands = [line.split("#", 1)[0].strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    assert any(re.fullmatch(r"(exec\s+)?make\s+test(\s.*)?", command) for command in commands), (
        ".ci/run does not call 'make test' (the command README.md gives)")
