"""The end-to-end orchestration (tests/vm/endtoend.py) against a fake VM: no boot, seconds.

The real scenario runs in tests/vm/test_e2e.py; this checks the order of the
boots, what each gets, the install cache and the checks of the restored
system on canned guest answers, so that a mistake there does not cost a
25-minute VM run to find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.vm import endtoend
from tests.vm.vmlib import DiskSpec, RunResult

OLD = "11111111:22222222:33333333:44444444"
NEW_C = "aaaaaaaa:bbbbbbbb:cccccccc:dddddddd"
NEW_V = "eeeeeeee:ffffffff:00000000:12345678"


class FakeVM:
    """Answers each scenario like a guest that did its job."""

    image = type("Img", (), {"path": Path("/images/bookworm-0123")})()

    def __init__(self, workdir: Path, disks: Sequence[DiskSpec], log: list[str], firmware: str = "bios") -> None:
        self.workdir = workdir
        self.firmware = firmware
        self.disks = list(disks)
        self.log = log
        self.runs = 0
        self.extra_qemu_args: list[str] = []

    def disk_path(self, name: str) -> Path:
        path = self.workdir / "disks" / f"{name}.raw"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(b"\0" * 16)
        return path

    def remove_disk(self, name: str) -> None:
        self.disks = [d for d in self.disks if d.name != name]

    def run(self, script: str, *, label: str, files: Mapping[str, str] | None = None, boot: str = "kernel",
            root: bool = True, **_: object) -> RunResult:
        self.runs += 1
        share = self.workdir / f"run{self.runs}-{label}"
        share.mkdir(parents=True)
        self.log.append(f"{label} boot={boot} root={root} disks={','.join(d.name for d in self.disks)}")
        root_part = "/dev/md126p2\n" if self.firmware == "uefi" else "/dev/md126p1\n"
        answers = {
            "install": {"data.sha256": "abc  root/e2e-data/file1.bin\n", "volume-uuid.txt": OLD + "\n"},
            "original": {"root-source.txt": root_part, "rescue.iso": "ISO", "efi-before.txt": f"firmware {self.firmware}\n",
                         "disklayout.conf": "mdcontainer /dev/md127 metadata=imsm\n"},
            "recover": {"rear-recover.log": "GRUB2 is installed onto the volume\n"},
            "restored": {"root-source.txt": root_part, "efi.txt": UEFI_BOOTED if self.firmware == "uefi" else "",
                         "mdstat.txt": "md126 : active raid1 sda[1] sdb[0]\n 3139584 blocks super external:/md127/0\n"
                                       "md127 : inactive sda[1](S) sdb[0](S)\n 2210 blocks super external:imsm\n",
                         "volumes.txt": "md126 clean idle\n",
                         "data-check.txt": "root/e2e-data/file1.bin: OK\n",
                         "detail-scan.txt": f"ARRAY /dev/md/imsm0 metadata=imsm UUID={NEW_C}\n"
                                            f"ARRAY /dev/md/Volume0 container=/dev/md/imsm0 member=0 UUID={NEW_V}\n",
                         "mdadm.conf": f"ARRAY metadata=imsm UUID={NEW_C}\nARRAY /dev/md/Volume0 "
                                       f"container={NEW_C} member=0 UUID={NEW_V}\n"},
        }
        for name, text in answers[label.split("-")[0]].items():
            (share / name).write_text(text)
        if files and "data.sha256" in files:
            assert files["data.sha256"].startswith("abc"), "the checksums from the install reach later boots"
        return RunResult(rc=0, output="ok", share_dir=share, console_log="", console_path=share / "console",
                         seconds=1.0, boot_seconds=1.0)


UEFI_BOOTED = """firmware uefi
BootCurrent: 0004
BootOrder: 0004,0001,0000
Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)
Boot0001* UEFI QEMU HARDDISK QM00001 \tPciRoot(0x0)/Pci(0x1f,0x2)/Sata(0,65535,0){auto_created_boot_option}
Boot0004* Debian 12\tHD(1,GPT,0b8f6a3c-1d2e-4f5a-9b7c-2d3e4f5a6b7c,0x800,0x20000)/File(\\EFI\\debian\\grubx64.efi)
"""


@pytest.fixture
def fake_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MDC_VM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_boots_in_order_and_the_checks_pass_on_a_good_restore(tmp_path: Path, fake_cache: Path) -> None:
    log: list[str] = []
    vms: list[FakeVM] = []

    def make_vm(disks: Sequence[DiskSpec]) -> FakeVM:
        vms.append(FakeVM(tmp_path / f"vm{len(vms)}", disks, log))
        return vms[-1]

    e2e = endtoend.run_e2e(make_vm, tmp_path, dirty=True, say=lambda _: None)  # type: ignore[arg-type]
    assert log == [
        "install boot=kernel root=True disks=a,b",
        "original boot=disk:a root=False disks=a,b",
        f"recover-blank boot=cdrom:{tmp_path / 'rescue.iso'} root=False disks=a,b",
        "restored-blank boot=disk:a root=False disks=a,b",
        f"recover-dirty boot=cdrom:{tmp_path / 'rescue.iso'} root=False disks=a,b",
        "restored-dirty boot=disk:a root=False disks=a,b",
    ]
    assert [r.target for r in e2e.restores] == ["blank", "dirty"]
    assert "serial=MDC-SCRATCH" in " ".join(vms[0].extra_qemu_args) and not vms[1].extra_qemu_args
    for restore in e2e.restores:
        endtoend.check_restored_system(e2e, restore)
        assert "GRUB2 is installed onto the volume" in restore.recover_log()
    assert set(e2e.seconds) >= {"install", "original boot + mkbackup", "rescue boot + recover (blank)"}

    # The installed disks are cached: a second run does not boot the install phase.
    log.clear()
    endtoend.run_e2e(make_vm, tmp_path / "again", say=lambda _: None)  # type: ignore[arg-type]
    assert log[0].startswith("original ")


def test_the_checks_fail_when_the_restored_system_names_the_old_uuid(tmp_path: Path, fake_cache: Path) -> None:
    vms: list[FakeVM] = []

    def make_vm(disks: Sequence[DiskSpec]) -> FakeVM:
        vms.append(FakeVM(tmp_path / f"vm{len(vms)}", disks, []))
        return vms[-1]

    e2e = endtoend.run_e2e(make_vm, tmp_path, say=lambda _: None)  # type: ignore[arg-type]
    conf = e2e.restored.share_dir / "mdadm.conf"
    conf.write_text(conf.read_text() + f"ARRAY /dev/md/old UUID={OLD}\n")
    with pytest.raises(AssertionError):
        endtoend.check_restored_system(e2e)


def test_uefi_flow_boots_by_the_firmware_order_and_checks_the_entry(tmp_path: Path, fake_cache: Path) -> None:
    log: list[str] = []

    def make_vm(disks: Sequence[DiskSpec]) -> FakeVM:
        return FakeVM(tmp_path / f"vm{len(log)}", disks, log, firmware="uefi")

    e2e = endtoend.run_e2e(make_vm, tmp_path, say=lambda _: None)  # type: ignore[arg-type]
    assert [line.split()[1] for line in log] == ["boot=kernel", "boot=firmware",
                                                 f"boot=cdrom:{tmp_path / 'rescue.iso'}", "boot=firmware"]
    assert e2e.firmware == "uefi"
    endtoend.check_restored_system(e2e)
    # BIOS and UEFI installs are different disks: different cache entries.
    image = Path("/images/bookworm-0123")
    assert endtoend.install_key(image, "uefi") != endtoend.install_key(image, "bios")


def test_uefi_check_refuses_a_fallback_boot() -> None:
    endtoend.check_uefi_boot(UEFI_BOOTED)
    # OVMF's own entry for the raw disk: the recovery's entry did not work (or was not written).
    with pytest.raises(AssertionError):
        endtoend.check_uefi_boot(UEFI_BOOTED.replace("BootCurrent: 0004", "BootCurrent: 0001"))
    with pytest.raises(AssertionError):
        endtoend.check_uefi_boot("firmware bios\n")


def test_migrated_restore_is_checked_as_native_md(tmp_path: Path, fake_cache: Path) -> None:
    envs: list[object] = []

    class Migrated(FakeVM):
        def run(self, script: str, *, label: str, **kwargs: object) -> RunResult:  # type: ignore[override]
            envs.append((label, kwargs.get("env")))
            res = super().run(script, label=label, **kwargs)  # type: ignore[arg-type]
            if label.startswith("restored"):
                (res.share_dir / "mdstat.txt").write_text(
                    "md126 : active raid1 sdb[1] sda[0]\n      3139584 blocks super 1.0 [2/2] [UU]\n")
                (res.share_dir / "detail-scan.txt").write_text(f"ARRAY /dev/md126 metadata=1.0 UUID={NEW_V}\n")
                (res.share_dir / "mdadm.conf").write_text(f"ARRAY /dev/md126 metadata=1.0 name=any:Volume0 UUID={NEW_V}\n")
            return res

    e2e = endtoend.run_e2e(lambda disks: Migrated(tmp_path / f"vm{len(envs)}", disks, []),  # type: ignore[arg-type]
                           tmp_path, migrate=True, say=lambda _: None)
    assert ("recover-blank", {"MDCONTAINER_MIGRATE": "native"}) in envs
    assert e2e.restores[0].migrated
    endtoend.check_restored_system(e2e)
    # A container left behind fails the check.
    conf = e2e.restored.share_dir / "mdadm.conf"
    conf.write_text(conf.read_text() + f"ARRAY metadata=imsm UUID={NEW_C}\n")
    with pytest.raises(AssertionError):
        endtoend.check_restored_system(e2e)
