#!/usr/bin/env bash
# The rootless half of the tests, as a normal user: bench-container's
# rootless tests, the peer tests (bwrap, and runc/crun where the host lets
# them run rootless) and a quick suite run, whose table is printed and whose
# results.json must show the rows a normal user can always measure:
# native, container:chroot (rootless), peer:bwrap (rootless), and vm-bare
# (required when VMVC_REQUIRE_KVM=1: /dev/kvm by group).
#
#   scripts/rootless.sh          as yourself (a normal user)
#   scripts/rootless.sh USER     as root: runs them as USER (runuser), from
#                                copies of the binaries that USER can read,
#                                with a cgroup v2 subtree delegated to USER
#                                (chowned, as cgroup-v2.rst "Delegation" says)
#                                for the delegation test
#
# Builds with cargo as the caller (never as USER, who may have no cargo).
set -euo pipefail
cd "$(dirname "$0")/.."
as="${1:-}"
if [ "$(id -u)" = 0 ] && [ -z "$as" ]; then
  echo "rootless.sh: run as root, so name the normal user to test as: scripts/rootless.sh USER" >&2
  exit 2
fi
exe=$(cargo test --release -p bench-container --test rootless --no-run 2>&1 |
  sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
lib=$(cargo test --release -p harness --lib --no-run 2>&1 |
  sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
cargo build --release -p harness --bin vmvc 2>&1 | tail -1
probe=$(ls -t target/release/build/bench-container-*/out/vmvc-probe | head -1)
workload=$(ls -t target/freestanding/*/release/vmvc-workload | head -1)
[ -x "$exe" ] && [ -x "$lib" ] && [ -x "$probe" ] && [ -x "$workload" ] || {
  echo "rootless.sh: built binaries not found ($exe, $lib, $probe, $workload)" >&2; exit 1; }

dir=$(mktemp -d /tmp/vmvc-rootless.XXXXXX)
deleg=""
cleanup() {
  rm -rf "$dir"
  # Emptied by then: the test removed its cgroups; rmdir the rest, deepest first.
  if [ -n "$deleg" ] && [ -d "$deleg" ]; then find "$deleg" -depth -type d -exec rmdir {} \; ; fi
}
trap cleanup EXIT
chmod 755 "$dir"
cp "$exe" "$dir/rootless-tests"
cp "$lib" "$dir/harness-tests"
cp target/release/vmvc "$probe" "$workload" "$dir/"
run=()
if [ -n "$as" ]; then
  home=$(getent passwd "$as" | cut -d: -f6)
  mkdir "$dir/out" && chown "$as" "$dir/out"
  # A clean environment: root's HOME and cargo are not the user's.
  run=(runuser -u "$as" -- env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
       HOME="$home" USER="$as" LOGNAME="$as" VMVC_REQUIRE_ROOTLESS="${VMVC_REQUIRE_ROOTLESS:-}")
else
  mkdir "$dir/out"
fi
cd "$dir"
echo "rootless.sh: as $(${run[@]+"${run[@]}"} id -un) ($(${run[@]+"${run[@]}"} id -Gn))"
testenv=(VMVC_WORKLOAD_EXE="$dir/vmvc-workload" VMVC_PROBE_EXE="$dir/vmvc-probe")
v2=$(findmnt -t cgroup2 -n -o TARGET 2>/dev/null | head -1 || true)
if [ -n "$as" ] && [ -n "$v2" ] && [ -w "$v2" ]; then
  # Delegate a subtree to the user: the directory and the three files
  # cgroup-v2.rst names, plus a child for the launcher ("no internal
  # processes"). Our subshell moves itself there and becomes the user.
  deleg="$v2/vmvc/delegated-$as"
  mkdir -p "$deleg/launcher"
  for d in "$deleg" "$deleg/launcher"; do
    chown "$as:" "$d" "$d/cgroup.procs" "$d/cgroup.threads" "$d/cgroup.subtree_control"
  done
  testenv+=(VMVC_DELEGATED_CGROUP="$deleg" VMVC_REQUIRE_DELEGATION="${VMVC_REQUIRE_ROOTLESS:-}")
  ( echo "$BASHPID" > "$deleg/launcher/cgroup.procs"
    exec "${run[@]}" env "${testenv[@]}" ./rootless-tests --test-threads 2 )
else
  ${run[@]+"${run[@]}"} env "${testenv[@]}" ./rootless-tests --test-threads 2
fi
${run[@]+"${run[@]}"} ./harness-tests env::peer
${run[@]+"${run[@]}"} ./vmvc doctor || true   # for the log: what runs rootless here, and why not
${run[@]+"${run[@]}"} ./vmvc run --quick --out "$dir/out/run" \
  --env native,container:chroot,container:chroot+cgroup,container:full,peer:bwrap,peer:crun,peer:runc,vm-bare,vm-bare:process
python3 - "$dir/out/run/results.json" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
envs = {e["name"]: e for e in r["environments"]}
need = ["native", "container:chroot (rootless)", "peer:bwrap (rootless)"]
if os.environ.get("VMVC_REQUIRE_KVM") == "1":
    need.append("vm-bare")
bad = [n for n in need if n not in envs or envs[n].get("skipped")]
for n in bad:
    print(f"rootless.sh: {n} was not measured: {envs.get(n, {}).get('skipped', 'missing')}", file=sys.stderr)
rootless = sorted(n for n, e in envs.items() if e.get("rootless"))
print("rootless.sh: rows labelled rootless:", ", ".join(rootless))
if r["host"]["root"] or bad or any(not envs[n].get("rootless") for n in need[1:3]):
    sys.exit(1)
PY
echo "rootless.sh: passed"
