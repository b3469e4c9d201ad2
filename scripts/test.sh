#!/usr/bin/env bash
# Runs every test of vmvc, in five steps:
#   1. the workspace's tests on this host (cargo test --release);
#   2. every benchmark once and the quick suite (cargo bench -- --test);
#   3. the rootless tests and a quick run as a normal user (scripts/rootless.sh):
#      as yourself when you are not root; as root, as $VMVC_TEST_USER if set
#      (.ci/run creates one), else skipped loudly;
#   4. every command of the labs (scripts/check-labs.py: English and Korean
#      ask for the same commands, the English ones run as root);
#   5. the tests that need hardware-style KVM, a Linux guest or pure cgroup v2,
#      inside the rig (rig/rig.sh: QEMU emulating an AMD-V machine).
# Run it as a normal user or as root; never with sudo (cargo is the user's).
# Tests that need KVM or root skip loudly where they are missing; set
# VMVC_REQUIRE_KVM=1 VMVC_REQUIRE_ROOT=1 VMVC_REQUIRE_ROOTLESS=1 (as .ci/run
# does) to make a skip fail.
# The rig needs QEMU (scripts/setup.sh installs it); without it, step 5 is
# skipped loudly, or fails when VMVC_REQUIRE_KVM=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
step() { echo; echo "== $* (at ${SECONDS}s)"; }

step "1/5 cargo test --workspace --release (this host)"
cargo test --workspace --release 2>&1

step "2/5 cargo bench -- --test (each benchmark once, then the quick suite)"
cargo bench -p harness -- --test 2>&1

step "3/5 scripts/rootless.sh (rootless containers, bwrap and KVM by group, as a normal user)"
if [ "$(id -u)" != 0 ]; then
  scripts/rootless.sh
elif [ -n "${VMVC_TEST_USER:-}" ]; then
  scripts/rootless.sh "$VMVC_TEST_USER"
elif [ "${VMVC_REQUIRE_ROOTLESS:-}" = 1 ]; then
  echo "test.sh: VMVC_REQUIRE_ROOTLESS=1 but run as root without VMVC_TEST_USER (a normal user to test as)" >&2
  exit 1
else
  echo "test.sh: SKIPPED the rootless step: run as root; set VMVC_TEST_USER=<a normal user> or run test.sh as one" >&2
fi

step "4/5 scripts/check-labs.py (every sh block of labs/en and labs/ko)"
python3 scripts/check-labs.py

step "5/5 rig/rig.sh (VM and cgroup v2 tests under emulated AMD-V)"
if command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null; then
  # A run takes about 7.5 min on an idle 2-core host (434 s of guest uptime
  # with the Linux snapshot, QEMU-Linux, shell and trace tests); a guest
  # that hangs (a rare stall of a nested guest under TCG) is stopped after
  # 1200 s and the boot retried once (rig.sh): at worst ~35 min, inside the
  # CI budget.
  rig/rig.sh --timeout 1200
elif [ "${VMVC_REQUIRE_KVM:-}" = 1 ]; then
  echo "test.sh: VMVC_REQUIRE_KVM=1 but the rig cannot run: qemu-system-x86_64 or cpio missing (run scripts/setup.sh as root)" >&2
  exit 1
else
  echo "test.sh: SKIPPED the rig: qemu-system-x86_64 or cpio missing (run scripts/setup.sh as root)" >&2
fi
echo "test.sh: all passed in ${SECONDS}s"
