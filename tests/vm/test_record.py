"""Recording in a VM: Debian's real rear savelayout with the plugin installed.

One boot builds several firmware RAID layouts side by side on their own disks
(a machine may have several containers), mounts a file system on each volume
(ReaR auto-excludes disks without one), runs ``rear savelayout`` and
``rear checklayout`` and hands disklayout.conf and diskdeps.conf back.  The
expected entries are built here from what mdadm was asked to create; only the
values mdadm picks itself (md numbers, UUIDs, slot order, where a second
volume starts) come from the guest's sysfs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.vm.vmlib import DiskSpec

HERE = Path(__file__).resolve().parent
LAYOUTS_SH = (HERE / "layouts.sh").read_text()


@dataclass(frozen=True)
class Array:
    name: str
    device: str
    uuid: str
    version: str
    size: int
    offset: int | None
    slots: tuple[str, ...]


def read_arrays(text: str) -> dict[str, Array]:
    arrays = {}
    for line in text.splitlines():
        name, device, uuid, version, size, offset, slots = line.split(" ", 6)
        name = re.sub(r"_0$", "", name)  # /dev/md/Volume0_0 links: the metadata name is Volume0
        arrays[name] = Array(name, device, uuid, version, int(size), None if offset == "-" else int(offset),
                             tuple(slots.split(",")) if slots != "-" else ())
    return arrays


def entry_lines(layout: str, keyword: str) -> list[str]:
    return [line for line in layout.splitlines() if line.startswith(keyword + " ")]


def array_lines(layout: str) -> list[str]:
    """ReaR's generic md lines: 'raidarray' from ReaR 2.7 on, 'raid' in 2.6."""
    return entry_lines(layout, "raidarray") + entry_lines(layout, "raid")


def container_line(arrays: dict[str, Array], name: str, first_volume: str, metadata: str) -> str:
    c = arrays[name]
    devices = list(arrays[first_volume].slots)
    return (f"mdcontainer {c.device} metadata={metadata} devices={','.join(devices)} name={name} uuid={c.uuid}")


def volume_line(arrays: dict[str, Array], name: str, container: str, member: int, level: str, size: int,
                array_size: int, chunk: int | None = None, layout: str | None = None) -> str:
    v = arrays[name]
    words = [f"mdvolume {v.device} container={arrays[container].device} member={member} level={level}",
             f"raid-devices={len(v.slots)} devices={','.join(v.slots)} size={size} name={name}",
             f"array-size={array_size} uuid={v.uuid}"]
    if chunk:
        words.append(f"chunk={chunk}")
    if layout:
        words.append(f"layout={layout}")
    words.append(f"offset={v.offset}")
    return " ".join(words)


SAVE_AND_CHECK = r"""
cat /proc/mdstat
record_arrays
rear_config
step "rear savelayout"
save_layout
cp /var/lib/rear/layout/disklayout.conf.upstream "$VMTEST_SHARE/upstream-disklayout.conf"
step "rear checklayout right after savelayout"
rc=0; rear_run checklayout || rc=$?
echo "$rc" >"$VMTEST_SHARE/checklayout.rc"
"""

RAID_1_0_5 = r"""
step "IMSM RAID1, RAID0 and RAID5 containers"
make_container imsm_r1 imsm $(disk r1a) $(disk r1b)
make_volume Mirror raid1 262144 - $(disk r1a) $(disk r1b)
make_container imsm_r0 imsm $(disk r0a) $(disk r0b)
make_volume Stripe raid0 131072 64 $(disk r0a) $(disk r0b)
make_container imsm_r5 imsm $(disk r5a) $(disk r5b) $(disk r5c)
make_volume Parity raid5 131072 128 $(disk r5a) $(disk r5b) $(disk r5c)
settle
for v in Mirror Stripe Parity; do with_fs $v /srv/t/$v $v; done
""" + SAVE_AND_CHECK

RAID_10_TWO_NATIVE = r"""
step "IMSM RAID10, an IMSM container with two volumes, a native md RAID1"
make_container imsm_r10 imsm $(disk t0) $(disk t1) $(disk t2) $(disk t3)
make_volume Ten raid10 131072 64 $(disk t0) $(disk t1) $(disk t2) $(disk t3)
make_container imsm_tv imsm $(disk tva) $(disk tvb)
make_volume Sys raid1 131072 - $(disk tva) $(disk tvb)
make_volume Scratch raid0 max 64 $(disk tva) $(disk tvb)
mdadm --create /dev/md/native --run --metadata=1.2 --level=1 --raid-devices=2 --assume-clean \
    $(disk nma) $(disk nmb) >&2
settle
for v in Ten Sys Scratch native; do with_fs $v /srv/t/$v $v; done
""" + SAVE_AND_CHECK


def run_recording(vm_factory, names: list[str], script: str):
    vm = vm_factory([DiskSpec(n, 512) for n in names])
    res = vm.run(". /mnt/host/layouts.sh\n" + script, files={"layouts.sh": LAYOUTS_SH},
                 label="record", timeout=1800)
    assert res.rc == 0, res.output[-8000:]
    return res, res.file("disklayout.conf"), read_arrays(res.file("arrays.txt"))


def check_common(res, layout: str, arrays: dict[str, Array], volumes: list[tuple[str, str]]) -> None:
    """No generic lines for firmware arrays, no raw member partitions, deps, a clean checklayout."""
    deps = res.file("diskdeps.conf").splitlines()
    firmware = {a.device for a in arrays.values() if a.version.startswith("external:")}
    members = {d for a in arrays.values() if a.version.startswith("external:/") for d in a.slots}
    assert not [line for line in array_lines(layout) if line.split()[1] in firmware]
    assert not [line for line in entry_lines(layout, "part") if line.split()[1] in members]
    for disk in members:
        assert re.search(rf"^disk {disk} \d+ ", layout, re.M), f"disk line of member {disk} kept"
    for volume_name, container_name in volumes:
        volume = arrays[volume_name].device
        assert f"part {volume} " in layout, f"partition of {volume_name} kept"
        assert f"{volume}p1 {volume}" in deps
        assert f"{volume} {arrays[container_name].device}" in deps
        for disk in arrays[volume_name].slots:
            assert f"{arrays[container_name].device} {disk}" in deps
    assert res.file("checklayout.rc").strip() == "0", res.output[-4000:]


def test_record_imsm_raid1_raid0_raid5(vm_factory) -> None:
    res, layout, arrays = run_recording(vm_factory, ["r1a", "r1b", "r0a", "r0b", "r5a", "r5b", "r5c"], RAID_1_0_5)
    expected = [
        container_line(arrays, "imsm_r1", "Mirror", "imsm"),
        volume_line(arrays, "Mirror", "imsm_r1", 0, "raid1", 262144, 262144),
        container_line(arrays, "imsm_r0", "Stripe", "imsm"),
        volume_line(arrays, "Stripe", "imsm_r0", 0, "raid0", 131072, 262144, chunk=64),
        container_line(arrays, "imsm_r5", "Parity", "imsm"),
        volume_line(arrays, "Parity", "imsm_r5", 0, "raid5", 131072, 262144, chunk=128, layout="left-asymmetric"),
    ]
    recorded = entry_lines(layout, "mdcontainer") + entry_lines(layout, "mdvolume")
    assert sorted(recorded) == sorted(expected), "\n".join(recorded)
    check_common(res, layout, arrays, [("Mirror", "imsm_r1"), ("Stripe", "imsm_r0"), ("Parity", "imsm_r5")])


def test_record_imsm_raid10_two_volumes_and_native(vm_factory) -> None:
    names = ["t0", "t1", "t2", "t3", "tva", "tvb", "nma", "nmb"]
    res, layout, arrays = run_recording(vm_factory, names, RAID_10_TWO_NATIVE)
    expected = [
        container_line(arrays, "imsm_r10", "Ten", "imsm"),
        volume_line(arrays, "Ten", "imsm_r10", 0, "raid10", 131072, 262144, chunk=64, layout="n2"),
        container_line(arrays, "imsm_tv", "Sys", "imsm"),
        volume_line(arrays, "Sys", "imsm_tv", 0, "raid1", 131072, 131072),
        volume_line(arrays, "Scratch", "imsm_tv", 1, "raid0", arrays["Scratch"].size, 2 * arrays["Scratch"].size,
                    chunk=64),
    ]
    recorded = entry_lines(layout, "mdcontainer") + entry_lines(layout, "mdvolume")
    assert sorted(recorded) == sorted(expected), "\n".join(recorded)
    # The second volume starts behind the first one on each disk.
    assert arrays["Sys"].offset == 0
    assert arrays["Scratch"].offset and arrays["Scratch"].offset >= 2 * 131072
    check_common(res, layout, arrays, [("Ten", "imsm_r10"), ("Sys", "imsm_tv"), ("Scratch", "imsm_tv")])

    # The native md array is recorded exactly as upstream ReaR recorded it in the same run.
    native = arrays["native"].device
    upstream = res.file("upstream-disklayout.conf")

    def native_lines(text: str) -> list[str]:
        return [line for line in text.splitlines()
                if line.split()[:2] in (["raidarray", native], ["raid", native], ["raiddisk", native],
                                        ["part", native])]

    assert native_lines(layout) and native_lines(layout) == native_lines(upstream)


OTHER_LAYOUTS = r"""
step "DDF RAID1, a degraded IMSM RAID1 and an IMSM RAID1 while it resyncs"
make_container ddf0 ddf $(disk da) $(disk db)
make_volume Dmirror raid1 131072 - $(disk da) $(disk db)
make_container imsm_dg imsm $(disk ga) $(disk gb)
make_volume Degraded raid1 131072 - $(disk ga) $(disk gb)
settle
mdadm --manage "$(md_of Degraded)" --fail "$(disk gb)"
settle
mdadm --manage /dev/md/imsm_dg --remove "$(disk gb)"
# The failed disk is replaced by a blank one: with its old metadata, mdadm 4.1's udev rules (bullseye)
# add it back to the container at its next change event and the volume is rebuilt, not degraded.
mdadm --zero-superblock "$(disk gb)"
settle
echo 200 >/proc/sys/dev/raid/speed_limit_min
echo 200 >/proc/sys/dev/raid/speed_limit_max
make_container imsm_rs imsm $(disk sa) $(disk sb)
mdadm --create /dev/md/Resync --run --level=raid1 --raid-devices=2 --size=131072 $(disk sa) $(disk sb) >&2
settle
for v in Dmirror Degraded Resync; do with_fs $v /srv/t/$v $v; done
""" + SAVE_AND_CHECK + r"""
step "dpkg -r rear-mdcontainer: nothing of the package stays, ReaR's own files are unchanged"
dpkg-query -W -f '${Package} ${Version} ${Status}\n' rear-mdcontainer >"$VMTEST_SHARE/package-status.txt"
dpkg -L rear-mdcontainer >"$VMTEST_SHARE/package-paths.txt"
# rear ran the helper as root: Python cached its modules beside them, which dpkg does not know.
find /usr/share/rear/mdcontainer -name __pycache__ >"$VMTEST_SHARE/pycache.txt"
dpkg -r rear-mdcontainer
left=()
while read -r path; do
    if [[ -e $path || -L $path ]]; then left+=("$path"); fi
done < <(cat "$VMTEST_SHARE/packages/installed-files.txt"; echo /usr/share/rear/mdcontainer)
printf '%s\n' "${left[@]}" >"$VMTEST_SHARE/left-behind.txt"
dpkg-query -W rear-mdcontainer >"$VMTEST_SHARE/package-after-removal.txt" 2>&1 || true
# dpkg --verify: 'missing' or '??5??????' lines name changed files; conffiles ('c') are edited by the scenario.
dpkg --verify rear | grep -v '^[^ ]* c ' >"$VMTEST_SHARE/rear-verify.txt" || true
"""


def test_record_ddf_degraded_and_resyncing(vm_factory) -> None:
    """Also the proof that the Debian package works: the plugin comes from `make deb` here (dpkg -i at
    boot), records everything above, and `dpkg -r` removes every file of it afterwards."""
    vm = vm_factory([DiskSpec(n, 512) for n in ("da", "db", "ga", "gb", "sa", "sb")], plugin="deb")
    res = vm.run(". /mnt/host/layouts.sh\n" + OTHER_LAYOUTS, files={"layouts.sh": LAYOUTS_SH},
                 label="record", timeout=1800)
    assert res.rc == 0, res.output[-8000:]
    layout = res.file("disklayout.conf")
    arrays = read_arrays(res.file("arrays.txt"))
    ddf_container = next(a for a in arrays.values() if a.version == "external:ddf")
    containers = entry_lines(layout, "mdcontainer")
    volumes = entry_lines(layout, "mdvolume")
    print("\n".join(containers + volumes))

    # DDF: upstream 2.7 records this container as 'raidarray ... devices= devices=' without disks.
    ddf_line = next(line for line in containers if line.split()[1] == ddf_container.device)
    assert f"metadata=ddf devices={','.join(arrays['Dmirror'].slots)} " in ddf_line + " "
    dmirror = next(line for line in volumes if line.split()[1] == arrays["Dmirror"].device)
    assert f"container={ddf_container.device} member=0 level=raid1 raid-devices=2 " in dmirror
    assert " size=131072 name=Dmirror " in dmirror + " "

    # Degraded: one slot 'missing', the container with the one disk left, a warning for the user.
    degraded = next(line for line in volumes if line.split()[1] == arrays["Degraded"].device)
    assert "raid-devices=2" in degraded
    assert re.search(r" devices=(/dev/sd[a-z]+,missing|missing,/dev/sd[a-z]+) ", degraded), degraded
    assert "is degraded" in res.output

    resync = next(line for line in volumes if line.split()[1] == arrays["Resync"].device)
    assert " size=131072 name=Resync " in resync + " "
    assert not array_lines(layout)
    assert res.file("checklayout.rc").strip() == "0", res.output[-4000:]

    # The package: installed by dpkg with exactly the files `make install` installs, removed without a trace.
    installed = res.file("packages/installed-files.txt").split()
    assert res.file("package-status.txt").startswith("rear-mdcontainer ")
    assert res.file("package-status.txt").rstrip().endswith(" install ok installed")
    assert set(installed) <= set(res.file("package-paths.txt").split())
    assert "/usr/share/rear/mdcontainer/python/rear_mdcontainer/__pycache__" in res.file("pycache.txt").split()
    assert res.file("left-behind.txt").split() == []
    assert "no packages found matching rear-mdcontainer" in res.file("package-after-removal.txt")
    assert res.file("rear-verify.txt").strip() == ""
