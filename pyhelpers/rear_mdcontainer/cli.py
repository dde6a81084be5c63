"""Command line of the helper: ``python3 -m rear_mdcontainer <subcommand>``.

The ReaR hooks call it; exit status 0 is success, 2 an :class:`MdcError` whose
one-line message (entry, problem, fix) is the last line on stderr, 3 a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__
from .entries import CONTAINER_KEYWORD, VOLUME_KEYWORD, parse_layout
from .errors import MdcError
from .model import Layout

if TYPE_CHECKING:
    from .fakeraid import Finding
    from .probe import LiveSource, RecordedSource
    from .reuse import LiveArrays
    from .system import System

# Subcommands import what they need when they run: the helper is started many
# times during a recovery (every regeneration of ReaR's dependency graph calls
# 'deps'), and importing jinja2 or plumbum costs seconds on a slow machine.

EXIT_ERROR = 2
EXIT_BUG = 3


def _source(args: argparse.Namespace) -> LiveSource | RecordedSource:
    from .probe import LiveSource, RecordedSource

    # MDCONTAINER_SYSFS: a fake sysfs tree, for the tests of the hooks.
    recorded = getattr(args, "recorded", None)
    return RecordedSource(recorded) if recorded else LiveSource(os.environ.get("MDCONTAINER_SYSFS", "/sys"))


def _live(args: argparse.Namespace) -> LiveArrays | None:
    """The existing arrays, when MDCONTAINER_REUSE says to keep matching ones (else None)."""
    if not _is_yes(getattr(args, "reuse", "no")):
        return None
    from .reuse import live_arrays

    return live_arrays(_source(args))


def cmd_save(args: argparse.Namespace) -> int:
    """Rewrite disklayout.conf with mdcontainer/mdvolume entries."""
    from . import fakeraid
    from .disklayout import rewrite_file
    from .imsm_platform import probe_record, record_lines
    from .probe import probe_layout
    from .report import LiveFacts, RecordedFacts

    result = probe_layout(_source(args))
    for warning in result.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    facts = RecordedFacts(args.recorded) if args.recorded else LiveFacts(_system(), os.environ)
    record = probe_record(facts, result.layout)
    found = _fake_raid(args, result.layout)
    rewrite_file(args.layout_file, result.layout, record_lines(record) if record is not None else None,
                 fakeraid.record_lines(found))
    if record is not None:
        print(f"recorded the IMSM platform: {record.summary()}")
    for finding in found:
        if _is_yes(args.fakeraid_warnings):
            print(f"WARNING: {finding.message}", file=sys.stderr)
        else:  # known and accepted: into ReaR's log only
            print(f"not warned (MDCONTAINER_FAKERAID_WARNINGS=no): {finding.message}")
    if found:
        print(f"recorded {len(found)} other firmware RAID device(s) as '# mdfakeraid' comments")
    for container in result.layout.containers:
        volumes = result.layout.volumes_of(container)
        print(f"recorded {container.metadata} container {container.device} on {','.join(container.devices)}"
              f" with {len(volumes)} volume(s): "
              + ", ".join(f"{v.device} ({v.name}, {v.level})" for v in volumes))
    return 0


def _fake_raid(args: argparse.Namespace, layout: Layout) -> list[Finding]:
    """dmraid sets and rcraid disks of the live system (none for a recording, which holds no such facts)."""
    from . import fakeraid

    if args.recorded:
        return []
    containers = {c.device: c.devices for c in layout.containers}
    return fakeraid.findings(fakeraid.probe(_system()), containers)


def cmd_report(args: argparse.Namespace) -> int:
    """What the plugin sees, what it would record, and what looks wrong; exit 2 after the report if the probe failed."""
    from .report import LiveFacts, RecordedFacts, build_report, render_json, render_text

    facts = RecordedFacts(args.recorded) if args.recorded else LiveFacts(_system(), os.environ)
    report = build_report(_source(args), facts)
    sys.stdout.write(render_json(report) if args.json else render_text(report))
    for error in report["errors"]:
        print(f"ERROR: {error['message']}", file=sys.stderr)
    return EXIT_ERROR if report["errors"] else 0


def _read_layout(path: str) -> tuple[Layout, list[str]]:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        lines = handle.read().splitlines()
    return parse_layout(lines), lines


def _system() -> System:
    from .system import System

    return System(os.environ.get("MDCONTAINER_SYSROOT", "/"))


_TRUE = ("yes", "y", "true", "1", "on")
_FALSE = ("no", "n", "false", "0", "off")


def _is_yes(value: str) -> bool:
    """ReaR's is_true spellings, in any case: MDCONTAINER_GROW_LAST_VOLUME=Yes means yes."""
    return value.strip().lower() in _TRUE


def resolve_no_platform(setting: str, original: str, environment: str) -> bool:
    """Whether IMSM is created with IMSM_NO_PLATFORM=1.

    ``MDCONTAINER_IMSM_NO_PLATFORM``: yes / no, or auto = as the original
    system ran (recorded in the rescue system), else as this environment says.
    """
    value = setting.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value not in ("auto", ""):
        raise MdcError("MDCONTAINER_IMSM_NO_PLATFORM", f"'{setting}' is not auto, yes or no", "set it to auto, yes or no")
    if original.strip().lower() in _TRUE:
        return True
    if original.strip().lower() in _FALSE:
        return False
    return environment.strip() == "1"


def _mode(args: argparse.Namespace) -> str:
    """MDCONTAINER_MIGRATE with MDCONTAINER_REUSE: migrate, reuse or recreate (an error when both are set)."""
    from .native import creation_mode, migrate_setting

    return creation_mode(migrate_setting(getattr(args, "migrate", "") or ""), _is_yes(getattr(args, "reuse", "no")))


def _migrating(args: argparse.Namespace) -> bool:
    from .native import MIGRATE

    return _mode(args) == MIGRATE


def _deps(args: argparse.Namespace) -> list[tuple[str, str]]:
    """ReaR's diskdeps.conf: which volume holds the ESP, /boot or / (the metadata of a migrated array)."""
    from .bootloader import parse_deps

    path = getattr(args, "deps_file", None)
    if not path:
        raise MdcError("MDCONTAINER_MIGRATE", "no dependency file (diskdeps.conf) to tell which volume holds /boot or /",
                       "give --deps-file \"$LAYOUT_DEPS\"")
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return parse_deps(handle)


def _no_platform(args: argparse.Namespace, lines: list[str]) -> bool:
    """MDCONTAINER_IMSM_NO_PLATFORM resolved; the original system as rescue.conf says, else as its layout does."""
    original = args.original_imsm_no_platform
    if original.strip().lower() not in (*_TRUE, *_FALSE):
        from .imsm_platform import parse_record

        record = parse_record(lines)
        if record is not None and record.imsm_no_platform is not None:
            original = "yes" if record.imsm_no_platform else "no"
    return resolve_no_platform(args.imsm_no_platform, original, os.environ.get("IMSM_NO_PLATFORM", ""))


def cmd_preflight(args: argparse.Namespace) -> int:
    from .preflight import preflight

    layout, lines = _read_layout(args.layout_file)
    migrate = _migrating(args)
    deps = _deps(args) if migrate and args.deps_file else None
    for line in preflight(_system(), layout, lines, args.container or None, no_platform=_no_platform(args, lines),
                          grow_last=_is_yes(args.grow_last_volume), target_root=args.target_root,
                          live=None if migrate else _live(args), migrate=migrate, deps=deps):
        print(line)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .render import render_container, render_native_container, render_native_volume, render_volume

    layout, lines = _read_layout(args.layout_file)
    if _migrating(args):
        render = render_native_container if args.kind == "container" else render_native_volume
        sys.stdout.write(render(layout, args.device, grow_last=_is_yes(args.grow_last_volume),
                                wait_seconds=args.wait_seconds, deps=_deps(args)))
        return 0
    if args.kind == "container":
        sys.stdout.write(render_container(layout, args.device, no_platform=_no_platform(args, lines),
                                          no_platform_setting=args.imsm_no_platform,
                                          grow_last=_is_yes(args.grow_last_volume), wait_seconds=args.wait_seconds,
                                          reuse=_is_yes(args.reuse)))
    else:
        sys.stdout.write(render_volume(layout, args.device, wait_seconds=args.wait_seconds))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from .teardown import release

    for line in release(_system(), args.disks, target_root=args.target_root):
        print(line)
    return 0


def cmd_prepare_container(args: argparse.Namespace) -> int:
    """What diskrestore.sh runs before it creates a container: one process for three steps.

    Preflight again (udev may have assembled old arrays since the code was
    generated), block md auto-assembly, then free and wipe the container's
    disks.  Nothing is written before the preflight passed.
    """
    from . import assembly
    from .preflight import preflight
    from .teardown import free_md_names, release

    layout, lines = _read_layout(args.layout_file)
    system = _system()
    # All the checks for creating (with MDCONTAINER_REUSE=yes reuse-check has just decided to recreate):
    report = preflight(system, layout, lines, [args.container], no_platform=_no_platform(args, lines),
                       grow_last=_is_yes(args.grow_last_volume), target_root=args.target_root,
                       migrate=_migrating(args))
    report += assembly.block(system)
    container = layout.container(args.container)
    report += release(system, list(container.devices), target_root=args.target_root)
    needed = [d.rsplit("/", 1)[-1] for d in [container.device, *(v.device for v in layout.volumes_of(container))]]
    layout_disks = system.kernel_names(layout.member_disks())
    report += free_md_names(system, needed, layout_disks)
    for line in report:
        print(line)
    return 0


def cmd_fill_missing(args: argparse.Namespace) -> int:
    """Complete the volumes that were degraded when the layout was saved (layout/prepare)."""
    from . import missing
    from .disklayout import write_lines

    layout, lines = _read_layout(args.layout_file)
    fills, notes = missing.plan(_system(), layout, lines, args.missing_disks, args.target_root)
    for line in [*notes, *missing.report(fills, layout)]:
        print(line)
    if fills:
        write_lines(args.layout_file, missing.apply(lines, layout, fills))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Compare the live arrays with the layout; write the old -> new UUID map."""
    from .probe import probe_layout
    from .reuse import live_arrays, read_kept
    from .verify import check

    recorded, _ = _read_layout(args.layout_file)
    if _migrating(args):
        return _verify_native(args, recorded)
    if args.native_file:  # not migrated (this time): finalize must not take an earlier run's record
        _remove(args.native_file)
    kept = read_kept(args.kept_file) if args.kept_file else {}
    if kept:  # with the array states: a kept volume must still run
        arrays = live_arrays(_source(args))
        result = check(recorded, arrays.layout, grow_last=_is_yes(args.grow_last_volume), kept=kept,
                       states=arrays.states)
    else:
        result = check(recorded, probe_layout(_source(args)).layout, grow_last=_is_yes(args.grow_last_volume))
    if args.uuid_map:
        with open(args.uuid_map, "w", encoding="utf-8") as handle:
            for old, new in result.uuid_map:
                handle.write(f"{old} {new}\n")
    for line in result.report:
        print(line)
    return 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _verify_native(args: argparse.Namespace, recorded: Layout) -> int:
    """MDCONTAINER_MIGRATE=native: the native arrays against their plans; the UUID map and the migrated arrays."""
    from .native import format_records, plan_native
    from .native_verify import check_native
    from .preflight import kernel_or_path

    deps = _deps(args)
    grow_last = _is_yes(args.grow_last_volume)
    plans = [plan_native(recorded, container, grow_last, deps) for container in recorded.containers]
    system = _system()
    kernel = kernel_or_path(system)
    result = check_native(plans, _source(args), lambda device: kernel(device).rsplit("/", 1)[-1])
    if args.uuid_map:
        with open(args.uuid_map, "w", encoding="utf-8") as handle:
            for old, new in result.uuid_map:
                handle.write(f"{old} {new}\n")
    if args.native_file:
        with open(args.native_file, "w", encoding="utf-8") as handle:
            handle.write(format_records(result.arrays))
    for line in result.report:
        print(line)
    return 0


def cmd_finalize(args: argparse.Namespace) -> int:
    """Make the restored system below --root name the recreated arrays (finalize)."""
    from .finalize import finalize, load_uuid_map

    layout, _ = _read_layout(args.layout_file)
    scan = None
    if args.mdadm_scan_file:
        with open(args.mdadm_scan_file, encoding="utf-8", errors="surrogateescape") as handle:
            scan = handle.read()
    native = None
    if args.native_file and os.path.exists(args.native_file):
        from .native import parse_records

        with open(args.native_file, encoding="utf-8", errors="surrogateescape") as handle:
            native = parse_records(handle.read(), args.native_file)
    result = finalize(args.root, layout, load_uuid_map(args.uuid_map), scan, args.file or (), native=native)
    for warning in result.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for line in result.report:
        print(line)
    return 0


def cmd_assembly(args: argparse.Namespace) -> int:
    from . import assembly

    lines = assembly.block(_system()) if args.action == "block" else assembly.unblock(_system())
    for line in lines:
        print(line)
    return 0


def cmd_wait_writable(args: argparse.Namespace) -> int:
    from .readiness import wait_native_writable, wait_writable

    system = _system()
    for device in args.devices:
        if args.native:
            print(wait_native_writable(system, device, args.native, args.timeout))
        elif args.container:
            print(wait_writable(system, device, args.container, args.member, args.timeout))
        else:
            raise MdcError("wait-writable", "neither --container nor --native is given", "give one of them")
    return 0


def cmd_deps(args: argparse.Namespace) -> int:
    """Print the components and dependencies of our entries for ReaR's graph."""
    layout, _ = _read_layout(args.layout_file)
    for container in layout.containers:
        for disk in container.devices:
            print(f"dependency {container.device} {disk}")
        print(f"component {container.device} {CONTAINER_KEYWORD}")
    for volume in layout.volumes:
        print(f"dependency {volume.device} {volume.container}")
        print(f"component {volume.device} {VOLUME_KEYWORD}")
    return 0


def cmd_rescue_files(args: argparse.Namespace) -> int:
    from .rescue import rescue_files

    copy, exclude, libraries = rescue_files()
    for path in copy:
        print(f"copy {path}")
    for path in exclude:
        print(f"exclude {path}")
    for path in libraries:
        print(f"lib {path}")
    return 0


def cmd_renumber(args: argparse.Namespace) -> int:
    """Give our arrays free md names where unrelated live arrays hold the recorded ones."""
    from . import renumber
    from .disklayout import write_lines

    layout, lines = _read_layout(args.layout_file)
    system = _system()
    live = None if _migrating(args) else _live(args)
    keep: dict[str, str] = {}
    if live is not None:
        from .preflight import kernel_or_path
        from .reuse import REUSE, decide, describe

        for container in layout.containers:
            decision = decide(layout, container, live, kernel_or_path(system))
            print(describe(decision))
            if decision.action == REUSE:
                keep.update(decision.names)
    mapping = renumber.plan(system, layout, lines, keep)
    for old, new in sorted(mapping.items()):
        if old in keep:
            print(f"{old} is kept as the existing {new}")
        else:
            print(f"{old} is used by another array in this system: recreating it as {new}")
    if mapping:
        write_lines(args.layout_file, renumber.apply(lines, mapping))
    return 0


def cmd_reuse_check(args: argparse.Namespace) -> int:
    """In diskrestore.sh: keep the existing container (print 'reuse ...') or recreate it ('create ...')."""
    from . import reuse
    from .preflight import kernel_or_path
    from .teardown import check_not_in_use

    layout, _ = _read_layout(args.layout_file)
    try:
        container = layout.container(args.container)
    except KeyError:
        raise MdcError(f"mdcontainer {args.container}", "there is no such entry in the layout file",
                       "check disklayout.conf") from None
    system = _system()
    decision = reuse.decide(layout, container, reuse.live_arrays(_source(args)), kernel_or_path(system))
    if decision.action == reuse.REUSE and decision.live is not None:
        renamed = [f"{old} is {new}" for old, new in sorted(decision.names.items()) if old != new]
        if renamed:
            raise MdcError(container.entry_name, f"the existing arrays match the layout but under other md names "
                           f"({', '.join(renamed)}) than this code was generated for",
                           "run the recovery again (it takes the names of the arrays it keeps), or set "
                           "MDCONTAINER_REUSE=no")
        check_not_in_use(system, container.entry_name, system.kernel_names(container.devices), args.target_root)
        reuse.write_kept(args.kept_file, container.device, decision.live.uuid)
    else:
        reuse.write_kept(args.kept_file, container.device, None)
    print(f"{decision.action} {reuse.describe(decision)}")
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    """Member disks of all (or the named) containers, one per line."""
    layout, _ = _read_layout(args.layout_file)
    for container in layout.containers:
        if not args.container or container.device in args.container:
            for disk in container.devices:
                print(disk)
    return 0


def cmd_boot_volumes(args: argparse.Namespace) -> int:
    """The volumes that hold the first of --mountpoint found in the layout (the boot loader's place)."""
    from .bootloader import BIOS_BOOT_MOUNTPOINTS, boot_volumes, members_named, native_boot_disks, parse_deps

    layout, _ = _read_layout(args.layout_file)
    with open(args.deps_file, encoding="utf-8", errors="surrogateescape") as handle:
        deps = parse_deps(handle)
    mountpoint, volumes = boot_volumes(layout, deps, args.mountpoint or BIOS_BOOT_MOUNTPOINTS)
    if args.migrate == "native":
        # Native md arrays now: GRUB goes onto their member disks (see native_boot_disks). Where no member
        # disk can boot the array, a warning: the restored files are in place and the rest of the recovery
        # (initramfs, clean arrays) must still run, so this is no reason to stop it.
        if mountpoint is not None:
            try:
                disks = native_boot_disks(layout, volumes)
            except MdcError as exc:
                print(f"WARNING: {exc.message}", file=sys.stderr)
                return 0
            for disk in disks:
                print(f"{disk} {mountpoint}")
        return 0
    for device in members_named(layout, args.check_device or ()):
        print(f"WARNING: {device} is a member disk of a firmware RAID container: a boot loader written "
              f"there bypasses md (use the volume device{' ' + volumes[0] if volumes else ''})", file=sys.stderr)
    if mountpoint is not None:
        for device in volumes:
            print(f"{device} {mountpoint}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the entries of a disklayout.conf and list them."""
    layout, _ = _read_layout(args.layout_file)
    for container in layout.containers:
        print(f"{container.entry_name}: {container.metadata} on {','.join(container.devices)}")
        for volume in layout.volumes_of(container):
            print(f"  {volume.entry_name}: member {volume.member} '{volume.name}' {volume.level}"
                  f" on {','.join(volume.devices)}, {volume.size_kib} KiB per disk")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m rear_mdcontainer",
                                     description="IMSM/DDF firmware RAID containers for Relax-and-Recover")
    parser.add_argument("--version", action="version", version=f"rear-mdcontainer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    save = sub.add_parser("save", help="record containers and volumes in disklayout.conf (layout/save)")
    save.add_argument("--layout-file", required=True, help="ReaR's disklayout.conf to rewrite in place")
    save.add_argument("--recorded", metavar="DIR", help="read mdadm/sysfs output recorded in DIR instead of probing")
    save.add_argument("--fakeraid-warnings", default="yes",
                      help="MDCONTAINER_FAKERAID_WARNINGS: dmraid sets and rcraid disks as warnings (yes) or only "
                           "logged (no)")
    save.set_defaults(func=cmd_save)

    report = sub.add_parser("report", help="what the plugin sees, what it would record, and warnings (read-only)")
    report.add_argument("--json", action="store_true", help="a JSON document for scripts instead of text")
    report.add_argument("--recorded", metavar="DIR", help="read mdadm/sysfs output recorded in DIR instead of probing")
    report.set_defaults(func=cmd_report)

    deps = sub.add_parser("deps", help="components and dependencies of the entries, for ReaR's dependency graph")
    deps.add_argument("--layout-file", required=True)
    deps.set_defaults(func=cmd_deps)

    check = sub.add_parser("check", help="validate the mdcontainer/mdvolume entries of a disklayout.conf")
    check.add_argument("--layout-file", required=True)
    check.set_defaults(func=cmd_check)

    members = sub.add_parser("members", help="member disks of the containers in a disklayout.conf")
    members.add_argument("--layout-file", required=True)
    members.add_argument("--container", action="append", help="only this container (repeatable)")
    members.set_defaults(func=cmd_members)

    ren = sub.add_parser("renumber", help="free md names for our arrays where unrelated arrays hold the recorded ones")
    ren.add_argument("--layout-file", required=True, help="disklayout.conf to rewrite in place")
    ren.add_argument("--reuse", default="no", help="MDCONTAINER_REUSE: keep existing arrays that match (yes/no)")
    ren.add_argument("--migrate", default="", help="MDCONTAINER_MIGRATE: 'native' keeps no existing arrays")
    ren.set_defaults(func=cmd_renumber)

    keep = sub.add_parser("reuse-check", help="keep the existing container or recreate it (in diskrestore.sh)")
    keep.add_argument("--layout-file", required=True)
    keep.add_argument("--container", required=True, help="the entry's device, e.g. /dev/md127")
    keep.add_argument("--kept-file", required=True, help="where kept containers are listed for verify")
    keep.add_argument("--target-root", default="/mnt/local", help="mounts below it belong to this recovery")
    keep.add_argument("--recorded", metavar="DIR", help="read mdadm/sysfs output recorded in DIR instead of probing")
    keep.set_defaults(func=cmd_reuse_check)

    fill = sub.add_parser("fill-missing", help="give the missing slots of degraded volumes a disk (layout/prepare)")
    fill.add_argument("--layout-file", required=True, help="disklayout.conf to rewrite in place")
    fill.add_argument("--missing-disks", default="",
                      help="MDCONTAINER_MISSING_DISKS: blank-separated <container>:<disk>[,<disk>...]")
    fill.add_argument("--target-root", default="/mnt/local", help="mounts below it belong to this recovery")
    fill.set_defaults(func=cmd_fill_missing)

    files = sub.add_parser("rescue-files", help="what the rescue system needs to run this helper")
    files.set_defaults(func=cmd_rescue_files)

    def platform_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--imsm-no-platform", default="auto", help="MDCONTAINER_IMSM_NO_PLATFORM: auto, yes or no")
        command.add_argument("--original-imsm-no-platform", default="",
                             help="whether the original system ran with IMSM_NO_PLATFORM=1 (yes/no, empty: unknown)")
        command.add_argument("--grow-last-volume", default="no", help="MDCONTAINER_GROW_LAST_VOLUME: yes or no")
        command.add_argument("--reuse", default="no", help="MDCONTAINER_REUSE: keep existing arrays that match (yes/no)")
        command.add_argument("--migrate", default="",
                             help="MDCONTAINER_MIGRATE: 'native' makes the volumes native md arrays (empty: no)")
        command.add_argument("--deps-file",
                             help="ReaR's diskdeps.conf (LAYOUT_DEPS): which volume holds the ESP, /boot or / "
                                  "(needed with --migrate native)")

    pre = sub.add_parser("preflight", help="check disks, sizes, names and platform before anything is written")
    pre.add_argument("--layout-file", required=True)
    pre.add_argument("--container", action="append", help="check only this container (repeatable)")
    pre.add_argument("--target-root", default="/mnt/local", help="mounts below it belong to this recovery")
    platform_options(pre)
    pre.set_defaults(func=cmd_preflight)

    render = sub.add_parser("render", help="diskrestore.sh code for an mdcontainer or mdvolume entry")
    render.add_argument("kind", choices=("container", "volume"))
    render.add_argument("--layout-file", required=True)
    render.add_argument("--device", required=True, help="the entry's device, e.g. /dev/md127")
    render.add_argument("--wait-seconds", type=int, default=60, help="how long a new volume may take to become writable")
    platform_options(render)
    render.set_defaults(func=cmd_render)

    rel = sub.add_parser("release", help="stop what holds the disks, zero md superblocks, wipe signatures")
    rel.add_argument("disks", nargs="+")
    rel.add_argument("--target-root", default="/mnt/local")
    rel.set_defaults(func=cmd_release)

    prep = sub.add_parser("prepare-container", help="preflight, block auto-assembly, free and wipe a container's disks")
    prep.add_argument("--layout-file", required=True)
    prep.add_argument("--container", required=True)
    prep.add_argument("--target-root", default="/mnt/local")
    platform_options(prep)
    prep.set_defaults(func=cmd_prepare_container)

    ver = sub.add_parser("verify", help="compare the recreated arrays with the layout (layout/recreate)")
    ver.add_argument("--layout-file", required=True)
    ver.add_argument("--uuid-map", help="write 'old-uuid new-uuid' lines here")
    ver.add_argument("--recorded", metavar="DIR", help="read mdadm/sysfs output recorded in DIR instead of probing")
    ver.add_argument("--grow-last-volume", default="no")
    ver.add_argument("--kept-file", help="the containers reuse-check kept (MDCONTAINER_REUSE=yes), if any")
    ver.add_argument("--migrate", default="", help="MDCONTAINER_MIGRATE: 'native' verifies native md arrays")
    ver.add_argument("--deps-file", help="ReaR's diskdeps.conf (LAYOUT_DEPS), needed with --migrate native")
    ver.add_argument("--native-file",
                     help="where the migrated native arrays are listed for finalize (removed when not migrating)")
    ver.set_defaults(func=cmd_verify)

    fin = sub.add_parser("finalize", help="make the restored system name the new arrays (finalize)")
    fin.add_argument("--root", required=True, help="where the restored system is mounted (TARGET_FS_ROOT)")
    fin.add_argument("--layout-file", required=True)
    fin.add_argument("--uuid-map", required=True, help="the 'old-uuid new-uuid' lines written by verify")
    fin.add_argument("--mdadm-scan-file", help="output of 'mdadm --detail --scan' in the rescue system")
    fin.add_argument("--file", action="append", help="another file below --root to patch (repeatable)")
    fin.add_argument("--native-file", help="the native arrays that replaced the volumes (MDCONTAINER_MIGRATE=native)")
    fin.set_defaults(func=cmd_finalize)

    boot = sub.add_parser("boot-volumes", help="the volumes holding /boot (or /): where the boot loader goes")
    boot.add_argument("--layout-file", required=True)
    boot.add_argument("--deps-file", required=True, help="ReaR's diskdeps.conf (LAYOUT_DEPS)")
    boot.add_argument("--mountpoint", action="append",
                      help="mount points to look for, first found wins (repeatable; default /boot, then /)")
    boot.add_argument("--check-device", action="append",
                      help="a device the user chose for the boot loader: warn when it is a member disk (repeatable)")
    boot.add_argument("--migrate", choices=("", "native"), default="",
                      help="native: the volumes were recreated as native md arrays; print their member disks")
    boot.set_defaults(func=cmd_boot_volumes)

    asm = sub.add_parser("assembly", help="block or unblock udev's md auto-assembly")
    asm.add_argument("action", choices=("block", "unblock"))
    asm.set_defaults(func=cmd_assembly)

    wait = sub.add_parser("wait-writable", help="wait until new volumes are writable (mdmon running)")
    wait.add_argument("devices", nargs="+", metavar="device")
    wait.add_argument("--container", help="the volume's container (IMSM/DDF volumes)")
    wait.add_argument("--member", type=int)
    wait.add_argument("--native", choices=("1.0", "1.1", "1.2"),
                      help="the device is a native md array with this metadata (MDCONTAINER_MIGRATE=native)")
    wait.add_argument("--timeout", type=float, default=60)
    wait.set_defaults(func=cmd_wait_writable)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except MdcError as exc:
        print(f"ERROR: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"ERROR: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so, with the type, in one line
        print(f"BUG: rear-mdcontainer helper failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BUG
