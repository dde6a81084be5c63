"""Robustness in VMs (issue #7): repeated udev races, power cuts at each step, mdmon killed.

``make stress`` runs these (MDC_STRESS=1); they are left out of ``make test``
for CI's time: the race scenario alone is 20 recoveries, each a boot and a
``rear layoutonly`` of 3-5 minutes under software emulation.  The quick fault
checks (a failure injected at each step of the generated code, then ReaR's
rerun) are in tests/vm/test_recover.py and run in ``make test``.

- races: one recording, then MDC_STRESS_RUNS (default 20) recovery boots onto
  the dirty disks, whose old IMSM and DDF arrays udev assembles at boot; during
  each recovery a loop re-triggers udev "add"/"change" events on the member
  disks every 0-0.9 s (what makes udev's md rules assemble arrays), and rear
  starts after a delay that differs from run to run.  Every run must recreate
  the recorded arrays (the same check as tests/vm/test_recover.py).
- power cuts: the guest's kernel is reset without a sync (sysrq 'b', QEMU exits)
  at one step of the generated code per boot (stale disks wiped, container
  created, volume created, volume wiped, partition table written); the next
  boot starts from what the cut left, reruns the recovery, which must get past
  every earlier cut, and is cut at the next step; a last boot runs it to the end
  and the layout must be the recorded one.
- mdmon killed: right after the volume is created mdmon is killed and kept from
  starting again; the recovery must stop with the plugin's message about mdmon
  within MDCONTAINER_WAIT_SECONDS, not hang.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.vm.test_recover import FILES, SIMPLE_ORIGINAL, check_recovery, read_facts, recorded_disks
from tests.vm.vmlib import DiskSpec

pytestmark = [
    pytest.mark.vm,
    pytest.mark.skipif(os.environ.get("MDC_STRESS", "") != "1",
                       reason="long VM runs: make stress (MDC_STRESS=1), not in make test for CI's time"),
]

RACE_ORIGINAL = r"""
. /mnt/host/layouts.sh
step "original: IMSM RAID1 + RAID0 in one container, DDF RAID1"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Sys raid1 131072 - $(disk a) $(disk b)
make_volume Data raid0 max 64 $(disk a) $(disk b)
make_container ddf0 ddf $(disk c) $(disk d)
make_volume Ddata raid1 98304 - $(disk c) $(disk d)
settle
with_fs Sys /srv/t/sys sys
with_fs Data /srv/t/data data
with_fs Ddata /srv/t/ddata ddata
rear_config
save_layout
record_disk_names
cp /var/lib/rear/layout/disklayout.conf /root/layout.good
array_facts | tee "$VMTEST_SHARE/arrays.txt"
"""

# One recovery boot of the race scenario.  STRESS_DELAY: seconds between the start of the udev
# storm and rear.  After the check, every recreated first file system gets /data.txt again, so
# that the next run starts from old data (array_facts reports data=old until it is recreated).
RACE_RUN = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
cp /root/layout.good $L
cat /proc/mdstat | tee "$VMTEST_SHARE/mdstat-at-boot.txt"
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/sys" {print $2}' $L)"
# Kernel names can differ from the original boot's: map the recorded disks by serial, as in test_recover
# (measured: with ReaR's own mapping by name and size the two DDF disks were swapped in one run).
use_disk_mappings
rear_config
members=()
for name in a b c d; do members+=("/sys/class/block/$(basename "$(disk $name)")"); done
storm() {
    local action
    while :; do
        for action in add change; do
            udevadm trigger --action=$action "${members[@]}" 2>/dev/null || true
            sleep "0.$((RANDOM % 10))"
        done
    done
}
storm & storm_pid=$!
step "udev storm on the members, rear starts in $STRESS_DELAY s"
sleep "$STRESS_DELAY"
rc=0; (cd /root/mappings && rear_run layoutonly) || rc=$?
kill "$storm_pid"; wait "$storm_pid" 2>/dev/null || true
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
umount -R /mnt/local 2>/dev/null || true
settle
array_facts | tee "$VMTEST_SHARE/arrays-after.txt"
for label in sys data ddata; do
    dev=$(blkid -L "$label" || true)
    [[ -n $dev ]] || continue
    mkdir -p /srv/old && mount "$dev" /srv/old && echo old >/srv/old/data.txt && umount /srv/old
done
sync
"""


def test_recovery_races_with_udev_on_dirty_disks(vm_factory) -> None:
    runs = int(os.environ.get("MDC_STRESS_RUNS", "20"))
    # MDC_STRESS_FIRST: the number of the first run (its delay), to share the runs between VMs run at once.
    first = int(os.environ.get("MDC_STRESS_FIRST", "0"))
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512), DiskSpec("c", 256), DiskSpec("d", 256)])
    original = vm.run(RACE_ORIGINAL, files=FILES, label="original", timeout=2400)
    assert original.rc == 0, original.output[-6000:]
    expected, _ = read_facts(original.file("arrays.txt"))
    assert sorted(expected) == ["data", "ddata", "sys"], expected
    mappings = "".join(f"{dev} {name}\n" for name, dev in recorded_disks(original).items())
    failures = []
    for run in range(first, first + runs):
        delay = (run * 7) % 11 / 2  # 0 to 5 s, a different value each run
        res = vm.run(RACE_RUN, files={**FILES, "disk_mappings": mappings}, env={"STRESS_DELAY": str(delay)},
                     label=f"race-{run:02d}", timeout=2400)
        at_boot = res.file("mdstat-at-boot.txt")
        reason = check_recovery(vm, res, expected, {})
        if not re.search(r"external:imsm", at_boot) or not re.search(r"external:ddf", at_boot):
            reason = reason or f"the old arrays were not assembled at boot: {at_boot!r}"
        print(f"race run {run + 1}/{first + runs} (delay {delay} s, {res.seconds:.0f} s): {reason or 'passed'}")
        if reason:
            failures.append(f"run {run + 1}: {reason}\n{res.output[-3000:]}")
    assert not failures, f"{len(failures)}/{runs} runs failed:\n" + "\n".join(failures)
    print(f"races: {runs}/{runs} recoveries passed")


# The steps of the generated code where the power is cut, in the order the code runs them; each
# is a command line pattern of mdadm, wipefs or parted (the wrappers below).
CUT_STEPS = ("wipe-disk", "create-container", "create-volume", "wipe-volume", "mklabel")

POWER_CUT_RUN = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
cp /root/layout.good $L
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
# A cut before the container's creation leaves blank disks: no md array, md_mod not even loaded.
{ cat /proc/mdstat 2>/dev/null || echo "no /proc/mdstat"; } | tee "$VMTEST_SHARE/mdstat-at-boot.txt"
echo 1 >/proc/sys/kernel/sysrq
mkdir -p /usr/local/sbin /run/cut
[[ -z $CUT ]] || touch "/run/cut/$CUT"
# cut STEP (in each wrapper): if armed, note the step in the share (9p writes go straight to the
# host), then reset the machine at once, without a sync: QEMU runs with -no-reboot and exits.
CUT_FN='cut() { [[ -e /run/cut/$1 ]] || return 0; echo "$1" >"$VMTEST_SHARE/cut.txt"; echo b >/proc/sysrq-trigger; sleep 60; }'
cat >/usr/local/sbin/mdadm <<WRAP
#!/bin/bash
$CUT_FN
WRAP
cat >>/usr/local/sbin/mdadm <<'WRAP'
[[ " $* " == *--create*--metadata=* ]] && cut create-container
if [[ " $* " == *--create*--level=* ]]; then rc=0; /sbin/mdadm "$@" || rc=$?; cut create-volume; exit $rc; fi
exec /sbin/mdadm "$@"
WRAP
cat >/usr/local/sbin/wipefs <<WRAP
#!/bin/bash
$CUT_FN
WRAP
cat >>/usr/local/sbin/wipefs <<'WRAP'
if [[ " $* " == *" /dev/sd"* ]]; then rc=0; /sbin/wipefs "$@" || rc=$?; cut wipe-disk; exit $rc; fi
[[ " $* " == *" /dev/md"* ]] && cut wipe-volume
exec /sbin/wipefs "$@"
WRAP
cat >/usr/local/sbin/parted <<WRAP
#!/bin/bash
$CUT_FN
WRAP
cat >>/usr/local/sbin/parted <<'WRAP'
if [[ " $* " == *" mklabel "* ]]; then rc=0; /sbin/parted "$@" || rc=$?; cut mklabel; exit $rc; fi
exec /sbin/parted "$@"
WRAP
chmod 755 /usr/local/sbin/mdadm /usr/local/sbin/wipefs /usr/local/sbin/parted
export PATH=/usr/local/sbin:$PATH VMTEST_SHARE
rear_config
step "rear layoutonly, power cut at: ${CUT:-nowhere}"
rc=0; rear_run layoutonly || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
umount -R /mnt/local 2>/dev/null || true
settle
array_facts | tee "$VMTEST_SHARE/arrays-after.txt"
"""
# The original boot keeps a pristine copy of the recording (synced: the boots after it end in power cuts).
KEEP_RECORDING = 'cp /var/lib/rear/layout/disklayout.conf /root/layout.good; sync\n'


def test_power_cut_at_each_step_then_rerun(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL + KEEP_RECORDING + 'array_facts | tee "$VMTEST_SHARE/arrays.txt"\n',
                      files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    expected, _ = read_facts(original.file("arrays.txt"))
    assert sorted(expected) == ["root"], expected
    for step in CUT_STEPS:
        res = vm.run(POWER_CUT_RUN, files=FILES, env={"CUT": step}, label=f"cut-{step}", timeout=2400,
                     require_rc=False)
        # A cut boot ends without a result; one that ends with a result never reached the step.
        assert res.rc == -1, f"no power cut at {step}: rc {res.rc}\n{res.output[-6000:]}"
        assert (res.share_dir / "cut.txt").read_text().strip() == step, res.output[-4000:]
        print(f"power cut at {step} after {res.seconds:.0f} s; at boot: "
              f"{res.file('mdstat-at-boot.txt').strip().splitlines()[1:3] or 'no md arrays'}")
    final = vm.run(POWER_CUT_RUN, files=FILES, env={"CUT": ""}, label="after-cuts", timeout=2400)
    reason = check_recovery(vm, final, expected, {})
    assert not reason, f"{reason}\n{final.output[-6000:]}"


MDMON_KILLED_RUN = r"""
. /mnt/host/layouts.sh
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk '$1 == "fs" && $3 == "/srv/t/root" {print $2}' $L)"
mkdir -p /usr/local/sbin
# After the volume's creation: kill mdmon and keep it from starting again (as if it had crashed).
cat >/usr/local/sbin/mdadm <<'WRAP'
#!/bin/bash
if [[ " $* " == *--create*--level=* ]]; then
    rc=0; /sbin/mdadm "$@" || rc=$?
    mount --bind /bin/false "$(command -v mdmon)"
    pkill -9 -x mdmon || true
    echo "mdmon killed" >&2; echo killed >/run/mdmon-killed.txt
    exit "$rc"
fi
exec /sbin/mdadm "$@"
WRAP
chmod 755 /usr/local/sbin/mdadm
export PATH=/usr/local/sbin:$PATH
rear_config MDCONTAINER_WAIT_SECONDS=20
start=$(cut -d. -f1 /proc/uptime)
rc=0; timeout 1500 bash -c '. /mnt/host/prelude.sh; . /mnt/host/layouts.sh; rear_run layoutonly' \
    >"$VMTEST_SHARE/layoutonly.out" 2>&1 || rc=$?
echo "$rc $(( $(cut -d. -f1 /proc/uptime) - start ))" >"$VMTEST_SHARE/layoutonly.rc"
cp /run/mdmon-killed.txt "$VMTEST_SHARE/" || echo "the wrapper never ran"
# Give mdmon back: the volume waits for it ("write-pending"), and so would the shutdown.
umount "$(command -v mdmon)" || true
container=$(awk '$1 == "mdcontainer" {print $2; exit}' $L)
IMSM_NO_PLATFORM=1 mdmon "$container" || true
sleep 2
cat /proc/mdstat
cat "$VMTEST_SHARE/layoutonly.out"
"""


def test_mdmon_killed_gives_a_clear_error(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    res = vm.run(MDMON_KILLED_RUN, files=FILES, label="mdmon-killed", timeout=2400)
    assert res.rc == 0, res.output[-6000:]
    assert res.file("mdmon-killed.txt").strip() == "killed"
    rc, seconds = res.file("layoutonly.rc").split()
    # 124 would be timeout(1) ending a hang.
    assert rc not in ("0", "124"), res.output[-6000:]
    out = res.file("layoutonly.out")
    log = res.file("rear-layoutonly.log")
    assert re.search(r"stays '[a-z-]+': mdmon is not running for /dev/md\d+", out + log), out[-6000:]
    assert "mdmon /dev/md" in out + log, "the message names the next step"
    print(f"mdmon killed: rear stopped after {seconds} s with rc {rc}")
