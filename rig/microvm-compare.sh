#!/bin/sh
# Runs INSIDE the rig: boots the same kernel and the same kind of initramfs
# (the vmvc workload as /init) with QEMU's microvm machine on the rig's KVM,
# and prints the time from starting QEMU to /init's READY byte, N times.
#
# QEMU does not speak our protocol, so READY is caught with QEMU's
# isa-debug-exit device placed on the protocol port (0xe0): /init's first
# `out` there makes QEMU exit at once. Compare with bench-vm's figures from
# the same boot (phases and "READY after" lines of the vm-linux tests).
#
#   microvm-compare.sh WORKLOAD_EXE KERNEL [KERNEL...]   (N: $RUNS, default 3)
#
# From the host:
#   rig/rig.sh -p bench-vm --file /usr/bin/qemu-system-x86_64 \
#     --file /usr/share/qemu/bios-microvm.bin --file rig/microvm-compare.sh \
#     --run "sh $PWD/rig/microvm-compare.sh $PWD/target/freestanding/x86_64-unknown-linux-gnu/release/vmvc-workload \$VMVC_KERNEL \$VMVC_VMLINUX" \
#     -- bzimage_boots vmlinux_boots --nocapture
set -u
EXE=$1; shift
RUNS=${RUNS:-3}
APPEND="console=ttyS0 reboot=k panic=-1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet rdinit=/init"
M=/tmp/microvm-initramfs
rm -rf $M; mkdir -p $M/dev $M/proc $M/sys $M/tmp
cp "$EXE" $M/init
mknod $M/dev/console c 5 1; mknod $M/dev/null c 1 3
(cd $M && find . | cpio -o -H newc 2>/dev/null) > /tmp/microvm.cpio
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }
status=0
for K in "$@"; do
  i=1
  while [ $i -le "$RUNS" ]; do
    t0=$(ms)
    timeout -s KILL "${RUN_TIMEOUT:-90}" qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 384M -smp 1 -nodefaults -no-user-config \
      -display none -serial stdio -no-reboot -kernel "$K" -initrd /tmp/microvm.cpio -append "$APPEND" \
      -device isa-debug-exit,iobase=0xe0,iosize=1 > /tmp/microvm.log 2>&1
    rc=$?
    t1=$(ms)
    # isa-debug-exit: status = (value << 1) | 1; READY is tag 0x01 -> 3.
    if [ $rc = 3 ]; then
      echo "MICROVM kernel=$(basename "$K") run=$i ready_ms=$((t1 - t0))  (from /proc/uptime: 10 ms resolution)"
    else
      echo "MICROVM kernel=$(basename "$K") run=$i FAILED qemu status $rc (137: killed after ${RUN_TIMEOUT:-90}s)"; tail -5 /tmp/microvm.log
      status=1
    fi
    i=$((i + 1))
  done
done
exit $status
