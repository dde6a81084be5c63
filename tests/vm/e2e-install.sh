# Guest-side steps that install the end-to-end scenario's original system
# (tests/vm/endtoend.py, phase "install"): a Debian system on an IMSM RAID1
# volume that boots by itself from its disks (SeaBIOS -> GRUB on the volume ->
# Debian's initramfs with mdadm). The host caches the installed disks, keyed
# by this file: keep what the later phases need in e2e.sh.
# Sourced after prelude.sh and layouts.sh.
# shellcheck shell=bash

E2E_ROOT_LABEL=e2e-root
E2E_DATA=/root/e2e-data

# The kernel command line of the installed system: its console on the serial
# port (the test reads it), no platform check for IMSM (QEMU has no Intel RST).
E2E_CMDLINE="console=ttyS0 rw panic=-1 mitigations=off net.ifnames=0 IMSM_NO_PLATFORM=1"

# install_on_volume VOLUME TARGET [FIRMWARE]: copy this VM's Debian root onto
# VOLUME (an IMSM volume) and make it boot from there: fstab, mdadm.conf, an
# initramfs with mdadm, GRUB. FIRMWARE bios (default): an msdos label, root on
# partition 1, GRUB's i386-pc core on the volume. uefi: a GPT with the ESP on
# partition 1 (vfat, /boot/efi) and root on partition 2, GRUB's x86_64-efi image
# in EFI/debian and in the removable path EFI/BOOT (no NVRAM here: the install
# VM boots without UEFI; OVMF finds the removable path, ReaR's recovery writes
# the boot entry). Leaves TARGET mounted, its ESP not.
install_on_volume() {
    local volume=$1 target=$2 firmware=${3:-bios} part esp="" uuid
    if [[ $firmware == uefi ]]; then
        parted -s "$volume" mklabel gpt mkpart e2e-esp fat32 1MiB 65MiB set 1 esp on \
            mkpart e2e-root ext4 65MiB 100%
        part=${volume}p2 esp=${volume}p1
    else
        parted -s "$volume" mklabel msdos mkpart primary ext4 1MiB 100% set 1 boot on
        part=${volume}p1
    fi
    settle
    wait_for "$part"
    mkfs.ext4 -q -F -L "$E2E_ROOT_LABEL" "$part"
    mkdir -p "$target"
    mount "$part" "$target"
    step "copying the system onto $part"
    # Not /proc, /sys, /dev, /run, the host share (other file systems), and not
    # what a disk-only machine without network, sound or graphics never reads:
    # every MiB costs time twice (the copy, then ReaR's backup and restore).
    local kv grub_exclude=()
    kv=$(uname -r)
    # The other firmware's GRUB modules are dead weight (ReaR's UEFI rescue ISO needs x86_64-efi).
    [[ $firmware == uefi ]] || grub_exclude=(--exclude=./usr/lib/grub/x86_64-efi)
    tar -C / --one-file-system -cf - \
        --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/info \
        --exclude=./usr/share/locale --exclude=./var/cache/apt --exclude=./var/lib/apt/lists \
        "${grub_exclude[@]}" --exclude=./usr/share/i18n \
        --exclude="./usr/lib/modules/$kv/kernel/sound" --exclude="./usr/lib/modules/$kv/kernel/drivers/gpu" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/media" --exclude="./usr/lib/modules/$kv/kernel/drivers/net" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/infiniband" --exclude="./usr/lib/modules/$kv/kernel/drivers/staging" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/iio" --exclude="./usr/lib/modules/$kv/kernel/drivers/bluetooth" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/isdn" --exclude="./usr/lib/modules/$kv/kernel/drivers/hwmon" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/usb" --exclude="./usr/lib/modules/$kv/kernel/drivers/hid" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/input" --exclude="./usr/lib/modules/$kv/kernel/drivers/video" \
        --exclude="./usr/lib/modules/$kv/kernel/drivers/mtd" --exclude="./usr/lib/modules/$kv/kernel/drivers/platform" \
        --exclude="./usr/lib/modules/$kv/kernel/net" --exclude="./usr/lib/modules/$kv/kernel/fs/btrfs" \
        --exclude="./usr/lib/modules/$kv/kernel/fs/ocfs2" --exclude="./usr/lib/modules/$kv/kernel/fs/gfs2" \
        --exclude="./usr/lib/modules/$kv/kernel/fs/nfs" --exclude="./usr/lib/modules/$kv/kernel/fs/nfsd" \
        --exclude="./usr/lib/modules/$kv/kernel/fs/ceph" --exclude="./usr/lib/modules/$kv/kernel/fs/smb" \
        --exclude="./usr/lib/modules/$kv/kernel/fs/ntfs3" --exclude="./usr/lib/modules/$kv/kernel/fs/f2fs" \
        --exclude="./usr/lib/modules/$kv/kernel/fs/xfs" --exclude="./usr/lib/modules/$kv/kernel/fs/ubifs" \
        . | tar -C "$target" -xf -
    # 9p (the test's host share) lives in net/9p: keep it, the rescue system needs it too.
    mkdir -p "$target/lib/modules/$kv/kernel/net"
    cp -a "/lib/modules/$kv/kernel/net/9p" "$target/lib/modules/$kv/kernel/net/"
    du -sxh "$target" | tee "$VMTEST_SHARE/installed-size.txt"
    uuid=$(blkid -o value -s UUID "$part")
    printf 'UUID=%s / ext4 rw,errors=remount-ro 0 1\n' "$uuid" >"$target/etc/fstab"
    if [[ -n $esp ]]; then
        wait_for "$esp"
        mkfs.vfat -F 32 -n E2E-ESP "$esp" >/dev/null
        mkdir -p "$target/boot/efi"
        mount "$esp" "$target/boot/efi"
        printf 'UUID=%s /boot/efi vfat umask=0077 0 1\n' "$(blkid -o value -s UUID "$esp")" >>"$target/etc/fstab"
    fi
    /usr/share/mdadm/mkconf >"$target/etc/mdadm/mdadm.conf"
    test -f "$target/etc/default/grub" || cp "$target/usr/share/grub/default/grub" "$target/etc/default/grub"
    sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
        -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="quiet loglevel=3 systemd.show_status=0"/' \
        -e "s/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX=\"$E2E_CMDLINE\"/" "$target/etc/default/grub"
    echo 'GRUB_DISABLE_OS_PROBER=true' >>"$target/etc/default/grub"
    local fs
    for fs in dev proc sys run; do
        mount --rbind "/$fs" "$target/$fs"
        mount --make-rslave "$target/$fs"
    done
    step "GRUB in the installed system"
    chroot "$target" depmod -a "$kv"
    # The initramfs stays the image's own (Debian's, MODULES=most, with mdadm and
    # mdmon): its mdadm --assemble --scan finds the arrays without ARRAY lines.
    # update-initramfs costs over 5 minutes under software emulation; ReaR's
    # recovery runs it anyway, with the new mdadm.conf.
    if [[ $firmware == uefi ]]; then
        chroot "$target" grub-install --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian \
            --no-nvram --force-extra-removable
    else
        chroot "$target" grub-install --target=i386-pc "$volume"
    fi
    # grub.cfg by hand (grub-mkconfig costs minutes here; ReaR's recovery runs it
    # in the restored system anyway).
    cat >"$target/boot/grub/grub.cfg" <<GRUBCFG
set timeout=0
set default=0
insmod part_msdos
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root $uuid
menuentry 'Debian on IMSM ($firmware)' {
    linux /boot/vmlinuz-$kv root=UUID=$uuid $E2E_CMDLINE quiet loglevel=3 systemd.show_status=0
    initrd /boot/initrd.img-$kv
}
GRUBCFG
    for fs in run sys proc dev; do
        umount -R "$target/$fs"
    done
    if [[ -n $esp ]]; then
        find "$target/boot/efi" -type f | sed "s|^$target||" | tee "$VMTEST_SHARE/esp-files.txt"
        umount "$target/boot/efi"
    fi
}

# write_data TARGET: files with known checksums, into $VMTEST_SHARE/data.sha256.
write_data() {
    local target=$1 i
    mkdir -p "$target$E2E_DATA"
    for i in 1 2 3; do
        head -c $((1024 * 1024 * i)) /dev/urandom >"$target$E2E_DATA/file$i.bin"
    done
    (cd "$target" && sha256sum "${E2E_DATA#/}"/*.bin) >"$VMTEST_SHARE/data.sha256"
}

# rescue_hook TARGET: make the rescue system run the host's scenario (as the test
# image does at boot): a system-setup.d script ReaR copies into the rescue
# image (COPY_AS_IS in the configuration). Runs after udev and the module
# loading of ReaR's rescue system, before its automatic recovery.
rescue_hook() {
    local target=$1
    mkdir -p "$target/etc/scripts/system-setup.d"
    cat >"$target/etc/scripts/system-setup.d/99-vmtest.sh" <<'HOOK'
# rear-mdcontainer VM test: run /mnt/host/run.sh from the host share, then power off.
if modprobe 9pnet_virtio && modprobe 9p && mkdir -p /mnt/host \
    && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /mnt/host \
    && test -f /mnt/host/run.sh ; then
    echo "vmtest: running scenario in the rescue system" >/dev/ttyS0
    cut -d' ' -f1 /proc/uptime >/mnt/host/boot-uptime
    ( cd /mnt/host && bash /mnt/host/run.sh >/mnt/host/out.log 2>&1 </dev/null )
    echo $? >/mnt/host/rc.tmp
    mv /mnt/host/rc.tmp /mnt/host/rc
    sync
    umount /mnt/host
    echo "vmtest: power off" >/dev/ttyS0
    poweroff -f || echo o >/proc/sysrq-trigger
fi
HOOK
}
