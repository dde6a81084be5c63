#!/bin/bash
# procbench.sh PYTHON HELPER_DIR FIXTURE_DIR: what starting processes costs here, the same script on
# the host (natively) and in the VM (under QEMU's software emulation), for `make bench`: their ratio is
# the emulation's slowdown of exactly the kind of work the plugin adds to 'rear savelayout'.
# Prints "NAME COUNT START END USER0 SYS0 USER1 SYS1" lines: bash's $EPOCHREALTIME around COUNT runs
# (no process of its own) and the children's CPU time before and after (bash's 'times': 0m1.234s):
#   fork_exec      /bin/true
#   date           date +%s.%N (what each line of ReaR's log costs)
#   python_start   PYTHON -c pass
#   plumbum        PYTHON -c 'import plumbum' (the helper's live probing runs mdadm through plumbum)
#   helper_start   PYTHON -m rear_mdcontainer --version (the helper's package from HELPER_DIR)
#   helper_save    PYTHON -m rear_mdcontainer save --recorded FIXTURE_DIR (probing mdadm output recorded
#                  in the VM instead of a live system: its Python work without the mdadm processes)
set -euo pipefail
python=$1
export PYTHONPATH=$2
fixture=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpu_user=0m0s cpu_sys=0m0s

# child_cpu: user and system CPU time of this shell's finished children so far, as bash's 'times'
# writes them (1m2.345s); a builtin writing to a file, so no process of its own either.
child_cpu() {
    local _self
    times >"$work/times"
    { read -r _self; read -r cpu_user cpu_sys; } <"$work/times"
}

measure() {
    local name=$1 count=$2 i t0 t1 u0 s0
    shift 2
    child_cpu
    u0=$cpu_user s0=$cpu_sys
    t0=$EPOCHREALTIME
    for ((i = 0; i < count; i++)); do
        "$@" >/dev/null
    done
    t1=$EPOCHREALTIME
    child_cpu
    echo "$name $count $t0 $t1 $u0 $s0 $cpu_user $cpu_sys"
}

save_once() {
    printf 'disk /dev/sda 536870912 gpt\ndisk /dev/sdb 536870912 gpt\n' >"$work/disklayout.conf"
    "$python" -m rear_mdcontainer save --recorded "$fixture" --layout-file "$work/disklayout.conf"
}

measure fork_exec 100 /bin/true
measure date 50 date +%s.%N
measure python_start 5 "$python" -c pass
measure plumbum 5 "$python" -c 'import plumbum'
measure helper_start 5 "$python" -m rear_mdcontainer --version
measure helper_save 3 save_once
