# rear-mdcontainer: defaults of the plugin's configuration variables.
#
# ReaR sources usr/share/rear/lib/[a-z]*.sh after default.conf and before
# site.conf and local.conf, so each default below can be overridden there
# (e.g. MDCONTAINER_ENABLED=no in /etc/rear/local.conf).
# Every variable is documented in doc/user-guide/mdcontainer.adoc.

# Record IMSM/DDF containers as mdcontainer/mdvolume entries and recreate them
# with the plugin's code. With 'no' ReaR's own generic raidarray code is used.
: "${MDCONTAINER_ENABLED:=yes}"

# The Python interpreter that runs the plugin's helper (python3 >= 3.9 with
# jinja2 and plumbum from the distribution); on the original system and in the
# rescue system. An absolute path, so that a python3 of the user's PATH (pyenv,
# a virtualenv) without those packages is not picked up.
: "${MDCONTAINER_PYTHON:=/usr/bin/python3}"

# Create IMSM containers with IMSM_NO_PLATFORM=1, i.e. without the Intel RST/VROC
# option ROM's checks: 'yes', 'no', or 'auto' = as the original system did
# (recorded in the rescue system), else as the rescue system's environment says.
# Firmware without RST cannot boot from such a container, Linux assembles it fine.
: "${MDCONTAINER_IMSM_NO_PLATFORM:=auto}"

# On bigger replacement disks the volumes keep their recorded sizes. With 'yes'
# the last volume of each container takes the rest of the disks (mdadm rounds
# it to 1 MiB and, except for RAID1, to the chunk size).
: "${MDCONTAINER_GROW_LAST_VOLUME:=no}"

# Keep a container and volumes that already exist on the recovery's disks and
# match the layout (made by the firmware's setup before the recovery): 'yes'
# recreates only what is inside the volumes; 'no' recreates them (see the user guide).
: "${MDCONTAINER_REUSE:=no}"

# Recreate each recorded volume as a native Linux md array (metadata 1.0 for
# the volume that holds the ESP, /boot or /, 1.2 otherwise) under the same md
# device name instead of a firmware RAID container volume: 'native'. Empty:
# recreate the firmware RAID as recorded. For a replacement machine without
# Intel RST, or to leave firmware RAID (see "Migrating to native md" in the guide).
: "${MDCONTAINER_MIGRATE:=}"

# How many seconds a new volume may take to become writable (mdmon started)
# before the recovery stops with an error.
: "${MDCONTAINER_WAIT_SECONDS:=60}"

# Disks for the missing slots of volumes that were degraded when the layout was
# saved: blank-separated '<container>:<disk>[,<disk>...]' words, the container
# by its md device (/dev/md127), its name (imsm0) or one of its volumes' md
# devices, e.g. '/dev/md127:/dev/sdb'. Empty: a disk of the container that no
# volume uses, else the layout's only unused disk entries (see the user guide).
: "${MDCONTAINER_MISSING_DISKS:=}"

# Firmware RAID that the plugin does not recreate (dmraid sets, AMD RAIDXpert
# arrays of the rcraid driver) is reported as a warning whenever the layout is
# saved (mkrescue, mkbackup, savelayout, checklayout). With 'no' it only goes
# into ReaR's log; the '# mdfakeraid' comments in disklayout.conf stay.
: "${MDCONTAINER_FAKERAID_WARNINGS:=yes}"
