"""Unit tests of the Python helper (pyhelpers/rear_mdcontainer): no root, no disks, no VM."""
