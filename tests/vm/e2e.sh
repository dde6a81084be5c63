# Guest-side steps of the end-to-end scenario after the install
# (tests/vm/endtoend.py): ReaR's configuration for 'rear mkbackup' and the
# checks of the restored system. Sourced after prelude.sh and layouts.sh.
# shellcheck shell=bash

E2E_DATA=/root/e2e-data

# e2e_rear_config: /etc/rear/local.conf of the installed system. The backup goes
# into the ISO; both are built on the scratch disk mounted below /mnt (ReaR
# leaves /mnt out of the layout and the backup). No compression: gzip under
# software emulation costs minutes and the ISO stays on the host. No md5sums of
# the rescue system's files: computed at build and checked at every rescue boot,
# they cost 6-8 minutes each time under emulation and test nothing of ours.
e2e_rear_config() {
    mkdir -p /etc/rear
    cat >/etc/rear/local.conf <<'CONF'
OUTPUT=ISO
BACKUP=NETFS
BACKUP_URL=iso:///mdcbackup
ISO_DIR=/mnt/scratch/output
OUTPUT_URL=null
BACKUP_PROG_COMPRESS_OPTIONS=()
BACKUP_PROG_COMPRESS_SUFFIX=""
ISO_DEFAULT=automatic
REAR_INITRD_COMPRESSION=fast
USER_INPUT_TIMEOUT=3
EXCLUDE_MD5SUM_VERIFICATION=all
COPY_AS_IS+=( /etc/scripts/system-setup.d/99-vmtest.sh )
CONF
    if [[ -d /sys/firmware/efi ]]; then
        # The UEFI rescue ISO boots through ReaR's GRUB menu: its recovery entry
        # at once (the default is "Boot next EFI" after 300 s), on the serial console.
        cat >>/etc/rear/local.conf <<'CONF'
GRUB2_DEFAULT_BOOT=rear
GRUB2_TIMEOUT=3
USE_SERIAL_CONSOLE=yes
CONF
    fi
}

# efi_facts: how this system was started (bios or uefi) and, under UEFI, the boot entries.
efi_facts() {
    if [[ -d /sys/firmware/efi ]]; then
        echo "firmware uefi"
        efibootmgr -v
    else
        echo "firmware bios"
    fi
}

# check_restored: what the booted, restored system must show; facts into the share.
check_restored() {
    local root_src container volume
    root_src=$(findmnt -no SOURCE /)
    echo "$root_src" >"$VMTEST_SHARE/root-source.txt"
    cat /proc/mdstat | tee "$VMTEST_SHARE/mdstat.txt"
    mdadm --detail --scan | tee "$VMTEST_SHARE/detail-scan.txt"
    cp /etc/mdadm/mdadm.conf "$VMTEST_SHARE/mdadm.conf"
    efi_facts >"$VMTEST_SHARE/efi.txt"
    # Every array that holds data: the container's volumes, or native arrays after a migration.
    for volume in $(md_devices); do
        [[ $(cat "/sys/block/${volume##*/}/md/level" 2>/dev/null) =~ ^raid ]] || continue
        echo "${volume##*/} $(cat /sys/block/${volume##*/}/md/array_state) $(cat /sys/block/${volume##*/}/md/sync_action 2>/dev/null || echo -)"
    done | tee "$VMTEST_SHARE/volumes.txt"
    (cd / && sha256sum -c "$VMTEST_SHARE/data.sha256") | tee "$VMTEST_SHARE/data-check.txt"
    journalctl -b -o short-monotonic --no-pager 2>/dev/null | grep -iE 'md1|md/|mdadm|mdmon|imsm' >"$VMTEST_SHARE/journal-md.txt" || true
    container=$(mdadm --detail --scan | awk '/metadata=imsm/ {print $2; exit}')
    if [[ -n $container ]]; then
        mdadm --detail --export "$container" | sed -n 's/^MD_UUID=//p' >"$VMTEST_SHARE/container-uuid.txt"
    fi
}
