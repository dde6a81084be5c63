"""The helper's command line: exit codes, one-line errors, and the outputs the shell hooks read."""

from __future__ import annotations

import itertools
import os

import pytest

from rear_mdcontainer.cli import EXIT_ERROR, main, resolve_no_platform
from rear_mdcontainer.entries import format_layout
from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.model import Container, Layout

from .helpers import FakeTree, imsm_raid1_layout, two_volume_layout

ORIGINALS = ["yes", "no", "unknown", ""]
ENVIRONMENTS = ["1", ""]


@pytest.mark.parametrize(("original", "environment"), list(itertools.product(ORIGINALS, ENVIRONMENTS)))
def test_yes_and_no_win_over_everything(original, environment):
    assert resolve_no_platform("yes", original, environment) is True
    assert resolve_no_platform("no", original, environment) is False


@pytest.mark.parametrize(("original", "environment", "expected"), [
    ("yes", "1", True),
    ("yes", "", True),
    ("no", "1", False),
    ("no", "", False),
    ("unknown", "1", True),
    ("unknown", "", False),
    ("", "1", True),
    ("", "", False),
    ("unknown", "0", False),
    ("unknown", " 1 ", True),
])
def test_auto_follows_the_original_then_the_environment(original, environment, expected):
    assert resolve_no_platform("auto", original, environment) is expected
    assert resolve_no_platform("", original, environment) is expected
    assert resolve_no_platform(" AUTO ", original, environment) is expected


@pytest.mark.parametrize(("setting", "expected"), [("YES", True), ("y", True), ("true", True), ("1", True),
                                                   ("On", True), ("No", False), ("n", False), ("FALSE", False),
                                                   ("0", False), ("off", False)])
def test_spellings_of_yes_and_no(setting, expected):
    assert resolve_no_platform(setting, "unknown", "") is expected
    assert resolve_no_platform("auto", setting, "") is expected


@pytest.mark.parametrize("setting", ["maybe", "2", "yes please"])
def test_invalid_setting(setting):
    with pytest.raises(MdcError) as info:
        resolve_no_platform(setting, "yes", "1")
    assert info.value.subject == "MDCONTAINER_IMSM_NO_PLATFORM"
    assert info.value.problem == f"'{setting}' is not auto, yes or no"
    assert info.value.fix == "set it to auto, yes or no"


# --- main --------------------------------------------------------------------------------------

def _layout_file(tmp_path, layout=None, extra: str = ""):
    path = tmp_path / "disklayout.conf"
    lines = ["disk /dev/sda 2147483648 gpt", "disk /dev/sdb 2147483648 gpt"]
    if layout is not None:
        lines += format_layout(layout)
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return str(path)


def test_malformed_layout_file_gives_one_error_line(tmp_path, capsys):
    bad = ("mdcontainer /dev/md127 metadata=imsm devices=/dev/sda,/dev/sdb\n"
           "mdvolume /dev/md126 container=/dev/md127 member=0 level=raid6 raid-devices=2 devices=/dev/sda,/dev/sdb "
           "size=1024 name=v\n")
    path = _layout_file(tmp_path, extra=bad)
    for command in (["deps"], ["check"], ["members"], ["render", "volume", "--device", "/dev/md126"]):
        assert main([*command, "--layout-file", path]) == EXIT_ERROR
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.splitlines() == [
            "ERROR: mdvolume /dev/md126: unsupported RAID level 'raid6' (supported: raid0, raid1, raid5, raid10)"]


def test_bad_option_gives_one_error_line(tmp_path, capsys):
    path = _layout_file(tmp_path, extra="mdcontainer /dev/md127 metadata=imsm devices=/dev/sda size=3\n")
    assert main(["deps", "--layout-file", path]) == EXIT_ERROR
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("ERROR: mdcontainer /dev/md127: unknown option 'size' (known options: ")


def test_missing_layout_file_gives_one_error_line(tmp_path, capsys):
    assert main(["deps", "--layout-file", str(tmp_path / "nope.conf")]) == EXIT_ERROR
    err = capsys.readouterr().err.splitlines()
    assert err == [f"ERROR: {tmp_path / 'nope.conf'}: No such file or directory"]


def test_deps(tmp_path, capsys):
    assert main(["deps", "--layout-file", _layout_file(tmp_path, two_volume_layout())]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "dependency /dev/md127 /dev/sda",
        "dependency /dev/md127 /dev/sdb",
        "component /dev/md127 mdcontainer",
        "dependency /dev/md126 /dev/md127",
        "component /dev/md126 mdvolume",
        "dependency /dev/md125 /dev/md127",
        "component /dev/md125 mdvolume",
    ]


def test_deps_without_entries_prints_nothing(tmp_path, capsys):
    assert main(["deps", "--layout-file", _layout_file(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_deps_skips_commented_out_entries(tmp_path, capsys):
    lines = format_layout(imsm_raid1_layout())
    path = _layout_file(tmp_path, extra=f"{lines[0]}\n#{lines[1]}\n")
    assert main(["deps", "--layout-file", path]) == 0
    assert "/dev/md126" not in capsys.readouterr().out


def test_members(tmp_path, capsys):
    layout = imsm_raid1_layout()
    ddf = Container(device="/dev/md125", metadata="ddf", devices=("/dev/sdc", "/dev/sdd"))
    both = Layout((*layout.containers, ddf), layout.volumes)
    path = _layout_file(tmp_path, both)
    assert main(["members", "--layout-file", path]) == 0
    assert capsys.readouterr().out.splitlines() == ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"]
    assert main(["members", "--layout-file", path, "--container", "/dev/md125"]) == 0
    assert capsys.readouterr().out.splitlines() == ["/dev/sdc", "/dev/sdd"]
    assert main(["members", "--layout-file", path, "--container", "/dev/md1"]) == 0
    assert capsys.readouterr().out == ""


def test_check(tmp_path, capsys):
    assert main(["check", "--layout-file", _layout_file(tmp_path, imsm_raid1_layout(name="Data Vol"))]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mdcontainer /dev/md127: imsm on /dev/sda,/dev/sdb",
        "  mdvolume /dev/md126: member 0 'Data Vol' raid1 on /dev/sda,/dev/sdb, 1048576 KiB per disk",
    ]


@pytest.mark.parametrize(("options", "environment", "exported"), [
    (["--imsm-no-platform", "yes"], "", True),
    (["--imsm-no-platform", "no"], "1", False),
    (["--imsm-no-platform", "auto", "--original-imsm-no-platform", "yes"], "", True),
    (["--imsm-no-platform", "auto", "--original-imsm-no-platform", "no"], "1", False),
    (["--imsm-no-platform", "auto", "--original-imsm-no-platform", "unknown"], "1", True),
    (["--imsm-no-platform", "auto", "--original-imsm-no-platform", "unknown"], "", False),
    ([], "1", True),
])
def test_render_container_platform(tmp_path, capsys, monkeypatch, options, environment, exported):
    monkeypatch.setenv("IMSM_NO_PLATFORM", environment)
    path = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "container", "--layout-file", path, "--device", "/dev/md127", *options]) == 0
    out = capsys.readouterr().out
    assert ("export IMSM_NO_PLATFORM=1\n" in out) is exported
    assert "mdadm --create /dev/md127 --run --metadata=imsm" in out


def test_render_invalid_platform_setting(tmp_path, capsys):
    path = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "container", "--layout-file", path, "--device", "/dev/md127",
                 "--imsm-no-platform", "perhaps"]) == EXIT_ERROR
    assert capsys.readouterr().err.splitlines() == [
        "ERROR: MDCONTAINER_IMSM_NO_PLATFORM: 'perhaps' is not auto, yes or no (set it to auto, yes or no)"]


@pytest.mark.parametrize(("value", "grow"), [("yes", True), ("Yes", True), ("no", False), ("NO", False)])
def test_render_grow_last_volume(tmp_path, capsys, value, grow):
    path = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "container", "--layout-file", path, "--device", "/dev/md127",
                 "--grow-last-volume", value]) == 0
    out = capsys.readouterr().out
    assert ("--size=1048576" not in out) is grow
    assert f"--grow-last-volume {'yes' if grow else 'no'}" in out


def test_render_volume(tmp_path, capsys):
    path = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "volume", "--layout-file", path, "--device", "/dev/md126", "--wait-seconds", "9"]) == 0
    out = capsys.readouterr().out
    assert "mdcontainer_helper wait-writable --container /dev/md127 --member 0 --timeout 9 /dev/md126\n" in out
    assert "wipefs --all --force /dev/md126 >&2\n" in out


def test_render_unknown_device(tmp_path, capsys):
    path = _layout_file(tmp_path, imsm_raid1_layout())
    assert main(["render", "volume", "--layout-file", path, "--device", "/dev/md1"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("ERROR: mdvolume /dev/md1: there is no such entry in the layout file")


def test_wait_writable_on_a_fake_tree(tmp_path, capsys, monkeypatch):
    fake = FakeTree(tmp_path)
    fake.md("md127", "9:127", "external:imsm", "inactive", ())
    fake.md("md126", "9:126", "external:/md127/0", "clean", ())
    (tmp_path / "run" / "mdadm").mkdir(parents=True)
    (tmp_path / "run" / "mdadm" / "md127.pid").write_text(f"{os.getpid()}\n")  # mdmon runs for md127
    (tmp_path / "proc" / str(os.getpid())).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("MDCONTAINER_SYSROOT", str(tmp_path))
    assert main(["wait-writable", "--container", "/dev/md127", "--member", "0", "/dev/md126"]) == 0
    assert capsys.readouterr().out == "/dev/md126 is writable (clean)\n"
    assert main(["wait-writable", "--container", "/dev/md127", "--member", "1", "/dev/md126"]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("ERROR: mdvolume /dev/md126: /dev/md126 is not member 1 of /dev/md127")


def test_unexpected_exception_is_reported_as_a_bug(tmp_path, capsys, monkeypatch):
    from rear_mdcontainer import cli

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_deps", broken)
    assert main(["deps", "--layout-file", _layout_file(tmp_path, imsm_raid1_layout())]) == cli.EXIT_BUG
    assert capsys.readouterr().err.splitlines() == [
        "BUG: rear-mdcontainer helper failed: ZeroDivisionError: division by zero"]


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["render", "disk", "--layout-file", "x", "--device", "/dev/sda"])
    assert info.value.code == 2
    assert "invalid choice: 'disk'" in capsys.readouterr().err
