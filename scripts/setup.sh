#!/usr/bin/env bash
# Installs what vmvc's suite and tests use on a Debian/Ubuntu host. Run it as
# yourself: when a package is missing it re-runs itself with sudo (or, as
# root, just installs); cargo is never run under sudo.
#   qemu-system-x86 busybox-static cpio kmod binutils xz-utils zstd python3
#                      the test rig (rig/): QEMU in software emulation with AMD-V
#   crun runc bubblewrap  container peers measured beside bench-container
#   iproute2            `ip`, used by the container isolation tests
#   strace              `vmvc trace`: one launch narrated system call by system call
#   uidmap              newuidmap/newgidmap: rootless containers with /etc/subuid ranges
#   chromium fonts-dejavu-core  the report's browser test (headless), with a font for SVG text
# Cheap when everything is already there: apt is only called for what is missing.
# The guest kernel is fetched by the rig and by `vmvc` itself, never installed.
set -euo pipefail
PKGS=(qemu-system-x86 busybox-static cpio kmod binutils xz-utils zstd python3 crun runc bubblewrap iproute2 uidmap strace chromium fonts-dejavu-core)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    echo "setup: missing packages: ${missing[*]}; installing them with sudo"
    exec sudo "$0" "$@"
  fi
  echo "setup: missing packages: ${missing[*]}; run this script as root (no sudo here)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "setup: no apt-get here; install by hand: ${missing[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
