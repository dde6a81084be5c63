# Let mdmon record the firmware RAID arrays as clean before the recovered system boots (rear-mdcontainer).
#
# IMSM/DDF metadata is written by mdmon, not by the kernel. An array that the
# metadata shows as dirty (active) when the machine is reset gets a full
# resync at the next start. 'mdadm --wait-clean --scan' waits until each array
# with external metadata is idle and has mdmon record it as clean. (The initial
# sync of a new RAID1/5/10 volume is checkpointed in the metadata and continues
# after the reboot; that is not what this is about.)
# Twice: now, before 500_post_recovery_script.sh, whose POST_RECOVERY_SCRIPT
# may reboot; and as an exit task at the very end, after ReaR's last writes to
# the recovered system: 990_copy_logfile.sh copies the logs there as exit
# tasks, which run in reverse order of being added, so ours (added earlier)
# runs after them and before the user or the unattended mode reboots.
# Bounded, logged, never an error: the data is written, only a resync is at stake.

is_false "$MDCONTAINER_ENABLED" && return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0

# mdadm --wait-clean can wait forever (an array that never becomes idle),
# and the rescue system may have no 'timeout' program: wait at most $1 seconds.
function mdcontainer_wait_clean () {
    local seconds=$1 waited=0 pid rc=0
    mdadm --wait-clean --scan &
    pid=$!
    while kill -0 $pid 2>/dev/null && test $waited -lt "$seconds" ; do
        sleep 1
        waited=$(( waited + 1 ))
    done
    if kill -0 $pid 2>/dev/null ; then
        kill $pid 2>/dev/null
        wait $pid 2>/dev/null
        LogPrintError "rear-mdcontainer: the firmware RAID arrays were not recorded as clean within $seconds seconds ('mdadm --wait-clean --scan'); the recovered system may resync them when it starts"
        return 0
    fi
    wait $pid || rc=$?
    if test $rc -eq 0 ; then
        Log "rear-mdcontainer: mdmon recorded the firmware RAID arrays as clean"
    else
        LogPrintError "rear-mdcontainer: 'mdadm --wait-clean --scan' failed (exit code $rc); the recovered system may resync the firmware RAID arrays when it starts"
    fi
    return 0
}

LogPrint "Waiting until mdmon records the firmware RAID arrays as clean (rear-mdcontainer)"
mdcontainer_wait_clean 120
AddExitTask "mdcontainer_wait_clean 120"
