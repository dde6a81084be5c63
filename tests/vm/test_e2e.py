"""End to end in VMs: install on IMSM RAID1, rear mkbackup, boot the rescue ISO, rear recover, boot.

The scenario and its checks are in tests/vm/endtoend.py (``make demo`` runs
the same). About 30 VM minutes under TCG on a cold cache (the installed
original system's disks are cached afterwards): ``make e2e`` runs it
(MDC_E2E=1), ``make test`` skips it to stay inside CI's time; the flow itself
is checked without booting in tests/vm/test_endtoend_flow.py. With
MDC_E2E_DIRTY=1 (``make e2e`` sets it) the same rescue ISO then also recovers
onto the original's own, dirty disks, whose old arrays the rescue system's
udev assembles, and those boot too: another ~12 VM minutes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.vm.endtoend import check_restored_system, run_e2e


def _firmwares() -> list[str]:
    chosen = os.environ.get("MDC_E2E_FIRMWARE", "bios uefi").split()
    return [name for name in ("bios", "uefi") if name in chosen]


@pytest.mark.skipif(os.environ.get("MDC_E2E", "") != "1",
                    reason="30 VM minutes: run with make e2e (MDC_E2E=1), left out of make test for CI's time")
@pytest.mark.parametrize("firmware", _firmwares())
def test_e2e_imsm_raid1(vm_factory, tmp_path: Path, firmware: str) -> None:
    # The dirty-disk recovery once, with BIOS: the firmware changes nothing in what the rescue system finds.
    dirty = os.environ.get("MDC_E2E_DIRTY", "") == "1" and firmware == "bios"
    e2e = run_e2e(lambda disks: vm_factory(disks, memory_mib=1536, firmware=firmware), tmp_path, dirty=dirty)
    print(f"end-to-end phases, {firmware} (s): " + ", ".join(f"{k} {v:.0f}" for k, v in e2e.seconds.items()))
    assert "mdcontainer /dev/md" in e2e.original.file("disklayout.conf")
    assert e2e.original.file("efi-before.txt").startswith(f"firmware {firmware}")
    for restore in e2e.restores:
        log = restore.recover_log()
        if firmware == "uefi":
            # ReaR's 670 found the disk of the ESP /dev/mdXp1 (the plugin's get_device_from_partition).
            assert re.search(r"Creating +EFI Boot Manager entry", log), (restore.target, log[-6000:])
            assert "unable to find the underlying disk" not in log, (restore.target, log[-6000:])
        else:
            assert "GRUB2 is installed onto the volume" in log, (restore.target, log[-6000:])
        assert "Verifying the recreated firmware RAID" in log, (restore.target, log[-6000:])
        check_restored_system(e2e, restore)
    if dirty:
        # The rescue system found the old arrays assembled on the used disks before the recovery.
        at_boot = e2e.restores[1].recovery.file("mdstat-at-boot.txt")
        assert "external:imsm" in at_boot, at_boot
