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
with_fs Sys /srv/t/sys sys
with_fs Data /srv/t/data data
with_fs Ddata /srv/t/ddata ddata
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
sys_part=$(awk '$1 == "fs" && $3 == "/srv/t/sys" {print $2}' $L)
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


SIMPLE_ORIGINAL = r"""
. /mnt/host/layouts.sh
step "original system: IMSM RAID1 with two partitions"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Volume0 raid1 262144 - $(disk a) $(disk b)
dev=$(md_of Volume0)
parted -s "$dev" mklabel gpt mkpart root ext4 1MiB 128MiB mkpart data ext4 128MiB 100%
settle
mkfs.ext4 -q -L root "${dev}p1"; mkfs.ext4 -q -L data "${dev}p2"
mkdir -p /srv/t/root /srv/t/data; mount "${dev}p1" /srv/t/root; mount "${dev}p2" /srv/t/data
rear_config
save_layout
"""

PREFLIGHT = r"""
. /mnt/host/layouts.sh
step "booted with noiswmd: udev left the IMSM disks alone (md_mod is not even loaded)"
cat /proc/mdstat 2>/dev/null || echo "no /proc/mdstat"
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
cp $L /root/layout.good

step "1: IMSM without platform, MDCONTAINER_IMSM_NO_PLATFORM=no"
rear_config MDCONTAINER_IMSM_NO_PLATFORM=no
rc=0; IMSM_NO_PLATFORM= rear_run layoutonly >"$VMTEST_SHARE/platform.out" 2>&1 || rc=$?
echo "$rc" >"$VMTEST_SHARE/platform.rc"

step "2: a malformed mdvolume entry"
cp /root/layout.good $L
sed -i -E 's/^(mdvolume .*) size=([0-9]+)/\1 size=12x/' $L
rear_config
rc=0; rear_run layoutonly >"$VMTEST_SHARE/malformed.out" 2>&1 || rc=$?
echo "$rc" >"$VMTEST_SHARE/malformed.rc"

step "3: the second disk is too small (a smaller replacement, mapped by a user mapping file)"
cp /root/layout.good $L
small=$(disk small)
orig_b=$(awk '$1 == "mdcontainer" {sub("devices=", "", $4); split($4, d, ","); print d[2]}' $L)
mkdir -p /root/mappings; echo "$orig_b $small" >/root/mappings/disk_mappings
rc=0; (cd /root/mappings && rear_run layoutonly) >"$VMTEST_SHARE/small.out" 2>&1 || rc=$?
echo "$rc" >"$VMTEST_SHARE/small.rc"
cat /proc/mdstat 2>/dev/null || echo "no /proc/mdstat: nothing was assembled or created"
"""


def test_preflight_stops_before_any_write(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    vm.add_disk(DiskSpec("small", 256))
    hashes = {name: vm.hash_disk(name) for name in ("a", "b", "small")}
    vm.kernel_args = "noiswmd"
    res = vm.run(PREFLIGHT, files=FILES, label="preflight", timeout=3000)
    assert res.rc == 0, res.output[-6000:]
    platform = res.file("platform.out")
    assert res.file("platform.rc").strip() != "0"
    assert "no Intel RST/VROC platform" in platform and "MDCONTAINER_IMSM_NO_PLATFORM=yes" in platform, platform
    malformed = res.file("malformed.out")
    assert res.file("malformed.rc").strip() != "0"
    assert re.search(r"mdvolume /dev/md\d+: size=12x is not a whole number", malformed), malformed
    small = res.file("small.out")
    assert res.file("small.rc").strip() != "0"
    assert re.search(r"disk /dev/sd[a-z]+ has 256 MiB but the recorded volumes need \d+ MiB", small), small
    assert {name: vm.hash_disk(name) for name in ("a", "b", "small")} == hashes, "a disk was written"


FAULTS = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
step "one-shot faults at each step of the generated code; ReaR's default answer reruns diskrestore.sh"
mkdir -p /run/faults /usr/local/sbin
touch /run/faults/wipe-disk /run/faults/create-container /run/faults/create-volume /run/faults/wipe-volume \
      /run/faults/mklabel
# Wrappers first in PATH fail once per fault (its flag file is removed), then run the real command:
cat >/usr/local/sbin/mdadm <<'WRAP'
#!/bin/bash
for f in create-container:--metadata=imsm create-volume:--level=; do
    name=${f%%:*}; match=${f#*:}
    if [[ -e /run/faults/$name && " $* " == *--create*"$match"* ]]; then
        rm -f /run/faults/$name; echo "injected fault $name" >&2; echo "$name" >>/run/faults/fired; exit 1
    fi
done
exec /sbin/mdadm "$@"
WRAP
cat >/usr/local/sbin/wipefs <<'WRAP'
#!/bin/bash
for f in wipe-disk:/dev/sd wipe-volume:/dev/md; do
    name=${f%%:*}; match=${f#*:}
    if [[ -e /run/faults/$name && " $* " == *" $match"* ]]; then
        rm -f /run/faults/$name; echo "injected fault $name" >&2; echo "$name" >>/run/faults/fired; exit 1
    fi
done
exec /sbin/wipefs "$@"
WRAP
cat >/usr/local/sbin/parted <<'WRAP'
#!/bin/bash
if [[ -e /run/faults/mklabel && " $* " == *" mklabel "* ]]; then
    rm -f /run/faults/mklabel; echo "injected fault mklabel" >&2; echo mklabel >>/run/faults/fired; exit 1
fi
exec /sbin/parted "$@"
WRAP
chmod 755 /usr/local/sbin/mdadm /usr/local/sbin/wipefs /usr/local/sbin/parted
export PATH=/usr/local/sbin:$PATH
rear_config 'USER_INPUT_LAYOUT_CODE_RUN=yes'
rc=0; timeout 2400 bash -c '. /mnt/host/prelude.sh; . /mnt/host/layouts.sh; rear_run layoutonly' || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
cp /run/faults/fired "$VMTEST_SHARE/fired.txt" || true
ls /run/faults >"$VMTEST_SHARE/faults-left.txt"
cat /proc/mdstat
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
n=${vol##*/}
echo "$(cat /sys/block/$n/md/level) $(cat /sys/block/$n/md/component_size) $(cat /sys/block/$n/md/array_state)" \
     "$(blkid -o value -s LABEL ${vol}p1) $(blkid -o value -s LABEL ${vol}p2)" >"$VMTEST_SHARE/result.txt"
cat "$VMTEST_SHARE/result.txt"
"""


def test_rerun_after_a_fault_at_each_step(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    res = vm.run(FAULTS, files=FILES, label="faults", timeout=3000)
    print(res.output[-4000:])
    assert res.rc == 0, res.output[-6000:]
    assert res.file("layoutonly.rc").strip() == "0", res.output[-6000:]
    fired = res.file("fired.txt").split()
    assert fired == ["wipe-disk", "create-container", "create-volume", "wipe-volume", "mklabel"], fired
    assert res.file("faults-left.txt").split() == ["fired"]
    level, size, state, label1, label2 = res.file("result.txt").split()
    assert (level, size, label1, label2) == ("raid1", "262144", "root", "data")
    assert state in ("clean", "active", "active-idle")


REPLACEMENT = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
step "replacement disks: bigger and blank, names shifted by an extra disk in front"
lsblk -d -o NAME,SIZE,SERIAL
read -r orig_a orig_b < <(awk '$1 == "mdcontainer" {sub("devices=", "", $4); gsub(",", " ", $4); print $4}' $L)
# The volume's slot 0 disk was recorded first; map it to the new disk a2, the other one to b2.
mkdir -p /root/mappings
printf '%s %s\n%s %s\n' "$orig_a" "$(disk a2)" "$orig_b" "$(disk b2)" | tee /root/mappings/disk_mappings
rear_config
rc=0; (cd /root/mappings && rear_run layoutonly) || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
grep -E '^(mdcontainer|mdvolume) ' $L | tee "$VMTEST_SHARE/mapped-entries.txt"
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
n=${vol##*/}
slots=$(for d in /sys/block/$n/md/dev-*; do echo "$(cat $d/slot) /dev/${d##*/dev-}"; done \
        | sort -n | awk '{print $2}' | paste -sd, -)
echo "$(cat /sys/block/$n/md/component_size) $slots $(blkid -o value -s LABEL ${vol}p1) $(blkid -o value -s LABEL ${vol}p2)" \
    | tee "$VMTEST_SHARE/result.txt"
echo "$(disk a2),$(disk b2)" >"$VMTEST_SHARE/new-disks.txt"
"""


def test_recover_onto_bigger_renamed_disks(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    vm.remove_disk("a")
    vm.remove_disk("b")
    vm.add_disk(DiskSpec("extra", 300))
    vm.add_disk(DiskSpec("a2", 768))
    vm.add_disk(DiskSpec("b2", 768))
    extra = vm.hash_disk("extra")
    res = vm.run(REPLACEMENT, files=FILES, label="replacement", timeout=2400)
    print(res.output[-4000:])
    assert res.rc == 0, res.output[-6000:]
    assert res.file("layoutonly.rc").strip() == "0", res.output[-6000:]
    size, slots, label1, label2 = res.file("result.txt").split()
    assert size == "262144", "the recorded volume size is kept on bigger disks"
    assert slots == res.file("new-disks.txt").strip()
    assert (label1, label2) == ("root", "data")
    entries = res.file("mapped-entries.txt")
    assert f"devices={res.file('new-disks.txt').strip()} " in entries
    assert vm.hash_disk("extra") == extra, "the extra disk was written"
