"""Keeping udev from assembling md arrays while the recovery rebuilds them.

udev runs ``mdadm --incremental`` for every disk that shows an
``isw_raid_member`` / ``ddf_raid_member`` / ``linux_raid_member`` signature,
from rules whose names differ between distributions:
``64-md-raid-assembly.rules`` (upstream mdadm, Debian, SUSE),
``65-md-incremental.rules`` (Fedora/RHEL), dracut's
``65-md-incremental-imsm.rules``.  All of them skip devices that carry the
``ANACONDA`` udev property (installers build arrays themselves), so one early
rule that sets it blocks all of them, whatever their names.  The known rule
names are masked as well (a link to /dev/null in /run/udev/rules.d), for
rules that lack the check; a mask is skipped where /etc holds a rule of that
name, since /etc takes precedence over /run.

Everything lives in /run/udev/rules.d and is removed again by ``unblock``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .system import System

RULES_DIR = "/run/udev/rules.d"
BLOCK_RULE = "00-rear-mdcontainer-no-md-assembly.rules"
MARKER = "# rear-mdcontainer: md auto-assembly blocked during rear recover"
MASKED_RULES = ("64-md-raid-assembly.rules", "65-md-incremental.rules", "65-md-incremental-imsm.rules")
MASK_LIST = ".rear-mdcontainer-masked"


def block(system: System) -> list[str]:
    rules = system.dev(RULES_DIR)
    rules.mkdir(parents=True, exist_ok=True)
    (rules / BLOCK_RULE).write_text(f'{MARKER}\nSUBSYSTEM=="block", ENV{{ANACONDA}}="1"\n', encoding="utf-8")
    masked = []
    for name in MASKED_RULES:
        mask = rules / name
        if mask.exists() or mask.is_symlink() or system.dev("/etc/udev/rules.d/" + name).exists():
            continue
        mask.symlink_to("/dev/null")
        masked.append(name)
    previous = _read_masked(rules)
    (rules / MASK_LIST).write_text("\n".join(sorted(set(previous) | set(masked))) + "\n", encoding="utf-8")
    system.run("udevadm", "control", "--reload")
    return [f"blocked md auto-assembly ({RULES_DIR}/{BLOCK_RULE}; masked: {', '.join(masked) or 'none'})"]


def unblock(system: System) -> list[str]:
    rules = system.dev(RULES_DIR)
    rule = rules / BLOCK_RULE
    removed = []
    if rule.exists() and rule.read_text(encoding="utf-8").startswith(MARKER):
        rule.unlink()
        removed.append(BLOCK_RULE)
    for name in _read_masked(rules):
        mask = rules / name
        if mask.is_symlink() and os.readlink(mask) == "/dev/null":
            mask.unlink()
            removed.append(name)
    if (rules / MASK_LIST).exists():
        (rules / MASK_LIST).unlink()
    if removed:
        system.run("udevadm", "control", "--reload")
    return [f"md auto-assembly allowed again (removed {', '.join(removed) or 'nothing'})"]


def _read_masked(rules: Path) -> list[str]:
    try:
        text = (rules / MASK_LIST).read_text(encoding="utf-8")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() in MASKED_RULES]


def is_blocked(system: System) -> bool:
    return (system.dev(RULES_DIR) / BLOCK_RULE).exists()
