"""Waiting until a new volume is the volume we want and can be written.

A volume in an IMSM/DDF container starts read-only ("read-auto") and becomes
writable only when mdmon, which updates the external metadata, runs for its
container.  Without mdmon a write blocks or fails ("Array remains readonly"),
also on a volume that is already active: its next metadata change waits for
mdmon, so no state counts as writable without a running mdmon.
With mdmon, a volume that needs no resync (created clean, or assembled clean
from a firmware-made RAID) stays "read-auto" until its first write: the kernel
then asks mdmon to mark the metadata dirty ("write-pending") and goes on.
``mdadm --readwrite`` cannot switch such a volume (for external metadata it
only pings mdmon), so "read-auto" with a running mdmon counts as writable
after a short grace period.  The wait is bounded and ends with a message that
says what is missing.
"""

from __future__ import annotations

import re
import time
from typing import Callable

from .errors import MdcError
from .system import System

WRITABLE_STATES = ("clean", "active", "active-idle", "write-pending")
#: Seconds a read-auto volume gets to turn active by itself before mdmon is trusted to handle its first write.
READ_AUTO_GRACE = 2.0


def _md_name(subject: str, device: str) -> str:
    match = re.fullmatch(r"/dev/(md[0-9]+)", device)
    if not match:
        raise MdcError(subject, f"'{device}' is not an md device", "expected /dev/mdN")
    return match.group(1)


def mdmon_running(system: System, container_md: str) -> bool:
    """mdmon writes /run/mdadm/<container>.pid (older: /var/run/mdadm or /dev/.mdadm)."""
    for directory in ("/run/mdadm", "/var/run/mdadm", "/dev/.mdadm"):
        pid = system.read(system.dev(f"{directory}/{container_md}.pid"))
        if pid.isdigit() and system.dev(f"/proc/{pid}").exists():
            return True
    return False


def wait_writable(system: System, device: str, container: str, member: int | None, timeout: float,
                  sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> str:
    subject = f"mdvolume {device}"
    md = _md_name(subject, device)
    container_md = _md_name(subject, container)
    version = system.md_value(md, "metadata_version")
    match = re.fullmatch(r"external:[/-](md[0-9]+)/(\d+)", version)
    if not match or match.group(1) != container_md or (member is not None and int(match.group(2)) != member):
        expected = f"member {member} of {container}" if member is not None else f"a volume in {container}"
        found = f"metadata_version '{version}'" if version else "no such md array"
        raise MdcError(subject, f"{device} is not {expected} ({found})",
                       "the volume was not created as recorded; rerun the recovery from the container step")
    started = clock()
    deadline = started + timeout
    asked_readwrite = False
    while True:
        state = system.md_value(md, "array_state")
        # A writable state counts only with mdmon running: without it the next change of the
        # metadata (clean -> active on a write, "write-pending") waits for mdmon forever, in the
        # kernel, where no timeout or signal ends it (seen with mdmon killed after the creation).
        if state in WRITABLE_STATES and mdmon_running(system, container_md):
            return f"{device} is writable ({state})"
        if state == "read-auto" and not asked_readwrite:
            # A first write would switch it; asking explicitly avoids waiting for one.
            system.run("mdadm", "--readwrite", device)
            asked_readwrite = True
        if (state == "read-auto" and clock() - started >= min(READ_AUTO_GRACE, timeout)
                and mdmon_running(system, container_md)):
            return f"{device} is writable on its first write (read-auto, mdmon runs for {container})"
        if clock() >= deadline:
            if not mdmon_running(system, container_md):
                raise MdcError(subject, f"{device} stays '{state}': mdmon is not running for {container}",
                               f"start it with 'mdmon {container}' (with IMSM_NO_PLATFORM=1 when the system "
                               "has no Intel RST platform) and rerun")
            raise MdcError(subject, f"{device} is still '{state}' after {timeout:g} seconds",
                           "check dmesg and 'mdadm --detail " + device + "'; raise MDCONTAINER_WAIT_SECONDS if the "
                           "system is slow")
        sleep(0.5)


#: sysfs array_state of a native array that takes writes.
NATIVE_WRITABLE_STATES = ("clean", "active", "active-idle", "write-pending")


def wait_native_writable(system: System, device: str, metadata: str, timeout: float,
                         sleep: Callable[[float], None] = time.sleep,
                         clock: Callable[[], float] = time.monotonic) -> str:
    """A native md array (MDCONTAINER_MIGRATE=native) with ``metadata``, writable: no mdmon is involved.

    A native array runs writable once created; one that the kernel started
    read-only ("read-auto", md's start_ro) is switched with mdadm --readwrite.
    """
    subject = f"mdvolume {device}"
    md = _md_name(subject, device)
    version = system.md_value(md, "metadata_version")
    if version != metadata:
        found = f"metadata_version '{version}'" if version else "no such md array"
        raise MdcError(subject, f"{device} is not a native md array with metadata {metadata} ({found})",
                       "the array was not created as planned; rerun the recovery from the container step")
    deadline = clock() + timeout
    asked_readwrite = False
    while True:
        state = system.md_value(md, "array_state")
        if state in NATIVE_WRITABLE_STATES:
            return f"{device} is writable ({state}, native md, metadata {metadata})"
        if state in ("read-auto", "readonly") and not asked_readwrite:
            system.run("mdadm", "--readwrite", device)
            asked_readwrite = True
        if clock() >= deadline:
            raise MdcError(subject, f"{device} is still '{state}' after {timeout:g} seconds",
                           f"check dmesg and 'mdadm --detail {device}'; raise MDCONTAINER_WAIT_SECONDS if the system "
                           "is slow")
        sleep(0.5)
