"""Capture mdadm fixtures from real mdadm in the test VM.

    .venv/bin/python -m tests.vm.capture_fixtures [--suite bookworm] [--keep DIR] [LAYOUT...]

builds each layout in one VM boot (the degraded one needs a second boot
without its second disk) and writes tests/fixtures/mdadm/<suite>/<layout>/.
Every layout is created, then stopped and re-assembled by udev
(``udevadm trigger --action=add`` on the members, i.e. ``mdadm --incremental``
as at boot), so device numbers and /dev/md names are those a running system
shows, then recorded by tests/vm/guest_record.py, then wiped
(``mdadm --zero-superblock`` + ``wipefs -a``) before the next layout.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tests.vm.vmlib import HERE, REPO_ROOT, VM, DiskSpec, RunResult, suite_default

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "mdadm"
DISK_MIB = 512
NUM_DISKS = 4


@dataclasses.dataclass(frozen=True)
class Layout:
    name: str
    disks: int
    expect_mds: int  # md devices after re-assembly
    script: str  # bash; $D0.. are the member devices; `rec CMD...` logs and runs CMD
    note: str = ""


# `gpt MD NAME`: a GPT with one partition over the whole volume (partition devices appear).
LAYOUTS: list[Layout] = [
    Layout("imsm-raid1", 2, 2, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=1 --raid-devices=2 /dev/md/imsm0
gpt /dev/md/Volume0 data
rec mkfs.ext4 -q -L Volume0data "$(first_part /dev/md/Volume0)"
"""),
    Layout("imsm-raid0", 2, 2, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=0 --raid-devices=2 /dev/md/imsm0
gpt /dev/md/Volume0 data
"""),
    Layout("imsm-raid5", 3, 2, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=3 $D0 $D1 $D2
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=5 --raid-devices=3 /dev/md/imsm0
gpt /dev/md/Volume0 data
"""),
    Layout("imsm-raid10", 4, 2, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=4 $D0 $D1 $D2 $D3
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=10 --raid-devices=4 /dev/md/imsm0
gpt /dev/md/Volume0 data
"""),
    Layout("imsm-two-volumes", 2, 3, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=1 --raid-devices=2 --size=131072 /dev/md/imsm0
rec mdadm --create /dev/md/Volume1 --run --assume-clean --level=0 --raid-devices=2 /dev/md/imsm0
gpt /dev/md/Volume0 system
gpt /dev/md/Volume1 data
""", note="Volume0: RAID1, --size=131072 KiB per member; Volume1: RAID0 in the rest of the disks."),
    Layout("ddf-raid1", 2, 2, """
rec mdadm --create /dev/md/ddf0 --run --metadata=ddf --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/data --run --assume-clean --level=1 --raid-devices=2 /dev/md/ddf0
gpt /dev/md/data data
rec mkfs.ext4 -q -L ddfdata "$(first_part /dev/md/data)"
"""),
    Layout("native-raid1", 2, 1, """
rec mdadm --create /dev/md/data --run --assume-clean --metadata=1.2 --level=1 --raid-devices=2 $D0 $D1
gpt /dev/md/data data
"""),
    Layout("imsm-raid1-resync", 2, 2, """
rec sysctl -w dev.raid.speed_limit_min=100 dev.raid.speed_limit_max=200
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/Volume0 --run --level=1 --raid-devices=2 /dev/md/imsm0
gpt /dev/md/Volume0 data
""", note="Created without --assume-clean and recorded while the initial resync runs "
          "(throttled to 200 KiB/s with /proc/sys/dev/raid/speed_limit_max)."),
    Layout("imsm-raid1-degraded", 2, 2, """
rec mdadm --create /dev/md/imsm0 --run --metadata=imsm --raid-devices=2 $D0 $D1
rec mdadm --create /dev/md/Volume0 --run --assume-clean --level=1 --raid-devices=2 /dev/md/imsm0
gpt /dev/md/Volume0 data
""", note="Created on two disks and stopped; recorded in a second boot in which the second disk "
          "($D1 of the first boot) is missing. What the boot assembled by itself is in "
          "proc-mdstat-at-boot.txt; commands.txt says what was run after that."),
]
BY_NAME = {layout.name: layout for layout in LAYOUTS}
DEGRADED = "imsm-raid1-degraded"

GUEST_FUNCTIONS = r"""
CMDS=/dev/null
rec() { echo "$*" >>"$CMDS"; "$@"; }
first_part() { lsblk -nrpo NAME,TYPE "$(readlink -f "$1")" | awk '$2 == "part" {print $1; exit}'; }
gpt() {
    rec parted -s "$1" mklabel gpt mkpart "$2" 1MiB 100%
    settle
    local i
    for ((i = 0; i < 50; i++)); do [[ -n $(first_part "$1") ]] && return 0; sleep 0.2; done
    die "no partition on $1"
}
# wait_assembled N: N md devices, none inactive, partitions of volumes visible.
wait_assembled() {
    local want=$1 i md ok
    for ((i = 0; i < 300; i++)); do
        ok=1
        [[ $(md_devices | wc -l) == "$want" ]] || ok=0
        for md in $(md_devices); do
            local meta state
            meta=$(cat "/sys/block/${md##*/}/md/metadata_version" 2>/dev/null || echo none)
            state=$(cat "/sys/block/${md##*/}/md/array_state" 2>/dev/null || echo none)
            if [[ $meta == external:imsm || $meta == external:ddf ]]; then continue; fi
            [[ $state == inactive || $state == none ]] && ok=0
            [[ -e /sys/block/${md##*/}/${md##*/}p1 ]] || ok=0
        done
        ((ok)) && return 0
        sleep 0.2
    done
    cat /proc/mdstat
    die "not assembled: want $want md devices"
}
write_disks() {
    local name serial size
    echo "# vmlib-name serial device size" >"$1/disks.txt"
    while read -r name serial size; do
        echo "$name $serial $(disk "$name") ${size}MiB" >>"$1/disks.txt"
    done <"$VMTEST_SHARE/disks.txt"
}
reassemble() {
    local want=$1; shift
    md_assembly off
    md_stop_all
    md_assembly on
    retrigger "$@"
    wait_assembled "$want"
}
"""


def guest_layout_block(layout: Layout, final: bool) -> str:
    """Bash that creates, re-assembles, records and (unless ``final``) wipes ``layout``."""
    members = " ".join(f"$D{i}" for i in range(layout.disks))
    out = f"/mnt/host/fixtures/{layout.name}"
    lines = [
        f'step "layout {layout.name}"',
        f"rm -rf {out}; mkdir -p {out}; CMDS={out}/commands.txt",
        f"echo '# {layout.name}: commands run (as recorded, device names of this boot)' >\"$CMDS\"",
        f"write_disks {out}",
        layout.script.strip(),
        "settle",
    ]
    if final:
        # Recorded in the next boot, without its second disk.
        return "\n".join([*lines, "md_stop_all", "sync"]) + "\n"
    lines += [
        f"echo '# then: stop all arrays; udevadm trigger --action=add {members}' >>\"$CMDS\"",
        "echo '#   (udev runs mdadm --incremental, as at boot); record' >>\"$CMDS\"",
        f"reassemble {layout.expect_mds} {members}",
    ]
    if layout.name == "imsm-raid1-resync":
        lines.append('grep -q resync /proc/mdstat || die "resync not running"')
    lines.append(f"python3 /mnt/host/guest_record.py {out} {members}")
    if layout.name == "imsm-raid1-resync":
        lines.append("sysctl -w dev.raid.speed_limit_min=1000 dev.raid.speed_limit_max=200000")
    lines.append(f"md_wipe {' '.join(f'$D{i}' for i in range(NUM_DISKS))}")
    return "\n".join(lines) + "\n"


# Kernel names of SATA disks depend on the order of asynchronous probes; the
# fixture file names should not. A boot that named them out of port order
# exits with this code and is repeated.
RENAMED_RC = 75
CHECK_ORDER = f"""
letters=(a b c d e f g h)
for ((i = 0; i < $(wc -l <"$VMTEST_SHARE/disks.txt"); i++)); do
    if [[ $(disk d$i) != /dev/sd${{letters[i]}} ]]; then
        echo "disk d$i is $(disk d$i), not /dev/sd${{letters[i]}}: boot again"
        exit {RENAMED_RC}
    fi
done
"""


def guest_script_boot1(layouts: list[Layout]) -> str:
    parts = [GUEST_FUNCTIONS, CHECK_ORDER]
    parts += [f"D{i}=$(disk d{i})" for i in range(NUM_DISKS)]
    parts.append(f"md_wipe {' '.join(f'$D{i}' for i in range(NUM_DISKS))}")
    for index, layout in enumerate(layouts):
        parts.append(guest_layout_block(layout, final=(layout.name == DEGRADED and index == len(layouts) - 1)))
    parts.append('step "done"')
    return "\n".join(parts) + "\n"


def guest_script_degraded() -> str:
    layout = BY_NAME[DEGRADED]
    out = f"/mnt/host/fixtures/{layout.name}"
    return GUEST_FUNCTIONS + CHECK_ORDER + f"""
D0=$(disk d0)
mkdir -p {out}
CMDS={out}/commands.txt
settle
step "what the boot assembled from $D0 alone"
cat /proc/mdstat | tee {out}/proc-mdstat-at-boot.txt
for md in $(md_devices); do echo "$md $(cat /sys/block/${{md##*/}}/md/array_state)"; done
echo "# second boot without the second disk: udev assembled at boot what proc-mdstat-at-boot.txt shows" >>"$CMDS"
write_disks {out}
# mdadm-last-resort@.timer (30 s) starts arrays that udev left waiting for members.
for ((i = 0; i < 60; i++)); do
    vol=""
    for md in $(md_devices); do
        [[ $(cat /sys/block/${{md##*/}}/md/metadata_version) == external:/* ]] && vol=$md
    done
    if [[ -n $vol && $(cat /sys/block/${{vol##*/}}/md/array_state 2>/dev/null) != inactive ]]; then break; fi
    sleep 1
done
if [[ -z $vol ]] || [[ $(cat /sys/block/${{vol##*/}}/md/array_state) == inactive ]]; then
    echo "# the volume was not started by the boot (nor by mdadm-last-resort within 60 s)" >>"$CMDS"
    rec mdadm --incremental --run --scan || true
    settle
else
    echo "# the volume was started without help (uptime $(cut -d' ' -f1 /proc/uptime) s)" >>"$CMDS"
fi
wait_assembled {layout.expect_mds}
systemctl list-units --all --no-pager 'mdadm-last-resort*' 'mdmon*' | tee {out}/units-at-record.txt || true
python3 /mnt/host/guest_record.py {out} $D0
"""


def run_ordered(vm: VM, script: str, label: str, files: dict[str, str]) -> RunResult:
    """vm.run, repeated (at most 4 boots) while the guest named the disks out of port order."""
    for _ in range(4):
        res = vm.run(script, timeout=1800, label=label, files=files, env={"VMTEST_XTRACE": "1"})
        if res.rc != RENAMED_RC:
            return res
        print(f"{label}: disks named out of port order, booting again")
    raise RuntimeError("disks named out of port order in 4 boots")


def copy_results(share: Path, layouts: list[Layout], suite: str) -> list[Path]:
    written = []
    for layout in layouts:
        src = share / "fixtures" / layout.name
        if not src.is_dir():
            raise RuntimeError(f"guest wrote no fixtures for {layout.name}")
        dest = FIXTURES / suite / layout.name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        if layout.note:
            (dest / "notes.txt").write_text(layout.note + "\n")
        written.append(dest)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("layouts", nargs="*", help=f"default: all of {', '.join(BY_NAME)}")
    parser.add_argument("--suite", default=suite_default())
    parser.add_argument("--keep", type=Path, help="VM work directory to keep (default: a temporary one)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.layouts if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown layouts: {', '.join(unknown)}")
    selected = [BY_NAME[name] for name in (args.layouts or list(BY_NAME))]
    # The degraded layout is prepared last in boot 1, then recorded in boot 2.
    selected.sort(key=lambda layout: layout.name == DEGRADED)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="mdc-capture-"))
    disks = [DiskSpec(f"d{i}", DISK_MIB, serial=f"MDCTEST-D{i}-0001") for i in range(NUM_DISKS)]
    # One CPU: asynchronous disk probes then mostly finish in port order (see run_ordered).
    vm = VM(workdir, disks, suite=args.suite, plugin=False, cpus=1)
    guest_files = {"guest_record.py": (HERE / "guest_record.py").read_text()}
    try:
        started = time.monotonic()
        res = run_ordered(vm, guest_script_boot1(selected), "capture", guest_files)
        print(res.output[-4000:] if res.rc else "", end="")
        print(f"capture boot: rc {res.rc}, {res.seconds:.0f} s (boot {res.boot_seconds} s)")
        res.check()
        boot1 = [layout for layout in selected if layout.name != DEGRADED]
        written = copy_results(res.share_dir, boot1, args.suite)
        if any(layout.name == DEGRADED for layout in selected):
            for i in range(1, NUM_DISKS):
                vm.remove_disk(f"d{i}")
            res2 = run_ordered(vm, guest_script_degraded(), "degraded", guest_files)
            print(f"degraded boot: rc {res2.rc}, {res2.seconds:.0f} s (boot {res2.boot_seconds} s)")
            res2.check()
            boot1_cmds = (res.share_dir / "fixtures" / DEGRADED / "commands.txt").read_text()
            dest_share = res2.share_dir / "fixtures" / DEGRADED
            second = (dest_share / "commands.txt").read_text()
            (dest_share / "commands.txt").write_text(boot1_cmds + second)
            written += copy_results(res2.share_dir, [BY_NAME[DEGRADED]], args.suite)
        print(f"wrote {len(written)} fixture directories in {time.monotonic() - started:.0f} s:")
        for path in written:
            print(f"  {path.relative_to(REPO_ROOT)}")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
