"""The live system as the recovery steps see it: sysfs, mounts and commands.

All reads go through :class:`System`, whose roots can point at a fake tree,
and all commands through a :class:`Runner`, which the tests replace, so the
decisions of preflight and teardown are tested without root and without disks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .errors import MdcError


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


class Runner(Protocol):
    def __call__(self, *argv: str) -> Result:
        """Run argv (no shell) and return its exit status and output."""


def plumbum_runner(*argv: str) -> Result:
    from plumbum import local
    from plumbum.commands.processes import CommandNotFound

    try:
        command = local[argv[0]]
    except CommandNotFound:
        raise MdcError(argv[0], "the command is not installed", f"install the package providing {argv[0]}") from None
    rc, out, err = command[list(argv[1:])].run(retcode=None)
    return Result(int(rc), str(out), str(err))


class System:
    """sysfs, procfs and /dev below configurable roots (``MDCONTAINER_SYSROOT`` for tests)."""

    def __init__(self, root: str = "/", runner: Runner = plumbum_runner) -> None:
        self.root = Path(root)
        self.run = runner

    # --- paths -----------------------------------------------------------------
    def sys_block(self, name: str = "") -> Path:
        return self.root / "sys" / "class" / "block" / name if name else self.root / "sys" / "class" / "block"

    def dev(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read(self, path: Path, default: str = "") -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return default

    # --- block devices ---------------------------------------------------------
    def kernel_name(self, device: str) -> str:
        """/dev/sda -> sda, following /dev/disk/by-id/... links; '' when there is no such device."""
        path = self.dev(device)
        try:
            resolved = Path(os.path.realpath(path))
            mode = resolved.stat().st_mode
        except OSError:
            return ""
        if not stat.S_ISBLK(mode) and not self._fake_block(resolved):
            return ""
        name = resolved.name
        return name if self.sys_block(name).exists() else ""

    def kernel_names(self, devices: Iterable[str]) -> list[str]:
        """Kernel names of those of ``devices`` that exist (see :meth:`kernel_name`)."""
        return [name for name in map(self.kernel_name, devices) if name]

    def _fake_block(self, path: Path) -> bool:
        # In a test tree regular files stand in for device nodes.
        return self.root != Path("/") and path.is_file()

    def size_bytes(self, name: str) -> int:
        value = self.read(self.sys_block(name) / "size", "0")
        return int(value) * 512 if value.isdigit() else 0

    def partitions(self, name: str) -> list[str]:
        base = self.sys_block(name)
        try:
            return sorted(p.name for p in base.iterdir() if (p / "partition").exists())
        except OSError:
            return []

    def holders(self, name: str) -> list[str]:
        try:
            return sorted(p.name for p in (self.sys_block(name) / "holders").iterdir())
        except OSError:
            return []

    def slaves(self, name: str) -> list[str]:
        try:
            return sorted(p.name for p in (self.sys_block(name) / "slaves").iterdir())
        except OSError:
            return []

    def md_value(self, md: str, key: str) -> str:
        return self.read(self.sys_block(md) / "md" / key)

    def md_members(self, md: str) -> list[str]:
        try:
            return sorted(p.name[4:] for p in (self.sys_block(md) / "md").glob("dev-*"))
        except OSError:
            return []

    def dev_numbers(self, name: str) -> str:
        """'8:0' for sda."""
        return self.read(self.sys_block(name) / "dev")

    def labels(self) -> dict[str, str]:
        """File system label -> kernel name, from udev's /dev/disk/by-label links."""
        result = {}
        base = self.dev("/dev/disk/by-label")
        try:
            links = sorted(base.iterdir())
        except OSError:
            return {}
        for link in links:
            result[link.name] = Path(os.path.realpath(link)).name
        return result

    # --- mounts and swap -------------------------------------------------------
    def mounts(self) -> list[tuple[str, str]]:
        """(major:minor, mount point) of every mount."""
        result = []
        for line in self.read(self.root / "proc" / "self" / "mountinfo").splitlines():
            fields = line.split()
            if len(fields) > 4:
                result.append((fields[2], fields[4].replace("\\040", " ")))
        return result

    def swaps(self) -> list[str]:
        lines = self.read(self.root / "proc" / "swaps").splitlines()[1:]
        return [line.split()[0] for line in lines if line.split()]
