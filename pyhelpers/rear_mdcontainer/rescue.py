"""What the rescue system needs to run the helper.

ReaR 2.7 has no Python support of its own (2.9 has PYTHON_INTERPRETER for
other purposes), so the plugin names the files itself: the interpreter, the
standard library without the parts the helper never imports, and the
third-party packages it imports (jinja2 with markupsafe, plumbum).  The
package itself lives below /usr/share/rear, which ReaR always copies.

C extension modules (``lib-dynload``) are the exception to "the whole
standard library": ReaR copies COPY_AS_IS files as they are, without the
shared libraries they link, and its final check of the rescue system
(build/default/990_verify_rootfs.sh) runs ldd on every one of them and
complains about each missing library (libssl for _ssl, libsqlite3, libdb,
libffi, ...). So only the extension modules that the helper actually loads
(found by importing all of it, here, on the original system) and a few that
the standard library imports lazily are copied, and the libraries they link
are handed to ReaR's LIBS, which copies them with their own dependencies.
"""

from __future__ import annotations

import glob
import importlib
import os
import pkgutil
import re
import sys
import sysconfig

from .errors import MdcError
from .system import Runner, plumbum_runner

THIRD_PARTY = ("jinja2", "markupsafe", "plumbum")
#: Standard library parts the helper never imports: large and useless in a rescue system.
STDLIB_EXCLUDES = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                   "distutils", "unittest", "sqlite3", "venv", "config-*", "__pycache__", "site-packages",
                   "dist-packages",
    # Neither the helper nor jinja2, markupsafe or plumbum import these, also not inside the functions
    # the helper calls (jinja2 imports asyncio only for async templates, plumbum ctypes only on Windows);
    # measured with make bench (c), they were 4 MiB of the 22 MiB the plugin added to the rescue tree.
    # tests/unit/test_rescue.py checks that importing all of the helper loads none of them.
    "asyncio", "multiprocessing", "xml", "xmlrpc", "concurrent", "wsgiref", "ctypes", "curses", "dbm",
    "_pydecimal.py", "pydoc.py", "doctest.py", "turtle.py", "pdb.py", "mailbox.py", "imaplib.py",
    "nntplib.py", "smtplib.py", "ftplib.py", "telnetlib.py",
)
#: Extension modules kept even when importing the helper does not load them: the standard
#: library imports these inside functions (subprocess, hashing fallbacks, json, time zones).
ALWAYS_EXTENSIONS = ("_posixsubprocess", "select", "fcntl", "_json", "math", "_struct", "binascii", "zlib",
                     "_datetime", "_bisect", "_heapq", "_random", "_md5", "_sha1", "_sha256", "_sha512",
                     "_sha2", "_sha3", "_blake2", "unicodedata", "termios", "array", "_contextvars", "_opcode",
                     "grp", "resource", "_queue", "mmap", "_zoneinfo", "_statistics", "_uuid")
#: Extension modules the helper's imports load but can do without, left out because of the size of
#: what they link (libssl and libcrypto, ~5 MiB): urllib.request (imported by plumbum) treats a
#: missing ssl as "no HTTPS", hashlib falls back to the interpreter's built-in md5/sha1/sha2/blake2.
OPTIONAL_EXTENSIONS = ("_ssl", "_hashlib")
LDD_PATH = re.compile(r"=>\s*(/\S+)|^\s*(/\S+)\s+\(")


def dynload_dir() -> str | None:
    """Where the interpreter's C extension modules are (Debian: <stdlib>/lib-dynload)."""
    paths = sysconfig.get_paths()
    for base in (paths.get("platstdlib", ""), paths["stdlib"]):
        candidate = os.path.join(base, "lib-dynload")
        if base and os.path.isdir(candidate):
            return candidate
    return None


def loaded_extensions(directory: str) -> set[str]:
    """Extension module files below ``directory`` loaded after importing the whole helper."""
    from . import __path__ as package_path

    for info in pkgutil.iter_modules(package_path, f"{__package__}."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
    for name in THIRD_PARTY:
        importlib.import_module(name)
    real = os.path.realpath(directory)
    loaded = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.dirname(os.path.realpath(path)) == real:
            loaded.add(os.path.realpath(path))
    return loaded


def linked_libraries(paths: list[str], run: Runner = plumbum_runner) -> list[str]:
    """The shared libraries that ``paths`` link (ldd; the vDSO has no path and is left out)."""
    libraries: set[str] = set()
    for path in paths:
        try:
            result = run("ldd", path)
        except MdcError:  # no ldd: ReaR's own check will name what is missing
            return []
        for line in result.out.splitlines():
            match = LDD_PATH.search(line)
            if match:
                libraries.add(match.group(1) or match.group(2))
    return sorted(libraries)


def select_extensions(available: list[str], loaded: set[str]) -> tuple[list[str], list[str]]:
    """(kept, left out) of the extension module files ``available``."""
    kept, left_out = [], []
    for path in sorted(available):
        name = os.path.basename(path).split(".", 1)[0]
        if name in OPTIONAL_EXTENSIONS:
            left_out.append(path)
        elif os.path.realpath(path) in loaded or name in ALWAYS_EXTENSIONS:
            kept.append(path)
        else:
            left_out.append(path)
    return kept, left_out


def rescue_files(run: Runner = plumbum_runner) -> tuple[list[str], list[str], list[str]]:
    """(paths to copy, exclude patterns, libraries) for ReaR's COPY_AS_IS / COPY_AS_IS_EXCLUDE / LIBS."""
    stdlib = sysconfig.get_paths()["stdlib"]
    copy = [stdlib]
    exclude = [os.path.join(stdlib, pattern) for pattern in STDLIB_EXCLUDES]
    libraries: list[str] = []
    dynload = dynload_dir()
    if dynload is not None:
        if not dynload.startswith(stdlib + os.sep):
            copy.append(dynload)
        kept, left_out = select_extensions(glob.glob(os.path.join(dynload, "*.so")), loaded_extensions(dynload))
        exclude.extend(left_out)
        libraries = linked_libraries(kept, run)
    for name in THIRD_PARTY:
        module = importlib.import_module(name)
        path = os.path.dirname(os.path.abspath(module.__file__ or ""))
        copy.append(path)
        exclude.append(os.path.join(path, "__pycache__"))
        # Compiled speedups (markupsafe._speedups) link libraries too.
        libraries.extend(lib for lib in linked_libraries(glob.glob(os.path.join(path, "*.so")), run)
                         if lib not in libraries)
    # The interpreter under the name MDCONTAINER_PYTHON gives (a link like
    # /usr/bin/python3) and the binary it points to:
    copy.append(sys.executable)
    if os.path.realpath(sys.executable) != sys.executable:
        copy.append(os.path.realpath(sys.executable))
    return copy, exclude, libraries
