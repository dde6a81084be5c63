"""``make demo``: the main job end to end in VMs, told as it happens.

The BIOS end-to-end scenario of tests/vm/endtoend.py:

1. A Debian system installed on an Intel IMSM RAID1 volume (container and
   volume on two SATA disks, GRUB on the volume, Debian's initramfs with
   mdadm), built once and cached.
2. That system boots from its disks (SeaBIOS, no kernel passed by QEMU), the
   plugin is installed (``make install DESTDIR=...``) and ``rear mkbackup``
   writes a rescue ISO with the backup inside.
3. A new VM with blank disks of the same sizes boots the rescue ISO and runs ``rear
   recover`` unattended: the plugin recreates container and volume, verifies
   them, makes the restored system name the new UUIDs and installs GRUB onto
   the volume.
4. The recovered disks boot by themselves; the demo shows the recorded
   entries, the timings and ``mdadm --detail`` of the root volume before and
   after, and checks the data.

The work directory is kept (``MDC_DEMO_DIR``, default a fresh temporary one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.vm.endtoend import check_restored_system, run_e2e
from tests.vm.vmlib import VM, ensure_image


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def main() -> int:
    workdir = Path(os.environ.get("MDC_DEMO_DIR", "") or tempfile.mkdtemp(prefix="rear-mdcontainer-demo-"))
    started = time.monotonic()
    banner("VM image (built once, then cached)")
    image = ensure_image()
    print(f"image: {image.path}  ({time.monotonic() - started:.0f} s)")
    count = 0

    def make_vm(disks):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1
        return VM(workdir / f"vm{count}", disks, image=image, memory_mib=1536)

    try:
        e2e = run_e2e(make_vm, workdir, say=banner)
    except AssertionError as exc:
        print(f"\nFAILED: {exc}\nlogs below {workdir}")
        return 1
    banner("recorded entries (disklayout.conf of the original system)")
    print("\n".join(line for line in e2e.original.file("disklayout.conf").splitlines()
                    if line.startswith(("mdcontainer ", "mdvolume ", "part /dev/md", "fs /dev/md"))))
    banner("rear recover (what the plugin said)")
    print("\n".join(line for line in e2e.recovery.output.splitlines()
                    if "mdcontainer" in line or "firmware RAID" in line or "GRUB2" in line))
    banner("mdadm --detail of the root volume: original system")
    print(e2e.original.file("detail-before.txt"))
    banner("mdadm --detail of the root volume: restored system, booted from its disks")
    print(e2e.restored.file("detail-after.txt") if (e2e.restored.share_dir / "detail-after.txt").exists()
          else "(none)")
    banner("the restored system")
    print(f"root file system: {e2e.restored.file('root-source.txt').strip()}")
    print(e2e.restored.file("data-check.txt").strip())
    banner("timings")
    for phase, seconds in e2e.seconds.items():
        print(f"{phase}: {seconds:.0f} s")
    print(f"total: {time.monotonic() - started:.0f} s; work directory {workdir}")
    try:
        check_restored_system(e2e)
    except AssertionError as exc:
        print(f"\nFAILED: {exc}")
        return 1
    print("\nOK: recovered onto blank disks; the restored system booted from its recreated IMSM volume "
          "with its data, and its mdadm.conf names the new arrays.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
