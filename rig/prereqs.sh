#!/bin/sh
# Installs what rig/rig.sh needs on a Debian (or Ubuntu) host, as root:
#   qemu-system-x86  QEMU, run in pure software emulation (TCG) with -cpu max
#   busybox-static   the rig guest's shell and tools, one static binary
#   cpio             packs the initramfs (newc format)
#   kmod             modinfo, to resolve the kvm modules' dependencies
#   binutils         objcopy, to strip debug info from the test binaries
#   xz-utils zstd    compressed kernel modules, on kernels that ship them so
# The guest kernel itself is not installed: rig.sh downloads the package with
# `apt-get download` and unpacks it into a cache directory (see rig/README.md).
set -eu
if [ "$(id -u)" != 0 ]; then
  echo "rig/prereqs.sh: run as root (it calls apt-get install)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "rig/prereqs.sh: this host has no apt-get; install by hand: qemu-system-x86 busybox (static)" \
       "cpio kmod binutils xz zstd, and give rig.sh a Debian kernel package with --kernel-deb" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  qemu-system-x86 busybox-static cpio kmod binutils xz-utils zstd >/dev/null
echo "rig/prereqs.sh: installed: $(qemu-system-x86_64 --version | head -1); $(busybox | head -1)"
