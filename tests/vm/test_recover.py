"""Recovery in a VM: Debian's real rear layoutonly recreating what savelayout recorded.

Each scenario has an "original" boot that builds the layout, writes data and
runs ``rear savelayout``, and a "recovery" boot that runs ``rear layoutonly``
unattended (the VM passes for a rescue system: /etc/rear-release, the recorded
root moved onto a volume's file system, the VM's own disk excluded).  The
checks read sysfs and mdadm directly, not through the plugin's code.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.vm.vmlib import DiskSpec

HERE = Path(__file__).resolve().parent
LAYOUTS_SH = (HERE / "layouts.sh").read_text()
FILES = {"layouts.sh": LAYOUTS_SH}

ORIGINAL = r"""
. /mnt/host/layouts.sh
step "original system: IMSM RAID1 + RAID0 in one container, DDF RAID1, a foreign disk"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Sys raid1 196608 - $(disk a) $(disk b)
make_volume Data raid0 max 64 $(disk a) $(disk b)
make_container ddf0 ddf $(disk c) $(disk d)
make_volume Ddata raid1 131072 - $(disk c) $(disk d)
settle
with_fs Sys /mnt/t/sys sys
with_fs Data /mnt/t/data data
with_fs Ddata /mnt/t/ddata ddata
# The foreign disk has a file system but is not mounted: ReaR records it and auto-excludes it.
mkfs.ext4 -q -L foreign "$(disk f)"
cat /proc/mdstat
rear_config
save_layout
# What recovery must reproduce, read without the plugin: one line per volume.
for v in Sys Data Ddata; do
    md=$(md_of $v); n=${md##*/}
    echo "$v $(cat /sys/block/$n/md/level) $(cat /sys/block/$n/md/raid_disks) $(cat /sys/block/$n/md/component_size)" \
         "$(cat /sys/block/$n/md/chunk_size) $(blkid -o value -s UUID ${md}p1) $(blkid -o value -s LABEL ${md}p1)"
done >"$VMTEST_SHARE/volumes.txt"
cat "$VMTEST_SHARE/volumes.txt"
"""

RECOVERY = r"""
. /mnt/host/layouts.sh
step "recovery boot: what udev assembled from the old disks"
cat /proc/mdstat | tee "$VMTEST_SHARE/mdstat-at-boot.txt"
L=/var/lib/rear/layout/disklayout.conf
sys_part=$(awk '$1 == "fs" && $3 == "/mnt/t/sys" {print $2}' $L)
as_rescue_system "$sys_part"
rear_config
rc=0; rear_run layoutonly || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
cp /var/lib/rear/layout/diskrestore.sh "$VMTEST_SHARE/" || true
cp /var/lib/rear/layout/mdcontainer-uuid-map "$VMTEST_SHARE/" || true
step "after recovery"
cat /proc/mdstat
mdadm --examine --scan | tee "$VMTEST_SHARE/examine-scan.txt"
# The recorded volume devices, found by name in the metadata (not by md number):
for v in Sys Data Ddata; do
    md=$(awk -v v="name=$v" '$1 == "mdvolume" { for (i = 3; i <= NF; i++) if ($i == v) print $2 }' $L)
    n=${md##*/}
    echo "$v $(cat /sys/block/$n/md/level) $(cat /sys/block/$n/md/raid_disks) $(cat /sys/block/$n/md/component_size)" \
         "$(cat /sys/block/$n/md/chunk_size) $(blkid -o value -s UUID ${md}p1) $(blkid -o value -s LABEL ${md}p1)" \
         "$(cat /sys/block/$n/md/array_state) $(cat /sys/block/$n/md/metadata_version)"
done >"$VMTEST_SHARE/volumes-after.txt"
cat "$VMTEST_SHARE/volumes-after.txt"
findmnt -R /mnt/local || true
umount -R /mnt/local || true
"""


def test_recover_dirty_disks_assembled_at_boot(vm_factory) -> None:
    disks = [DiskSpec("a", 768), DiskSpec("b", 768), DiskSpec("c", 384), DiskSpec("d", 384), DiskSpec("f", 128)]
    vm = vm_factory(disks)
    original = vm.run(ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    layout = original.file("disklayout.conf")
    # The foreign disk (the only one of 128 MiB) has no mounted file system: auto-excluded.
    assert re.search(r"^#disk /dev/sd[a-z]+ 134217728 ", layout, re.M), layout
    foreign_before = vm.hash_disk("f")
    before = {line.split()[0]: line.split()[1:] for line in original.file("volumes.txt").splitlines()}

    recovery = vm.run(RECOVERY, files=FILES, label="recovery", timeout=2400)
    print(recovery.output[-5000:])
    # The old arrays were assembled by udev at boot, before the recovery touched anything:
    at_boot = recovery.file("mdstat-at-boot.txt")
    assert re.search(r"super external:/md\d+/0", at_boot), at_boot
    assert "super external:imsm" in at_boot and "super external:ddf" in at_boot, at_boot
    assert recovery.file("layoutonly.rc").strip() == "0", recovery.output[-8000:]

    after = {line.split()[0]: line.split()[1:] for line in recovery.file("volumes-after.txt").splitlines()}
    for name, (level, disks_, size, chunk, uuid, label) in before.items():
        got = after[name]
        assert got[:6] == [level, disks_, size, chunk, uuid, label], (name, got)
        assert got[6] in ("clean", "active", "active-idle"), (name, got)  # writable
        assert got[7].startswith("external:/"), (name, got)
    names = re.findall(r"ARRAY /dev/md/(\S+) container=", recovery.file("examine-scan.txt"))
    assert sorted(names) == ["Data", "Ddata", "Sys"]
    assert "Verifying the recreated firmware RAID" in recovery.output
    assert vm.hash_disk("f") == foreign_before, "the foreign disk was written"
