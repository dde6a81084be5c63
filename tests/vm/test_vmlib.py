"""vmlib without booting anything: disks, ports, QEMU command line, image lookup."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from tests.vm import vmlib
from tests.vm.vmlib import OVMF_CODE, VM, DiskSpec, Image


@pytest.fixture
def fake_image(tmp_path: Path) -> Image:
    path = tmp_path / "image"
    path.mkdir()
    for name in vmlib.IMAGE_FILES:
        (path / name).write_bytes(b"not really " + name.encode())
    return Image(path, "bookworm")


def test_disk_files_are_sparse_and_created(tmp_path: Path, fake_image: Image) -> None:
    vm = VM(tmp_path / "vm", [DiskSpec("a", 64), DiskSpec("b", 128, serial="S-B")], image=fake_image)
    assert vm.disk_path("a").stat().st_size == 64 * 1024 * 1024
    assert vm.disk_path("b").stat().st_size == 128 * 1024 * 1024
    assert vm.disk_path("a").stat().st_blocks == 0
    assert vm.hash_disk("a") == vm.hash_disk("a")


def test_ports_and_controllers(tmp_path: Path, fake_image: Image) -> None:
    disks = [DiskSpec(f"d{i}", 8) for i in range(7)] + [DiskSpec("pinned", 8, port=13)]
    vm = VM(tmp_path, disks, image=fake_image)
    ports = vm.ports()
    assert [ports[f"d{i}"] for i in range(7)] == list(range(7))
    assert ports["pinned"] == 13
    cmd = vm.qemu_command(tmp_path / "share", tmp_path / "console.log")
    joined = " ".join(cmd)
    assert "ahci,id=ahci0" in joined and "ahci,id=ahci1" in joined and "ahci,id=ahci2" in joined
    assert "bus=ahci1.0,serial=MDC-D6" in joined
    assert "bus=ahci2.1,serial=MDC-PINNED" in joined
    assert cmd[cmd.index("-accel") + 1] == "tcg"


def test_accel_override(tmp_path: Path, fake_image: Image, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDC_VM_ACCEL", "kvm")
    cmd = VM(tmp_path, image=fake_image).qemu_command(tmp_path, tmp_path / "c")
    assert cmd[cmd.index("-accel") + 1] == "kvm"
    assert cmd[cmd.index("-cpu") + 1] == "host"


def test_remove_attach_replace(tmp_path: Path, fake_image: Image) -> None:
    vm = VM(tmp_path, [DiskSpec("a", 8), DiskSpec("b", 8), DiskSpec("c", 8)], image=fake_image)
    vm.disk_path("b").write_bytes(b"data")
    vm.remove_disk("b")
    assert [d.name for d in vm.disks] == ["a", "c"]
    assert vm.ports() == {"a": 0, "c": 1}  # names shift, like a disk that is gone
    assert vm.disk_path("b").read_bytes() == b"data"  # file kept
    vm.attach_disk("b", position=1)
    assert [d.name for d in vm.disks] == ["a", "b", "c"]
    vm.replace_disk("c", DiskSpec("c", 16))
    assert vm.disk_path("c").stat().st_size == 16 * 1024 * 1024
    vm.replace_disk("a", DiskSpec("big", 32))
    assert [d.name for d in vm.disks] == ["big", "b", "c"]
    assert vm.disk_path("a").exists()  # the old disk can come back
    vm.remove_disk("b", delete=True)
    assert not vm.disk_path("b").exists()
    with pytest.raises(ValueError):
        vm.add_disk(DiskSpec("x", 8, serial="MDC-C"))


def test_diskspec_validation() -> None:
    with pytest.raises(ValueError):
        DiskSpec("bad name", 8)
    with pytest.raises(ValueError):
        DiskSpec("a", 8, serial="X" * 21)
    assert DiskSpec("a", 8).effective_serial == "MDC-A"


def test_image_key_depends_on_suite_and_script() -> None:
    assert vmlib.image_key("bookworm") != vmlib.image_key("trixie")
    assert vmlib.image_key("bookworm").startswith("bookworm-")


def test_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MDC_VM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert vmlib.cache_root() == tmp_path / "rear-mdcontainer"
    monkeypatch.setenv("MDC_VM_CACHE", str(tmp_path / "x"))
    assert vmlib.image_dir("bookworm").parent == tmp_path / "x" / "images"


def test_explicit_image(monkeypatch: pytest.MonkeyPatch, fake_image: Image) -> None:
    monkeypatch.setenv("MDC_VM_IMAGE", str(fake_image.path))
    assert vmlib.ensure_image().path == fake_image.path


def test_boot_kernel_extracts_xz_vmlinux(fake_image: Image) -> None:
    assert fake_image.boot_kernel() == fake_image.kernel  # not an xz bzImage
    elf = b"\x7fELF" + bytes(100)
    fake_image.kernel.write_bytes(b"bzImage setup code" + lzma.compress(elf, format=lzma.FORMAT_XZ))
    assert fake_image.boot_kernel() == fake_image.path / "vmlinux"
    assert (fake_image.path / "vmlinux").read_bytes() == elf


def test_script_and_env(tmp_path: Path, fake_image: Image) -> None:
    vm = VM(tmp_path, [DiskSpec("a", 8)], image=fake_image)
    share = tmp_path / "share"
    share.mkdir()
    vm._write_script(share, "echo hi", {"X": "a b'c"}, prelude=True)
    script = (share / "run.sh").read_text()
    assert "export X='a b'\"'\"'c'" in script
    assert ". /mnt/host/prelude.sh" in script
    assert (share / "prelude.sh").is_file()
    assert (share / "disks.txt").read_text() == "a MDC-A 8\n"


def test_plugin_as_debian_package(tmp_path: Path, fake_image: Image) -> None:
    """plugin="deb": run.sh installs the package from the share before anything else (no install tree)."""
    vm = VM(tmp_path, [DiskSpec("a", 8)], image=fake_image, plugin="deb")
    share = tmp_path / "share"
    share.mkdir()
    vm._write_script(share, "echo hi", {"X": "1"}, prelude=True)
    lines = (share / "run.sh").read_text().splitlines()
    assert lines[1] == "export X=1" and lines[2].startswith("dpkg -i /mnt/host/packages/*.deb ")
    assert lines.index(". /mnt/host/prelude.sh") > 2
    assert not (share / "install").exists()
    with pytest.raises(ValueError):
        VM(tmp_path, image=fake_image, plugin="rpm")  # type: ignore[arg-type]


def test_boot_modes(tmp_path: Path, fake_image: Image) -> None:
    vm = VM(tmp_path, [DiskSpec("a", 8), DiskSpec("b", 8)], image=fake_image)
    kernel = " ".join(vm.qemu_command(tmp_path, tmp_path / "c"))
    assert "-kernel" in kernel and "virtio-blk-pci,drive=root" in kernel
    disk = " ".join(vm.qemu_command(tmp_path, tmp_path / "c", boot="disk:b", root=False))
    assert "-kernel" not in disk and "drive=root" not in disk
    assert "serial=MDC-B,bootindex=0" in disk and "serial=MDC-A,bootindex" not in disk
    assert "-device VGA" in disk and "-device VGA" not in kernel
    cdrom = " ".join(vm.qemu_command(tmp_path, tmp_path / "c", boot="cdrom:/x/rescue.iso"))
    assert "file=/x/rescue.iso" in cdrom and "ide-cd,drive=cd0,bus=ahcicd.0,bootindex=0" in cdrom
    with pytest.raises(ValueError):
        vm.qemu_command(tmp_path, tmp_path / "c", boot="net")
    with pytest.raises(KeyError):
        vm.qemu_command(tmp_path, tmp_path / "c", boot="disk:nope")


@pytest.mark.skipif(not OVMF_CODE.is_file(), reason="needs Debian's ovmf")
def test_uefi_firmware_keeps_its_variable_store(tmp_path: Path, fake_image: Image) -> None:
    vm = VM(tmp_path, [DiskSpec("a", 8)], image=fake_image, firmware="uefi")
    kernel = vm.qemu_command(tmp_path, tmp_path / "c")
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}" in kernel
    assert f"if=pflash,format=raw,unit=1,file={vm.efi_vars}" in kernel
    # The bzImage (EFI stub), not the ELF vmlinux that only SeaBIOS/qboot start.
    assert kernel[kernel.index("-kernel") + 1] == str(fake_image.kernel)
    vm.efi_vars.write_bytes(b"entries written by a recovery")
    own = " ".join(vm.qemu_command(tmp_path, tmp_path / "c", boot="firmware", root=False))
    assert vm.efi_vars.read_bytes() == b"entries written by a recovery", "NVRAM survives the next boot"
    assert "bootindex" not in own and "-kernel" not in own
    with pytest.raises(ValueError):
        VM(tmp_path / "x", image=fake_image, firmware="coreboot")
