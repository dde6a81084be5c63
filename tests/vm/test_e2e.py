"""End to end in VMs: install on IMSM RAID1, rear mkbackup, boot the rescue ISO, rear recover, boot.

The scenario and its checks are in tests/vm/endtoend.py (``python -m
tests.vm.demo --e2e`` runs the same).  45-100 VM minutes per variant under
TCG on 2 cores (the installed original system's disks are cached
afterwards): ``make e2e`` runs it (MDC_E2E=1), ``make test`` skips it to stay
inside CI's time; the flow itself is checked without booting in
tests/vm/test_endtoend_flow.py.  MDC_E2E_VARIANTS chooses among "bios",
"uefi" (the default: both) and "bios-migrate" (the recovery with
MDCONTAINER_MIGRATE=native: the restored system boots from a native md
RAID1).  With MDC_E2E_DIRTY=1 (``make e2e`` sets it) the BIOS variant's
rescue ISO then also recovers onto the original's own, dirty disks, whose old
arrays the rescue system's udev assembles, and those boot too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.vm.endtoend import check_restored_system, run_e2e

#: The variants: firmware, and "-migrate" for a recovery with MDCONTAINER_MIGRATE=native (a replacement
#: machine without Intel RST: the IMSM RAID1 comes back as a native md RAID1 and must boot).
VARIANTS = ("bios", "uefi", "bios-migrate")


def _variants() -> list[str]:
    chosen = os.environ.get("MDC_E2E_VARIANTS", "bios uefi").split()
    return [name for name in VARIANTS if name in chosen]


@pytest.mark.skipif(os.environ.get("MDC_E2E", "") != "1",
                    reason="45-100 VM minutes each: run with make e2e (MDC_E2E=1), left out of make test for CI's time")
@pytest.mark.parametrize("variant", _variants())
def test_e2e_imsm_raid1(vm_factory, tmp_path: Path, variant: str) -> None:
    firmware, _, how = variant.partition("-")
    migrate = how == "migrate"
    # The dirty-disk recovery once, with BIOS: the firmware changes nothing in what the rescue system finds.
    dirty = os.environ.get("MDC_E2E_DIRTY", "") == "1" and variant == "bios"
    e2e = run_e2e(lambda disks: vm_factory(disks, memory_mib=1536, firmware=firmware), tmp_path, dirty=dirty,
                  migrate=migrate)
    print(f"end-to-end phases, {variant} (s): " + ", ".join(f"{k} {v:.0f}" for k, v in e2e.seconds.items()))
    assert "mdcontainer /dev/md" in e2e.original.file("disklayout.conf")
    assert e2e.original.file("efi-before.txt").startswith(f"firmware {firmware}")
    for restore in e2e.restores:
        log = restore.recover_log()
        if firmware == "uefi":
            # ReaR's 670 found the disk of the ESP /dev/mdXp1 (the plugin's get_device_from_partition).
            assert re.search(r"Creating +EFI Boot Manager entry", log), (restore.target, log[-6000:])
            assert "unable to find the underlying disk" not in log, (restore.target, log[-6000:])
        elif migrate:
            assert "migrated to native md RAID 1: GRUB2 is installed onto each of its member disks" in log, \
                (restore.target, log[-6000:])
            assert "Failed to install GRUB2" not in log, (restore.target, log[-6000:])
        else:
            assert "GRUB2 is installed onto the volume" in log, (restore.target, log[-6000:])
        assert "Verifying the recreated firmware RAID" in log, (restore.target, log[-6000:])
        check_restored_system(e2e, restore)
    if dirty:
        # The rescue system found the old arrays assembled on the used disks before the recovery.
        at_boot = e2e.restores[1].recovery.file("mdstat-at-boot.txt")
        assert "external:imsm" in at_boot, at_boot
