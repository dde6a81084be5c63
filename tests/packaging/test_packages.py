"""The Debian and RPM packages, built by `make deb` / `make rpm` from the working tree.

- Each package holds exactly the files `make install` installs (`make installed-files`), none of
  which is a file of ReaR's own package, with the dependencies the plugin needs.
- The .deb installs into a throwaway root and `dpkg -r` removes every file and directory it
  brought, also the __pycache__ directories Python writes when the helper runs (the prerm script).
- The .rpm installs and erases the same way (rpm --root), with its %dir entries.

Built once per module (and per xdist worker) into tmp directories: `make deb` takes a few seconds,
`make rpm` about one. Skipped only where the build tools are missing and tests/setup-deps.sh would
not install them (no apt-get); on a Debian-like machine their absence is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import rear_mdcontainer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "rear-mdcontainer"
VERSION = rear_mdcontainer.__version__
DEB_DEPENDS = ["rear (>= 2.6)", "mdadm", "python3 (>= 3.9)", "python3-jinja2", "python3-plumbum"]
RPM_REQUIRES = {"rear >= 2.6", "mdadm", "python3 >= 3.9", "python3-jinja2", "python3-plumbum"}
DEB_TOOLS = ("dpkg-buildpackage", "dh", "dpkg-deb", "dpkg")
RPM_TOOLS = ("rpmbuild", "rpm")


def run(argv: Sequence[str | os.PathLike[str]], env: Mapping[str, str] | None = None) -> str:
    """Run a command, return its stdout; fail the test with its output if it fails."""
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} failed with rc {proc.returncode}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def require_tools(tools: Sequence[str], target: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    if shutil.which("apt-get"):
        pytest.fail(f"{', '.join(missing)} missing for 'make {target}': tests/setup-deps.sh installs them "
                    "(make test runs it)")
    pytest.skip(f"{', '.join(missing)} not installed, and tests/setup-deps.sh installs them only on "
                "Debian-like machines (apt-get)")


def installed_files(*variables: str, tree: Path = ROOT) -> list[str]:
    """`make installed-files` in tree with the given make variables, sorted."""
    return sorted(run(["make", "-s", "--no-print-directory", "-C", tree, "installed-files", *variables]).split())


def build(target: str, workdir: Path) -> Path:
    """`make deb|rpm` into workdir/dist (work files in workdir/build); the package file."""
    dist = workdir / "dist"
    run(["make", "-s", "--no-print-directory", "-C", ROOT, target, f"DISTDIR={dist}",
         f"PKGBUILDDIR={workdir / 'build'}"])
    packages = sorted(dist.iterdir())
    assert len(packages) == 1, packages
    return packages[0]


def packaged_tree(package: Path) -> Path:
    """The copy of the sources the package was built from (PKGBUILDDIR/src/NAME-VERSION): compared
    with `make installed-files` there, not in the working tree, which may change while the tests run."""
    return package.parent.parent / "build" / "src" / f"{PACKAGE}-{VERSION}"


def leftovers(root: Path, admin: Sequence[str]) -> list[str]:
    """Paths below root (relative), except the package manager's database directories and their parents."""
    databases = [root / a for a in admin]
    return [str(path.relative_to(root)) for path in sorted(root.rglob("*"))
            if not any(path == d or d in path.parents or path in d.parents for d in databases)]


def rear_package_files() -> set[str]:
    """The files of Debian's rear package, as tests/bats/fetch-rear.sh unpacked them for the bats tests."""
    cache = Path(os.environ.get("MDC_CACHE", "") or
                 Path(os.environ.get("XDG_CACHE_HOME", "") or Path.home() / ".cache") / "rear-mdcontainer")
    rear = cache / "rear-current"
    if not (rear / "usr" / "share" / "rear" / "lib").is_dir():
        pytest.skip(f"ReaR's files are not unpacked in {rear} (tests/setup-deps.sh runs tests/bats/fetch-rear.sh)")
    return {"/" + str(p.relative_to(rear)) for p in rear.rglob("*") if not p.is_dir()}


# --- the version ---------------------------------------------------------------------------------


def test_version_is_written_in_one_place():
    """The packages take __version__ (Makefile VERSION); the man page's header must agree with it."""
    man = (ROOT / "doc" / "rear-mdcontainer.8").read_text(encoding="utf-8")
    header = re.search(r'^\.TH .* "rear-mdcontainer ([^"]+)"', man, re.M)
    assert header and header.group(1) == VERSION, "doc/rear-mdcontainer.8's .TH names another version"
    assert not (ROOT / "rear-plugin" / "packaging" / "debian" / "changelog").exists(), (
        "debian/changelog is generated by 'make deb' from __version__; do not keep one")


def test_installed_files_are_ours_only():
    """Every path is named after the plugin: nothing of ReaR's own is replaced."""
    files = installed_files()
    assert files and all(re.search(r"mdcontainer", f) for f in files), files
    assert not set(files) & rear_package_files()


# --- Debian --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools(DEB_TOOLS, "deb")
    return build("deb", tmp_path_factory.mktemp("deb"))


def deb_regular_files(deb_file: Path) -> list[str]:
    """Regular files of `dpkg-deb -c` ('-rw-r--r-- root/root 1234 2026-01-01 00:00 ./usr/...')."""
    files = []
    for line in run(["dpkg-deb", "-c", deb_file]).splitlines():
        fields = line.split(maxsplit=5)
        assert not fields[0].startswith(("l", "h")), f"links are not expected: {line}"
        if not fields[0].startswith("d"):
            files.append(fields[5].removeprefix("."))
    return sorted(files)


def test_deb_name_and_files(deb: Path):
    assert deb.name == f"{PACKAGE}_{VERSION}_all.deb"
    assert deb_regular_files(deb) == installed_files(tree=packaged_tree(deb))


def test_deb_control_fields(deb: Path):
    def field(name: str) -> str:
        return run(["dpkg-deb", "-f", deb, name]).strip()

    assert field("Package") == PACKAGE
    assert field("Version") == VERSION
    assert field("Architecture") == "all"
    assert [d.strip() for d in field("Depends").split(",")] == DEB_DEPENDS
    assert not field("Conflicts") and not field("Replaces") and not field("Provides")


def test_deb_install_and_remove_leave_nothing_behind(deb: Path, tmp_path: Path):
    """dpkg into a throwaway root; the maintainer scripts run on this host with DPKG_ROOT set."""
    root = tmp_path / "root"
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("updates", "info"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").touch()
    dpkg = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", "--force-not-root"]

    run([*dpkg, "--install", deb])
    assert sorted("/" + f for f in leftovers(root, ["var/lib/dpkg"]) if not (root / f).is_dir()) == \
        installed_files(tree=packaged_tree(deb))
    # What running the helper does: Python caches the compiled modules next to them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run([sys.executable, "-m", "compileall", "-q", root / "usr/share/rear/mdcontainer/python"], env=env)
    assert list(root.rglob("__pycache__"))

    run([*dpkg, "--remove", PACKAGE])
    assert leftovers(root, ["var/lib/dpkg"]) == []
    # No conffiles: removing the package forgets it entirely.
    query = subprocess.run(["dpkg-query", f"--admindir={admin}", "-W", PACKAGE], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, check=False)
    assert query.returncode == 1 and "no packages found" in query.stdout, query.stdout


# --- RPM -----------------------------------------------------------------------------------------


def rpm_site_dir() -> str:
    """The python3 site directory the spec uses: the distribution's macro, else /usr/lib/python3.X/site-packages."""
    macro = run(["rpm", "--eval", "%{?python3_sitelib}"]).strip()
    return macro or f"/usr/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"


@pytest.fixture(scope="module")
def rpm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools(RPM_TOOLS, "rpm")
    return build("rpm", tmp_path_factory.mktemp("rpm"))


def rpm_query(rpm_file: Path, *args: str) -> str:
    return run(["rpm", "-qp", *args, rpm_file])


def test_rpm_name_and_files(rpm: Path):
    assert re.fullmatch(rf"{PACKAGE}-{re.escape(VERSION)}-1(\.[a-z0-9_]+)?\.noarch\.rpm", rpm.name), rpm.name
    modes_and_names = [line.split(" ", 1) for line in
                       rpm_query(rpm, "--queryformat", "[%{FILEMODES:perms} %{FILENAMES}\n]").splitlines()]
    files = sorted(name for mode, name in modes_and_names if not mode.startswith("d"))
    directories = sorted(name for mode, name in modes_and_names if mode.startswith("d"))
    assert files == installed_files(f"PYTHON_SITEDIR={rpm_site_dir()}", tree=packaged_tree(rpm))
    # The package owns its own directories, and no directory of ReaR's.
    assert directories == ["/usr/share/rear/mdcontainer", "/usr/share/rear/mdcontainer/python",
                           "/usr/share/rear/mdcontainer/python/rear_mdcontainer",
                           "/usr/share/rear/mdcontainer/python/rear_mdcontainer/templates"]


def test_rpm_fields_and_requires(rpm: Path):
    assert rpm_query(rpm, "--queryformat", "%{NAME} %{VERSION} %{ARCH}") == f"{PACKAGE} {VERSION} noarch"
    requires = set(rpm_query(rpm, "--requires").splitlines())
    assert RPM_REQUIRES <= requires
    # Besides: the shell of the %preun scriptlet and rpm's own features.
    assert {r for r in requires - RPM_REQUIRES if r != "/bin/sh" and not r.startswith("rpmlib(")} == set()
    assert "__pycache__" in rpm_query(rpm, "--scripts")


def test_rpm_install_and_erase_leave_nothing_behind(rpm: Path, tmp_path: Path):
    """rpm into a throwaway root. The scriptlets would run chrooted there (no /bin/sh): left out here."""
    if os.geteuid() != 0:
        pytest.skip("rpm --root needs root")
    root = tmp_path / "root"
    root.mkdir()
    rpm_cmd = ["rpm", "--root", root, "--nodeps", "--noscripts"]
    run([*rpm_cmd, "--install", rpm])
    assert any(root.rglob("rear_mdcontainer.pth"))
    run([*rpm_cmd, "--erase", PACKAGE])
    # The rpm database: below /var/lib/rpm, or ~/.rpmdb (Debian's rpm), inside the root.
    admin = [str(p.relative_to(root)) for p in (root / "var/lib/rpm", root / Path.home().relative_to("/") / ".rpmdb")
             if p.exists()]
    # rpm leaves the directories that other packages own on a real system (rear's hook folders,
    # man8, the python site directory) and removes the ones of the package.
    assert [f for f in leftovers(root, admin) if not (root / f).is_dir()] == []
    assert not (root / "usr/share/rear/mdcontainer").exists()


def test_make_rpm_again_in_the_same_directories(rpm: Path):
    """The targets start afresh: a second run over the first one's directories gives the same package."""
    before = rpm_query(rpm, "--list")
    again = build("rpm", rpm.parent.parent)
    assert again == rpm and rpm_query(again, "--list") == before
