"""End to end: a Debian system on an IMSM RAID1 volume, backed up, recovered, booted.

The whole path an administrator takes, in software-emulated QEMU VMs (used by
tests/vm/test_e2e.py and by ``make demo``):

1. install (test image kernel): an IMSM container and a RAID1 volume on two
   blank SATA disks; this VM's Debian root copied onto the volume's partition,
   with mdadm.conf, Debian's initramfs (mdadm, mdmon) and GRUB on the volume;
   data files with known checksums. Nothing of the plugin is involved, so the
   two disk images are cached (``<cache>/e2e/<key>``, keyed by the test image
   and this phase's scripts): a rerun starts at step 2.
2. original: SeaBIOS boots the disks by themselves (GRUB, Debian's initramfs
   assembles the container and the volume, root on the volume), the plugin is
   installed, and ``rear mkbackup`` runs (OUTPUT=ISO, the backup in the ISO).
3. recovery: a new VM with blank disks of the same sizes (or the original's dirty ones)
   boots the rescue ISO; ``rear recover`` runs unattended (a system-setup.d
   script in the rescue image starts it, see tests/vm/e2e.sh).
4. restored: the recovered disks boot alone; the checks read what the booted
   system shows (root device, /proc/mdstat, mdadm.conf, data checksums).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.vm.vmlib import VM, DiskSpec, RunResult, _locked, cache_root

HERE = Path(__file__).resolve().parent
E2E_SH = HERE / "e2e.sh"
E2E_INSTALL_SH = HERE / "e2e-install.sh"
DISK_MIB = 3072
SCRATCH_MIB = 4096
SOURCE_DISKS = ("a", "b")

INSTALL = r"""
. /mnt/host/layouts.sh
. /mnt/host/e2e-install.sh
step "install: Debian on an IMSM RAID1 volume"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Volume0 raid1 max - $(disk a) $(disk b)
settle
volume=$(md_of Volume0)
install_on_volume "$volume" /target "$E2E_FIRMWARE"
write_data /target
rescue_hook /target
mdadm --detail --export "$volume" | sed -n 's/^MD_UUID=//p' >"$VMTEST_SHARE/volume-uuid.txt"
umount /target
cat /proc/mdstat
"""

ORIGINAL = r"""
. /mnt/host/layouts.sh
. /mnt/host/e2e.sh
step "original system, booted from its disks"
findmnt -no SOURCE / | tee "$VMTEST_SHARE/root-source.txt"
cat /proc/mdstat | tee "$VMTEST_SHARE/mdstat.txt"
root_md=$(findmnt -no SOURCE /); root_md=${root_md%p[0-9]*}
mdadm --detail "$root_md" >"$VMTEST_SHARE/detail-before.txt"
efi_facts | tee "$VMTEST_SHARE/efi-before.txt"
scratch=$(readlink -f /dev/disk/by-id/virtio-MDC-SCRATCH)
mkfs.ext4 -q -F -L scratch "$scratch"
mkdir -p /mnt/scratch
mount "$scratch" /mnt/scratch
mkdir -p /mnt/scratch/tmp
e2e_rear_config
step "rear mkbackup"
TMPDIR=/mnt/scratch/tmp rear_run mkbackup
cp /var/lib/rear/layout/disklayout.conf "$VMTEST_SHARE/"
iso=$(ls /mnt/scratch/output/*.iso)
ls -l "$iso"
cp "$iso" "$VMTEST_SHARE/rescue.iso"
"""

RECOVER = r"""
step "rescue system booted from the ISO"
cat /proc/mdstat 2>/dev/null | tee "$VMTEST_SHARE/mdstat-at-boot.txt" || echo "no /proc/mdstat"
rc=0
rear -v recover || rc=$?
echo "$rc" >"$VMTEST_SHARE/recover.rc"
cp /var/log/rear/rear-*.log "$VMTEST_SHARE/" 2>/dev/null || true
cp /var/lib/rear/layout/diskrestore.sh /var/lib/rear/layout/disklayout.conf "$VMTEST_SHARE/" 2>/dev/null || true
cp /var/lib/rear/layout/mdcontainer-uuid-map "$VMTEST_SHARE/" 2>/dev/null || true
cat /proc/mdstat
exit "$rc"
"""

RESTORED = r"""
. /mnt/host/layouts.sh
. /mnt/host/e2e.sh
step "the restored system, booted from its disks"
check_restored
root_md=$(findmnt -no SOURCE /); root_md=${root_md%p[0-9]*}
mdadm --detail "$root_md" >"$VMTEST_SHARE/detail-after.txt"
"""


def files() -> dict[str, str]:
    return {"layouts.sh": (HERE / "layouts.sh").read_text(), "e2e.sh": E2E_SH.read_text(),
            "e2e-install.sh": E2E_INSTALL_SH.read_text()}


@dataclass
class Restore:
    """One recovery from the rescue ISO and the boot of the recovered disks."""

    target: str
    recovery: RunResult
    restored: RunResult
    seconds: dict[str, float] = field(default_factory=dict)
    #: Recovered with MDCONTAINER_MIGRATE=native: native md arrays instead of the container's volumes.
    migrated: bool = False

    def recover_log(self) -> str:
        share = self.recovery.share_dir
        return "".join(path.read_text(errors="replace") for path in sorted(share.glob("rear-*.log")))


@dataclass
class E2E:
    """What one end-to-end run left behind, with the wall time of each phase."""

    original_uuid: str
    data_sha256: str
    original: RunResult
    restores: list[Restore]
    seconds: dict[str, float] = field(default_factory=dict)
    firmware: str = "bios"

    @property
    def recovery(self) -> RunResult:
        return self.restores[0].recovery

    @property
    def restored(self) -> RunResult:
        return self.restores[0].restored

    def recover_log(self) -> str:
        return self.restores[0].recover_log()


def install_key(image_path: Path, firmware: str = "bios") -> str:
    """The install phase's inputs: the test image, its script, the guest helpers, the disk size, the firmware."""
    digest = hashlib.sha256()
    for part in (image_path.name, INSTALL, E2E_INSTALL_SH.read_text(), (HERE / "layouts.sh").read_text(),
                 (HERE / "prelude.sh").read_text(), str(DISK_MIB), firmware):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def install(vm: VM, say: Callable[[str], None] = print) -> tuple[str, str]:
    """Disks a and b of ``vm`` hold the installed system; returns (volume UUID, data checksums)."""
    cache = cache_root() / "e2e" / install_key(vm.image.path, vm.firmware)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with _locked(cache.parent / f".{cache.name}.lock"):
        if not (cache / "done").is_file():
            say(f"installing Debian on an IMSM RAID1 volume, {vm.firmware.upper()} boot (cached afterwards)")
            res = vm.run(INSTALL, files=files(), label="install", timeout=3600,
                         env={"E2E_FIRMWARE": vm.firmware})
            if res.rc != 0:
                raise AssertionError(f"install failed (rc {res.rc}):\n{res.output[-6000:]}")
            tmp = cache.with_name(cache.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            for name in SOURCE_DISKS:
                _sparse_copy(vm.disk_path(name), tmp / f"{name}.raw")
            for name in ("data.sha256", "volume-uuid.txt"):
                shutil.copy(res.share_dir / name, tmp / name)
            (tmp / "done").touch()
            shutil.rmtree(cache, ignore_errors=True)
            tmp.rename(cache)
        else:
            say(f"installed system from the cache {cache}")
            for name in SOURCE_DISKS:
                _sparse_copy(cache / f"{name}.raw", vm.disk_path(name))
    return (cache / "volume-uuid.txt").read_text().strip(), (cache / "data.sha256").read_text()


def _sparse_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "--sparse=always", str(source), str(target)], check=True)


def attach_scratch(vm: VM) -> None:
    """A virtio disk for ReaR's build directory and the ISO (below /mnt: out of the layout and the backup).

    Not a SATA disk: its kernel name would shift the member disks' names
    between the original (booted by Debian's initramfs) and the rescue system,
    and ReaR 2.7 then stops in 320_apply_mappings ("Failed to apply disk layout
    mappings", df.txt) when the excluded disk's old name is a mapping target.
    """
    path = vm.workdir / "disks" / "scratch.raw"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with open(path, "wb") as handle:
            handle.truncate(SCRATCH_MIB * 2**20)
    vm.extra_qemu_args += ["-drive", f"if=none,id=scratch,file={path},format=raw,cache=unsafe",
                           "-device", "virtio-blk-pci,drive=scratch,serial=MDC-SCRATCH"]


def disk_boot(vm: VM) -> str:
    """How ``vm`` boots its own disks: SeaBIOS from disk a; OVMF by its BootOrder (ReaR's entry after recovery)."""
    return "firmware" if vm.firmware == "uefi" else "disk:a"


def root_partition(firmware: str) -> str:
    """The installed root file system's partition on the volume (UEFI: the ESP is partition 1)."""
    return "p2" if firmware == "uefi" else "p1"


def recover_and_boot(target: VM, iso: Path, data: dict[str, str], name: str,
                     say: Callable[[str], None] = print, migrate: bool = False) -> Restore:
    """Boot the rescue ISO on ``target``'s disks, ``rear recover``, then boot the recovered disks.

    ``migrate``: recover with MDCONTAINER_MIGRATE=native (in rear's environment; the plugin's
    defaults keep a value set there), as on a replacement machine without Intel RST.
    """
    how = " with MDCONTAINER_MIGRATE=native" if migrate else ""
    say(f"booting the rescue ISO ({iso.stat().st_size // 2**20} MiB) on the {name} disks; rear recover{how}")
    recovery = target.run(RECOVER, label=f"recover-{name}", boot=f"cdrom:{iso}", root=False, timeout=3600,
                          require_rc=False, env={"MDCONTAINER_MIGRATE": "native"} if migrate else None)
    assert recovery.rc == 0, recovery.output[-8000:] + recovery.console_log[-4000:]
    say(f"booting the restored disks ({name})")
    restored = target.run(RESTORED, files=data, label=f"restored-{name}", boot=disk_boot(target), root=False,
                          timeout=1800, require_rc=False)
    return Restore(target=name, recovery=recovery, restored=restored, migrated=migrate,
                   seconds={f"rescue boot + recover ({name})": recovery.seconds,
                            f"restored boot ({name})": restored.seconds})


def run_e2e(make_vm: Callable[[Sequence[DiskSpec]], VM], workdir: Path, *, dirty: bool = False,
            migrate: bool = False, say: Callable[[str], None] = print) -> E2E:
    """Install (cached), the original's mkbackup, recovery onto blank disks and its boot.

    ``dirty``: afterwards also recover onto the original's own disks (the
    rescue system's udev assembles their old arrays) and boot those.
    Asserts each phase's own success; returns what the checks need.
    """
    seconds: dict[str, float] = {}
    disks = [DiskSpec(name, DISK_MIB) for name in SOURCE_DISKS]
    source = make_vm(disks)
    attach_scratch(source)
    started = time.monotonic()
    original_uuid, data_sha256 = install(source, say)
    seconds["install"] = time.monotonic() - started
    data = {**files(), "data.sha256": data_sha256}

    say("booting the original system from its disks; rear mkbackup")
    original = source.run(ORIGINAL, files=data, label="original", boot=disk_boot(source), root=False,
                          timeout=3600)
    seconds["original boot + mkbackup"] = original.seconds
    assert original.rc == 0, original.output[-8000:] + original.console_log[-3000:]
    root_part = root_partition(source.firmware)
    assert re.fullmatch(rf"/dev/md\d+{root_part}", original.file("root-source.txt").strip()), \
        original.file("root-source.txt")
    workdir.mkdir(parents=True, exist_ok=True)
    iso = workdir / "rescue.iso"
    shutil.move(str(original.share_dir / "rescue.iso"), iso)

    restores = [recover_and_boot(make_vm(disks), iso, data, "blank", say, migrate=migrate)]
    if dirty:
        restores.append(recover_and_boot(source, iso, data, "dirty", say))
    for restore in restores:
        seconds.update(restore.seconds)
    return E2E(original_uuid=original_uuid, data_sha256=data_sha256, original=original, restores=restores,
               seconds=seconds, firmware=source.firmware)


def check_restored_system(e2e: E2E, restore: Restore | None = None) -> None:
    """The restored disks booted into the recovered system, from the recreated arrays."""
    res = (restore or e2e.restores[0]).restored
    assert res.rc == 0, res.output[-6000:] + res.console_log[-6000:]
    # Root is on a partition of a recreated volume: the initramfs assembled it.
    root_part = root_partition(e2e.firmware)
    assert re.fullmatch(rf"/dev/md\d+{root_part}", res.file("root-source.txt").strip()), res.file("root-source.txt")
    mdstat = res.file("mdstat.txt")
    migrated = restore.migrated if restore else e2e.restores[0].migrated
    if migrated:
        # A native md RAID1 (metadata 1.0: it holds /) instead of the container and its volume.
        assert "external:" not in mdstat and re.search(r"raid1 .*\n.* super 1\.0 ", mdstat), mdstat
    else:
        assert "external:imsm" in mdstat and re.search(r"external:/md\d+/0", mdstat), mdstat
    assert not re.search(r"resync|recovery", mdstat), mdstat
    volumes = res.file("volumes.txt").splitlines()
    assert volumes, mdstat
    for line in volumes:
        _name, state, action = line.split()
        assert state in ("clean", "active", "active-idle"), line
        assert action in ("idle", "-"), line
    checked = res.file("data-check.txt")
    assert checked.count(": OK") == len(e2e.data_sha256.splitlines()), checked
    # New arrays, new UUIDs; the restored mdadm.conf names them and not the old ones.
    scan_uuids = set(re.findall(r"UUID=([0-9a-f:]{35})", res.file("detail-scan.txt")))
    conf = res.file("mdadm.conf")
    conf_uuids = set(re.findall(r"UUID=([0-9a-f:]{35})", conf))
    assert len(scan_uuids) == (1 if migrated else 2) and scan_uuids <= conf_uuids, (scan_uuids, conf)
    if migrated:
        assert "container=" not in conf and "metadata=imsm" not in conf, conf
    assert e2e.original_uuid not in conf, conf
    assert e2e.original_uuid not in scan_uuids, "IMSM gave the recreated volume its old UUID?"
    if e2e.firmware == "uefi":
        check_uefi_boot(res.file("efi.txt"))


def check_uefi_boot(efi: str) -> None:
    """OVMF started the restored system through the boot entry ReaR's recovery wrote for the ESP on the volume.

    ``efi`` is ``efibootmgr -v`` of the booted system: BootCurrent must be an
    entry whose device path is the ESP partition (HD(1,GPT,...)) and the
    loader in EFI/debian, not OVMF's own entry for the raw disk, which would
    mean the recovery left no working entry and the firmware fell back to the
    removable path.
    """
    current = re.search(r"^BootCurrent: ([0-9A-F]{4})$", efi, re.M)
    assert current, efi
    entry = re.search(rf"^Boot{current.group(1)}\*? (.*)$", efi, re.M)
    assert entry, efi
    assert re.search(r"HD\(1,GPT,", entry.group(1)), entry.group(0)
    assert re.search(r"File\(\\EFI\\[^)]+\.efi\)", entry.group(1), re.I), entry.group(0)
