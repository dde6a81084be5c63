#!/bin/bash
# Build the bootable test image for the VM test bed: a Debian root file system
# (mmdebstrap) holding Debian's rear, mdadm, udev and the tools the scenarios
# need, as a qcow2 image with the kernel and initramfs extracted beside it.
#
# Usage: build-image.sh OUTDIR [SUITE]
# Writes OUTDIR/root.qcow2, OUTDIR/vmlinuz, OUTDIR/initrd.img, OUTDIR/packages.txt.
#
# OUTDIR/initrd.img is NOT Debian's initramfs: it is a tiny klibc one made here
# that only loads virtio, ext4, AHCI and 9p modules and switches to /dev/vda
# (Debian's 37 MB initramfs costs ~12 s per boot under TCG). md arrays are
# therefore assembled by udev coldplug in the real root, like in ReaR's rescue
# system. Debian's own /boot/initrd.img (with mdadm) stays in the image for
# boots of a restored system through grub.
#
# The image boots into vmtest.target (basic.target + vmtest.service): at boot
# vmtest-run mounts the 9p share tagged `host` at /mnt/host, copies
# /mnt/host/install/. to /, waits for udev to settle, runs /mnt/host/run.sh with
# output to /mnt/host/out.log, writes /mnt/host/rc and powers off.
# The caller (tests/vm/vmlib.py) keys OUTDIR by a hash of this file, so any
# change here builds a new image; nothing of the plugin is baked in: it is
# installed at every boot from a `make install DESTDIR=...` tree.
set -euo pipefail

outdir=$1
suite=${2:-bookworm}
mirror=${MDC_VM_MIRROR:-http://deb.debian.org/debian}

packages=(
    linux-image-amd64 systemd systemd-sysv udev kmod procps util-linux
    initramfs-tools
    mdadm rear
    parted gdisk fdisk e2fsprogs xfsprogs dosfstools
    python3 python3-jinja2 python3-plumbum
    cpio less file bc attr binutils gawk iproute2 kbd
    isolinux syslinux syslinux-common xorriso
    grub-pc-bin grub-efi-amd64-bin grub2-common efibootmgr
    dmsetup rsync zstd
)

work=$(mktemp -d "${TMPDIR:-/tmp}/mdc-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootdir=$work/root

customize="$work/customize.sh"
cat >"$customize" <<'CUSTOMIZE'
#!/bin/bash
# Runs on the host with the new root as $1.
set -euo pipefail
root=$1
echo mdctest >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$root/etc/fstab"
# Empty root password: the VM has no network, it is reached through the console only.
chroot "$root" passwd -d root
# The md udev rules run mdadm with the properties of the *device* as environment,
# so IMSM_NO_PLATFORM must be a udev property, set before 64-md-raid-assembly.rules.
cat >"$root/etc/udev/rules.d/00-imsm-no-platform.rules" <<'RULE'
SUBSYSTEM=="block", ENV{IMSM_NO_PLATFORM}="1"
RULE
# mdmon is started as mdmon@mdX.service by mdadm: it must see the same variable.
mkdir -p "$root/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultEnvironment=IMSM_NO_PLATFORM=1\n' >"$root/etc/systemd/system.conf.d/imsm.conf"
echo 'IMSM_NO_PLATFORM=1' >>"$root/etc/environment"
# The test runner: mounts the host share, installs the plugin tree, runs the scenario.
cat >"$root/usr/local/sbin/vmtest-run" <<'RUNNER'
#!/bin/bash
export IMSM_NO_PLATFORM=1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "vmtest: $* uptime=$(cut -d' ' -f1 /proc/uptime)" >/dev/ttyS0; }
mkdir -p /mnt/host
modprobe 9pnet_virtio 2>/dev/null
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host; then
    say "no host share"
    poweroff -f
fi
if test -d /mnt/host/install ; then
    cp -a /mnt/host/install/. /
fi
# Coldplug is done (After=systemd-udev-trigger.service); let its events,
# including md auto-assembly of the data disks, finish before the scenario.
udevadm settle --timeout=120 || say "udevadm settle timed out"
cut -d' ' -f1 /proc/uptime >/mnt/host/boot-uptime
say "running scenario"
cd /mnt/host || exit 1
bash /mnt/host/run.sh >/mnt/host/out.log 2>&1 </dev/null
rc=$?
cd /
echo $rc >/mnt/host/rc.tmp
sync
mv /mnt/host/rc.tmp /mnt/host/rc
say "scenario finished rc=$rc"
if test "$rc" != 0 || test -e /mnt/host/want-journal ; then
    journalctl -b -o short-monotonic --no-pager >/mnt/host/journal.txt 2>&1
fi
if test -e /mnt/host/keep-running ; then
    # Debugging: stay up with a root login (no password) on the serial console.
    systemctl start serial-getty@ttyS0.service
else
    # Let mdmon write clean metadata before the power goes.
    mdadm --wait-clean --scan >/dev/null 2>&1 || true
    sync
    umount /mnt/host
    say "power off"
    poweroff -f
fi
RUNNER
chmod 755 "$root/usr/local/sbin/vmtest-run"
cat >"$root/etc/systemd/system/vmtest.service" <<'UNIT'
[Unit]
Description=rear-mdcontainer VM test scenario
After=basic.target local-fs.target systemd-udevd.service systemd-udev-trigger.service
Wants=systemd-udev-trigger.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmtest-run
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=vmtest.target multi-user.target
UNIT
cat >"$root/etc/systemd/system/vmtest.target" <<'UNIT'
[Unit]
Description=rear-mdcontainer VM test (basic system and the scenario only)
Requires=basic.target
Wants=vmtest.service
After=basic.target
AllowIsolate=yes
UNIT
chroot "$root" systemctl enable vmtest.service
chroot "$root" systemctl set-default vmtest.target
# Volatile journal: nothing to flush to the disk image.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/vmtest.conf"
# Units and generators that only cost boot time in a throw-away test VM.
# Not masked on purpose: mdmon@, mdadm-last-resort@ (starts degraded arrays),
# systemd-udev*, kmod-static-nodes, systemd-tmpfiles-setup*.
for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer \
    mdmonitor.service mdmonitor-oneshot.timer mdcheck_start.timer mdcheck_continue.timer \
    systemd-timesyncd.service getty@tty1.service getty-static.service systemd-logind.service systemd-user-sessions.service \
    systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
    modprobe@configfs.service modprobe@dm_mod.service modprobe@efi_pstore.service \
    modprobe@fuse.service modprobe@loop.service modprobe@drm.service \
    systemd-journal-flush.service systemd-update-utmp.service systemd-update-utmp-runlevel.service \
    systemd-pstore.service systemd-random-seed.service systemd-sysusers.service \
    systemd-firstboot.service systemd-machine-id-commit.service systemd-pcrphase.service \
    systemd-pcrphase-sysinit.service systemd-hwdb-update.service systemd-repart.service \
    systemd-ask-password-console.path systemd-ask-password-wall.path \
    systemd-remount-fs.service systemd-sysctl.service \
    cryptsetup.target integritysetup.target veritysetup.target remote-fs.target ; do
    chroot "$root" systemctl mask "$unit" >/dev/null 2>&1 || true
done
mkdir -p "$root/etc/systemd/system-generators"
for gen in systemd-cryptsetup-generator systemd-gpt-auto-generator systemd-hibernate-resume-generator \
    systemd-integritysetup-generator systemd-veritysetup-generator systemd-sysv-generator \
    systemd-rc-local-generator systemd-system-update-generator systemd-getty-generator \
    systemd-run-generator systemd-debug-generator ; do
    ln -sf /dev/null "$root/etc/systemd/system-generators/$gen"
done
# Kernel modules that udev would load for QEMU's chipset and that no test needs.
cat >"$root/etc/modprobe.d/vmtest-blacklist.conf" <<'BLACKLIST'
blacklist kvm
blacklist kvm_amd
blacklist kvm_intel
blacklist powernow_k8
blacklist pcspkr
blacklist iTCO_wdt
blacklist iTCO_vendor_support
blacklist i2c_i801
blacklist lpc_ich
blacklist intel_pmc_bxt
blacklist serio_raw
blacklist evdev
blacklist joydev
blacklist qemu_fw_cfg
blacklist floppy
blacklist parport_pc
blacklist bochs
blacklist bochs_drm
BLACKLIST
# The rescue image and the tests need a complete, current module list and initramfs.
chroot "$root" update-initramfs -u -k all
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$root/root/packages.txt"
CUSTOMIZE
chmod 755 "$customize"

include=$(IFS=,; echo "${packages[*]}")
mmdebstrap --variant=minbase --include="$include" \
    --customize-hook="$customize \"\$1\"" \
    "$suite" "$rootdir" "$mirror"

# A fixed machine id (mmdebstrap empties it at the end): an empty one costs a
# "first boot" with a random id at every boot.
echo 6d6463746573746d616368696e650001 >"$rootdir/etc/machine-id"

mkdir -p "$outdir"
kver=$(basename "$(ls -d "$rootdir"/lib/modules/*/ | head -n1)")
cp "$rootdir/boot/vmlinuz-$kver" "$outdir/vmlinuz.tmp"
cp "$rootdir/root/packages.txt" "$outdir/packages.txt"

# The test boot's initramfs: klibc tools (from klibc-utils, which initramfs-tools
# pulls in) and the modules for the root disk, the data disks and the host share.
# Up to bullseye klibc-utils has no insmod: there the image's own initramfs
# (initramfs-tools, slower to boot) serves.
if ! test -x "$rootdir/usr/lib/klibc/bin/insmod"; then
    cp "$rootdir/boot/initrd.img-$kver" "$outdir/initrd.img.tmp"
else
    ini=$work/initrd
    mkdir -p "$ini"/{bin,lib,proc,sys,dev,root,m,usr}
    for tool in sh insmod mount umount run-init sleep cat; do
        cp -a "$rootdir/usr/lib/klibc/bin/$tool" "$ini/bin/"
    done
    cp -a "$rootdir"/lib/klibc-*.so "$ini/lib/"
    # The tools' ELF interpreter is /lib/klibc-*.so up to bookworm, /usr/lib/klibc-*.so from trixie on.
    ln -s ../lib "$ini/usr/lib"
    : >"$ini/modules"
    for mod in virtio_pci virtio_blk ext4 ahci sd_mod 9pnet_virtio 9p; do
        chroot "$rootdir" modprobe -S "$kver" --show-depends "$mod" | while read -r cmd path _; do
            test "$cmd" = insmod || continue
            # klibc's insmod hands the file to init_module as it is: trixie's compressed
            # modules (.ko.xz) are unpacked here.
            name=$(basename "$path")
            name=${name%.xz}
            grep -qxF "$name" "$ini/modules" && continue
            case $path in
            *.xz) xz -dc "$rootdir$path" >"$ini/m/$name" ;;
            *) cp "$rootdir$path" "$ini/m/$name" ;;
            esac
            echo "$name" >>"$ini/modules"
        done
    done
    cat >"$ini/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
root=/dev/vda
for x in $(cat /proc/cmdline); do
    case $x in root=*) root=${x#root=} ;; esac
done
for m in $(cat /modules); do insmod /m/$m; done
i=0
while [ ! -b $root ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then echo "vmtest-initrd: no $root"; break; fi
    sleep 0.1
done
mount -t ext4 -o rw $root /root || { echo "vmtest-initrd: cannot mount $root"; exec sh; }
umount /sys
umount /proc
umount /dev
exec run-init /root /sbin/init "$@"
INIT
    chmod 755 "$ini/init"
    (cd "$ini" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$outdir/initrd.img.tmp"
fi

mkfs.ext4 -q -F -L mdctest-root -d "$rootdir" "$work/root.raw" 4G
qemu-img convert -f raw -O qcow2 "$work/root.raw" "$outdir/root.qcow2.tmp"
mv "$outdir/vmlinuz.tmp" "$outdir/vmlinuz"
mv "$outdir/initrd.img.tmp" "$outdir/initrd.img"
mv "$outdir/root.qcow2.tmp" "$outdir/root.qcow2"
echo "image ready in $outdir"
