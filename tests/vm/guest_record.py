"""Guest side of capture_fixtures: record what mdadm, sysfs, lsblk and udev say.

Runs inside the test VM with Debian's /usr/bin/python3 (stdlib only):

    python3 guest_record.py OUTDIR MEMBER_DISK...

Every file holds the command's standard output only; capture-log.txt lists
each command with its exit status and standard error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SYS_BLOCK = Path("/sys/block")


class Recorder:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.log: list[str] = []

    def run(self, argv: list[str], env: dict[str, str] | None = None,
            label: str = "") -> subprocess.CompletedProcess[bytes]:
        """Run argv; stdout stays bytes (DDF puts non-UTF-8 bytes into lsblk's output)."""
        proc = subprocess.run(argv, capture_output=True, env=env, check=False)
        entry = f"$ {label}{' '.join(argv)}\nrc={proc.returncode}\n"
        stderr = proc.stderr.decode(errors="replace")
        if stderr:
            entry += "stderr:\n" + "".join(f"  {line}\n" for line in stderr.splitlines())
        self.log.append(entry)
        return proc

    def save(self, name: str, argv: list[str]) -> None:
        (self.outdir / name).write_bytes(self.run(argv).stdout)

    def write(self, name: str, text: str) -> None:
        (self.outdir / name).write_text(text)

    def finish(self) -> None:
        self.write("capture-log.txt", "\n".join(self.log))


def read_attr(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def md_devices() -> list[str]:
    names = [p.name for p in SYS_BLOCK.iterdir() if p.name.startswith("md")]
    return sorted(names, key=lambda n: (len(n), n))


def md_sysfs(name: str) -> dict[str, object]:
    base = SYS_BLOCK / name
    mdir = base / "md"
    attrs: dict[str, str] = {}
    devs: dict[str, dict[str, str]] = {}
    for entry in sorted(mdir.iterdir()):
        if entry.name.startswith("dev-") and entry.is_dir():
            dev: dict[str, str] = {}
            for item in sorted(entry.iterdir()):
                if item.name == "block":
                    dev["block"] = os.path.basename(os.readlink(item))
                elif item.is_file():
                    value = read_attr(item)
                    if value is not None:
                        dev[item.name] = value
            devs[entry.name] = dev
        elif entry.is_file():
            value = read_attr(entry)
            if value is not None:
                attrs[entry.name] = value
    partitions = sorted(p.name for p in base.iterdir() if p.name.startswith(name + "p"))
    return {
        "size": read_attr(base / "size"),
        "md": attrs,
        "devs": devs,
        "slaves": sorted(p.name for p in (base / "slaves").iterdir()),
        "holders": sorted(p.name for p in (base / "holders").iterdir()),
        "partitions": {p: {"size": read_attr(base / p / "size"), "start": read_attr(base / p / "start")}
                       for p in partitions},
    }


def udev_properties(dev: str) -> dict[str, str]:
    proc = subprocess.run(["udevadm", "info", "--query=property", f"--name={dev}"],
                          stdout=subprocess.PIPE, text=True, check=False)
    props: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        props[key] = value
    return props


def disk_sysfs(name: str) -> dict[str, object]:
    props = udev_properties(f"/dev/{name}")
    return {
        "size": read_attr(SYS_BLOCK / name / "size"),
        "logical_block_size": read_attr(SYS_BLOCK / name / "queue" / "logical_block_size"),
        "model": read_attr(SYS_BLOCK / name / "device" / "model"),
        "serial": props.get("ID_SERIAL_SHORT"),
        "id_serial": props.get("ID_SERIAL"),
        "id_fs_type": props.get("ID_FS_TYPE"),
        "holders": sorted(p.name for p in (SYS_BLOCK / name / "holders").iterdir()),
    }


def main(argv: list[str]) -> int:
    outdir = Path(argv[0])
    members = [os.path.basename(os.path.realpath(d)) for d in argv[1:]]
    rec = Recorder(outdir)
    rec.save("detail-scan.txt", ["mdadm", "--detail", "--scan", "--config=partitions"])
    rec.save("examine-scan.txt", ["mdadm", "--examine", "--scan", "--config=partitions"])
    mds = md_devices()
    for md in mds:
        rec.save(f"detail-{md}.txt", ["mdadm", "--detail", f"/dev/{md}"])
        rec.save(f"detail-export-{md}.txt", ["mdadm", "--detail", "--export", f"/dev/{md}"])
        metadata = read_attr(SYS_BLOCK / md / "md" / "metadata_version") or ""
        if metadata.startswith("external:") and "/" not in metadata:
            # A container: --examine shows the whole metadata (all volumes).
            rec.save(f"examine-{md}.txt", ["mdadm", "--examine", f"/dev/{md}"])
    for disk in members:
        rec.save(f"examine-{disk}.txt", ["mdadm", "--examine", f"/dev/{disk}"])
        rec.save(f"examine-export-{disk}.txt", ["mdadm", "--examine", "--export", f"/dev/{disk}"])
        rec.save(f"udevadm-info-{disk}.txt", ["udevadm", "info", "--query=all", f"--name=/dev/{disk}"])
    sysfs = {"md": {md: md_sysfs(md) for md in mds}, "disks": {d: disk_sysfs(d) for d in members}}
    rec.write("sysfs.json", json.dumps(sysfs, indent=2, sort_keys=True) + "\n")
    rec.save("lsblk.json", ["lsblk", "-J", "-O", "-b"])
    rec.write("proc-mdstat.txt", Path("/proc/mdstat").read_text())
    version = rec.run(["mdadm", "--version"])
    rec.write("mdadm-version.txt", (version.stdout + version.stderr).decode(errors="replace"))
    sections = []
    for label, env in (("IMSM_NO_PLATFORM=1", {**os.environ, "IMSM_NO_PLATFORM": "1"}),
                       ("IMSM_NO_PLATFORM unset",
                        {k: v for k, v in os.environ.items() if k != "IMSM_NO_PLATFORM"})):
        proc = rec.run(["mdadm", "--detail-platform"], env=env, label=f"({label}) ")
        sections.append(f"### mdadm --detail-platform with {label}: rc={proc.returncode}\n"
                        f"### stdout\n{proc.stdout.decode(errors='replace')}"
                        f"### stderr\n{proc.stderr.decode(errors='replace')}")
    rec.write("detail-platform.txt", "\n".join(sections))
    rec.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
