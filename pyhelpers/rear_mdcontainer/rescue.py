"""What the rescue system needs to run the helper.

ReaR 2.7 has no Python support of its own (2.9 has PYTHON_INTERPRETER for
other purposes), so the plugin names the files itself: the interpreter, the
standard library without the parts the helper never imports, and the
third-party packages it imports (jinja2 with markupsafe, plumbum).  The
package itself lives below /usr/share/rear, which ReaR always copies.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig

THIRD_PARTY = ("jinja2", "markupsafe", "plumbum")
#: Standard library parts the helper never imports: large and useless in a rescue system.
STDLIB_EXCLUDES = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                   "distutils", "unittest", "sqlite3", "venv", "config-*", "__pycache__", "site-packages",
                   "dist-packages")


def rescue_files() -> tuple[list[str], list[str]]:
    """(paths to copy, exclude patterns) for ReaR's COPY_AS_IS / COPY_AS_IS_EXCLUDE."""
    stdlib = sysconfig.get_paths()["stdlib"]
    copy = [stdlib]
    exclude = [os.path.join(stdlib, pattern) for pattern in STDLIB_EXCLUDES]
    dynload = sysconfig.get_paths().get("platstdlib", stdlib)
    if dynload != stdlib:
        copy.append(dynload)
    for name in THIRD_PARTY:
        module = importlib.import_module(name)
        path = os.path.dirname(os.path.abspath(module.__file__ or ""))
        copy.append(path)
        exclude.append(os.path.join(path, "__pycache__"))
    # The interpreter under the name MDCONTAINER_PYTHON gives (a link like
    # /usr/bin/python3) and the binary it points to:
    copy.append(sys.executable)
    if os.path.realpath(sys.executable) != sys.executable:
        copy.append(os.path.realpath(sys.executable))
    return copy, exclude
