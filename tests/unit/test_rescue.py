"""What the rescue system gets for the helper (rescue.py): stdlib, packages, extension modules, libraries."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rear_mdcontainer.errors import MdcError
from rear_mdcontainer.rescue import STDLIB_EXCLUDES, linked_libraries, rescue_files, select_extensions
from rear_mdcontainer.system import Result

DYN = "/usr/lib/python3.11/lib-dynload"
PYHELPERS = Path(__file__).resolve().parents[2] / "pyhelpers"


def so(name: str) -> str:
    return f"{DYN}/{name}.cpython-311-x86_64-linux-gnu.so"


def test_loaded_and_always_needed_extensions_are_kept_the_optional_heavy_ones_not():
    available = [so(n) for n in ("_json", "_sqlite3", "_ssl", "_hashlib", "_bz2", "_posixsubprocess", "_curses")]
    kept, left_out = select_extensions(available, {so("_bz2"), so("_ssl")})
    assert kept == [so("_bz2"), so("_json"), so("_posixsubprocess")]
    assert left_out == [so("_curses"), so("_hashlib"), so("_sqlite3"), so("_ssl")]


LDD = """\
\tlinux-vdso.so.1 (0x00007ffc5a1f2000)
\tlibbz2.so.1.0 => /lib/x86_64-linux-gnu/libbz2.so.1.0 (0x00007f0c1a2d0000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0c1a0ef000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1a30f000)
\tlibmissing.so.2 => not found
"""


def test_linked_libraries_parses_ldd_and_skips_the_vdso_and_missing_ones():
    calls = []

    def run(*argv: str) -> Result:
        calls.append(argv)
        return Result(0, LDD, "")

    assert linked_libraries([so("_bz2"), so("_lzma")], run) == [
        "/lib/x86_64-linux-gnu/libbz2.so.1.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
    assert calls == [("ldd", so("_bz2")), ("ldd", so("_lzma"))]


def test_without_ldd_no_libraries():
    def run(*argv: str) -> Result:
        raise MdcError(argv[0], "the command is not installed", "install it")

    assert linked_libraries([so("_bz2")], run) == []


def test_rescue_files_on_this_interpreter():
    copy, exclude, libraries = rescue_files(lambda *argv: Result(0, LDD, ""))
    assert any(path.endswith("/jinja2") for path in copy) and any(path.endswith("/plumbum") for path in copy)
    excluded = {os.path.basename(path).split(".", 1)[0] for path in exclude if path.endswith(".so")}
    if excluded:  # an interpreter with a lib-dynload directory
        assert "_ssl" in excluded or not any("_ssl" in path for path in exclude)
        assert "_json" not in excluded and "_posixsubprocess" not in excluded
    assert all(lib.startswith("/") for lib in libraries)


def test_importing_all_of_the_helper_loads_no_excluded_stdlib_part():
    # The rescue system has the standard library without STDLIB_EXCLUDES: a module of the helper (or of
    # jinja2, markupsafe, plumbum) that imported one of them would fail there, on disaster day. A fresh
    # interpreter imports every module of the package and the third-party ones, as the rescue system would.
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import rear_mdcontainer
        for info in pkgutil.iter_modules(rear_mdcontainer.__path__, "rear_mdcontainer."):
            if not info.name.endswith(".__main__"):
                importlib.import_module(info.name)
        for name in ("jinja2", "markupsafe", "plumbum", "plumbum.cmd", "plumbum.commands.processes"):
            importlib.import_module(name)
        print("\\n".join(sorted(sys.modules)))
    """)
    env = {**os.environ, "PYTHONPATH": str(PYHELPERS)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    loaded = {name.split(".", 1)[0] for name in out.split()}
    excluded = {pattern.removesuffix(".py") for pattern in STDLIB_EXCLUDES if "*" not in pattern}
    assert "asyncio" in excluded and "email" not in excluded and "encodings" not in excluded
    assert not loaded & excluded, sorted(loaded & excluded)
    assert {"jinja2", "plumbum", "subprocess", "json"} <= loaded
