# Check firmware RAID containers before anything is written (rear-mdcontainer).
#
# Runs after the disk recreation code (diskrestore.sh) was generated from the
# final layout (mapped disks, exclusions applied) and before it runs: missing
# or too small disks, disks in use, md names taken by unrelated arrays, or no
# IMSM platform stop 'rear recover' here, with the disks unchanged.
# The same checks run again at the top of each container's code.

is_false "$MDCONTAINER_ENABLED" && return 0
grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0

local disk
# All member disks of the final layout (mapped disks, user's edits):
mdcontainer_member_disks
for disk in "${MDCONTAINER_MEMBER_DISKS[@]}" ; do
    # ReaR's write protection (WRITE_PROTECTED_IDS, WRITE_PROTECTED_FS_LABEL_PATTERNS, ReaR >= 2.7):
    if declare -F is_write_protected >/dev/null && is_write_protected "$disk" ; then
        Error "rear-mdcontainer: member disk $disk of an mdcontainer entry is write-protected (the disk of the running or original system?); check the disk mapping"
    fi
done

# Which containers diskrestore.sh keeps as they exist (MDCONTAINER_REUSE=yes) is
# decided and listed when it runs; forget what an earlier attempt listed:
rm -f "$VAR_DIR/layout/mdcontainer-kept"

LogPrint "Checking firmware RAID containers before recreating them (rear-mdcontainer)"
mdcontainer_config_args
mdcontainer_helper_or_error "checking the firmware RAID containers" \
    preflight --layout-file "$LAYOUT_FILE" --target-root "$TARGET_FS_ROOT" "${MDCONTAINER_CONFIG_ARGS[@]}"
