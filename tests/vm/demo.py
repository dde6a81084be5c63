"""``make demo``: the main job in VMs, told as it happens.

``make demo`` (``python -m tests.vm.demo``) runs the end-to-end scenario of tests/vm/endtoend.py (BIOS,
blank disks): a Debian system installed on an Intel IMSM RAID1 volume boots
from its disks, ``rear mkbackup`` makes a rescue ISO with the backup, the ISO
boots in a new VM with blank disks and ``rear recover`` runs unattended, then
the recovered disks boot alone.  It prints the phases with their wall times,
the recorded ``mdcontainer`` / ``mdvolume`` entries, the ``mdadm --detail``
of the volume before (original) and after (restored system), and the checks.
45-100 minutes under software emulation on 2 cores, depending on the load.

``python -m tests.vm.demo --quick`` is the short version (about 10 minutes),
without backup and boots:

1. Boots a Debian VM (QEMU, software emulation) with Debian's rear and mdadm and
   the plugin installed by ``make install DESTDIR=...``, and two SATA disks.
2. "Original system": creates an Intel IMSM container with a RAID1 volume,
   a GPT with an ext4 file system and a data file on it, runs ``rear savelayout``
   and shows the recorded ``mdcontainer`` / ``mdvolume`` entries.
3. Reboots on the same (now "dirty") disks: udev assembles the old arrays at
   boot, as it does in a rescue system on used disks. Runs ``rear layoutonly``
   unattended: the plugin stops the old arrays, wipes the two disks, recreates
   container and volume with the recorded geometry and verifies them.
4. Prints the timings and the ``mdadm --detail`` of the volume before and after.

The work directory is kept (``MDC_DEMO_DIR``, default a fresh temporary one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.vm.vmlib import VM, DiskSpec, Image, ensure_image

HERE = Path(__file__).resolve().parent
FILES = {"layouts.sh": (HERE / "layouts.sh").read_text()}

ORIGINAL = r"""
. /mnt/host/layouts.sh
step "creating an IMSM container with a RAID1 volume (IMSM_NO_PLATFORM=1: no Intel option ROM in a VM)"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Volume0 raid1 262144 - $(disk a) $(disk b)
with_fs Volume0 /srv/data data
echo "payroll 2026" >/srv/data/important.txt
cat /proc/mdstat
mdadm --detail "$(md_of Volume0)" >"$VMTEST_SHARE/detail-before.txt"
rear_config
step "rear savelayout"
save_layout
"""

RECOVERY = r"""
. /mnt/host/layouts.sh
step "after the reboot: udev assembled the old arrays from the disks"
cat /proc/mdstat
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/data" {print $2}' $L)"
rear_config
step "rear layoutonly"
rear_run layoutonly
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
mdadm --detail "$vol" >"$VMTEST_SHARE/detail-after.txt"
cat /proc/mdstat
lsblk -o NAME,SIZE,TYPE,FSTYPE,LABEL
"""


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _setup() -> tuple[Path, Image, float]:
    """The work directory (MDC_DEMO_DIR or a new one), the VM image (built once) and the start time."""
    workdir = Path(os.environ.get("MDC_DEMO_DIR", "") or tempfile.mkdtemp(prefix="rear-mdcontainer-demo-"))
    started = time.monotonic()
    banner("VM image (built once, then cached)")
    image = ensure_image()
    print(f"image: {image.path}  ({time.monotonic() - started:.0f} s)")
    return workdir, image, started


def end_to_end() -> int:
    """The end-to-end scenario, with what an administrator wants to see."""
    from tests.vm.endtoend import check_restored_system, run_e2e

    workdir, image, started = _setup()
    count = 0

    def make_vm(disks: object) -> VM:
        nonlocal count
        count += 1
        return VM(workdir / f"vm{count}", disks, image=image, memory_mib=1536)  # type: ignore[arg-type]

    try:
        e2e = run_e2e(make_vm, workdir, say=banner)
        banner("recorded entries (disklayout.conf of the original)")
        print("\n".join(line for line in e2e.original.file("disklayout.conf").splitlines()
                        if line.startswith(("mdcontainer ", "mdvolume ", "# mdplatform", "part /dev/md", "fs /dev/md"))))
        banner("mdadm --detail of the volume before (original system)")
        print(e2e.original.file("detail-before.txt"))
        banner("mdadm --detail of the volume after (the restored system, booted from its disks)")
        print(e2e.restored.file("detail-after.txt"))
        banner("the restored system")
        print(e2e.restored.output[-2500:])
        check_restored_system(e2e)
    except AssertionError as exc:
        print(f"\nFAILED: {str(exc)[-6000:]}\nwork directory {workdir}")
        return 1
    banner("timings (wall clock, software emulation)")
    for phase, seconds in e2e.seconds.items():
        print(f"{phase:40s} {seconds:6.0f} s")
    print(f"{'total':40s} {time.monotonic() - started:6.0f} s; work directory {workdir}")
    print("\nOK: backed up, recovered onto blank disks and booted: root on the recreated IMSM volume, "
          "data checksums equal, mdadm.conf names the new UUIDs, no resync.")
    return 0


def quick() -> int:
    workdir, image, started = _setup()
    vm = VM(workdir, [DiskSpec("a", 1024), DiskSpec("b", 1024)], image=image)

    banner("original system: IMSM RAID1, data, rear savelayout")
    original = vm.run(ORIGINAL, files=FILES, label="original", timeout=1800)
    print(original.output[-2500:])
    if original.rc != 0:
        print(f"FAILED (rc {original.rc}); logs in {original.share_dir}")
        return 1
    entries = [line for line in original.file("disklayout.conf").splitlines()
               if line.startswith(("mdcontainer ", "mdvolume ", "# Format: md"))]
    banner("recorded entries (disklayout.conf)")
    print("\n".join(entries))

    banner("recovery on the same, dirty disks: rear layoutonly")
    recovery = vm.run(RECOVERY, files=FILES, label="recovery", timeout=2400)
    print(recovery.output[-5000:])
    banner("mdadm --detail of the volume before")
    print(original.file("detail-before.txt"))
    banner("mdadm --detail of the volume after")
    print(recovery.file("detail-after.txt") if (recovery.share_dir / "detail-after.txt").exists() else "(none)")
    banner("timings")
    print(f"original boot + savelayout: {original.seconds:.0f} s (boot {original.boot_seconds} s)")
    print(f"recovery boot + layoutonly: {recovery.seconds:.0f} s (boot {recovery.boot_seconds} s)")
    print(f"total: {time.monotonic() - started:.0f} s; work directory {workdir}")
    if recovery.rc != 0:
        print(f"FAILED (rc {recovery.rc}); logs in {recovery.share_dir}")
        return 1
    print("\nOK: container and volume recreated and verified.")
    return 0


def main(argv: list[str]) -> int:
    return quick() if "--quick" in argv else end_to_end()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
