"""The VM test bed itself: boot, share, disks, and udev auto-assembly of IMSM.

The auto-assembly test is the premise of the "dirty disks" recovery scenarios:
in the VM, as on real hardware, udev (64-md-raid-assembly.rules ->
``mdadm --incremental``) assembles an IMSM container and its volume as soon
as the member disks appear, at hotplug and at boot.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest

from tests.vm.vmlib import VM, DiskSpec, suite_default

pytestmark = pytest.mark.vm

VMFactory = Callable[..., VM]


def test_plain_boot(vm_factory: VMFactory) -> None:
    vm = vm_factory([DiskSpec("a", 64), DiskSpec("b", 64, serial="SERIAL-B-0001")], plugin=True)
    res = vm.run(r"""
        step "disks"
        ls -l /dev/disk/by-id/
        test -b "$(disk a)" && test -b "$(disk b)"
        echo "a=$(disk a) b=$(disk b)"
        step "environment"
        echo "IMSM_NO_PLATFORM=${IMSM_NO_PLATFORM:-unset} FOO=$FOO"
        udevadm info --query=property "$(disk a)" | grep -x IMSM_NO_PLATFORM=1
        test -d /usr/share/rear
        uname -r
        echo "hello from the guest" >/mnt/host/hello.txt
        mkdir -p /mnt/host/sub && cp /etc/os-release /mnt/host/sub/
    """, env={"FOO": "bar baz"}, label="plain")
    print(f"plain boot: scenario started at {res.boot_seconds} s guest uptime, whole run {res.seconds:.1f} s")
    assert res.rc == 0, res.output
    assert "ata-QEMU_HARDDISK_MDC-A" in res.output
    assert "ata-QEMU_HARDDISK_SERIAL-B-0001" in res.output
    assert "IMSM_NO_PLATFORM=1 FOO=bar baz" in res.output
    assert res.file("hello.txt") == "hello from the guest\n"
    assert f"({suite_default()})" in res.file("sub/os-release")  # VERSION="12 (bookworm)"
    assert res.boot_seconds is not None and res.boot_seconds > 0
    assert "vmtest: scenario finished rc=0" in res.console_log
    # The plugin tree was installed in the share and copied into the guest.
    assert (res.share_dir / "install").is_dir()


IMSM_SETUP = r"""
A=$(disk a); B=$(disk b)
step "create IMSM container and RAID1 volume on $A $B"
mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 "$A" "$B"
mdadm --create /dev/md/Volume0 --run --assume-clean --level=1 --raid-devices=2 /dev/md/imsm0
settle
vol=$(md_resolve Volume0)
parted -s "$vol" mklabel gpt mkpart data ext4 1MiB 100%
settle
part=$(lsblk -nrpo NAME,TYPE "$vol" | awk '$2 == "part" {print $1; exit}')
mkfs.ext4 -q -L mdctest "$part"
mkdir -p /mnt/data
mount "$part" /mnt/data
echo "payload-1234" >/mnt/data/file.txt
umount /mnt/data
cat /proc/mdstat

step "stop volume, then container"
md_stop_all
test -z "$(md_devices)" || die "arrays left: $(md_devices)"

# Debian's rules from mdadm 4.2 on skip change events for isw_raid_member; mdadm 4.1's
# (bullseye) assemble on them too: more events that can race a recovery there.
if [[ $(mdadm --version 2>&1) == *" v4.1"* ]]; then
    step "a change event assembles IMSM (mdadm 4.1's rules)"
    udevadm trigger --action=change --settle "$A" "$B"
    settle
    echo "after change: $(md_devices | tr '\n' ' ')"
    test -n "$(md_devices)" || die "change event assembled nothing with mdadm 4.1's rules"
    md_stop_all
    test -z "$(md_devices)" || die "arrays left: $(md_devices)"
else
    step "a change event does not assemble IMSM (Debian's rule skips change for isw_raid_member)"
    udevadm trigger --action=change --settle "$A" "$B"
    settle
    echo "after change: $(md_devices | tr '\n' ' ')"
    test -z "$(md_devices)" || die "change event assembled: $(md_devices)"
fi

step "an add event (hotplug, coldplug at boot) assembles container and volume"
retrigger "$A" "$B"
"""

CHECK_ASSEMBLED = r"""
check_assembled() {
    local md container="" volume="" i
    for ((i = 0; i < 100; i++)); do
        container=""; volume=""
        for md in $(md_devices); do
            case $(cat "/sys/block/${md##*/}/md/metadata_version") in
                external:imsm) container=$md ;;
                external:/*) volume=$md ;;
            esac
        done
        if [[ -n $container && -n $volume ]] && [[ -b ${volume}p1 ]]; then break; fi
        sleep 0.2
    done
    cat /proc/mdstat
    ls -l /dev/md/
    [[ -n $container ]] || die "no container assembled"
    [[ -n $volume ]] || die "no volume assembled"
    echo "container=$container volume=$volume"
    echo "links: $(cd /dev/md && for l in *; do echo -n "$l->$(readlink -f "$l") "; done)"
    mdadm --detail --export "$volume"
    grep -A1 "^${volume##*/} :" /proc/mdstat | grep -q '\[UU\]' || die "volume not [UU]"
    state=$(cat "/sys/block/${volume##*/}/md/array_state")
    echo "array_state=$state"
    mkdir -p /mnt/data
    mount -o ro "${volume}p1" /mnt/data
    assert_eq "$(cat /mnt/data/file.txt)" "payload-1234" "file on the volume"
    umount /mnt/data
    # mdmon must be running for the container, else the volume stays read-only.
    pgrep -a mdmon || die "no mdmon"
    echo "ASSEMBLED-OK"
}
"""


# Why the image has /etc/udev/rules.d/00-imsm-no-platform.rules: programs run
# by udev rules get the device's properties as environment, and without
# IMSM_NO_PLATFORM=1 there `mdadm --incremental` silently assembles nothing.
WITHOUT_RULE = r"""
step "without the IMSM_NO_PLATFORM udev rule udev assembles nothing"
md_stop_all
mv /etc/udev/rules.d/00-imsm-no-platform.rules /root/
udevadm control --reload
retrigger "$A" "$B"
echo "without the rule: $(md_devices | tr '\n' ' ')"
test -z "$(md_devices)" || die "assembled without the rule"
mv /root/00-imsm-no-platform.rules /etc/udev/rules.d/
udevadm control --reload
echo WITHOUT-RULE-NOTHING
"""


def test_imsm_udev_autoassembly(vm_factory: VMFactory) -> None:
    vm = vm_factory([DiskSpec("a", 256), DiskSpec("b", 256)], plugin=False)
    first = vm.run(CHECK_ASSEMBLED + IMSM_SETUP + "check_assembled\n" + WITHOUT_RULE, label="hotplug")
    print(first.output[-3000:])
    print(f"auto-assembly boot 1: {first.seconds:.1f} s (boot {first.boot_seconds} s)")
    assert first.rc == 0, first.output
    assert "ASSEMBLED-OK" in first.output
    assert re.search(r"MD_CONTAINER=/dev/md/imsm0", first.output), first.output
    assert "MD_DEVNAME=Volume0_0" in first.output
    assert "WITHOUT-RULE-NOTHING" in first.output

    second = vm.run(CHECK_ASSEMBLED + r"""
        step "at boot, before the scenario touched anything"
        check_assembled
        systemctl --no-pager status 'mdmon@*' | head -5 || true
    """, label="reboot")
    print(second.output[-2500:])
    print(f"auto-assembly boot 2: {second.seconds:.1f} s (boot {second.boot_seconds} s)")
    assert second.rc == 0, second.output
    assert "ASSEMBLED-OK" in second.output
