# Include what recreating firmware RAID needs in the rescue system (rear-mdcontainer).
#
# The plugin's helper (installed below $SHARE_DIR, which ReaR copies anyway)
# runs on Python: the interpreter, its standard library and jinja2, markupsafe
# and plumbum must be in the rescue system. ReaR 2.7 has no Python support of
# its own, so the helper names the files it needs (rescue-files).
# mdadm creates the arrays, mdmon keeps their external metadata up to date
# (without it a new volume stays read-only), wipefs and udevadm clean the disks.

is_false "$MDCONTAINER_ENABLED" && return 0
# Only on systems with IMSM/DDF containers (/sys/block/mdX/md/metadata_version 'external:...';
# MDCONTAINER_SYSFS is only for the tests, which point it at a fake sysfs tree):
grep -qs '^external:' "${MDCONTAINER_SYSFS:-/sys}"/block/md*/md/metadata_version || return 0

Log "Firmware RAID detected: including mdadm, mdmon and Python for rear-mdcontainer"
REQUIRED_PROGS+=( mdadm mdmon wipefs udevadm "$MDCONTAINER_PYTHON" )
PROGS+=( dmsetup )

# The helper names the files (synchronously: an Error inside a process substitution
# would not stop this script before it goes on without them):
mdcontainer_helper_or_error "finding what '$MDCONTAINER_PYTHON' needs in the rescue system (python3 >= 3.9 with jinja2 and plumbum)" rescue-files
local kind path
while read kind path ; do
    case "$kind" in
        (copy)
            COPY_AS_IS+=( "$path" )
            ;;
        (exclude)
            COPY_AS_IS_EXCLUDE+=( "$path" )
            ;;
        (lib)
            # What the copied Python extension modules link: COPY_AS_IS copies
            # files as they are, LIBS brings libraries with their dependencies.
            LIBS+=( "$path" )
            ;;
    esac
done < "$MDCONTAINER_HELPER_OUT"
