#!/bin/sh
# /init of the rig guest (busybox sh). rig.sh packs it into the initramfs.
#
# Stage 1 (PID 1 on the initramfs): the initramfs is "rootfs", which
# pivot_root(2) refuses to leave ("EINVAL: the current root is the rootfs"),
# and the container tests need pivot_root. So copy everything into a tmpfs
# and switch_root into it (busybox switch_root empties the old rootfs).
#
# Stage 2: mount /proc, /sys, /dev, cgroup2 (all controllers, no v1), load
# kvm-amd, run every test listed in /rig/tests and print one summary line
# that rig.sh reads from the serial console, then power off.
#
# Lines for rig.sh start with "RIG-" (RIG-BEGIN, RIG-END, RIG-SUMMARY).
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH

if [ "${1:-}" != stage2 ]; then
  mount -t tmpfs -o mode=0755 rigroot /newroot || { echo "RIG-FATAL: tmpfs for the root"; poweroff -f; }
  for d in /*; do
    case "$d" in /newroot|/proc|/sys|/dev) ;; *) cp -a "$d" /newroot/ ;; esac
  done
  mkdir -p /newroot/proc /newroot/sys /newroot/dev
  exec switch_root /newroot /init stage2
fi

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
# /tmp stays on the root tmpfs: test binaries may live under /tmp (their host path).
chmod 1777 /tmp
mount -t tmpfs run /run
# cgroup v2 only ("unified"), every controller enabled for children of the root.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || echo "rig: cannot enable cgroup controller $c"
done
ip link set lo up 2>/dev/null
hostname rig

up() { cut -d' ' -f1 /proc/uptime; }
echo "RIG-INFO kernel $(uname -r) uptime=$(up)s cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "RIG-INFO cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# kvm modules, in dependency order (written by rig.sh).
while read -r m; do
  [ -n "$m" ] || continue
  insmod "/rig/modules/$m" || echo "RIG-WARN insmod $m failed"
done < /rig/modules.order
if [ -c /dev/kvm ]; then
  echo "RIG-INFO /dev/kvm ready ($(ls /sys/module | grep -E '^kvm_(amd|intel)$')) uptime=$(up)s"
else
  echo "RIG-WARN no /dev/kvm: the KVM tests will fail (does the CPU model offer svm?)"
fi

# Environment of every test (see rig/README.md). One test at a time: nested
# guests booting side by side under TCG starve each other (a boot that takes
# 7 s alone did not finish in 120 s beside three others).
export HOME=/root TMPDIR=/tmp RUST_BACKTRACE=1 VMVC_RIG=1 VMVC_REQUIRE_KVM=1 \
       VMVC_REQUIRE_ROOT=1 VMVC_REQUIRE_CGROUP2=1 RUST_TEST_THREADS=1
[ -f /rig/env ] && . /rig/env
mkdir -p "$HOME"
TEST_TIMEOUT=$(cat /rig/test-timeout 2>/dev/null || echo 600)

passed=0
failed=0
tab=$(printf '\t')
# /rig/tests: one test a line: NAME<TAB>DIRECTORY<TAB>SHELL COMMAND
while IFS="$tab" read -r name dir cmd; do
  [ -n "$name" ] || continue
  mkdir -p "$dir"
  echo "RIG-BEGIN $name uptime=$(up)s"
  (cd "$dir" && exec timeout -s KILL "$TEST_TIMEOUT" sh -c "$cmd") < /dev/null
  rc=$?
  [ $rc = 137 ] && echo "RIG-WARN $name killed after ${TEST_TIMEOUT}s"
  echo "RIG-END $name rc=$rc uptime=$(up)s"
  if [ $rc = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done < /rig/tests

# Nothing may be left behind. The empty `vmvc` parent stays by design (it is
# where every run puts its cgroups; see bench-container/src/cgroup/mod.rs).
leftover=$(find /sys/fs/cgroup -mindepth 1 -type d ! -path /sys/fs/cgroup/vmvc | head -5)
if [ -n "$leftover" ]; then
  echo "RIG-WARN cgroups left behind: $leftover"
  failed=$((failed + 1))
fi
# Files rig.sh asked for (--fetch), base64 between markers on the console.
while read -r f; do
  [ -n "$f" ] || continue
  echo "RIG-FILE-BEGIN $f"
  base64 "$f" 2>/dev/null || echo "RIG-WARN cannot read $f"
  echo "RIG-FILE-END"
done < /rig/fetch
echo "RIG-SUMMARY passed=$passed failed=$failed uptime=$(up)s"
sync
poweroff -f
