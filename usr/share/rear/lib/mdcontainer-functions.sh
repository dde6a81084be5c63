# rear-mdcontainer: functions shared by the plugin's stage scripts.
#
# The logic lives in the Python helper (python3 -m rear_mdcontainer) that is
# installed below $SHARE_DIR/mdcontainer/python, so that ReaR copies it into
# the rescue system together with the rest of $SHARE_DIR.

# Run the helper. Its stdout is for the caller, its stderr carries one-line
# error messages that name the entry and the fix.
function mdcontainer_helper () {
    PYTHONPATH="$SHARE_DIR/mdcontainer/python${PYTHONPATH:+:$PYTHONPATH}" \
        "${MDCONTAINER_PYTHON:-python3}" -m rear_mdcontainer "$@"
}

# Run the helper and stop ReaR with the helper's own message when it fails.
# Usage: mdcontainer_helper_or_error <what we are doing> <helper arguments...>
# The helper's stdout is kept in $MDCONTAINER_HELPER_OUT for the caller and
# logged; the last line of its stderr is the error message for the user.
function mdcontainer_helper_or_error () {
    local what="$1"
    shift
    MDCONTAINER_HELPER_OUT="$TMP_DIR/mdcontainer-helper.out"
    local errfile="$TMP_DIR/mdcontainer-helper.err"
    local rc=0 warning
    mdcontainer_helper "$@" >"$MDCONTAINER_HELPER_OUT" 2>"$errfile" || rc=$?
    Log "rear-mdcontainer: $what (exit code $rc): $( cat "$MDCONTAINER_HELPER_OUT" "$errfile" )"
    # Warnings (degraded or resyncing arrays, ...) are for the user, not only the log,
    # also when an error follows (they may explain it):
    while read -r warning ; do
        LogPrintError "rear-mdcontainer: $warning"
    done < <( grep '^WARNING: ' "$errfile" )
    test $rc -eq 0 || Error "rear-mdcontainer: $what failed: $( tail -n 1 "$errfile" )"
}

# Set MDCONTAINER_MEMBER_DISKS to the member disks of all mdcontainer entries
# of $LAYOUT_FILE as it is *now* (the helper validates the entries). Ask again
# whenever the answer matters: 'rear recover' maps disks (layout/prepare/default/
# 300 and 320) and lets the user edit disklayout.conf (500) after the code
# generators were sourced.
function mdcontainer_member_disks () {
    # create_disk asks for every disk: run the helper again only when the layout
    # file changed since the last answer (disk mapping, the user's edits).
    local layout_sum
    layout_sum="$( cksum < "$LAYOUT_FILE" 2>/dev/null )"
    test "$layout_sum" && test "$layout_sum" = "${MDCONTAINER_MEMBER_DISKS_LAYOUT_SUM:-}" && return 0
    MDCONTAINER_MEMBER_DISKS=()
    MDCONTAINER_MEMBER_DISKS_LAYOUT_SUM=""
    grep -q '^mdcontainer ' "$LAYOUT_FILE" || return 0
    mdcontainer_helper_or_error "reading the mdcontainer entries" members --layout-file "$LAYOUT_FILE"
    mapfile -t MDCONTAINER_MEMBER_DISKS < "$MDCONTAINER_HELPER_OUT"
    MDCONTAINER_MEMBER_DISKS_LAYOUT_SUM="$layout_sum"
}

# The helper options that come from the configuration (defaults in
# lib/mdcontainer-defaults.sh). MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM is what
# the original system did, recorded into the rescue system's rescue.conf.
# With MDCONTAINER_MIGRATE=native the helper reads ReaR's dependency graph
# ($LAYOUT_DEPS) to find the volumes that hold the ESP, /boot or /.
# Usage: mdcontainer_helper ... "${MDCONTAINER_CONFIG_ARGS[@]}" after calling it.
function mdcontainer_config_args () {
    MDCONTAINER_CONFIG_ARGS=( --imsm-no-platform "${MDCONTAINER_IMSM_NO_PLATFORM:-auto}"
                              --original-imsm-no-platform "${MDCONTAINER_ORIGINAL_IMSM_NO_PLATFORM:-unknown}"
                              --grow-last-volume "${MDCONTAINER_GROW_LAST_VOLUME:-no}"
                              --reuse "${MDCONTAINER_REUSE:-no}" )
    if test "${MDCONTAINER_MIGRATE:-}" ; then
        MDCONTAINER_CONFIG_ARGS+=( --migrate "$MDCONTAINER_MIGRATE" )
        test "${LAYOUT_DEPS:-}" && MDCONTAINER_CONFIG_ARGS+=( --deps-file "$LAYOUT_DEPS" )
    fi
    return 0
}

# Add the components of mdcontainer/mdvolume entries to the dependency graph.
# ReaR's generate_layout_dependencies ignores unknown keywords, so without
# this our components would get no code, no exclusion and no auto-exclusion:
# mdvolume -> mdcontainer -> member disks (partitions of a volume already
# depend on the volume through upstream's generic 'part' handling).
function mdcontainer_add_layout_dependencies () {
    is_false "$MDCONTAINER_ENABLED" && return 0
    grep -qE '^(mdcontainer|mdvolume) ' "$LAYOUT_FILE" 2>/dev/null || return 0
    local deps kind first second junk
    deps="$( mdcontainer_helper deps --layout-file "$LAYOUT_FILE" 2>"$TMP_DIR/mdcontainer-deps.err" )" \
        || Error "rear-mdcontainer: invalid entry in $LAYOUT_FILE: $( tail -n 1 "$TMP_DIR/mdcontainer-deps.err" )"
    while read kind first second junk ; do
        case "$kind" in
            (component)
                add_component "$first" "$second"
                ;;
            (dependency)
                add_dependency "$first" "$second"
                ;;
        esac
    done <<< "$deps"
}

# ReaR regenerates the dependency graph in several places (layout/save/default/300,
# layout/prepare/default/300 and 510, more in newer releases), always through
# generate_layout_dependencies from lib/layout-functions.sh. That file is sourced
# before this one (lib/*.sh in alphabetical order), so wrapping the function here
# adds our components after every regeneration, wherever it happens.
if declare -F generate_layout_dependencies >/dev/null && ! declare -F mdcontainer_upstream_generate_layout_dependencies >/dev/null ; then
    eval "mdcontainer_upstream_$( declare -f generate_layout_dependencies )"
    function generate_layout_dependencies () {
        mdcontainer_upstream_generate_layout_dependencies "$@"
        mdcontainer_add_layout_dependencies
    }
fi

# ReaR's get_device_from_partition strips the partition number and only knows
# the 'p' separators of NVMe, eMMC and device-mapper names, so for an EFI
# system partition on a firmware RAID volume (/dev/md126p1) it answers nothing
# and finalize/Linux-i386/670_run_efibootmgr.sh gives up with "unable to find
# the underlying disk". The disk of /dev/mdXpN is /dev/mdX: efibootmgr (libefivar)
# writes an HD() entry for it that names the partition by its GPT GUID, which
# RST's UEFI driver (it presents the volume as a disk) finds.
if declare -F get_device_from_partition >/dev/null && ! declare -F mdcontainer_upstream_get_device_from_partition >/dev/null ; then
    eval "mdcontainer_upstream_$( declare -f get_device_from_partition )"
    function get_device_from_partition () {
        local device
        if device="$( mdcontainer_upstream_get_device_from_partition "$@" )" ; then
            echo "$device"
            return 0
        fi
        is_false "${MDCONTAINER_ENABLED:-yes}" && return 1
        if [[ "$1" =~ ^(/dev/md[0-9]+)p[0-9]+$ ]] && test -b "${BASH_REMATCH[1]}" ; then
            echo "${BASH_REMATCH[1]}"
            return 0
        fi
        return 1
    }
fi
