#!/usr/bin/env bash
# Runs every test of vmvc: the workspace's tests on this host, then (where
# QEMU is installed) the VM and cgroup v2 tests inside the rig (rig/rig.sh).
# Tests that need KVM or root skip loudly where they are missing; set
# VMVC_REQUIRE_KVM=1 VMVC_REQUIRE_ROOT=1 (as .ci/run does) to make a skip fail.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo test --workspace (this host)"
cargo test --workspace --release 2>&1
