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
from pathlib import Path

import pytest

from tests.vm.endtoend import check_restored_system, run_e2e


@pytest.mark.skipif(os.environ.get("MDC_E2E", "") != "1",
                    reason="30 VM minutes: run with make e2e (MDC_E2E=1), left out of make test for CI's time")
def test_e2e_bios_imsm_raid1(vm_factory, tmp_path: Path) -> None:
    dirty = os.environ.get("MDC_E2E_DIRTY", "") == "1"
    e2e = run_e2e(lambda disks: vm_factory(disks, memory_mib=1536), tmp_path, dirty=dirty)
    print("end-to-end phases (s): " + ", ".join(f"{k} {v:.0f}" for k, v in e2e.seconds.items()))
    assert "mdcontainer /dev/md" in e2e.original.file("disklayout.conf")
    for restore in e2e.restores:
        log = restore.recover_log()
        assert "GRUB2 is installed onto the volume" in log, (restore.target, log[-6000:])
        assert "Verifying the recreated firmware RAID" in log, (restore.target, log[-6000:])
        check_restored_system(e2e, restore)
    if dirty:
        # The rescue system found the old arrays assembled on the used disks before the recovery.
        at_boot = e2e.restores[1].recovery.file("mdstat-at-boot.txt")
        assert "external:imsm" in at_boot, at_boot
