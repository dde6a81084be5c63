"""Recovery onto replacement hardware in a VM: a degraded source, and arrays the firmware already made.

Same pattern as test_recover.py: an "original" boot builds the layout, writes
data and runs ``rear savelayout``; a "recovery" boot on other disks passes for
a rescue system and runs ``rear layoutonly`` unattended. The checks read sysfs,
mdadm and blkid directly, not through the plugin's code.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.vm.vmlib import DiskSpec

HERE = Path(__file__).resolve().parent
FILES = {"layouts.sh": (HERE / "layouts.sh").read_text()}

# One IMSM RAID1 volume with two file systems, as in test_recover.py; facts(): what a recovery must reproduce.
COMMON = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
# facts VOLUME: level raid-disks degraded component-size labels and UUIDs of its partitions (not via the plugin)
facts() {
    local dev=$1 n=${1##*/}
    echo "$(cat /sys/block/$n/md/level) $(cat /sys/block/$n/md/raid_disks) $(cat /sys/block/$n/md/degraded)" \
         "$(cat /sys/block/$n/md/component_size)" \
         "$(blkid -o value -s LABEL ${dev}p1):$(blkid -o value -s UUID ${dev}p1)" \
         "$(blkid -o value -s LABEL ${dev}p2):$(blkid -o value -s UUID ${dev}p2)"
}
# members VOLUME: its member disks in slot order
members() {
    local d
    for d in /sys/block/${1##*/}/md/dev-*; do echo "$(cat $d/slot) /dev/${d##*/dev-}"; done \
        | awk '$1 ~ /^[0-9]+$/' | sort -n | awk '{print $2}' | paste -sd, -
}
"""

ORIGINAL = COMMON + r"""
step "original system: IMSM RAID1 with two file systems and data"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Volume0 raid1 262144 - $(disk a) $(disk b)
dev=$(md_of Volume0)
parted -s "$dev" mklabel gpt mkpart root ext4 1MiB 128MiB mkpart data ext4 128MiB 100%
settle
mkfs.ext4 -q -L root "${dev}p1"; mkfs.ext4 -q -L data "${dev}p2"
mkdir -p /srv/t/root /srv/t/data; mount "${dev}p1" /srv/t/root; mount "${dev}p2" /srv/t/data
echo "written before the disk failed" >/srv/t/data/before.txt
"""

DEGRADE = r"""
step "disk b fails and is removed from the container: the volume runs degraded"
md_assembly off  # nothing may put the failed disk back
b=$(disk b)
mdadm "$dev" --fail "$b"
for i in $(seq 100); do [[ -e /sys/block/${dev##*/}/md/dev-${b##*/} ]] || break; sleep 0.2; done
container=$(md_resolve imsm0)
for i in $(seq 20); do mdadm "$container" --remove "$b" && break; sleep 0.5; done
settle
echo "written while degraded" >/srv/t/data/after.txt
sync
cat /proc/mdstat
facts "$dev" | tee "$VMTEST_SHARE/facts-before.txt"
members "$dev" | tee "$VMTEST_SHARE/members-before.txt"
rear_config
rc=0; rear_run savelayout >"$VMTEST_SHARE/savelayout.out" 2>&1 || rc=$?
cat "$VMTEST_SHARE/savelayout.out"
[[ $rc == 0 ]] || die "rear savelayout failed"
cp $L "$VMTEST_SHARE/"
"""

DEGRADED_RECOVERY = COMMON + r"""
step "recovery onto two blank disks: the layout names only the surviving one"
lsblk -d -o NAME,SIZE,SERIAL
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
con=$(awk '$1 == "mdcontainer" {print $2}' $L)
survivor=$(awk '$1 == "mdcontainer" {sub("devices=", "", $4); print $4}' $L)
other=$(for d in $(disk a2) $(disk b2); do if [[ $d != "$survivor" ]]; then echo $d; fi; done)
echo "survivor slot disk: $survivor, the other blank disk: $other"
sha256sum $(disk a2) $(disk b2) >/root/blank.sha

step "1: without MDCONTAINER_MISSING_DISKS the recovery stops before any write"
rear_config
rc=0; rear_run layoutonly >"$VMTEST_SHARE/refused.out" 2>&1 || rc=$?
echo "$rc" >"$VMTEST_SHARE/refused.rc"
sha256sum -c --quiet /root/blank.sha && echo unchanged >"$VMTEST_SHARE/refused-disks.txt"

step "2: MDCONTAINER_MISSING_DISKS names the other disk: recreated complete"
rear_config "MDCONTAINER_MISSING_DISKS='$con:$other'"
rc=0; rear_run layoutonly || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
grep -E '^(# rear-mdcontainer:|disk |mdcontainer |mdvolume )' $L | tee "$VMTEST_SHARE/entries-after.txt"
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
cat /proc/mdstat
facts "$vol" | tee "$VMTEST_SHARE/facts-after.txt"
members "$vol" | tee "$VMTEST_SHARE/members-after.txt"
echo "$(cat /sys/block/${vol##*/}/md/array_state) $(cat /sys/block/${vol##*/}/md/metadata_version)" \
    | tee "$VMTEST_SHARE/state-after.txt"
echo "$con $survivor $other" >"$VMTEST_SHARE/disks-after.txt"
findmnt -R /mnt/local || true
umount -R /mnt/local || true
"""


def test_degraded_source_is_recreated_complete(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(ORIGINAL + DEGRADE, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    level, raid_disks, degraded, size, *_ = original.file("facts-before.txt").split()
    assert (level, raid_disks, degraded, size) == ("raid1", "2", "1", "262144"), "the source is degraded"
    assert "WARNING" in original.file("savelayout.out") and "is degraded" in original.file("savelayout.out")
    layout = original.file("disklayout.conf")
    assert re.search(r"^mdvolume /dev/md\d+ .* devices=(missing,/dev/sd[a-z]|/dev/sd[a-z],missing) ", layout, re.M)
    assert re.search(r"^mdcontainer /dev/md\d+ metadata=imsm devices=/dev/sd[a-z] ", layout, re.M), layout
    assert "# mdplatform imsm present=no imsm-no-platform=yes" in layout

    vm.remove_disk("a")
    vm.remove_disk("b")
    vm.add_disk(DiskSpec("a2", 512))
    vm.add_disk(DiskSpec("b2", 512))
    recovery = vm.run(DEGRADED_RECOVERY, files=FILES, label="recovery", timeout=3000)
    print(recovery.output[-5000:])
    assert recovery.rc == 0, recovery.output[-6000:]

    refused = recovery.file("refused.out")
    assert recovery.file("refused.rc").strip() != "0"
    assert re.search(r"mdvolume /dev/md\d+: slot \d has no disk \(devices=.*degraded when the layout was saved\) "
                     r"and the layout names no disk that nothing else uses", refused), refused[-3000:]
    container, survivor, other = recovery.file("disks-after.txt").split()
    assert f"MDCONTAINER_MISSING_DISKS='{container}:<disk>'" in refused
    assert f"e.g. {other} (512 MiB, " in refused, "the message suggests the blank disk"
    assert recovery.file("refused-disks.txt").strip() == "unchanged", "a disk was written before the refusal"

    assert recovery.file("layoutonly.rc").strip() == "0", recovery.output[-8000:]
    entries = recovery.file("entries-after.txt")
    assert (f"# rear-mdcontainer: {other} completes the degraded volume(s) of {container} "
            "(MDCONTAINER_MISSING_DISKS)") in entries
    before = original.file("facts-before.txt").split()
    after = recovery.file("facts-after.txt").split()
    assert after[:4] == ["raid1", "2", "0", "262144"], "complete: two slots, none missing"
    assert after[4:] == before[4:], "partitions and file systems (labels, UUIDs) as recorded"
    assert sorted(recovery.file("members-after.txt").strip().split(",")) == sorted([survivor, other])
    state, version = recovery.file("state-after.txt").split()
    assert state in ("clean", "active", "active-idle") and version.startswith("external:/")
    assert "Verifying the recreated firmware RAID" in recovery.output


REUSE_RECOVERY = COMMON + r"""
step "replacement disks whose RAID the firmware's setup made: another volume name, the whole disks"
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
make_container fw0 imsm $(disk a2) $(disk b2)
make_volume FwVol raid1 max - $(disk a2) $(disk b2)
settle
fw=$(md_of FwVol)
fwc=$(md_resolve fw0)
echo "$(mdadm --detail --export $fwc | sed -n 's/^MD_UUID=//p') $(mdadm --detail --export $fw | sed -n 's/^MD_UUID=//p')" \
    | tee "$VMTEST_SHARE/uuids-before.txt"
cat /sys/block/${fw##*/}/md/component_size >"$VMTEST_SHARE/fw-size.txt"
cat /proc/mdstat
rear_config MDCONTAINER_REUSE=yes
rc=0; rear_run layoutonly || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
cp /var/lib/rear/layout/diskrestore.sh /var/lib/rear/layout/mdcontainer-kept "$VMTEST_SHARE/" || true
cp /var/lib/rear/layout/mdcontainer-uuid-map "$VMTEST_SHARE/" || true
cat /proc/mdstat
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
con=$(awk '$1 == "mdcontainer" {print $2; exit}' $L)
echo "$(mdadm --detail --export $con | sed -n 's/^MD_UUID=//p') $(mdadm --detail --export $vol | sed -n 's/^MD_UUID=//p')" \
    | tee "$VMTEST_SHARE/uuids-after.txt"
echo "$vol $fw" | tee "$VMTEST_SHARE/devices.txt"
facts "$vol" | tee "$VMTEST_SHARE/facts-after.txt"
findmnt -R /mnt/local || true
umount -R /mnt/local || true
"""


def test_reuse_keeps_arrays_the_firmware_made(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(ORIGINAL + "\nfacts \"$dev\" >\"$VMTEST_SHARE/facts-before.txt\"\nrear_config\nsave_layout\n",
                      files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    vm.remove_disk("a")
    vm.remove_disk("b")
    vm.add_disk(DiskSpec("a2", 512))
    vm.add_disk(DiskSpec("b2", 512))
    recovery = vm.run(REUSE_RECOVERY, files=FILES, label="reuse", timeout=2400)
    print(recovery.output[-5000:])
    assert recovery.rc == 0, recovery.output[-6000:]
    assert recovery.file("layoutonly.rc").strip() == "0", recovery.output[-8000:]
    assert recovery.file("uuids-after.txt").split() == recovery.file("uuids-before.txt").split(), \
        "the firmware's container and volume were kept (same UUIDs)"
    vol, fw = recovery.file("devices.txt").split()
    assert vol == fw, "the layout names the kept volume"
    assert "keeping the existing imsm container" in recovery.output
    log = recovery.file("rear-layoutonly.log")
    assert "reuse-check" in log
    assert not re.search(r"^\++ mdadm --create", log, re.M), "nothing was created"
    assert not re.search(r"^\++ mdcontainer_helper prepare-container", log, re.M), "nothing was wiped"
    before = original.file("facts-before.txt").split()
    after = recovery.file("facts-after.txt").split()
    assert after[:3] == ["raid1", "2", "0"]
    assert int(after[3]) == int(recovery.file("fw-size.txt")) > 262144, "the firmware's larger volume"
    assert after[4:] == before[4:], "partitions and file systems (labels, UUIDs) as recorded"
    kept_container = recovery.file("uuids-before.txt").split()[0]
    assert kept_container in recovery.file("mdcontainer-kept")
    assert kept_container in recovery.file("mdcontainer-uuid-map")


MIGRATE_ORIGINAL = ORIGINAL + r"""
facts "$dev" >"$VMTEST_SHARE/facts-before.txt"
members "$dev" >"$VMTEST_SHARE/members-before.txt"
# What the original system's mdadm.conf and kernel arguments name (for the finalize check in the recovery boot):
mdadm --detail --scan | tee "$VMTEST_SHARE/scan-before.txt"
rear_config
save_layout
"""

# The same (dirty) disks in a new boot: udev assembles the old IMSM container and volume; the recovery
# migrates the volume to a native md array. The finalize helper then runs on a small restored root made
# from the original's 'mdadm --detail --scan' (rear layoutonly restores nothing and has no finalize stage).
MIGRATE_RECOVERY = COMMON + r"""
step "recovery boot on the dirty disks: what udev assembled"
cat /proc/mdstat | tee "$VMTEST_SHARE/mdstat-at-boot.txt"
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
rear_config MDCONTAINER_MIGRATE=native
rc=0; rear_run layoutonly || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
for f in diskrestore.sh mdcontainer-uuid-map mdcontainer-native diskdeps.conf; do
    cp "/var/lib/rear/layout/$f" "$VMTEST_SHARE/" || true
done
cat /proc/mdstat
vol=$(awk '$1 == "mdvolume" {print $2; exit}' $L)
n=${vol##*/}
echo "$vol" >"$VMTEST_SHARE/volume.txt"
facts "$vol" | tee "$VMTEST_SHARE/facts-after.txt"
members "$vol" | tee "$VMTEST_SHARE/members-after.txt"
echo "$(cat /sys/block/$n/md/metadata_version) $(cat /sys/block/$n/md/array_state)" | tee "$VMTEST_SHARE/state-after.txt"
for m in /sys/block/md*/md; do echo "$(basename "$(dirname "$m")") $(cat "$m/metadata_version")"; done \
    | tee "$VMTEST_SHARE/versions-after.txt"
mdadm --detail --export "$vol" | tee "$VMTEST_SHARE/detail-export-after.txt"
step "the recreated file systems take writes"
findmnt -R /mnt/local || true
echo "written after the migration" >/mnt/local/migrated.txt && sync && cat /mnt/local/migrated.txt \
    >"$VMTEST_SHARE/written.txt"
umount -R /mnt/local || true
step "finalize on a restored root that names the old arrays"
root=/root/restored
mkdir -p $root/etc/mdadm $root/etc/default
{ echo "HOMEHOST <system>"; cat "$VMTEST_SHARE/scan-before.txt"; } >$root/etc/mdadm/mdadm.conf
uuids=$(sed -n 's/.*UUID=\([0-9a-f:]*\).*/rd.md.uuid=\1/p' "$VMTEST_SHARE/scan-before.txt" | paste -sd' ' -)
echo "GRUB_CMDLINE_LINUX=\"$uuids\"" >$root/etc/default/grub
PYTHONPATH=/usr/share/rear/mdcontainer/python python3 -m rear_mdcontainer finalize --root $root --layout-file $L \
    --uuid-map /var/lib/rear/layout/mdcontainer-uuid-map --native-file /var/lib/rear/layout/mdcontainer-native \
    | tee "$VMTEST_SHARE/finalize.out"
cp $root/etc/mdadm/mdadm.conf "$VMTEST_SHARE/mdadm.conf-after"
cp $root/etc/default/grub "$VMTEST_SHARE/grub-after"
mdadm --detail --scan | tee "$VMTEST_SHARE/scan-after.txt"
"""


def test_migrate_to_native_md_on_dirty_disks(vm_factory) -> None:
    """MDCONTAINER_MIGRATE=native: the IMSM RAID1 (root on it) becomes a native md RAID1 with metadata 1.0."""
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(MIGRATE_ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    files = {**FILES, "scan-before.txt": original.file("scan-before.txt")}  # each run has its own share
    recovery = vm.run(MIGRATE_RECOVERY, files=files, label="migrate", timeout=3000)
    print(recovery.output[-5000:])
    assert recovery.rc == 0, recovery.output[-6000:]
    assert "external:imsm" in recovery.file("mdstat-at-boot.txt") or "imsm" in recovery.file("mdstat-at-boot.txt"), \
        "udev assembled the old IMSM arrays at boot (dirty disks)"
    assert recovery.file("layoutonly.rc").strip() == "0", recovery.output[-8000:]

    vol = recovery.file("volume.txt").strip()
    version, state = recovery.file("state-after.txt").split()
    assert version == "1.0", "the volume holding / gets metadata 1.0"
    assert state in ("clean", "active", "active-idle"), state
    versions = recovery.file("versions-after.txt")
    assert "external" not in versions, f"no container or container volume is left: {versions}"
    before = original.file("facts-before.txt").split()
    after = recovery.file("facts-after.txt").split()
    assert after[:4] == ["raid1", "2", "0", "262144"], after
    assert after[4:] == before[4:], "partitions and file systems (labels, UUIDs) as recorded"
    assert recovery.file("members-after.txt").strip() == original.file("members-before.txt").strip(), \
        "the whole member disks in the recorded slot order"
    assert recovery.file("written.txt").strip() == "written after the migration"

    code = recovery.file("diskrestore.sh")
    assert re.search(rf"^mdadm --create {vol} --run --metadata=1\.0 --homehost=any --name=Volume0 --level=raid1 "
                     r"--raid-devices=2 --size=262144 --bitmap=internal /dev/sd[a-z] /dev/sd[a-z] >&2$", code, re.M), code
    assert "--metadata=imsm" not in code
    assert "Verifying the recreated firmware RAID" in recovery.output
    export = dict(line.split("=", 1) for line in recovery.file("detail-export-after.txt").split() if "=" in line)
    new_uuid = export["MD_UUID"]
    assert recovery.file("mdcontainer-native").split()[:3] == [vol, new_uuid, "1.0"]

    # finalize: no container= / member= / imsm lines; the native array's line; every old UUID now the native one
    old = re.findall(r"UUID=([0-9a-f:]+)", original.file("scan-before.txt"))
    assert len(old) == 2, original.file("scan-before.txt")
    conf = recovery.file("mdadm.conf-after")
    assert "container=" not in conf and "member=" not in conf and "imsm" not in conf, conf
    assert re.search(rf"^ARRAY \S+ metadata=1\.0 UUID={new_uuid}( name=\S+)?$", conf, re.M), conf
    grub = recovery.file("grub-after")
    assert grub.strip() == f'GRUB_CMDLINE_LINUX="rd.md.uuid={new_uuid} rd.md.uuid={new_uuid}"', grub
    assert new_uuid in recovery.file("scan-after.txt")
