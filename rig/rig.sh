#!/usr/bin/env bash
# rig/rig.sh: run vmvc's test binaries inside a Linux guest that has
# hardware-style KVM (AMD-V emulated by QEMU TCG with -cpu max) and a pure
# cgroup v2 hierarchy. See rig/README.md for why and how.
#
#   rig/rig.sh [OPTIONS] [-- TEST-ARGS...]
#
#   -p, --package PKG   a cargo package whose test binaries run inside
#                       (repeatable)
#   -t, --test 'BIN [ARGS]'  run only this test binary, named PKG::TARGET as
#                       cargo names it (bench-vm::bench_vm, bench-vm::guest,
#                       harness::harness, bench-container::cgroup_v2), with
#                       these arguments (e.g. a name filter); repeatable; its
#                       package is added to the build
#   With neither -p nor -t nor --run: the rig's own set, the tests that need
#   what only the rig has (hardware-style KVM, a Linux guest, pure cgroup v2):
#   bench-vm's library, guest and leak tests, harness's vm_linux tests and
#   bench-container's cgroup_v2 tests and its cgroup v2 delegation to a
#   normal user (rootless.rs).
#   --run 'CMD'         also run this shell command inside, as one more test
#   --file PATH         also copy this host file into the guest at the same
#                       path (with its shared libraries if it is an ELF program)
#   --env NAME=VALUE    also set this in every test's environment
#   --fetch PATH        after the tests, bring this guest file back to
#                       target/rig/fetched/ (through the serial console, base64)
#   --kernel-deb FILE   use this Debian linux-image .deb instead of fetching one
#   --timeout SECS      per boot (default 1200); a boot that does not finish
#                       is retried once
#   --test-timeout SECS per test binary inside the guest (default 600)
#   --mem SIZE          guest memory (default 2G)
#   --smp N             guest CPUs (default 1: with 2, streams of nested VM
#                       launches stall the rig's kernel, see rig/README.md)
#   --no-build          do not run cargo; use the binaries of the last build
#   TEST-ARGS           passed to every test binary (e.g. a name filter)
#
# Exit status: 0 when every test passed; 1 when any failed; 2 on a usage or
# setup error; 3 when the guest did not finish its run (twice).
set -euo pipefail

die() { echo "rig: error: $*" >&2; exit 2; }
say() { echo "rig: $*" >&2; }

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PACKAGES=()
SELECT=()
FETCH=()
RUNS=()
FILES=()
ENVS=()
KERNEL_DEB=""
TIMEOUT=1200
TEST_TIMEOUT=600
MEM=2G
SMP=1
BUILD=1
TEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -p|--package) PACKAGES+=("${2:?$1 needs a value}"); shift 2 ;;
    -t|--test) SELECT+=("${2:?$1 needs a value}"); shift 2 ;;
    --run) RUNS+=("${2:?$1 needs a value}"); shift 2 ;;
    --file) FILES+=("${2:?$1 needs a value}"); shift 2 ;;
    --env) ENVS+=("${2:?$1 needs a value}"); shift 2 ;;
    --fetch) FETCH+=("${2:?$1 needs a value}"); shift 2 ;;
    --kernel-deb) KERNEL_DEB=$(realpath "${2:?$1 needs a value}"); shift 2 ;;
    --timeout) TIMEOUT=${2:?$1 needs a value}; shift 2 ;;
    --test-timeout) TEST_TIMEOUT=${2:?$1 needs a value}; shift 2 ;;
    --mem) MEM=${2:?$1 needs a value}; shift 2 ;;
    --smp) SMP=${2:?$1 needs a value}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; TEST_ARGS=("$@"); break ;;
    *) die "unknown option $1 (see rig/rig.sh --help)" ;;
  esac
done
if [ ${#PACKAGES[@]} -eq 0 ] && [ ${#SELECT[@]} -eq 0 ] && [ ${#RUNS[@]} -eq 0 ]; then
  SELECT=('bench-vm::bench_vm' 'bench-vm::guest' 'bench-vm::leaks' 'harness::harness vm_linux' 'bench-container::cgroup_v2' 'bench-container::rootless root_delegates_a_cgroup_v2_subtree_to_a_normal_user')
fi
for sel in "${SELECT[@]}"; do
  pkg=${sel%%::*}
  [ "$pkg" != "$sel" ] || die "--test wants PKG::TARGET [ARGS], got '$sel'"
  [[ " ${PACKAGES[*]} " == *" $pkg "* ]] || PACKAGES+=("$pkg")
done
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got $TIMEOUT"
[[ "$TEST_TIMEOUT" =~ ^[0-9]+$ ]] || die "--test-timeout wants seconds, got $TEST_TIMEOUT"

for tool in qemu-system-x86_64 cpio modinfo objcopy dpkg-deb python3; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh (as root) first"
done
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
  if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi
done
[ -n "$BUSYBOX" ] || die "a static busybox is needed: run scripts/setup.sh (installs busybox-static)"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$TARGET_DIR/rig
CACHE=${VMVC_CACHE:-${XDG_CACHE_HOME:-${HOME:-$WORK}/.cache}/vmvc}
mkdir -p "$WORK" "$CACHE/kernel"

# ---------------------------------------------------------------- kernel
# The kernel and its kvm modules come from Debian's kernel package, unpacked
# (never installed) into $CACHE/kernel/<package>_<version>/ with the same
# layout harness/src/kernel/ uses. Only /boot and the modules we load are
# extracted.
MODDIRS=(arch/x86/kvm virt/lib drivers/crypto/ccp)
if [ -z "$KERNEL_DEB" ]; then
  command -v apt-get >/dev/null || die "no apt-get on this host: pass a Debian linux-image .deb with --kernel-deb"
  PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$PKG" ] || die "apt knows no linux-image-amd64 (not Debian, or no 'apt-get update' yet): run apt-get update (as root) or pass --kernel-deb"
  VER=$(apt-cache policy "$PKG" | awk '/Candidate:/{print $2}')
  KDIR=$CACHE/kernel/${PKG}_${VER}
  if [ ! -e "$KDIR/.rig-complete" ]; then
    say "fetching the guest kernel: apt-get download $PKG ($VER) into $CACHE/kernel"
    DL=$(mktemp -d "$CACHE/kernel/.download.XXXXXX")
    (cd "$DL" && apt-get download -q "$PKG" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
    KERNEL_DEB=$(ls "$DL"/*.deb 2>/dev/null | head -1)
    [ -n "$KERNEL_DEB" ] || die "apt-get download $PKG failed (network to the Debian mirror? see above)"
  fi
else
  PKG=$(dpkg-deb -f "$KERNEL_DEB" Package) || die "$KERNEL_DEB is not a .deb"
  VER=$(dpkg-deb -f "$KERNEL_DEB" Version)
  KDIR=$CACHE/kernel/${PKG}_${VER}
fi
if [ ! -e "$KDIR/.rig-complete" ]; then
  [ -n "$KERNEL_DEB" ] || die "internal: no kernel package to unpack"
  say "unpacking /boot and the kvm modules of $(basename "$KERNEL_DEB")"
  TMPK=$(mktemp -d "$CACHE/kernel/.unpack.XXXXXX")
  pats=('./boot/*')
  for d in "${MODDIRS[@]}"; do pats+=("./lib/modules/*/kernel/$d/*" "./usr/lib/modules/*/kernel/$d/*"); done
  dpkg-deb --fsys-tarfile "$KERNEL_DEB" | tar -x -C "$TMPK" --wildcards --no-anchored "${pats[@]}" 2>/dev/null || true
  ls "$TMPK"/boot/vmlinuz-* >/dev/null 2>&1 || die "$KERNEL_DEB holds no /boot/vmlinuz-*: not a kernel image package"
  if [ -d "$TMPK/usr/lib/modules" ] && [ ! -d "$TMPK/lib/modules" ]; then mkdir -p "$TMPK/lib"; mv "$TMPK/usr/lib/modules" "$TMPK/lib/"; fi
  touch "$TMPK/.rig-complete"
  # Replace atomically enough: harness/src/kernel/ may have made a /boot-only copy.
  rm -rf "$KDIR.old"
  if [ -e "$KDIR" ]; then mv "$KDIR" "$KDIR.old"; fi
  mv "$TMPK" "$KDIR"
  rm -rf "$KDIR.old" "${DL:-}"
fi
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
KV=${VMLINUZ##*/vmlinuz-}
MODROOT=$KDIR/lib/modules/$KV/kernel
say "guest kernel: $KV ($VMLINUZ)"
# The uncompressed ELF vmlinux next to it, where harness/src/kernel/ caches
# it too: the compressed payload the setup header points to (boot.rst,
# payload_offset/payload_length), minus the 4-byte size trailer, decompressed.
VMLINUX=$KDIR/vmlinux
if [ ! -s "$VMLINUX" ]; then
  say "extracting vmlinux from $(basename "$VMLINUZ")"
  python3 - "$VMLINUZ" "$VMLINUX" <<'PY' || die "could not extract vmlinux from $VMLINUZ"
import gzip, lzma, os, struct, sys
b = open(sys.argv[1], "rb").read()
pm = ((b[0x1f1] or 4) + 1) * 512
off, length = struct.unpack_from("<II", b, 0x248)
p = b[pm + off : pm + off + length]
if p[:6] == b"\xfd7zXZ\x00":
    out = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(p[:-4])
elif p[:2] == b"\x1f\x8b":
    out = gzip.decompress(p)
else:
    sys.exit("unsupported kernel compression (magic %r)" % p[:4])
if out[:4] != b"\x7fELF" or len(out) != struct.unpack_from("<I", p, len(p) - 4)[0]:
    sys.exit("the decompressed kernel is not the expected ELF file")
tmp = sys.argv[2] + ".tmp.%d" % os.getpid()
open(tmp, "wb").write(out)
os.rename(tmp, sys.argv[2])
PY
fi

# ---------------------------------------------------------------- tests
TESTS=()   # NAME<TAB>DIR<TAB>COMMAND
EXES=()    # every executable to copy, at its host path
if [ ${#PACKAGES[@]} -gt 0 ]; then
  JSON=$WORK/cargo-test-artifacts.json
  if [ $BUILD = 1 ]; then
    pflags=(); for p in "${PACKAGES[@]}"; do pflags+=(-p "$p"); done
    # --release: the same build as scripts/test.sh (no second compile), and
    # code that is fast enough under emulation.
    say "building test binaries: cargo test --release --no-run ${pflags[*]}"
    (cd "$ROOT" && cargo test --release --no-run --message-format=json-render-diagnostics "${pflags[@]}") > "$JSON" \
      || die "cargo test --no-run failed (see above)"
  fi
  [ -s "$JSON" ] || die "no build record $JSON: run without --no-build once"
  # One JSON object per line; take the executables (test harnesses have
  # "test":true in their profile; other executables, like the vmvc binary
  # that integration tests call, are copied but not run).
  while IFS=$'\t' read -r kind exe manifest name; do
    if [ "$kind" = outdir ]; then
      while IFS= read -r f; do
        [ "$(head -c4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && EXES+=("$f")
      done < <(find "$exe" -maxdepth 2 -type f -perm -u+x 2>/dev/null)
      continue
    fi
    EXES+=("$exe")
    if [ "$kind" = test ]; then
      args=""; for a in "${TEST_ARGS[@]}"; do args+=" $(printf '%q' "$a")"; done
      if [ ${#SELECT[@]} -gt 0 ]; then
        # Only selected binaries, each with its own arguments.
        chosen=""
        for sel in "${SELECT[@]}"; do
          bin=${sel%% *}; rest=""; [ "$bin" = "$sel" ] || rest=" ${sel#* }"
          if [ "${name%%(*}" = "$bin" ]; then chosen="$rest"; break; fi
          chosen="-"
        done
        [ "$chosen" = "-" ] && continue
        args="$chosen$args"
      fi
      TESTS+=("$name"$'\t'"$(dirname "$manifest")"$'\t'"$exe$args")
    fi
  done < <(python3 - "$JSON" "${PACKAGES[@]}" <<'PY'
import json, sys
wanted = set(sys.argv[2:])
seen = set()
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "build-script-executed":
        # Programs a build script made (test helpers tests reach by path).
        pkg = m["package_id"]
        if any(("/" + w + "#") in pkg or ("#" + w + "@") in pkg for w in wanted) and m.get("out_dir"):
            print(f"outdir\t{m['out_dir']}\t-\t-")
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    exe = m["executable"]
    if exe in seen:
        continue
    seen.add(exe)
    kind = "test" if m.get("profile", {}).get("test") else "bin"
    t = m.get("target", {})
    pkg = m["manifest_path"].split("/")[-2]
    if pkg not in wanted:
        continue
    name = f"{pkg}::{t.get('name', '?')}({'+'.join(t.get('kind', []))})"
    print(f"{kind}\t{exe}\t{m['manifest_path']}\t{name}")
PY
)
fi
for sel in "${SELECT[@]}"; do
  bin=${sel%% *}
  printf '%s\n' "${TESTS[@]}" | grep -q "^$bin(" || die "--test $bin: no such test binary (names are PKG::TARGET as cargo names them)"
done
i=0
for r in "${RUNS[@]}"; do i=$((i + 1)); TESTS+=("run-$i"$'\t'"/"$'\t'"$r"); done
[ ${#TESTS[@]} -gt 0 ] || die "nothing to run: no test binaries in ${PACKAGES[*]} and no --run"
# The freestanding workload programs (target/freestanding/...) that tests
# reach by their build-time path.
while IFS= read -r f; do EXES+=("$f"); done < <(find "$TARGET_DIR/freestanding" -maxdepth 3 -path '*/release/*'  -type f -perm -u+x 2>/dev/null)
# The guest kernel itself, for the vm-linux tests (VMVC_KERNEL, VMVC_VMLINUX).
EXES+=("$VMLINUZ" "$VMLINUX")
# harness's tests also boot that kernel under QEMU (peer:qemu-linux): QEMU
# itself (with its libraries) and the microvm machine's firmware come along;
# and strace, for `vmvc trace vm-linux`.
if [[ " ${PACKAGES[*]} " == *" harness "* ]]; then
  # (microvm loads bios-microvm.bin, or qboot.rom when it has no ACPI.)
  for f in "$(command -v qemu-system-x86_64)" /usr/share/qemu/bios-microvm.bin /usr/share/qemu/qboot.rom \
    "$(command -v strace || true)"; do
    if [ -e "$f" ]; then EXES+=("$f"); fi
  done
fi
for f in "${FILES[@]}"; do [ -e "$f" ] || die "--file $f: no such file"; EXES+=("$(realpath -s "$f")"); done

# ---------------------------------------------------------------- initramfs
IRD=$WORK/initramfs
rm -rf "$IRD"
mkdir -p "$IRD"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,newroot,rig/modules,etc,lib64}
cp "$BUSYBOX" "$IRD/bin/busybox"
for a in $("$BUSYBOX" --list-full); do [ -e "$IRD/$a" ] || ln -s /bin/busybox "$IRD/$a"; done
cp "$HERE/guest-init.sh" "$IRD/init"; chmod 755 "$IRD/init"
echo "root:x:0:0:root:/root:/bin/sh" > "$IRD/etc/passwd"
echo "root:x:0:" > "$IRD/etc/group"
echo "127.0.0.1 localhost rig" > "$IRD/etc/hosts"

# Modules: kvm-amd (TCG emulates AMD-V, not VT-x) and what it depends on,
# dependencies first (modinfo -F depends).
declare -A DONE_MOD=()
ORDER=()
modfile() { find "$MODROOT" -name "$1.ko*" | head -1; }
addmod() {
  local name=$1 f dep
  [ -n "${DONE_MOD[$name]:-}" ] && return 0
  DONE_MOD[$name]=1
  f=$(modfile "$name"); [ -z "$f" ] && f=$(modfile "${name//_/-}")
  [ -n "$f" ] || die "module $name not in $MODROOT (extracted: ${MODDIRS[*]})"
  for dep in $(modinfo -F depends "$f" | tr ',' ' '); do addmod "$dep"; done
  local out=$IRD/rig/modules/$name.ko
  case "$f" in
    *.xz) xz -dc "$f" > "$out" ;;
    *.zst) zstd -qdc "$f" > "$out" ;;
    *.gz) gzip -dc "$f" > "$out" ;;
    *) cp "$f" "$out" ;;
  esac
  ORDER+=("$name.ko")
}
addmod kvm-amd
printf '%s\n' "${ORDER[@]}" > "$IRD/rig/modules.order"

# Executables at their host paths (stripped of debug info), with the shared
# libraries ldd names, also at their host paths.
declare -A DONE_LIB=()
copylibs() {
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+' || true); do
    [ -n "${DONE_LIB[$lib]:-}" ] && continue
    DONE_LIB[$lib]=1
    mkdir -p "$IRD$(dirname "$lib")"
    cp -L "$lib" "$IRD$lib"
  done
}
for exe in "${EXES[@]}"; do
  mkdir -p "$IRD$(dirname "$exe")"
  if [ "$(head -c4 "$exe" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    objcopy --strip-debug "$exe" "$IRD$exe" 2>/dev/null || cp "$exe" "$IRD$exe"
    copylibs "$exe"
  else
    cp -L --preserve=mode "$exe" "$IRD$exe"
  fi
done
printf '%s\n' "${TESTS[@]}" > "$IRD/rig/tests"
printf '%s\n' "${FETCH[@]}" > "$IRD/rig/fetch"
echo "$TEST_TIMEOUT" > "$IRD/rig/test-timeout"
# VMVC_CACHE: the host's cache path, so `vmvc` inside finds the kernel (and
# its extracted vmlinux) exactly where `vmvc kernel fetch` put it.
printf 'export VMVC_KERNEL=%q VMVC_VMLINUX=%q VMVC_CACHE=%q\n' "$VMLINUZ" "$VMLINUX" "$CACHE" > "$IRD/rig/env"
for e in "${ENVS[@]}"; do
  [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got $e"
  printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" >> "$IRD/rig/env"
done
INITRD=$WORK/initramfs.cpio
(cd "$IRD" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$INITRD"
say "initramfs: $(du -h "$INITRD" | cut -f1), ${#TESTS[@]} test(s), modules: ${ORDER[*]}"

# ---------------------------------------------------------------- boot
# q35 + TCG + -cpu max: the CPU model offers SVM, so kvm-amd loads inside.
# panic=-1 and -no-reboot: a guest panic ends QEMU at once.
# cgroup_no_v1=all: every controller is free for the cgroup2 mount.
APPEND="console=ttyS0 panic=-1 quiet cgroup_no_v1=all rdinit=/init"
boot() {
  local log=$1
  say "booting (timeout ${TIMEOUT}s): log in $log"
  local start=$SECONDS rc=0
  timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -M q35 -cpu max -m "$MEM" -smp "$SMP" \
    -display none -monitor none -serial stdio -no-reboot -nodefaults \
    -kernel "$VMLINUZ" -initrd "$INITRD" -append "$APPEND" < /dev/null 2>&1 \
    | sed -u 's/\r$//' | tee "$log" || rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    say "the guest was stopped after ${TIMEOUT}s (--timeout)"
  else
    say "guest finished after $((SECONDS - start))s (qemu status $rc)"
  fi
  grep -q '^RIG-SUMMARY ' "$log"
}
LOG=$WORK/boot.log
rm -f "$WORK/boot.log" "$WORK/boot-retry.log"
if ! boot "$LOG"; then
  say "the guest did not finish its run (no RIG-SUMMARY line); last lines:"
  tail -n 15 "$LOG" | sed 's/^/rig:   /' >&2
  say "retrying once"
  LOG=$WORK/boot-retry.log
  if ! boot "$LOG"; then
    say "the guest did not finish its run twice; last lines:"
    tail -n 15 "$LOG" | sed 's/^/rig:   /' >&2
    echo "rig: 0 passed, ${#TESTS[@]} failed"
    exit 3
  fi
fi

# ---------------------------------------------------------------- verdict
summary=$(grep '^RIG-SUMMARY ' "$LOG" | tail -1)
passed=$(sed -n 's/.*passed=\([0-9]*\).*/\1/p' <<<"$summary")
failed=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$summary")
ran=$(grep -c '^RIG-END ' "$LOG" || true)
if [ "$ran" != "${#TESTS[@]}" ]; then
  say "expected ${#TESTS[@]} test(s), the guest reports $ran"
  failed=$((failed + ${#TESTS[@]} - ran))
fi
echo "rig: results (log: $LOG)"
grep '^RIG-END ' "$LOG" | awk '{ printf "rig:   %s %s (%s, at %s)\n", ($3 == "rc=0") ? "PASS" : "FAIL", $2, $3, $4 }'
for f in "${FETCH[@]}"; do
  mkdir -p "$WORK/fetched"
  out=$WORK/fetched/$(basename "$f")
  awk -v f="$f" '$0 == "RIG-FILE-BEGIN " f {on=1; next} on && /^RIG-FILE-END/ {exit} on' "$LOG" | base64 -d > "$out" 2>/dev/null \
    && [ -s "$out" ] && say "fetched $f -> $out" || { say "could not fetch $f"; failed=$((failed + 1)); }
done
echo "rig: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
