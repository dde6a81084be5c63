"""rear-mdcontainer: IMSM/DDF firmware-RAID containers for Relax-and-Recover.

The package is the logic behind the plugin's ReaR hooks: it probes mdadm and
sysfs into a model of containers and volumes, writes and reads the
``mdcontainer`` / ``mdvolume`` entries of disklayout.conf, and renders the
restore code.  The hooks under usr/share/rear only glue ReaR to it.
"""

__version__ = "0.1.0"
