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

    def __init__(self, workdir: Path, disks: Sequence[DiskSpec], log: list[str]) -> None:
        self.workdir = workdir
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
        answers = {
            "install": {"data.sha256": "abc  root/e2e-data/file1.bin\n", "volume-uuid.txt": OLD + "\n"},
            "original": {"root-source.txt": "/dev/md126p1\n", "rescue.iso": "ISO",
                         "disklayout.conf": "mdcontainer /dev/md127 metadata=imsm\n"},
            "recover": {"rear-recover.log": "GRUB2 is installed onto the volume\n"},
            "restored": {"root-source.txt": "/dev/md126p1\n",
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
