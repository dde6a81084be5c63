"""Recovery in a VM: Debian's real rear layoutonly recreating what savelayout recorded.

Each scenario has an "original" boot that builds the layout, writes data and
runs ``rear savelayout``, and a "recovery" boot that runs ``rear layoutonly``
unattended (the VM passes for a rescue system: /etc/rear-release, the recorded
root moved onto a volume's file system, the VM's own disk excluded).  The
checks read sysfs and mdadm directly, not through the plugin's code.

The comparison scenarios record twice in the original boot, first with
``MDCONTAINER_ENABLED=no`` (what upstream ReaR alone records), then with the
plugin, and then recover twice from identical copies of the disks: once with
the plugin, once in a VM without it (plain Debian rear 2.7) from the upstream
recording.  One check function decides for both whether the recovery passed;
the outcomes go into the "upstream ReaR 2.7 | with rear-mdcontainer" table of
pytest's summary (tests/vm/results.py).  The plugin must pass, and in
particular wherever upstream passes.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Callable

from tests.vm.results import Column, Outcome, record_outcome
from tests.vm.vmlib import VM, DiskSpec, RunResult, VMError, suite_default

HERE = Path(__file__).resolve().parent
LAYOUTS_SH = (HERE / "layouts.sh").read_text()
FILES = {"layouts.sh": LAYOUTS_SH}

VMFactory = Callable[..., VM]
# array_facts output: file system label of the array's first partition -> field -> value.
Facts = dict[str, dict[str, str]]
# The fields a recovery must reproduce; "state" must be writable and "data" new on top.
COMPARED = ("level", "raid-devices", "size", "chunk", "container", "members", "fs")
WRITABLE = ("clean", "active", "active-idle")

# The recovery boot of every scenario, the same with and without the plugin: the recording
# (from rear-recording.tar in the share, else the VM's own), the recorded root moved onto the file
# system mounted at $ROOT_MOUNT, layoutonly, then the facts of the arrays it left.
RECOVERY = r"""
. /mnt/host/layouts.sh
restore_recording
record_disk_names
step "recovery boot: what udev assembled from the old disks"
cat /proc/mdstat 2>/dev/null | tee "$VMTEST_SHARE/mdstat-at-boot.txt" || echo "no /proc/mdstat"
L=/var/lib/rear/layout/disklayout.conf
as_rescue_system "$(awk -v m="$ROOT_MOUNT" '$1 == "fs" && $3 == m {print $2}' $L)"
use_disk_mappings
rear_config
rc=0; (cd /root/mappings && rear_run layoutonly) || rc=$?
echo "$rc" >"$VMTEST_SHARE/layoutonly.rc"
cp $L "$VMTEST_SHARE/disklayout-used.conf" || true
cp /var/lib/rear/layout/diskrestore.sh "$VMTEST_SHARE/" || true
cp /var/lib/rear/layout/mdcontainer-uuid-map "$VMTEST_SHARE/" 2>/dev/null || true
step "after recovery"
cat /proc/mdstat 2>/dev/null || true
mdadm --examine --scan | tee "$VMTEST_SHARE/examine-scan.txt" || true
findmnt -R /mnt/local || true
umount -R /mnt/local 2>/dev/null || true
array_facts | tee "$VMTEST_SHARE/arrays-after.txt"
"""


def read_facts(text: str) -> tuple[Facts, list[str]]:
    """array_facts lines -> facts by key, and the keys that more than one array carries."""
    facts: Facts = {}
    duplicates = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, *pairs = line.split()
        if key in facts:
            duplicates.append(key)
        facts[key] = dict(pair.split("=", 1) for pair in pairs)
    return facts, duplicates


def renamed(facts: Facts, names: Mapping[str, str]) -> Facts:
    """The facts with the vmlib disk names in container= and members= replaced (old -> new)."""
    def disks(value: str) -> str:
        return ",".join(names.get(d, d) for d in value.split(","))

    result: Facts = {}
    for key, fields in facts.items():
        new = dict(fields)
        kind, _, members = new["container"].partition(":")
        if kind != "native":
            new["container"] = f"{kind}:{','.join(sorted(disks(members).split(',')))}"
        new["members"] = disks(new["members"])
        result[key] = new
    return result


RESTORE_FAILED = "The disk layout recreation script failed"
# What a failing command of diskrestore.sh says, in the messages rear shows when it aborts; every
# diskrestore.sh starts with 'lvm vgchange -a n' (before set -e), harmless without lvm in the VM.
COMMAND_ERROR = re.compile(r"error|invalid|fail|busy|cannot|can't|no such|not found|unable", re.I)
HARMLESS = "lvm: command not found"


def rear_error(res: RunResult) -> str:
    """Why rear layoutonly failed: its last ERROR line; when that is only the (predefined) abort after a
    failed diskrestore.sh, the first error message of that script's commands instead."""
    output = res.output.splitlines()
    errors = [line.strip() for line in output if line.startswith("ERROR:")]
    error = errors[-1] if errors else "(no ERROR line)"
    if any(RESTORE_FAILED in line for line in output):
        messages = output[max(i for i, line in enumerate(output) if RESTORE_FAILED in line):]
        start = next((i for i, line in enumerate(messages) if line.startswith("Some messages from ")), None)
        if start is not None:
            for line in messages[start + 1:]:
                if not line.startswith("  "):
                    break
                if COMMAND_ERROR.search(line) and HARMLESS not in line:
                    return f"diskrestore.sh failed: {line.strip()}"
        return f"diskrestore.sh failed ({error})"
    return error


def check_recovery(vm: VM, res: RunResult, expected: Facts, untouched: Mapping[str, str]) -> str:
    """Whether a recovery passed, decided the same way for both columns: '' if it did, else the first reason.

    layoutonly exited 0; every expected array is there once (found by its file system label), with
    the recorded level, raid-devices, component size, chunk, container (metadata and disks), member
    order and file systems (labels, UUIDs), writable, its first file system freshly made; the disks
    in ``untouched`` (name -> sha256 before the recovery) are byte-identical.
    """
    if res.rc != 0:
        tail = res.output.strip().splitlines()[-1:] or ["(no output)"]
        return f"scenario script rc {res.rc}: {tail[0]}"
    rc = res.file("layoutonly.rc").strip()
    if rc != "0":
        return f"layoutonly rc {rc}: {rear_error(res)}"
    after, duplicates = read_facts(res.file("arrays-after.txt"))
    if duplicates:
        return f"more than one array carries the file system {duplicates[0]!r}"
    for key, want in expected.items():
        got = after.get(key)
        if got is None:
            return f"no array with the file system {key!r}"
        for field in COMPARED:
            if got.get(field) != want.get(field):
                return f"{key}: {field}={got.get(field)} (recorded {want.get(field)})"
        if got.get("state") not in WRITABLE:
            return f"{key}: not writable (array_state {got.get('state')})"
        if got.get("data") != "new":
            return f"{key}: the old file system is still there (not recreated)"
    for name, digest in untouched.items():
        if vm.hash_disk(name) != digest:
            return f"disk {name} was written"
    return ""


def clone_vm(vm_factory: VMFactory, source: VM, **kwargs: object) -> VM:
    """A new VM (fresh root) with sparse copies of ``source``'s attached disks, same serials and order."""
    clone = vm_factory([], **kwargs)
    for spec in source.disks:
        clone.add_disk(spec)
        subprocess.run(["cp", "--sparse=always", str(source.disk_path(spec.name)), str(clone.disk_path(spec.name))],
                       check=True)
    return clone


def recover(vm: VM, scenario: str, column: Column, expected: Facts, untouched: Mapping[str, str],
            env: Mapping[str, str], files: Mapping[str, str | bytes], timeout: int) -> tuple[RunResult | None, Outcome]:
    try:
        res = vm.run(RECOVERY, files={**FILES, **files}, env=env, label=f"recovery-{column}", timeout=timeout)
    except VMError as exc:
        return None, Outcome(scenario, column, f"VM: {str(exc).splitlines()[0]}")
    return res, Outcome(scenario, column, check_recovery(vm, res, expected, untouched), res.seconds)


def recorded_disks(original: RunResult) -> dict[str, str]:
    """vmlib disk name -> the kernel name the recording uses for it (save_layouts wrote them)."""
    return dict(line.split() for line in original.file("disk-names.txt").splitlines())


def recover_both(vm_factory: VMFactory, vm: VM, original: RunResult, scenario: str, expected: Facts, *,
                 root_mount: str, untouched: Sequence[str] = (), rename: Mapping[str, str] | None = None,
                 timeout: int = 2400) -> tuple[RunResult, RunResult | None]:
    """Recover with the plugin (in ``vm``) and with upstream ReaR alone (a copy of its disks, no plugin,
    the upstream recording of ``original``); record both outcomes; the plugin's must pass.

    Each recorded disk is mapped to where it is now (``rename``: recorded disk -> new disk, by vmlib
    name; else the same disk), with a user mapping file if any kernel name differs.
    """
    upstream_vm = clone_vm(vm_factory, vm, plugin=False)
    hashes = {name: vm.hash_disk(name) for name in untouched}
    env = {"ROOT_MOUNT": root_mount}
    attached = {spec.name for spec in vm.disks}
    mappings = "".join(f"{dev} {(rename or {}).get(name, name)}\n" for name, dev in recorded_disks(original).items()
                       if (rename or {}).get(name, name) in attached)
    files: dict[str, str | bytes] = {"disk_mappings": mappings}
    plugin_res, plugin = recover(vm, scenario, "plugin", expected, hashes, env, files, timeout)
    upstream_files = {**files, "rear-recording.tar": (original.share_dir / "rear-upstream.tar").read_bytes()}
    upstream_res, upstream = recover(upstream_vm, scenario, "upstream", expected, hashes, env, upstream_files,
                                     timeout)
    record_outcome(plugin)
    record_outcome(upstream)
    print(f"{scenario}: upstream ReaR ({suite_default()}): {upstream.cell()} | with rear-mdcontainer: {plugin.cell()}")
    tail = plugin_res.output[-8000:] if plugin_res is not None else ""
    assert plugin.passed or not upstream.passed, f"upstream ReaR passes, the plugin fails: {plugin.reason}\n{tail}"
    assert plugin.passed, f"{plugin.reason}\n{tail}"
    assert plugin_res is not None
    return plugin_res, upstream_res


def check_upstream_recording(original: RunResult) -> None:
    """The first savelayout ran with our hooks inert: no entries of ours, no message of ours."""
    upstream = original.file("disklayout-upstream.conf")
    assert not re.search(r"^md(container|volume) ", upstream, re.M), upstream
    assert "rear-mdcontainer" not in original.file("rear-savelayout-upstream.log")
    assert re.search(r"^raid(array)? ", upstream, re.M), upstream  # 'raid' in ReaR 2.6


def assembled_at_boot(res: RunResult | None, *metadata: str) -> None:
    """The old arrays were assembled by udev at boot, before the recovery touched anything."""
    if res is None:
        return
    at_boot = res.file("mdstat-at-boot.txt")
    assert re.search(r"super external:/md\d+/0", at_boot), at_boot
    for meta in metadata:
        assert f"super external:{meta}" in at_boot, at_boot


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
save_layouts
# What recovery must reproduce, read without the plugin:
array_facts | tee "$VMTEST_SHARE/arrays.txt"
"""


def test_recover_dirty_disks_assembled_at_boot(vm_factory) -> None:
    disks = [DiskSpec("a", 768), DiskSpec("b", 768), DiskSpec("c", 384), DiskSpec("d", 384), DiskSpec("f", 128)]
    vm = vm_factory(disks)
    original = vm.run(ORIGINAL, files=FILES, label="original", timeout=2400)
    assert original.rc == 0, original.output[-6000:]
    check_upstream_recording(original)
    layout = original.file("disklayout.conf")
    # The foreign disk (the only one of 128 MiB) has no mounted file system: auto-excluded.
    assert re.search(r"^#disk /dev/sd[a-z]+ 134217728 ", layout, re.M), layout
    expected, _ = read_facts(original.file("arrays.txt"))
    assert sorted(expected) == ["data", "ddata", "sys"], expected

    recovery, upstream = recover_both(vm_factory, vm, original, "imsm-2-volumes+ddf-raid1, dirty disks", expected,
                                      root_mount="/srv/t/sys", untouched=["f"])
    print(recovery.output[-5000:])
    assembled_at_boot(recovery, "imsm", "ddf")
    assembled_at_boot(upstream, "imsm", "ddf")
    for facts in read_facts(recovery.file("arrays-after.txt"))[0].values():
        assert facts["container"].startswith(("imsm:", "ddf:")), facts
    names = re.findall(r"ARRAY /dev/md/(\S+) container=", recovery.file("examine-scan.txt"))
    assert sorted(names) == ["Data", "Ddata", "Sys"]
    assert "Verifying the recreated firmware RAID" in recovery.output


R5_R10_NATIVE_ORIGINAL = r"""
. /mnt/host/layouts.sh
step "original system: IMSM RAID5 (3 disks), IMSM RAID10 (4 disks), native md RAID1 (metadata 1.2, 2 disks)"
# The native array first, so that it is /dev/md127: ReaR 2.7's raidarray code stops an old array only
# under its recorded md name, and its create_disk code (mdadm --stop --scan, then udevadm trigger) has
# udev assemble the old native array again as md127 (the first free md number) before that code runs.
make_native native $(disk h) $(disk i)
make_container imsm5 imsm $(disk a) $(disk b) $(disk c)
make_volume R5 raid5 131072 64 $(disk a) $(disk b) $(disk c)
make_container imsm10 imsm $(disk d) $(disk e) $(disk f) $(disk g)
make_volume R10 raid10 131072 64 $(disk d) $(disk e) $(disk f) $(disk g)
settle
with_fs R5 /srv/t/r5 r5
with_fs R10 /srv/t/r10 r10
with_fs native /srv/t/native native
cat /proc/mdstat
echo "$(md_of native) $(disk h) $(disk i)" >"$VMTEST_SHARE/native.txt"
save_layouts
array_facts | tee "$VMTEST_SHARE/arrays.txt"
"""


def test_recover_imsm_raid5_raid10_and_native_raid1(vm_factory) -> None:
    disks = [DiskSpec(name, 256) for name in "abcdefghi"]
    vm = vm_factory(disks)
    original = vm.run(R5_R10_NATIVE_ORIGINAL, files=FILES, label="original", timeout=2400)
    assert original.rc == 0, original.output[-6000:]
    check_upstream_recording(original)
    expected, _ = read_facts(original.file("arrays.txt"))
    assert sorted(expected) == ["native", "r10", "r5"], expected
    assert expected["r5"]["level"] == "raid5" and expected["r5"]["container"] == "imsm:a,b,c", expected
    assert expected["r10"]["level"] == "raid10" and expected["r10"]["container"] == "imsm:d,e,f,g", expected
    assert expected["native"]["container"] == "native:1.2" and expected["native"]["members"] in ("h,i", "i,h")

    # The native array is upstream's: the same raidarray line in both recordings, nothing of ours about it.
    native_md, *native_disks = original.file("native.txt").split()
    assert native_md == "/dev/md127", "the native array must be md127 (see R5_R10_NATIVE_ORIGINAL)"
    layout = original.file("disklayout.conf")
    native_lines = [line for line in layout.splitlines()
                    if line.startswith((f"raidarray {native_md} ", f"raid {native_md} "))]  # 'raid' in ReaR 2.6
    assert len(native_lines) == 1, layout
    assert {"level=raid1", "raid-devices=2", "metadata=1.2"} <= set(native_lines[0].split()), native_lines
    assert native_lines[0] in original.file("disklayout-upstream.conf").splitlines()
    ours = [line for line in layout.splitlines() if line.startswith(("mdcontainer ", "mdvolume "))]
    assert len(ours) == 4, ours
    for line in ours:
        assert line.split()[1] != native_md and not any(d in line.split() or f"{d}," in line or f",{d}" in line
                                                        for d in native_disks), line

    recovery, upstream = recover_both(vm_factory, vm, original, "imsm-raid5+imsm-raid10+native-raid1, dirty disks",
                                      expected, root_mount="/srv/t/r5")
    print(recovery.output[-5000:])
    assembled_at_boot(recovery, "imsm")
    assembled_at_boot(upstream, "imsm")
    # ReaR's own raidarray code recreated the native array:
    restore = recovery.file("diskrestore.sh")
    create = [line for line in restore.splitlines() if f"mdadm --create {native_md} " in line]
    assert create and "--metadata=1.2" in create[0] and "--level=raid1" in create[0], restore[-4000:]
    assert "--raid-devices=2" in create[0], create
    assert "Verifying the recreated firmware RAID" in recovery.output


SIMPLE_LAYOUT = r"""
. /mnt/host/layouts.sh
step "original system: IMSM RAID1 with two partitions"
make_container imsm0 imsm $(disk a) $(disk b)
make_volume Volume0 raid1 262144 - $(disk a) $(disk b)
dev=$(md_of Volume0)
parted -s "$dev" mklabel gpt mkpart root ext4 1MiB 128MiB mkpart data ext4 128MiB 100%
settle
mkfs.ext4 -q -L root "${dev}p1"; mkfs.ext4 -q -L data "${dev}p2"
mkdir -p /srv/t/root /srv/t/data; mount "${dev}p1" /srv/t/root; mount "${dev}p2" /srv/t/data
echo "data of root" >/srv/t/root/data.txt
"""
SIMPLE_ORIGINAL = SIMPLE_LAYOUT + "rear_config\nsave_layout\n"
# Recorded with and without the plugin, with the facts and the disks' names for the comparison.
SIMPLE_ORIGINAL_BOTH = SIMPLE_LAYOUT + r"""
save_layouts
array_facts | tee "$VMTEST_SHARE/arrays.txt"
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


def test_recover_onto_bigger_renamed_disks(vm_factory) -> None:
    vm = vm_factory([DiskSpec("a", 512), DiskSpec("b", 512)])
    original = vm.run(SIMPLE_ORIGINAL_BOTH, files=FILES, label="original", timeout=1800)
    assert original.rc == 0, original.output[-6000:]
    check_upstream_recording(original)
    recorded, _ = read_facts(original.file("arrays.txt"))
    assert sorted(recorded) == ["root"] and recorded["root"]["size"] == "262144", recorded
    vm.remove_disk("a")
    vm.remove_disk("b")
    vm.add_disk(DiskSpec("extra", 300))
    vm.add_disk(DiskSpec("a2", 768))
    vm.add_disk(DiskSpec("b2", 768))
    # Bigger blank disks, names shifted by the extra disk in front: the volume's slot 0 disk is mapped
    # to a2, slot 1 to b2 (a user mapping file); the recorded sizes, slot order and file systems stay.
    slot0, slot1 = recorded["root"]["members"].split(",")
    rename = {slot0: "a2", slot1: "b2"}
    expected = renamed(recorded, rename)
    recovery, _ = recover_both(vm_factory, vm, original, "imsm-raid1, bigger renamed disks, mapped", expected,
                               root_mount="/srv/t/root", untouched=["extra"], rename=rename)
    print(recovery.output[-4000:])
    new_disks = dict(line.split() for line in recovery.file("disk-names.txt").splitlines())
    entries = [line for line in recovery.file("disklayout-used.conf").splitlines() if line.startswith("mdcontainer ")]
    assert len(entries) == 1 and f" devices={new_disks['a2']},{new_disks['b2']} " in entries[0], entries


# --- the check itself, without booting --------------------------------------------------------------

FACTS = ("r5 level=raid5 raid-devices=3 size=131072 chunk=65536 container=imsm:a,b,c members=a,b,c "
         "fs=r5:1111 state={state} data={data}\n"
         "native level=raid1 raid-devices=2 size=261120 chunk=0 container=native:1.2 members=h,i "
         "fs=native:2222 state=clean data={data}\n")


def fake_recovery(tmp_path: Path, rc: str, after: str, output: str = "") -> RunResult:
    share = tmp_path / "share"
    share.mkdir(exist_ok=True)
    (share / "layoutonly.rc").write_text(rc + "\n")
    (share / "arrays-after.txt").write_text(after)
    return RunResult(rc=0, output=output, share_dir=share, console_log="", console_path=share / "console",
                     seconds=12.0, boot_seconds=None)


def test_check_recovery_is_one_verdict_for_both_columns(tmp_path: Path) -> None:
    vm = VM(tmp_path / "vm")
    expected, _ = read_facts(FACTS.format(state="active", data="old"))
    passed = fake_recovery(tmp_path, "0", FACTS.format(state="clean", data="new"))
    assert check_recovery(vm, passed, expected, {}) == ""
    assert check_recovery(vm, fake_recovery(tmp_path, "0", FACTS.format(state="read-auto", data="new")),
                          expected, {}) == "r5: not writable (array_state read-auto)"
    assert check_recovery(vm, fake_recovery(tmp_path, "0", FACTS.format(state="clean", data="old")),
                          expected, {}) == "r5: the old file system is still there (not recreated)"
    moved = FACTS.format(state="clean", data="new").replace("members=a,b,c", "members=b,a,c")
    assert check_recovery(vm, fake_recovery(tmp_path, "0", moved), expected, {}) == \
        "r5: members=b,a,c (recorded a,b,c)"
    twice = FACTS.format(state="clean", data="new") + FACTS.format(state="clean", data="new").splitlines()[1]
    assert "more than one array" in check_recovery(vm, fake_recovery(tmp_path, "0", twice), expected, {})
    output = "\n".join(["Start system layout restoration.", RESTORE_FAILED, "ERROR: User chose to abort 'rear layoutonly'",
                        "Some messages from /var/tmp/x/stdout_stderr since the last called script:",
                        "  /var/lib/rear/layout/diskrestore.sh: line 7: lvm: command not found",
                        "  mdadm: array /dev/md127 started.", "  parted: invalid option -- '1'", "Aborting"])
    assert check_recovery(vm, fake_recovery(tmp_path, "143", "", output), expected, {}) == \
        "layoutonly rc 143: diskrestore.sh failed: parted: invalid option -- '1'"
    plain = "ERROR: No filesystem mounted on '/mnt/local'\nAborting"
    assert check_recovery(vm, fake_recovery(tmp_path, "1", "", plain), expected, {}) == \
        "layoutonly rc 1: ERROR: No filesystem mounted on '/mnt/local'"


def test_renamed_facts_follow_the_disk_mapping() -> None:
    facts, _ = read_facts(FACTS.format(state="clean", data="old"))
    moved = renamed(facts, {"a": "z", "b": "a2"})
    assert moved["r5"]["container"] == "imsm:a2,c,z" and moved["r5"]["members"] == "z,a2,c"
    assert moved["native"] == facts["native"]
