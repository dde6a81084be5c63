"""QEMU test bed for rear-mdcontainer: a Debian VM with mdadm, udev and ReaR.

The image (tests/vm/build-image.sh) boots a tiny initramfs straight into a
Debian root on a per-VM qcow2 overlay, mounts a 9p share from the host at
/mnt/host, installs the plugin tree from ``<share>/install`` (``make install
DESTDIR=...``), runs ``<share>/run.sh`` with output to ``<share>/out.log``,
writes ``<share>/rc`` and powers off. Data disks are sparse raw files on the
host, attached as AHCI SATA disks with serial numbers (IMSM needs them); they
persist between the boots of one VM object.

Usage::

    vm = VM(tmp_path, [DiskSpec("a", 512), DiskSpec("b", 512)])
    res = vm.run('''
        mdadm --create /dev/md/imsm0 --run -e imsm -n 2 $(disk a) $(disk b)
        cat /proc/mdstat
    ''')
    assert res.rc == 0, res.output
    vm.remove_disk("b")          # the next boot runs without it
    res = vm.run("cat /proc/mdstat").check()

``VM(..., plugin="deb")`` installs the Debian package instead: the host builds
it (``make deb``) into the VM's work directory, puts it into
``<share>/packages`` with ``installed-files.txt`` (``make installed-files`` of
the packaged sources), leaves ``<share>/install`` out, and run.sh starts with
``dpkg -i`` (the image has its dependencies).

Environment: MDC_VM_CACHE (image cache root), MDC_VM_IMAGE (use this image
directory as is), MDC_VM_ACCEL (default tcg), MDC_VM_CPU (QEMU's -cpu, default
qemu64 under TCG, host otherwise), MDC_VM_CPUS, MDC_VM_VERBOSE=1
(kernel messages on the console), MDC_VM_SUITE (default bookworm).

Command line: ``python -m tests.vm.vmlib build|path|prune|boot-time``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import lzma
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal, Union

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
BUILD_SCRIPT = HERE / "build-image.sh"
PRELUDE = HERE / "prelude.sh"
DEFAULT_SUITE = "bookworm"
PORTS_PER_AHCI = 6
IMAGE_FILES = ("root.qcow2", "vmlinuz", "initrd.img")
QBOOT = Path("/usr/share/qemu/qboot.rom")
#: Debian's OVMF (package ovmf) for firmware="uefi": the code (read only) and the template of a variable store.
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# How the plugin gets into the guest: True (`make install` tree), False (not at all), "deb" (the package).
PluginMode = Union[bool, Literal["deb"]]


class VMError(RuntimeError):
    """The VM did not produce a result (boot failure, crash, no rc file)."""


class VMTimeout(VMError):
    """The VM did not power off in time; QEMU was killed."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def suite_default() -> str:
    return os.environ.get("MDC_VM_SUITE", "") or DEFAULT_SUITE


def cache_root() -> Path:
    """``${MDC_VM_CACHE:-${XDG_CACHE_HOME:-~/.cache}/rear-mdcontainer}``."""
    explicit = os.environ.get("MDC_VM_CACHE", "")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "") or str(Path.home() / ".cache")
    return Path(xdg) / "rear-mdcontainer"


def image_key(suite: str) -> str:
    """``<suite>-<sha256(build-image.sh + suite)[:16]>``: a new script builds a new image."""
    digest = hashlib.sha256(BUILD_SCRIPT.read_bytes() + b"\0" + suite.encode()).hexdigest()
    return f"{suite}-{digest[:16]}"


@dataclasses.dataclass(frozen=True)
class Image:
    """A built image directory: root.qcow2 (never written), vmlinuz, initrd.img."""

    path: Path
    suite: str

    @property
    def root(self) -> Path:
        return self.path / "root.qcow2"

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"

    def complete(self) -> bool:
        return all((self.path / name).is_file() for name in IMAGE_FILES)

    def boot_kernel(self) -> Path:
        """The kernel to pass to QEMU: the uncompressed ELF vmlinux if it can be had.

        QEMU boots an ELF vmlinux through its PVH entry point, which skips the
        real-mode setup and the xz decompression of the bzImage (~6 s under
        TCG). Extracted once next to vmlinuz; vmlinuz if that fails.
        """
        target = self.path / "vmlinux"
        if target.is_file():
            return target
        try:
            data = self.kernel.read_bytes()
            offset = data.find(b"\xfd7zXZ\x00")
            if offset < 0:
                return self.kernel
            elf = lzma.LZMADecompressor().decompress(data[offset:])
        except (OSError, lzma.LZMAError):
            return self.kernel
        if not elf.startswith(b"\x7fELF"):
            return self.kernel
        try:
            with tempfile.NamedTemporaryFile(dir=self.path, prefix=".vmlinux.", delete=False) as tmp:
                tmp.write(elf)
            os.replace(tmp.name, target)
        except OSError:
            return self.kernel
        return target


def image_dir(suite: str | None = None) -> Path:
    suite = suite or suite_default()
    return cache_root() / "images" / image_key(suite)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_image(suite: str | None = None, *, quiet: bool = False) -> Image:
    """Return the image for ``suite``, building it first if it is not cached.

    MDC_VM_IMAGE names an image directory to use as is. Otherwise the image
    lives in ``<cache>/images/<suite>-<hash>``; it is built into a temporary
    directory beside it and renamed, under an fcntl lock, so concurrent test
    workers build it once. The build log stays in ``<image>.log``.
    """
    suite = suite or suite_default()
    explicit = os.environ.get("MDC_VM_IMAGE", "")
    if explicit:
        image = Image(Path(explicit), suite)
        if not image.complete():
            raise VMError(f"MDC_VM_IMAGE={explicit} lacks one of {IMAGE_FILES}")
        return image
    target = image_dir(suite)
    image = Image(target, suite)
    if image.complete():
        return image
    with _locked(target.parent / f".{target.name}.lock"):
        if image.complete():
            return image
        log = target.parent / f"{target.name}.log"
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        if not quiet:
            print(f"vmlib: building {suite} image into {target} (log {log}), takes ~5 min",
                  file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            with open(log, "w") as out:
                proc = subprocess.run(["bash", str(BUILD_SCRIPT), str(tmp), suite],
                                      stdout=out, stderr=subprocess.STDOUT, check=False)
            if proc.returncode != 0 or not Image(tmp, suite).complete():
                tail = log.read_text(errors="replace")[-3000:]
                raise VMError(f"image build failed (rc {proc.returncode}), log {log}:\n{tail}")
            if target.exists():
                shutil.rmtree(target)
            tmp.chmod(0o755)
            os.rename(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        if not quiet:
            print(f"vmlib: image built in {time.monotonic() - started:.0f} s",
                  file=sys.stderr, flush=True)
    return image


def prune_images(keep: Sequence[Path] = ()) -> list[Path]:
    """Remove cached images other than the current ones (and ``keep``)."""
    images = cache_root() / "images"
    if not images.is_dir():
        return []
    keep_names = {p.name for p in keep} | {image_dir(s).name for s in (suite_default(),)}
    removed = []
    for entry in sorted(images.iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in keep_names:
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


@dataclasses.dataclass(frozen=True)
class DiskSpec:
    """A data disk: a sparse raw file ``<workdir>/disks/<name>.raw`` of ``size_mib``.

    ``serial`` is the ATA serial (IMSM keys members by it; at most 20
    characters, IMSM keeps 16). Empty means ``MDC-<NAME>``. ``port`` pins the
    disk to a global AHCI port number (controller = port // 6); None takes the
    lowest free port in list order. The guest sees the disk as
    /dev/disk/by-id/ata-QEMU_HARDDISK_<serial>; the prelude's ``disk NAME``
    resolves it.
    """

    name: str
    size_mib: int
    serial: str = ""
    port: int | None = None

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(f"disk name must be [A-Za-z0-9_-]+: {self.name!r}")
        if len(self.effective_serial) > 20:
            raise ValueError(f"ATA serial longer than 20 characters: {self.effective_serial!r}")

    @property
    def effective_serial(self) -> str:
        return self.serial or f"MDC-{self.name.upper()}"


@dataclasses.dataclass
class RunResult:
    """What one boot gave back.

    rc: exit status of run.sh; output: its stdout+stderr (out.log);
    share_dir: the 9p share (files the script wrote under /mnt/host);
    console_log: the serial console text; console_path: its file;
    seconds: wall time of the boot; boot_seconds: guest uptime when the
    scenario started (None if it never did).
    """

    rc: int
    output: str
    share_dir: Path
    console_log: str
    console_path: Path
    seconds: float
    boot_seconds: float | None

    def check(self) -> RunResult:
        """Raise VMError unless rc is 0; returns self for chaining."""
        if self.rc != 0:
            raise VMError(f"scenario failed with rc {self.rc}\n--- output (tail) ---\n"
                          f"{self.output[-6000:]}\n--- console (tail) ---\n{self.console_log[-2000:]}")
        return self

    def file(self, relpath: str) -> str:
        """Text of a file the scenario wrote as /mnt/host/<relpath>."""
        return (self.share_dir / relpath).read_text(errors="replace")


class VM:
    """One test machine: a qcow2 overlay of the image plus persistent data disks.

    Disks are created (sparse) on first use. Change them between boots with
    add_disk / remove_disk / attach_disk / replace_disk. Each run() boots
    the machine once, in a fresh share directory ``<workdir>/runs/NN-<label>``.
    The root overlay persists between boots (reset_root() drops it).
    """

    def __init__(self, workdir: str | os.PathLike[str], disks: Sequence[DiskSpec] = (),
                 memory_mib: int = 1024, suite: str | None = None, plugin: PluginMode = True,
                 image: Image | None = None, cpus: int | None = None,
                 kernel_args: str = "", firmware: str = "bios") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.memory_mib = memory_mib
        self.suite = suite or suite_default()
        if plugin not in (True, False, "deb"):
            raise ValueError(f"plugin must be True, False or 'deb', not {plugin!r}")
        self.plugin = plugin
        self._deb: Path | None = None
        self.cpus = cpus or _env_int("MDC_VM_CPUS", 1)
        self.kernel_args = kernel_args
        if firmware not in ("bios", "uefi"):
            raise ValueError(f"firmware must be 'bios' or 'uefi', not {firmware!r}")
        if firmware == "uefi" and not OVMF_CODE.is_file():
            raise VMError(f"firmware='uefi' needs {OVMF_CODE} (Debian package ovmf)")
        self.firmware = firmware
        self.extra_qemu_args: list[str] = []
        self._image = image
        self.disks: list[DiskSpec] = []
        self._detached: dict[str, DiskSpec] = {}
        self._runs = 0
        for spec in disks:
            self.add_disk(spec)

    # --- image and disks -------------------------------------------------------------------

    @property
    def image(self) -> Image:
        if self._image is None:
            self._image = ensure_image(self.suite)
        return self._image

    @property
    def overlay(self) -> Path:
        return self.workdir / "root-overlay.qcow2"

    @property
    def efi_vars(self) -> Path:
        """This machine's UEFI variable store (firmware='uefi'): kept between boots, like NVRAM."""
        return self.workdir / "OVMF_VARS.fd"

    def reset_root(self) -> None:
        """Forget changes to the root file system: the next boot starts from the image."""
        self.overlay.unlink(missing_ok=True)

    def disk_path(self, name: str) -> Path:
        return self.workdir / "disks" / f"{name}.raw"

    def _spec(self, name: str) -> DiskSpec:
        for spec in self.disks:
            if spec.name == name:
                return spec
        if name in self._detached:
            return self._detached[name]
        raise KeyError(f"no disk {name!r}")

    def _create_file(self, spec: DiskSpec) -> None:
        path = self.disk_path(spec.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with open(path, "wb") as handle:
                handle.truncate(spec.size_mib * 1024 * 1024)

    def add_disk(self, spec: DiskSpec, position: int | None = None) -> DiskSpec:
        """Attach a new (blank, if its file does not exist) disk from the next boot on.

        ``position`` inserts it at that index of the disk list; without pinned
        ports this shifts the guest names (sdX) of the disks after it.
        """
        if any(d.name == spec.name for d in self.disks):
            raise ValueError(f"disk {spec.name!r} already attached")
        if any(d.effective_serial == spec.effective_serial for d in self.disks):
            raise ValueError(f"serial {spec.effective_serial!r} already in use")
        self._detached.pop(spec.name, None)
        self._create_file(spec)
        if position is None:
            self.disks.append(spec)
        else:
            self.disks.insert(position, spec)
        return spec

    def remove_disk(self, name: str, delete: bool = False) -> DiskSpec:
        """Detach a disk from the next boot on; its file is kept unless ``delete``."""
        spec = self._spec(name)
        self.disks = [d for d in self.disks if d.name != name]
        if delete:
            self.disk_path(name).unlink(missing_ok=True)
            self._detached.pop(name, None)
        else:
            self._detached[name] = spec
        return spec

    def attach_disk(self, name: str, position: int | None = None) -> DiskSpec:
        """Re-attach a disk removed with remove_disk (its contents unchanged)."""
        if name not in self._detached:
            raise KeyError(f"disk {name!r} is not detached")
        return self.add_disk(self._detached[name], position)

    def replace_disk(self, name: str, new: DiskSpec) -> DiskSpec:
        """Put a new blank disk where ``name`` was (same list position).

        The old file is deleted if the new disk has the same name, else kept
        (attach_disk can bring it back elsewhere).
        """
        index = [d.name for d in self.disks].index(name)
        old = self.disks[index]
        self.disks.pop(index)
        if new.name == old.name:
            self.disk_path(name).unlink(missing_ok=True)
        else:
            self._detached[old.name] = old
        return self.add_disk(new, index)

    def hash_disk(self, name: str) -> str:
        """sha256 of the whole disk file."""
        digest = hashlib.sha256()
        with open(self.disk_path(name), "rb") as handle:
            for block in iter(lambda: handle.read(4 * 1024 * 1024), b""):
                digest.update(block)
        return digest.hexdigest()

    def ports(self) -> dict[str, int]:
        """Global AHCI port of each attached disk (controller ahciN = port // 6)."""
        taken = {d.port for d in self.disks if d.port is not None}
        if len(taken) != sum(1 for d in self.disks if d.port is not None):
            raise ValueError("two disks pinned to the same port")
        result: dict[str, int] = {}
        free = (p for p in range(10_000) if p not in taken)
        for spec in self.disks:
            result[spec.name] = spec.port if spec.port is not None else next(free)
        return result

    # --- booting ---------------------------------------------------------------------------

    def _kernel_cmdline(self) -> str:
        args = ["root=/dev/vda", "rw", "console=ttyS0", "panic=-1", "mitigations=off",
                "systemd.show_status=0", "net.ifnames=0"]
        if os.environ.get("MDC_VM_VERBOSE", "") not in ("1", "yes", "true"):
            args += ["quiet", "loglevel=3", "udev.log_level=err"]
        if self.kernel_args:
            args.append(self.kernel_args)
        return " ".join(args)

    def qemu_command(self, share: Path, console: Path, boot: str = "kernel",
                     root: bool = True) -> list[str]:
        """The QEMU command line of one boot (see run() for ``boot`` and ``root``)."""
        accel = os.environ.get("MDC_VM_ACCEL", "") or "tcg"
        # Under TCG the plain qemu64 model: with "max" the guest kernel saves and restores the emulated
        # AVX-512 state (XSAVE) at every context switch, and boots and fork-heavy scripts (ReaR) ran
        # slower (boot 82-89 s vs 48-76 s measured side by side on a loaded 2-core host).
        cpu = os.environ.get("MDC_VM_CPU", "") or ("qemu64" if accel.startswith("tcg") else "host")
        cmd = ["qemu-system-x86_64", "-accel", accel, "-machine", "q35", "-nodefaults",
               "-cpu", cpu, "-smp", str(self.cpus), "-m", str(self.memory_mib),
               "-display", "none", "-monitor", "none", "-no-reboot",
               "-serial", f"file:{console}"]
        boot_disk = ""
        if self.firmware == "uefi":
            if not self.efi_vars.exists():
                shutil.copy(OVMF_VARS, self.efi_vars)
            cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={self.efi_vars}"]
        if boot == "kernel" and self.firmware == "uefi":
            # OVMF starts the bzImage's EFI stub; the ELF vmlinux (PVH) needs SeaBIOS/qboot.
            cmd += ["-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
                    "-append", self._kernel_cmdline()]
        elif boot == "kernel":
            kernel = self.image.boot_kernel()
            if kernel.name == "vmlinux" and QBOOT.is_file():
                # qboot: a minimal firmware that only boots -kernel, ~5 s faster than SeaBIOS under TCG.
                cmd += ["-bios", str(QBOOT)]
            cmd += ["-kernel", str(kernel), "-initrd", str(self.image.initrd),
                    "-append", self._kernel_cmdline()]
        elif boot.startswith("disk:"):
            boot_disk = boot[len("disk:"):]
            self._spec(boot_disk)
        elif boot == "firmware":
            # No boot device named: the firmware follows its own boot order (OVMF: the NVRAM's BootOrder).
            pass
        elif boot.startswith("cdrom:"):
            cmd += ["-drive", f"if=none,id=cd0,file={boot[len('cdrom:'):]},format=raw,media=cdrom,readonly=on",
                    "-device", "ahci,id=ahcicd", "-device", "ide-cd,drive=cd0,bus=ahcicd.0,bootindex=0"]
        else:
            raise ValueError(f"boot must be kernel, disk:NAME, cdrom:PATH or firmware, not {boot!r}")
        if boot != "kernel":
            # A graphics adapter, as every PC that boots through firmware has: without one, GRUB's
            # default grub.cfg (grub-mkconfig: load_video, gfxterm) hangs under SeaBIOS before the
            # kernel (seen: a restored system stuck after "Welcome to GRUB!", booting with VGA).
            cmd += ["-device", "VGA"]
        if root:
            cmd += ["-drive", f"if=none,id=root,file={self.overlay},format=qcow2,cache=unsafe,discard=unmap",
                    "-device", "virtio-blk-pci,drive=root"]
        cmd += ["-virtfs", f"local,path={share},mount_tag=host,security_model=none,id=host"]
        ports = self.ports()
        controllers = sorted({port // PORTS_PER_AHCI for port in ports.values()})
        for ctl in controllers:
            cmd += ["-device", f"ahci,id=ahci{ctl}"]
        for index, spec in enumerate(self.disks):
            port = ports[spec.name]
            self._create_file(spec)
            bootindex = ",bootindex=0" if spec.name == boot_disk else ""
            cmd += ["-drive", f"if=none,id=d{index},file={self.disk_path(spec.name)},"
                              f"format=raw,cache=unsafe",
                    "-device", f"ide-hd,drive=d{index},bus=ahci{port // PORTS_PER_AHCI}."
                               f"{port % PORTS_PER_AHCI},serial={spec.effective_serial}{bootindex}"]
        return cmd + self.extra_qemu_args

    def _prepare_share(self, label: str) -> tuple[Path, Path]:
        self._runs += 1
        rundir = self.workdir / "runs" / f"{self._runs:02d}-{label}"
        if rundir.exists():
            shutil.rmtree(rundir)
        share = rundir / "share"
        share.mkdir(parents=True)
        return rundir, share

    def _install_plugin(self, share: Path) -> None:
        if self.plugin == "deb":
            self._put_deb(share)
            return
        proc = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "install",
                               f"DESTDIR={share / 'install'}"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            raise VMError(f"make install failed:\n{proc.stdout}")

    def _put_deb(self, share: Path) -> None:
        """The .deb (built once per VM) and the list of its files into <share>/packages."""
        work = self.workdir / "deb"
        if self._deb is None:
            shutil.rmtree(work, ignore_errors=True)
            proc = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "deb", f"DISTDIR={work / 'dist'}",
                                   f"PKGBUILDDIR={work / 'build'}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
            debs = sorted((work / "dist").glob("*.deb"))
            if proc.returncode != 0 or len(debs) != 1:
                raise VMError(f"make deb failed:\n{proc.stdout[-4000:]}")
            self._deb = debs[0]
        sources = next((work / "build" / "src").iterdir())
        listing = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(sources), "installed-files"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if listing.returncode != 0:
            raise VMError(f"make installed-files failed:\n{listing.stdout}")
        packages = share / "packages"
        packages.mkdir()
        shutil.copy(self._deb, packages / self._deb.name)
        (packages / "installed-files.txt").write_text(listing.stdout)

    def _write_script(self, share: Path, script: str, env: Mapping[str, str] | None,
                      prelude: bool) -> None:
        lines = ["#!/bin/bash"]
        for key, value in (env or {}).items():
            if not key.isidentifier():
                raise ValueError(f"bad environment variable name {key!r}")
            lines.append(f"export {key}={shlex.quote(value)}")
        if self.plugin == "deb":
            lines.append("dpkg -i /mnt/host/packages/*.deb >/mnt/host/packages/dpkg-i.log 2>&1 || "
                         "{ cat /mnt/host/packages/dpkg-i.log; echo 'vmtest: dpkg -i failed'; exit 1; }")
        if prelude:
            shutil.copy(PRELUDE, share / "prelude.sh")
            lines.append(". /mnt/host/prelude.sh")
        lines.append(script)
        (share / "run.sh").write_text("\n".join(lines) + "\n")
        with open(share / "disks.txt", "w") as handle:
            for spec in self.disks:
                handle.write(f"{spec.name} {spec.effective_serial} {spec.size_mib}\n")

    def run(self, script: str, timeout: int = 900, env: Mapping[str, str] | None = None,
            label: str = "run", prelude: bool = True, want_journal: bool = False,
            files: Mapping[str, str | bytes] | None = None, boot: str = "kernel",
            root: bool = True, require_rc: bool = True) -> RunResult:
        """Boot once, run ``script`` (bash) as root in the guest, power off.

        ``env`` is exported before the script; ``prelude`` sources
        tests/vm/prelude.sh first (set -euo pipefail and helpers); ``files``
        are written into the share (name -> content) before the boot;
        ``want_journal`` copies the guest journal to <share>/journal.txt (it is
        copied anyway when rc != 0). Raises VMTimeout (QEMU killed) or VMError
        (no rc) with the console tail; a non-zero rc is returned, not raised
        (use .check()).

        ``boot``: "kernel" (default: the image's kernel and initramfs, root on
        the overlay), "disk:NAME" (the firmware boots data disk NAME, e.g. a
        restored system; it runs the scenario too if it is a copy of the image
        root, whose vmtest.service reads the share), or "cdrom:PATH" (an ISO,
        e.g. ReaR's rescue image) or "firmware" (no boot device named: the
        firmware's own boot order, with firmware="uefi" the BootOrder in this
        machine's variable store). ``root=False`` leaves the root overlay
        out. ``require_rc=False`` returns rc -1 instead of raising when the
        guest powered off without writing <share>/rc.
        """
        rundir, share = self._prepare_share(label)
        if self.plugin:
            self._install_plugin(share)
        self._write_script(share, script, env, prelude)
        for name, content in (files or {}).items():
            target = share / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        if want_journal:
            (share / "want-journal").touch()
        if root and not self.overlay.exists():
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                            "-b", str(self.image.root), str(self.overlay)], check=True)
        console = rundir / "console.log"
        cmd = self.qemu_command(share, console, boot=boot, root=root)
        (rundir / "qemu-cmd.txt").write_text(shlex.join(cmd) + "\n")
        started = time.monotonic()
        with open(rundir / "qemu.log", "w") as qlog:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise VMTimeout(f"VM did not finish within {timeout} s ({rundir})\n"
                                f"{self._diagnostics(rundir, share)}") from None
        seconds = time.monotonic() - started
        console_text = console.read_text(errors="replace") if console.exists() else ""
        rc_file = share / "rc"
        if not rc_file.exists() and not require_rc:
            rc_file.write_text("-1\n")
        if not rc_file.exists():
            raise VMError(f"VM powered off without a result (qemu rc {proc.returncode}, {rundir})\n"
                          f"{self._diagnostics(rundir, share)}")
        out_file = share / "out.log"
        boot = share / "boot-uptime"
        return RunResult(
            rc=int(rc_file.read_text().strip() or "255"),
            output=out_file.read_text(errors="replace") if out_file.exists() else "",
            share_dir=share, console_log=console_text, console_path=console,
            seconds=seconds,
            boot_seconds=float(boot.read_text().strip()) if boot.exists() else None,
        )

    @staticmethod
    def _diagnostics(rundir: Path, share: Path) -> str:
        parts = []
        for title, path in (("qemu", rundir / "qemu.log"), ("output", share / "out.log"),
                            ("console", rundir / "console.log")):
            if path.exists():
                text = path.read_text(errors="replace")
                if text.strip():
                    parts.append(f"--- {title} (tail) ---\n{text[-3000:]}")
        return "\n".join(parts)


def _measure_boot_time(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mdc-boot-") as tmp:
        vm = VM(tmp, [DiskSpec("a", 64), DiskSpec("b", 64)], plugin=False)
        for _ in range(runs):
            res = vm.run("true").check()
            print(f"boot to scenario {res.boot_seconds:.1f} s guest uptime, "
                  f"whole run {res.seconds:.1f} s wall")


def main(argv: Sequence[str]) -> int:
    command = argv[0] if argv else "path"
    if command == "build":
        print(ensure_image().path)
    elif command == "path":
        print(image_dir())
    elif command == "prune":
        for path in prune_images():
            print(f"removed {path}")
    elif command == "boot-time":
        _measure_boot_time(int(argv[1]) if len(argv) > 1 else 2)
    else:
        print("usage: python -m tests.vm.vmlib build|path|prune|boot-time [N]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
