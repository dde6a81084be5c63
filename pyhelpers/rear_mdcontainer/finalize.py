"""The restored system names the new arrays (the finalize step of ``rear recover``).

IMSM and DDF arrays get new UUIDs when they are created (IMSM derives them from
its metadata and mdadm ignores ``--uuid``), so after the backup is restored its
``mdadm.conf``, the ``rd.md.uuid=`` kernel arguments and the initramfs built
from them name arrays that no longer exist.  This module works on the restored
root directory only (no commands run, testable without root):

- ``mdadm.conf`` (Debian/Ubuntu ``/etc/mdadm/mdadm.conf``, Fedora/RHEL/SUSE
  ``/etc/mdadm.conf``): the ``ARRAY`` lines of our containers and volumes (with
  their continuation lines) are replaced by lines for the new arrays, in
  ``mdadm --detail --scan`` style; every other line stays as it is.  A file
  without lines for our arrays gets them appended, as Debian's mkconf writes
  them.
- Every other place that names an md UUID (boot loader configuration, BLS
  entries, dracut's command line and configuration, fstab, crypttab): old ->
  new, in the form found (mdadm's ``8:8:8:8`` or the dashed ``8-4-4-4-12`` form
  of the same 32 hex digits, any case).
- dracut: a restored system that builds its initramfs with dracut gets
  ``add_dracutmodules+=" mdraid "`` unless its configuration names mdraid.

Files are rewritten atomically with their mode, owner and extended attributes
(SELinux label) and only when something changed; running it again changes
nothing.  No backup copies are left in the restored system (as ReaR's own
finalize scripts do): the report, which goes to ReaR's log, says what changed.
A file that cannot be written is a warning, not an error: this runs after the
backup was restored, and ReaR's initramfs and boot loader steps should still
follow.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

from .errors import MdcError
from .mdadm_parse import ScanArray, parse_scan
from .model import Container, Layout, Volume

if TYPE_CHECKING:
    from .native import MigratedArray

Entry = Union[Container, Volume]

#: Where mdadm reads its configuration: Debian/Ubuntu, then Fedora/RHEL/SUSE.
MDADM_CONFS = ("etc/mdadm/mdadm.conf", "etc/mdadm.conf")

#: Files of the restored system (glob patterns below its root) that may name md UUIDs.
UUID_FILES = (
    "etc/default/grub",
    "boot/grub/grub.cfg",
    "boot/grub2/grub.cfg",
    "boot/efi/EFI/*/grub.cfg",
    # RHEL 8 keeps the kernel arguments of its BLS entries in grubenv ($kernelopts).
    "boot/grub2/grubenv",
    "boot/efi/EFI/*/grubenv",
    "boot/loader/entries/*.conf",
    "etc/kernel/cmdline",
    "etc/cmdline.d/*.conf",
    "etc/dracut.conf",
    "etc/dracut.conf.d/*.conf",
    "etc/fstab",
    "etc/crypttab",
)

#: Where the restored system's dracut may be; and the file written when it lacks mdraid.
DRACUT_BINARIES = ("usr/bin/dracut", "usr/sbin/dracut", "sbin/dracut", "bin/dracut")
DRACUT_CONF_GLOBS = ("etc/dracut.conf", "etc/dracut.conf.d/*.conf", "usr/lib/dracut/dracut.conf.d/*.conf")
DRACUT_CONF = "etc/dracut.conf.d/rear-mdcontainer.conf"
DRACUT_SETTING = 'add_dracutmodules+=" mdraid "'
DRACUT_TEXT = (
    "# Written by rear-mdcontainer during 'rear recover': this system has IMSM/DDF\n"
    "# firmware RAID volumes. Make sure that dracut puts mdadm and mdmon into the\n"
    "# initramfs (module mdraid) also when it does not detect them by itself.\n"
    f"{DRACUT_SETTING}\n"
)

#: Restored files that resolve to these are the rescue system's (bind mounts), not the restored system's.
_NOT_RESTORED = ("proc", "sys", "dev", "run")
_MAX_LINKS = 40

_UUID_SEPARATORS = re.compile(r"[:.\-\s]")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")
_CONF_WORD = re.compile(r"""(?:"[^"]*"|'[^']*'|[^\s"'])+""")
_DRACUT_ADDS = re.compile(r"^\s*(?:add_dracutmodules|force_add_dracutmodules|dracutmodules)\s*\+?=.*\bmdraid\b")
_DRACUT_OMITS = re.compile(r"^\s*omit_dracutmodules\s*\+?=.*\bmdraid\b")


# --- UUIDs -----------------------------------------------------------------------------------------

def uuid_hex(text: str) -> str | None:
    """The 32 lowercase hex digits of an md UUID in any of mdadm's spellings, else None."""
    digits = _UUID_SEPARATORS.sub("", text).lower()
    return digits if _HEX32.fullmatch(digits) else None


def colon_form(digits: str) -> str:
    """mdadm's form: 4d5cf215:80024c95:e19fdff4:2fba35a8."""
    return ":".join(digits[i:i + 8] for i in range(0, 32, 8))


def dashed_form(digits: str) -> str:
    """The form of other UUIDs: 4d5cf215-8002-4c95-e19f-dff42fba35a8."""
    return "-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))


def parse_uuid_map(text: str, subject: str = "mdcontainer-uuid-map") -> list[tuple[str, str]]:
    """``old-uuid new-uuid`` lines (as layout/recreate wrote them) -> (old hex, new hex) pairs."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        digits = [uuid_hex(word) for word in words]
        if len(words) != 2 or None in digits:
            raise MdcError(f"{subject} line {number}", f"'{line.strip()}' is not 'old-uuid new-uuid'",
                           "the verification of the recreated arrays writes this file; rerun the recovery")
        old, new = digits
        assert old is not None and new is not None
        pairs.append((old, new))
    return pairs


def load_uuid_map(path: str) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return parse_uuid_map(handle.read(), path)


class UuidReplacer:
    """Replaces old md UUIDs by new ones in text, keeping the form and case found.

    A UUID counts only as a whole: not when it is part of a longer run of hex
    digits, nor next to another group of hex digits and a separator
    (``deadbeef:<uuid>``); ``md-uuid-<uuid>-part2`` is a UUID.
    """

    def __init__(self, pairs: dict[str, str]) -> None:
        self.pairs = {old: new for old, new in pairs.items() if old != new}
        forms = sorted({form(old) for old in self.pairs for form in (colon_form, dashed_form)}, reverse=True)
        self.pattern = re.compile(
            r"(?<![0-9A-Fa-f])(?<![0-9A-Fa-f]{4}[:-])(?:" + "|".join(map(re.escape, forms))
            + r")(?![0-9A-Fa-f]|[:-][0-9A-Fa-f]{4})",
            re.IGNORECASE) if forms else None

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        digits = uuid_hex(found)
        assert digits is not None
        new = self.pairs[digits]
        text = colon_form(new) if ":" in found else dashed_form(new)
        return text.upper() if found.upper() == found and found.lower() != found else text

    def sub(self, text: str) -> tuple[str, int]:
        if self.pattern is None:
            return text, 0
        return self.pattern.subn(self._replace, text)


# --- new UUIDs of the entries ------------------------------------------------------------------------

@dataclass(frozen=True)
class NewUuids:
    """For each entry (by entry name): its old and new UUID (hex), and where the new one came from."""

    old: dict[str, str]
    new: dict[str, str]
    report: tuple[str, ...]
    warnings: tuple[str, ...]

    def pairs(self, uuid_map: Iterable[tuple[str, str]]) -> dict[str, str]:
        """old -> new for the replacement: the entries' and any other pair of the map."""
        pairs = dict(uuid_map)
        for name, old in self.old.items():
            if name in self.new:
                pairs[old] = self.new[name]
        return pairs


def _entries(layout: Layout) -> list[Entry]:
    entries: list[Entry] = []
    for container in layout.containers:
        entries.append(container)
        entries.extend(layout.volumes_of(container))
    return entries


def _scan_uuid(array: ScanArray) -> str | None:
    return uuid_hex(array.options.get("UUID", array.options.get("uuid", "")))


def _scanned(layout: Layout, scan: list[ScanArray]) -> dict[str, str]:
    """New UUIDs as ``mdadm --detail --scan`` shows them, by identity, not by order.

    A container is the scanned container array of its metadata that has its
    md device or its /dev/md/ name; a volume is the scanned array with its
    member index whose container= names that container (device, name or UUID).
    Anything not found exactly once is left to the UUID map.
    """
    found: dict[str, str] = {}
    for container in layout.containers:
        names = {container.device} | ({f"/dev/md/{container.name}"} if container.name else set())
        candidates = [a for a in scan if "container" not in a.options and a.options.get("metadata") == container.metadata
                      and a.device in names and _scan_uuid(a)]
        if len(candidates) != 1:
            continue
        own = candidates[0]
        container_uuid = _scan_uuid(own)
        assert container_uuid is not None
        found[container.entry_name] = container_uuid
        references = names | {own.device}
        for volume in layout.volumes_of(container):
            members = [a for a in scan if a.options.get("member") == str(volume.member) and _scan_uuid(a)
                       and (a.options.get("container") in references
                            or uuid_hex(a.options.get("container", "")) == container_uuid)]
            if len(members) == 1:
                uuid = _scan_uuid(members[0])
                assert uuid is not None
                found[volume.entry_name] = uuid
    return found


def _label(entry: Entry) -> str:
    return f"{entry.entry_name} ({entry.name})" if entry.name else entry.entry_name


def new_uuids(layout: Layout, uuid_map: Iterable[tuple[str, str]], scan_text: str | None = None) -> NewUuids:
    """The new UUID of every entry: from ``mdadm --detail --scan`` if given and found there, else the map."""
    by_old = dict(uuid_map)
    scanned = _scanned(layout, parse_scan(scan_text)) if scan_text is not None else {}
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    report: list[str] = []
    warnings: list[str] = []
    for entry in _entries(layout):
        name = entry.entry_name
        before = uuid_hex(entry.uuid) if entry.uuid else None
        if before:
            old[name] = before
        mapped = by_old.get(before) if before else None
        from_scan = scanned.get(name)
        if from_scan:
            source = "mdadm --detail --scan"
            if mapped and mapped != from_scan:
                warnings.append(f"{name}: mdadm --detail --scan shows UUID {colon_form(from_scan)}, the UUID map says "
                                f"{colon_form(mapped)}; using mdadm's")
            new[name] = from_scan
        elif mapped:
            source = "the UUID map" + (", not in mdadm --detail --scan" if scan_text is not None else "")
            new[name] = mapped
        else:
            where = "in the UUID map nor in mdadm --detail --scan" if scan_text is not None else "in the UUID map"
            warnings.append(f"{name}: its new UUID is neither recorded {where}; the restored system's mdadm.conf "
                            "and kernel arguments are not updated for it (update them by hand)")
            continue
        report.append(f"{_label(entry)}: UUID {colon_form(before) if before else '(not recorded)'} -> "
                      f"{colon_form(new[name])} ({source})")
    return NewUuids(old, new, tuple(report), tuple(warnings))


# --- mdadm.conf ----------------------------------------------------------------------------------

@dataclass
class _Block:
    """An ARRAY line with its continuation lines: lines[start:end]."""

    start: int
    end: int
    device: str | None = None
    options: dict[str, str] | None = None


def _conf_words(line: str) -> list[str]:
    """mdadm.conf words of one line: blank-separated, quotes kept, up to a word that starts a comment."""
    words: list[str] = []
    for word in _CONF_WORD.findall(line):
        if word.startswith("#"):
            break
        words.append(word)
    return words


def _is_array_keyword(word: str) -> bool:
    """mdadm takes keywords in any case and abbreviated to three letters."""
    return len(word) >= 3 and "array".startswith(word.lower())


def _array_blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    in_other = False
    for index, line in enumerate(lines):
        if line[:1] in (" ", "\t") and (current is not None or in_other):
            if current is not None:  # a line that starts with a blank continues the previous one
                current.end = index + 1
            continue
        current, in_other = None, False
        words = _conf_words(line)
        if words and _is_array_keyword(words[0]):
            current = _Block(index, index + 1)
            blocks.append(current)
        elif words:
            in_other = True
    for block in blocks:
        words = [w for line in lines[block.start:block.end] for w in _conf_words(line)][1:]
        if words and (words[0].startswith("/") or "=" not in words[0]):
            block.device = words.pop(0)
        options: dict[str, str] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                options.setdefault(key.lower(), value.replace('"', "").replace("'", ""))
        block.options = options
    return blocks


def _default_device(name: str) -> str | None:
    """/dev/md/<name> for the metadata name, when it is a plain word; else the line names no device."""
    return f"/dev/md/{name}" if name and _SAFE_NAME.fullmatch(name) else None


def _array_line(device: str | None, *options: str) -> str:
    return " ".join(["ARRAY", *([device] if device else []), *options]) + "\n"


APPENDED_COMMENT = "# definitions of the firmware RAID arrays recreated by 'rear recover' (rear-mdcontainer)\n"


def update_mdadm_conf(text: str, layout: Layout, uuids: NewUuids) -> tuple[str, str | None]:
    """mdadm.conf with the ARRAY lines of our arrays for the new arrays, and what changed (None: nothing).

    An ARRAY line is ours when its UUID= is the old or new UUID of an entry,
    or its container= the old or new UUID of a container entry.  The new lines
    keep the device name of the line they replace (the restored system knows
    its arrays by it); new lines use /dev/md/<name> of the entry.  They take
    the place of the first line replaced.  Lines of arrays whose new UUID is
    unknown are left alone.
    """
    lines = text.splitlines(keepends=True)
    owner: dict[str, str] = {}  # hex -> entry name, old and new UUIDs
    for name, digits in list(uuids.old.items()) + list(uuids.new.items()):
        owner.setdefault(digits, name)
    containers = {c.entry_name for c in layout.containers}
    writable: set[str] = set()
    for container in layout.containers:
        if container.entry_name in uuids.new:
            writable.add(container.entry_name)
            writable.update(v.entry_name for v in layout.volumes_of(container) if v.entry_name in uuids.new)

    replaced: list[_Block] = []
    devices: dict[str, str] = {}
    for block in _array_blocks(lines):
        assert block.options is not None
        uuid = uuid_hex(block.options.get("uuid", ""))
        container = uuid_hex(block.options.get("container", ""))
        name = owner.get(uuid) if uuid else None
        if name is not None:
            if name not in writable:
                continue
            if block.device and name not in devices:
                devices[name] = block.device
            replaced.append(block)
        elif container and owner.get(container) in containers and owner[container] in writable:
            replaced.append(block)  # a volume of our container that was not recreated (excluded)

    new_lines: list[str] = []
    for container in layout.containers:
        if container.entry_name not in writable:
            continue
        container_uuid = colon_form(uuids.new[container.entry_name])
        new_lines.append(_array_line(devices.get(container.entry_name) or _default_device(container.name),
                                     f"metadata={container.metadata}", f"UUID={container_uuid}"))
        for volume in layout.volumes_of(container):
            if volume.entry_name in writable:
                new_lines.append(_array_line(devices.get(volume.entry_name) or _default_device(volume.name),
                                             f"container={container_uuid}", f"member={volume.member}",
                                             f"UUID={colon_form(uuids.new[volume.entry_name])}"))
    if not new_lines:
        return text, None
    out = splice_array_lines(lines, replaced, new_lines, APPENDED_COMMENT)
    if replaced:
        what = f"{len(replaced)} ARRAY line(s) replaced by {len(new_lines)} for the new arrays"
    else:
        what = f"had no ARRAY lines for these arrays, {len(new_lines)} appended"
    result = "".join(out)
    return (text, None) if result == text else (result, what)


def splice_array_lines(lines: list[str], replaced: list[_Block], new_lines: list[str],
                       comment: str) -> list[str]:
    """``lines`` with the ``replaced`` ARRAY blocks taken out and ``new_lines`` where the first of
    them was; without replaced blocks, ``comment`` and ``new_lines`` appended at the end."""
    if replaced:
        skip = {index for block in replaced for index in range(block.start, block.end)}
        first = min(block.start for block in replaced)
        out: list[str] = []
        for index, line in enumerate(lines):
            if index == first:
                out.extend(new_lines)
            if index not in skip:
                out.append(line)
        return out
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return [*out, comment, *new_lines]


# --- files of the restored system ------------------------------------------------------------------

def resolve_in_root(root: Path, relative: str) -> Path | None:
    """The path that ``relative`` names in the restored system, symlinks followed as
    inside ``chroot root`` (an absolute link starts again at root); None if it does
    not exist or has too many links."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                return None
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if not os.path.lexists(candidate):
            return None
        resolved.append(part)
    return root.joinpath(*resolved)


def _files(root: Path, patterns: Iterable[str]) -> list[tuple[str, Path]]:
    """(name in the restored system, the real file) of each regular file matching the
    patterns, each real file once, none on /proc, /sys, /dev or /run."""
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    escaped = glob.escape(str(root))
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if glob.has_magic(pattern):
            names = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(escaped, pattern)))
        else:
            names = [pattern]
        for name in names:
            real = resolve_in_root(root, name)
            if real is None or real in seen or not real.is_file():
                continue
            if real.relative_to(root).parts[:1] in [(top,) for top in _NOT_RESTORED]:
                continue
            seen.add(real)
            found.append((f"/{name}", real))
    return found


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return handle.read()


def _copy_xattrs(source: Path, target: str) -> None:
    """Extended attributes (the SELinux label, ACLs) as far as this system lets us set them."""
    try:
        names = os.listxattr(source)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError:
            pass


def write_atomically(path: Path, text: str, like: Path | None = None) -> None:
    """Replace ``path`` by a file with ``text``, with the mode, owner and xattrs of ``like``
    (default: ``path`` itself; a new file gets mode 0644)."""
    like = like if like is not None else path
    old = os.stat(like) if like.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".rear-mdcontainer", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if old is not None:
            _copy_xattrs(like, tmp)
            os.chown(tmp, old.st_uid, old.st_gid)  # before chmod: chown clears set-id bits
            os.chmod(tmp, stat.S_IMODE(old.st_mode))
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    directory = os.open(str(path.parent), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _is_file_in_root(root: Path, relative: str) -> bool:
    real = resolve_in_root(root, relative)
    return real is not None and real.is_file()


def _dracut(root: Path) -> tuple[str | None, str | None]:
    """(report line, warning) for dracut's mdraid module in the restored system."""
    if not any(_is_file_in_root(root, binary) for binary in DRACUT_BINARIES):
        return None, None
    for name, path in _files(root, DRACUT_CONF_GLOBS):
        for line in _read(path).splitlines():
            if _DRACUT_OMITS.match(line):
                return None, (f"{name} omits dracut's mdraid module ({line.strip()}); the initramfs will not "
                              "assemble the firmware RAID arrays unless that setting goes")
            if _DRACUT_ADDS.match(line):
                return None, None
    directory = resolve_in_root(root, os.path.dirname(DRACUT_CONF))
    if directory is None:
        parent = resolve_in_root(root, os.path.dirname(os.path.dirname(DRACUT_CONF)))
        if parent is None or not parent.is_dir():
            return None, f"/{os.path.dirname(DRACUT_CONF)} cannot be created; dracut may leave out mdadm and mdmon"
        directory = parent / os.path.basename(os.path.dirname(DRACUT_CONF))
        directory.mkdir(mode=0o755)
    write_atomically(directory / os.path.basename(DRACUT_CONF), DRACUT_TEXT)
    return f"/{DRACUT_CONF}: written ({DRACUT_SETTING}: dracut puts mdadm and mdmon into the initramfs)", None


# --- all of it ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finalization:
    report: tuple[str, ...]
    warnings: tuple[str, ...]
    changed: tuple[str, ...]  # names of the changed files in the restored system


def finalize(root: str, layout: Layout, uuid_map: Iterable[tuple[str, str]], scan_text: str | None = None,
             extra_files: Iterable[str] = (), native: list[MigratedArray] | None = None) -> Finalization:
    """Update the restored system below ``root`` for the new UUIDs of the recreated arrays.

    ``uuid_map``: (old hex, new hex) pairs from the verification;
    ``scan_text``: ``mdadm --detail --scan`` of the rescue system (preferred
    where it identifies an entry); ``extra_files``: more files to patch, below
    ``root`` (ReaR's FILES_TO_PATCH_PATTERNS); ``native``: the native md
    arrays that replaced the volumes (MDCONTAINER_MIGRATE=native, see
    native_finalize), None when the firmware RAID was recreated.
    """
    base = Path(root)
    if not base.is_dir():
        raise MdcError(root, "is not a directory", "give the mount point of the restored system (TARGET_FS_ROOT)")
    pairs = list(uuid_map)
    if native is not None:
        from .native_finalize import native_uuids, update_mdadm_conf_native

        uuids = native_uuids(layout, pairs, native)
    else:
        uuids = new_uuids(layout, pairs, scan_text)
    report = list(uuids.report)
    warnings = list(uuids.warnings)
    changed: list[str] = []

    def rewrite(name: str, path: Path, text: str) -> bool:
        # A file that cannot be written is a warning, not the end of 'rear recover':
        # the boot loader and initramfs steps after this one should still run.
        try:
            write_atomically(path, text)
        except OSError as exc:
            warnings.append(f"{name}: not changed: {exc.strerror or exc} (update it by hand)")
            return False
        changed.append(name)
        return True

    confs = _files(base, MDADM_CONFS)
    for name, path in confs:
        if native is not None:
            text, what = update_mdadm_conf_native(_read(path), layout, uuids, native)
        else:
            text, what = update_mdadm_conf(_read(path), layout, uuids)
        if what is not None and rewrite(name, path, text):
            report.append(f"{name}: {what}")
    if not confs:
        report.append(f"no mdadm.conf in the restored system (/{MDADM_CONFS[0]}, /{MDADM_CONFS[1]}): none written, "
                      "mdadm assembles the arrays without ARRAY lines")

    replacer = UuidReplacer(uuids.pairs(pairs))
    conf_paths = {path for _, path in confs}
    replaced = 0
    for name, path in _files(base, [*UUID_FILES, *extra_files]):
        if path in conf_paths:
            continue
        text = _read(path)
        # Old and new forms have the same length: grubenv stays a 1024-byte block.
        new_text, count = replacer.sub(text)
        if count and rewrite(name, path, new_text):
            replaced += count
            report.append(f"{name}: {count} UUID(s) replaced")
    if not replaced:
        report.append("no other file of the restored system names the old md UUIDs")

    try:
        line, warning = _dracut(base)
    except OSError as exc:
        line, warning = None, f"/{DRACUT_CONF}: not written: {exc.strerror or exc}; dracut may leave out mdadm and mdmon"
    if line:
        changed.append(f"/{DRACUT_CONF}")
        report.append(line)
    if warning:
        warnings.append(warning)
    return Finalization(tuple(report), tuple(warnings), tuple(changed))
