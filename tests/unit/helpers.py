"""Builders shared by the unit tests: sample models and a fake system tree.

:class:`FakeTree` lays out the few parts of sysfs, procfs and /dev that
:class:`rear_mdcontainer.system.System` reads, below a temporary directory
(regular files stand in for device nodes), and is itself the command runner:
it records every argv and answers like mdadm, dmsetup and udevadm would,
including the effect of ``mdadm --stop`` / ``dmsetup remove`` on the holders.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rear_mdcontainer.model import Container, Layout, Volume
from rear_mdcontainer.render import render_container, render_volume
from rear_mdcontainer.system import Result, System

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024

UUID_C = "4d5cf215:80024c95:e19fdff4:2fba35a8"
UUID_V0 = "ffb80762:127807b3:3d7e4f4d:4532022f"
UUID_V1 = "0a1b2c3d:4e5f6071:8293a4b5:c6d7e8f9"


def imsm_container(devices: tuple[str, ...] = ("/dev/sda", "/dev/sdb"), device: str = "/dev/md127") -> Container:
    return Container(device=device, metadata="imsm", devices=devices, name="imsm0", uuid=UUID_C)


def raid1_volume(name: str = "Volume0", size_kib: int = GIB // 1024, member: int = 0, device: str = "/dev/md126",
                 devices: tuple[str, ...] = ("/dev/sda", "/dev/sdb"), offset: int | None = 0,
                 container: str = "/dev/md127") -> Volume:
    return Volume(device=device, container=container, member=member, level="raid1", raid_devices=len(devices),
                  devices=devices, size_kib=size_kib, name=name, array_size_kib=size_kib, uuid=UUID_V0,
                  offset_sectors=offset, metadata="imsm")


def imsm_raid1_layout(name: str = "Volume0", size_kib: int = GIB // 1024) -> Layout:
    return Layout(containers=(imsm_container(),), volumes=(raid1_volume(name=name, size_kib=size_kib),))


def two_volume_layout() -> Layout:
    """IMSM RAID1 (member 0, 1 GiB) and RAID0 (member 1, 512 MiB per disk, chunk 64) on sda+sdb."""
    first = raid1_volume(name="System", size_kib=1048576, offset=0)
    second = Volume(device="/dev/md125", container="/dev/md127", member=1, level="raid0", raid_devices=2,
                    devices=("/dev/sda", "/dev/sdb"), size_kib=524288, name="Scratch", array_size_kib=1048576,
                    uuid=UUID_V1, chunk_kib=64, offset_sectors=2101248, metadata="imsm")
    return Layout(containers=(imsm_container(),), volumes=(first, second))


def ddf_layout() -> Layout:
    container = Container(device="/dev/md127", metadata="ddf", devices=("/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"),
                          name="ddf0")
    volume = Volume(device="/dev/md126", container="/dev/md127", member=0, level="raid6", raid_devices=4,
                    devices=("/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"), size_kib=1048576, name="Data 6",
                    chunk_kib=64, layout="ddf-N-restart", metadata="ddf")
    return Layout(containers=(container,), volumes=(volume,))


# --- rendered code ------------------------------------------------------------------------------

STUBS = ("mdadm", "mdcontainer_helper", "LogPrint", "wipefs", "my_udevsettle", "systemctl", "parted", "Error", "LogPrintError")
CALL = "\x01"


def render_all(layout: Layout, *, no_platform: bool = True, grow_last: bool = False, wait_seconds: int = 60,
               reuse: bool = False) -> str:
    code = []
    for container in layout.containers:
        code.append(render_container(layout, container.device, no_platform=no_platform,
                                     no_platform_setting="yes" if no_platform else "no", grow_last=grow_last,
                                     wait_seconds=wait_seconds, reuse=reuse))
        for volume in layout.volumes_of(container):
            code.append(render_volume(layout, volume.device, wait_seconds=wait_seconds))
    return "".join(code)


def bash_syntax_ok(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True, check=False)


def run_with_stubs(tmp_path: Path, code: str) -> list[tuple[str, ...]]:
    """Run ``code`` under ``set -e`` with recording stubs first on PATH; the calls, each as its argv."""
    bindir = tmp_path / "stubs"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    for name in STUBS:
        stub = bindir / name
        stub.write_text('#!/bin/bash\n{ printf \'\\001%s\\n\' "${0##*/}"; for arg in "$@"; do printf \'%s\\n\' "$arg"; '
                        'done; } >> "$STUB_LOG"\n', encoding="utf-8")
        stub.chmod(0o755)
    script = tmp_path / "diskrestore.sh"
    script.write_text("set -e\n" + code, encoding="utf-8")
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "STUB_LOG": str(log), "LAYOUT_FILE": str(tmp_path / "disklayout.conf"),
           "TARGET_FS_ROOT": "/mnt/local",
           "HOME": str(tmp_path), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(["bash", str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    calls: list[tuple[str, ...]] = []
    for line in log.read_text(encoding="utf-8").split("\n")[:-1]:
        if line.startswith(CALL):
            calls.append((line[1:],))
        else:
            calls[-1] = (*calls[-1], line)
    return calls



# --- a fake system ---------------------------------------------------------------------------------

class FakeTree:
    """A fake sysfs/procfs//dev below ``root`` and a recording command runner."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[tuple[str, ...]] = []
        self.mdadm_version = "mdadm - v4.2 - 2021-12-30"
        self.platform = True
        #: When False, commands have no effect on the tree (a holder that will not go away).
        self.effects = True
        #: State ``mdadm --readwrite`` switches a volume to (None: no change).
        self.readwrite_state: str | None = "active"
        #: argv -> Result for commands that should fail.
        self.results: dict[tuple[str, ...], Result] = {}
        #: argv -> Results for the next calls of argv, one each (then as usual).
        self.results_once: dict[tuple[str, ...], list[Result]] = {}
        self.sys = root / "sys" / "class" / "block"
        self.sys.mkdir(parents=True)
        (root / "proc" / "self").mkdir(parents=True)
        (root / "proc" / "self" / "mountinfo").write_text("", encoding="utf-8")
        (root / "proc" / "swaps").write_text("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n", encoding="utf-8")
        (root / "dev").mkdir()
        self.system = System(root=str(root), runner=self)

    # --- building the tree -------------------------------------------------------
    def block(self, name: str, dev: str, size_bytes: int = 2 * GIB, parent: str = "") -> Path:
        if parent:
            path = self.sys / parent / name
            path.mkdir(parents=True)
            (path / "partition").write_text(name[len(parent):].lstrip("p") + "\n", encoding="utf-8")
            (self.sys / name).symlink_to(f"{parent}/{name}")
        else:
            path = self.sys / name
            path.mkdir(parents=True)
        (path / "size").write_text(f"{size_bytes // 512}\n", encoding="utf-8")
        (path / "dev").write_text(f"{dev}\n", encoding="utf-8")
        (path / "holders").mkdir()
        (path / "slaves").mkdir()
        (self.root / "dev" / name).write_text("", encoding="utf-8")
        return path

    def hold(self, holder: str, *held: str) -> None:
        for name in held:
            (self.sys / name / "holders" / holder).write_text("", encoding="utf-8")
            (self.sys / holder / "slaves" / name).write_text("", encoding="utf-8")

    def md(self, name: str, dev: str, version: str, state: str, members: tuple[str, ...],
           size_bytes: int = GIB) -> Path:
        path = self.block(name, dev, size_bytes)
        (path / "md").mkdir()
        (path / "md" / "metadata_version").write_text(f"{version}\n", encoding="utf-8")
        (path / "md" / "array_state").write_text(f"{state}\n", encoding="utf-8")
        for member in members:
            (path / "md" / f"dev-{member}").mkdir()
        self.hold(name, *members)
        return path

    def dm(self, name: str, dev: str, dm_name: str, *held: str) -> None:
        path = self.block(name, dev, GIB)
        (path / "dm").mkdir()
        (path / "dm" / "name").write_text(f"{dm_name}\n", encoding="utf-8")
        self.hold(name, *held)

    def mount(self, name: str, mountpoint: str) -> None:
        dev = (self.sys / name / "dev").read_text(encoding="utf-8").strip()
        mountinfo = self.root / "proc" / "self" / "mountinfo"
        number = len(mountinfo.read_text(encoding="utf-8").splitlines()) + 30
        line = f"{number} 1 {dev} / {mountpoint.replace(' ', chr(92) + '040')} rw,relatime shared:1 - ext4 /dev/{name} rw\n"
        with mountinfo.open("a", encoding="utf-8") as handle:
            handle.write(line)

    def swap(self, name: str) -> None:
        with (self.root / "proc" / "swaps").open("a", encoding="utf-8") as handle:
            handle.write(f"/dev/{name}                               partition\t1048572\t\t0\t\t-2\n")

    def label(self, label: str, name: str) -> None:
        base = self.root / "dev" / "disk" / "by-label"
        base.mkdir(parents=True, exist_ok=True)
        (base / label).symlink_to(f"../../{name}")

    def md_state(self, name: str) -> str:
        return (self.sys / name / "md" / "array_state").read_text(encoding="utf-8").strip()

    def set_md_state(self, name: str, state: str) -> None:
        (self.sys / name / "md" / "array_state").write_text(f"{state}\n", encoding="utf-8")

    def standard_imsm(self) -> None:
        """IMSM RAID1 volume md126 (GPT, LVM on p2) in container md127 on sda+sdb, and a
        foreign native RAID1 md0 on sdc1+sdd1 mounted on /srv."""
        for disk, major_minor in (("sda", 0), ("sdb", 16)):
            self.block(disk, f"8:{major_minor}")
            self.block(f"{disk}1", f"8:{major_minor + 1}", MIB, parent=disk)
            self.block(f"{disk}2", f"8:{major_minor + 2}", GIB, parent=disk)
        self.md("md127", "9:127", "external:imsm", "inactive", ("sda", "sdb"), 0)
        self.md("md126", "9:126", "external:/md127/0", "active", ("sda", "sdb"))
        self.block("md126p1", "259:0", MIB, parent="md126")
        self.block("md126p2", "259:1", GIB - 2 * MIB, parent="md126")
        self.dm("dm-0", "253:0", "vg0-root", "md126p2")
        for disk, major_minor in (("sdc", 32), ("sdd", 48)):
            self.block(disk, f"8:{major_minor}")
            self.block(f"{disk}1", f"8:{major_minor + 1}", GIB, parent=disk)
        self.md("md0", "9:0", "1.2", "clean", ("sdc1", "sdd1"))
        self.mount("md0", "/srv")

    # --- the runner ----------------------------------------------------------------
    def __call__(self, *argv: str) -> Result:
        self.calls.append(tuple(argv))
        if self.results_once.get(tuple(argv)):
            return self.results_once[tuple(argv)].pop(0)
        if tuple(argv) in self.results:
            return self.results[tuple(argv)]
        if argv[:2] == ("mdadm", "--version"):
            return Result(0, "", self.mdadm_version + "\n")
        if argv[:2] == ("mdadm", "--detail-platform"):
            if self.platform:
                return Result(0, "       Platform : Intel(R) Rapid Storage Technology\n", "")
            return Result(1, "", "mdadm: imsm: Cannot find any Intel RAID controller\n")
        if not self.effects:
            return Result(0, "", "")
        if argv[:2] == ("mdadm", "--stop"):
            name = argv[2].rsplit("/", 1)[-1]
            self._drop_holder(name)
            self.set_md_state(name, "clear")
        elif argv[:2] == ("dmsetup", "remove"):
            for path in self.sys.iterdir():
                if (path / "dm" / "name").is_file() and (path / "dm" / "name").read_text().strip() == argv[-1]:
                    self._drop_holder(path.name)
        elif argv[:2] == ("mdadm", "--readwrite") and self.readwrite_state:
            self.set_md_state(argv[2].rsplit("/", 1)[-1], self.readwrite_state)
        return Result(0, "", "")

    def _drop_holder(self, name: str) -> None:
        for directory, _subdirs, _files in os.walk(self.sys):
            holder = Path(directory) / name
            if Path(directory).name == "holders" and holder.exists():
                holder.unlink()

    def argvs(self, program: str) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] == program]

    def mentions(self, word: str) -> list[tuple[str, ...]]:
        """Calls with an argument that names ``word`` (a kernel name or a /dev path)."""
        return [call for call in self.calls if any(arg in (word, f"/dev/{word}") for arg in call)]
