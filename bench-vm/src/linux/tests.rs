//! Booting real Linux guests. These need hardware-style KVM (VMX/SVM) and a
//! kernel: they run in the rig (`rig/rig.sh`, which sets `VMVC_RIG=1` and
//! `VMVC_KERNEL`) and on hosts with hardware KVM; on a PVM host, where a
//! stock kernel cannot run, they say so and skip. With `VMVC_RIG=1` or
//! `VMVC_REQUIRE_KVM=1` a missing prerequisite is a failure, not a skip.
//!
//! - `VMVC_KERNEL`: a bzImage (else the first `vmlinuz-*` in the vmvc cache);
//! - `VMVC_VMLINUX`: an extracted ELF vmlinux (optional);
//! - `VMVC_WORKLOAD_EXE`: the freestanding workload (else the path the
//!   workspace build puts it at).

use super::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn required() -> bool {
    env_flag("VMVC_RIG") || env_flag("VMVC_REQUIRE_KVM") && env_flag("VMVC_REQUIRE_LINUX_GUEST")
}

/// Why Linux guests cannot be tested here, if they cannot.
fn unavailable() -> Option<String> {
    if !crate::kvm_available() {
        return Some("/dev/kvm cannot be opened".into());
    }
    if std::path::Path::new("/sys/module/kvm_pvm").exists() && !env_flag("VMVC_RIG") {
        return Some(
            "/dev/kvm is PVM: a stock Linux kernel cannot run on it (run rig/rig.sh)".into(),
        );
    }
    None
}

fn cache_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("VMVC_CACHE") {
        v.push(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        v.push(PathBuf::from(d).join("vmvc"));
    }
    if let Some(d) = std::env::var_os("HOME") {
        v.push(PathBuf::from(d).join(".cache/vmvc"));
    }
    v
}

fn find_kernel() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VMVC_KERNEL") {
        return Some(PathBuf::from(p));
    }
    cache_dirs().into_iter().find_map(|c| {
        let kernels = std::fs::read_dir(c.join("kernel")).ok()?;
        kernels.filter_map(Result::ok).find_map(|k| {
            std::fs::read_dir(k.path().join("boot"))
                .ok()?
                .filter_map(Result::ok)
                .map(|f| f.path())
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                })
        })
    })
}

fn workload_exe() -> PathBuf {
    std::env::var_os("VMVC_WORKLOAD_EXE").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/freestanding")
                .join(workload_build_target())
                .join("release/vmvc-workload")
        },
        PathBuf::from,
    )
}

fn workload_build_target() -> &'static str {
    "x86_64-unknown-linux-gnu"
}

/// The kernel and workload, or None (skip) with a loud message; panics
/// when the run requires them.
fn prerequisites(test: &str) -> Option<(KernelImage, Vec<u8>)> {
    let why = unavailable().or_else(|| match find_kernel() {
        None => Some("no guest kernel: set VMVC_KERNEL or run `vmvc kernel fetch`".into()),
        Some(_) => None,
    });
    if let Some(why) = why {
        if required() {
            panic!("{test}: required here (VMVC_RIG) but {why}");
        }
        eprintln!("SKIPPED {test}: {why}");
        return None;
    }
    let path = find_kernel()?;
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let kernel =
        KernelImage::from_bytes(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let exe = workload_exe();
    let init = std::fs::read(&exe)
        .unwrap_or_else(|e| panic!("reading the workload {}: {e}", exe.display()));
    Some((kernel, init))
}

fn config() -> Config {
    Config {
        ram_bytes: 256 << 20,
        boot_timeout: Duration::from_secs(120),
        ..Config::default()
    }
}

/// Runs every workload once (small) and checks each answer.
fn run_every_workload(vm: &mut LinuxVm, what: &str) {
    for w in Workload::ALL {
        let cmd = Command::Run {
            workload: w as u8,
            size: 1 << 20,
            iterations: 1000,
        };
        match vm.request(cmd, Duration::from_secs(120)) {
            Ok(Message::Result {
                workload,
                ops,
                cycles,
                ..
            }) => {
                assert_eq!(workload, w as u8);
                assert!(
                    ops > 0 && cycles > 0,
                    "{}: ops {ops} cycles {cycles}",
                    w.name()
                );
            }
            other => panic!("{what}: {}: {other:?}", w.name()),
        }
    }
}

/// Boots, runs every workload once (small), shuts down cleanly.
fn boot_and_run_everything(kernel: &KernelImage, init: &[u8], what: &str) {
    let initramfs = Initramfs::for_init(init).to_cpio().unwrap();
    let cfg = config();
    let t = Instant::now();
    let mut vm =
        LinuxVm::launch(kernel, &initramfs, &cfg).unwrap_or_else(|e| panic!("{what}: {e}"));
    let ready = t.elapsed();
    let phases: Vec<String> = vm
        .phases()
        .durations()
        .iter()
        .map(|(n, d)| format!("{n}={:.1}ms", d.as_secs_f64() * 1e3))
        .collect();
    let mi = vm.mem_info();
    eprintln!(
        "{what}: READY after {:.1} ms [{}]; guest MemTotal {} KiB, MemFree {} KiB, MemAvailable {} KiB; exits {:?}; unhandled port accesses {}",
        ready.as_secs_f64() * 1e3,
        phases.join(" "),
        mi.mem_total >> 10,
        mi.mem_free >> 10,
        mi.mem_available >> 10,
        vm.exits(),
        vm.unhandled_port_accesses()
    );
    assert_eq!(vm.phases().marks.len(), PHASES.len());
    assert!(mi.mem_total > 0 && mi.mem_total < cfg.ram_bytes, "{mi:?}");
    assert!(mi.mem_free > 0 && mi.mem_free <= mi.mem_total, "{mi:?}");
    assert!(mi.mem_available > 0, "{mi:?}");
    run_every_workload(&mut vm, what);
    assert!(vm.pings() > 0, "the boundary workload made VM exits");
    match vm.request(Command::Hold { bytes: 8 << 20 }, Duration::from_secs(60)) {
        Ok(Message::Held { bytes }) => assert_eq!(bytes, 8 << 20),
        other => panic!("{what}: HOLD: {other:?}"),
    }
    let code = vm
        .shutdown(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{what}: shutdown: {e}"));
    assert_eq!(code, 0);
    // A VM that exited takes no more commands.
    assert!(vm.request(Command::Exit, Duration::from_secs(1)).is_err());
}

#[test]
fn bzimage_boots_to_ready_runs_every_workload_and_shuts_down() {
    let Some((kernel, init)) = prerequisites("bzimage boot") else {
        return;
    };
    boot_and_run_everything(&kernel, &init, "bzImage");
}

#[test]
fn vmlinux_boots_to_ready_and_shuts_down() {
    let Some((_, init)) = prerequisites("vmlinux boot") else {
        return;
    };
    let Some(path) = std::env::var_os("VMVC_VMLINUX") else {
        if required() {
            panic!("VMVC_VMLINUX is not set (rig/rig.sh extracts one)");
        }
        eprintln!("SKIPPED vmlinux boot: VMVC_VMLINUX not set");
        return;
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path:?}: {e}"));
    let kernel = KernelImage::from_bytes(bytes).expect("an ELF vmlinux");
    assert!(matches!(kernel, KernelImage::Vmlinux(_)));
    boot_and_run_everything(&kernel, &init, "vmlinux");
}

/// A static x86-64 ELF executable that waits forever: `pause()` in a loop
/// (`mov eax, 34; syscall; jmp` back). It never says READY, and it idles
/// rather than spins: once, in the rig, the nested guest's kernel froze
/// while an `/init` of `jmp .` spun under emulation (cause not found).
fn sleeping_init() -> Vec<u8> {
    let base: u64 = 0x40_0000;
    let code = [0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];
    let total = 120 + code.len() as u64;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(base + 120).to_le_bytes()); // entry
    e.extend_from_slice(&64u64.to_le_bytes()); // phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, base, base, total, total, 0x1000u64] {
        e.extend_from_slice(&v.to_le_bytes());
    }
    e.extend_from_slice(&code);
    e
}

#[test]
fn a_guest_that_never_says_ready_times_out_with_its_console() {
    let Some((kernel, _)) = prerequisites("never READY") else {
        return;
    };
    let initramfs = Initramfs::for_init(&sleeping_init()).to_cpio().unwrap();
    let cfg = Config {
        boot_timeout: Duration::from_secs(40),
        // Without `quiet`, so the console shows how far the kernel got.
        cmdline: DEFAULT_CMDLINE.replace(" quiet", ""),
        ..config()
    };
    let e = LinuxVm::launch(&kernel, &initramfs, &cfg)
        .err()
        .expect("must not become READY");
    let msg = e.to_string();
    assert!(matches!(e, LinuxError::NeverReady { .. }), "{msg}");
    assert!(msg.contains("never said READY"), "{msg}");
    assert!(
        msg.contains("Linux") || msg.contains("Run /init"),
        "the console lines are attached: {msg}"
    );
}

#[test]
fn a_guest_kernel_panic_is_reported_as_such() {
    let Some((kernel, _)) = prerequisites("kernel panic") else {
        return;
    };
    // No /init at all: the kernel finds no init and no root device, and panics.
    let mut fs = Initramfs::new();
    fs.dir("dev", 0o755).char_dev("dev/console", 0o600, 5, 1);
    let cfg = Config {
        // Without `quiet`: should it fail, the console shows how far it got.
        cmdline: DEFAULT_CMDLINE.replace(" quiet", ""),
        ..config()
    };
    let e = LinuxVm::launch(&kernel, &fs.to_cpio().unwrap(), &cfg)
        .err()
        .expect("must panic");
    let msg = e.to_string();
    assert!(matches!(e, LinuxError::Panic { .. }), "{msg}");
    assert!(msg.contains("Kernel panic"), "{msg}");
}

#[test]
fn a_file_that_is_not_a_kernel_is_refused_before_any_vm_exists() {
    let e = KernelImage::from_bytes(b"#!/bin/sh\necho not a kernel\n".to_vec()).unwrap_err();
    assert!(
        e.to_string().contains("too short") || e.to_string().contains("not a Linux kernel"),
        "{e}"
    );
}

/// A guest saved at READY and restored into two fresh VMs at once: each
/// answers every workload (the first) or the cpu and syscall ones (the
/// second) and shuts down cleanly; the original goes on after the snapshot.
/// Prints the cold and restored READY, for the ratio issue 14 asks for.
#[test]
fn a_snapshot_at_ready_restores_into_fresh_vms_that_answer() {
    let Some((kernel, init)) = prerequisites("snapshot and restore") else {
        return;
    };
    let initramfs = Initramfs::for_init(&init).to_cpio().expect("initramfs");
    let mut cold = LinuxVm::launch(&kernel, &initramfs, &config()).expect("cold boot");
    let (cold_ready, cold_mem) = (cold.phases().ready(), cold.mem_info());
    let snap = LinuxSnapshot::take(&mut cold).expect("the snapshot at READY");
    eprintln!(
        "snapshot: {} MiB of guest memory saved of {} MiB, {} MSRs, kvm-clock at {:.3} s",
        snap.saved_bytes() >> 20,
        snap.ram_bytes() >> 20,
        snap.msr_count(),
        snap.clock_ns() as f64 / 1e9
    );
    assert!(snap.saved_bytes() > 8 << 20 && snap.msr_count() > 10);
    // The original is not disturbed by the snapshot.
    run_cpu_and_syscall(&mut cold, "the snapshotted original");
    assert_eq!(cold.shutdown(Duration::from_secs(60)).expect("shutdown"), 0);
    drop(cold);

    let mut restored = Vec::new();
    for i in 0..2 {
        let vm = snap
            .restore(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("restore {i}: {e}"));
        let p = vm.phases();
        let names: Vec<&str> = p.marks.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, snapshot::RESTORE_PHASES);
        let phases: Vec<String> = p
            .durations()
            .iter()
            .map(|(n, d)| format!("{n}={:.2}ms", d.as_secs_f64() * 1e3))
            .collect();
        eprintln!(
            "restore {i}: READY after {:.2} ms [{}] vs cold boot {:.1} ms: 1/{:.0} of it",
            p.ready().as_secs_f64() * 1e3,
            phases.join(" "),
            cold_ready.as_secs_f64() * 1e3,
            cold_ready.as_secs_f64() / p.ready().as_secs_f64()
        );
        restored.push(vm);
    }
    let [first, second] = &mut restored[..] else {
        unreachable!("two restores")
    };
    run_every_workload(first, "restored guest 0");
    run_cpu_and_syscall(second, "restored guest 1");
    for (i, mut vm) in restored.into_iter().enumerate() {
        assert_eq!(
            vm.mem_info(),
            cold_mem,
            "restore {i}: the memory report carried over"
        );
        let code = vm
            .shutdown(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("restore {i}: shutdown: {e}"));
        assert_eq!(code, 0, "restore {i}");
    }
}

fn run_cpu_and_syscall(vm: &mut LinuxVm, what: &str) {
    for w in [Workload::Cpu, Workload::Syscall] {
        let cmd = Command::Run {
            workload: w as u8,
            size: 1 << 20,
            iterations: 1000,
        };
        match vm.request(cmd, Duration::from_secs(120)) {
            Ok(Message::Result { workload, ops, .. }) => {
                assert_eq!(workload, w as u8, "{what}");
                assert!(ops > 0, "{what}: {}: no ops", w.name());
            }
            other => panic!("{what}: {}: {other:?}", w.name()),
        }
    }
}
