//! The VM peers, for real: QEMU (and Firecracker, Cloud Hypervisor where
//! present) boots the bare guest, runs every workload, reports its memory
//! split and exits; a binary that is not QEMU, one that crashes and one
//! that hangs each give a clear error and leave nothing running. QEMU's
//! tests skip loudly where it or /dev/kvm is missing, and fail instead
//! under VMVC_REQUIRE_PEERS=1 (CI); Firecracker's and Cloud Hypervisor's
//! only skip (they are not packaged).

use super::vm_env::VmPeerEnv;
use super::vmm::guest_ram_mappings;
use crate::env::{memory_said, part, run_every_workload_once, Environment};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whether `env` can be tested here; prints a loud SKIPPED line when not,
/// or fails when `required` and VMVC_REQUIRE_PEERS=1.
fn testable(env: &VmPeerEnv, required: bool) -> bool {
    let Some(why) = env.why_not() else {
        return true;
    };
    let name = env.name();
    if required && std::env::var("VMVC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{name}: {why}; VMVC_REQUIRE_PEERS=1 forbids skipping");
    }
    // Straight to stderr: libtest captures eprintln! of passing tests, and
    // a skip must be seen.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {name} test: {why} ***\n");
    false
}

#[test]
fn qemu_boots_the_bare_guest_and_runs_every_workload() {
    boots_runs_and_exits(super::qemu_env(None), true);
}

#[test]
fn firecracker_boots_the_bare_guest_where_present() {
    boots_runs_and_exits(super::firecracker_env(None), false);
}

#[test]
fn cloud_hypervisor_boots_the_bare_guest_where_present() {
    boots_runs_and_exits(super::cloud_hypervisor_env(None), false);
}

fn boots_runs_and_exits(mut env: VmPeerEnv, required: bool) {
    if !testable(&env, required) {
        return;
    }
    let name = env.name();
    for round in 0..2 {
        let mut inst = env.launch().expect("peer:qemu launch");
        let l = inst.launch();
        let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "peer:qemu round {round}: READY {:?}, phases {:?}",
            l.ready, l.phases
        );
        assert_eq!(names.first(), Some(&"spawn"), "{names:?}");
        assert_eq!(names.last(), Some(&"guest_boot"), "{names:?}");
        assert!(names.contains(&"entry_code"), "{names:?}");
        let sum: Duration = l.phases.iter().map(|(_, d)| *d).sum();
        assert_eq!(sum, l.ready, "phases add up to READY");
        run_every_workload_once(inst.as_mut(), Duration::from_secs(30));
        let mem = memory_said(inst.as_mut(), &name);
        assert!(part(&mem, "guest_ram").unwrap_or(0) > 0, "{mem:?}");
        assert!(part(&mem, "vmm").unwrap_or(0) > 0, "{mem:?}");
        inst.teardown()
            .unwrap_or_else(|e| panic!("{name} exits after the guest's DONE: {e:#}"));
    }
}

/// A script standing in for QEMU: it records its pid in `pid_file`, then
/// runs `body`.
fn fake_qemu(dir: &Path, body: &str) -> (PathBuf, PathBuf) {
    let pid_file = dir.join("pid");
    let script = dir.join("fake-qemu");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho $$ > {}\n{body}\n", pid_file.display()),
    )
    .expect("write script");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, mode).expect("chmod");
    (script, pid_file)
}

/// Launches `binary` as QEMU and returns the error text.
fn launch_error(binary: PathBuf) -> String {
    let mut env = super::qemu_env(Some(binary));
    env.ready_timeout = Duration::from_secs(1);
    match env.launch() {
        Ok(_) => panic!("a fake QEMU reached READY"),
        Err(e) => format!("{e:#}"),
    }
}

/// The process whose pid is in `pid_file` is gone (killed and reaped).
fn assert_gone(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).expect("the fake QEMU ran");
    let proc_dir = Path::new("/proc").join(pid.trim());
    assert!(!proc_dir.exists(), "pid {} left running", pid.trim());
}

#[test]
fn a_binary_that_is_not_qemu_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_exe = dir.path().join("qemu-system-x86_64");
    std::fs::write(&not_exe, "not a program").expect("write");
    let e = launch_error(not_exe);
    assert!(e.contains("starting qemu"), "{e}");

    let (script, pid) = fake_qemu(dir.path(), "echo 'unknown option -M' >&2; exit 1");
    let e = launch_error(script);
    assert!(e.contains("qemu did not bring the guest to READY"), "{e}");
    assert!(e.contains("unknown option -M"), "stderr is quoted: {e}");
    assert_gone(&pid);
}

#[test]
fn a_crashing_or_hanging_qemu_is_killed_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (script, pid) = fake_qemu(dir.path(), "kill -SEGV $$");
    let e = launch_error(script);
    assert!(e.contains("closed its channel"), "{e}");
    assert_gone(&pid);

    let (script, pid) = fake_qemu(dir.path(), "exec sleep 60");
    let e = launch_error(script);
    assert!(e.contains("timed out"), "{e}");
    assert_gone(&pid);
}

#[test]
fn guest_ram_is_the_anonymous_mapping_of_its_size() {
    let maps = "\
55d0a0000000-55d0a0400000 r-xp 00000000 08:02 173521 /usr/bin/qemu-system-x86_64
7f0000000000-7f0008400000 rw-p 00000000 00:00 0 
7f0008400000-7f0008401000 ---p 00000000 00:00 0 
7f1000000000-7f1008400000 rw-p 00000000 08:02 99 /memfd:other (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";
    let found = guest_ram_mappings(maps, 132 << 20);
    assert_eq!(found, vec![0x7f00_0000_0000..0x7f00_0840_0000]);
    assert!(guest_ram_mappings(maps, 64 << 20).is_empty());
}

/// In the rig (rig/rig.sh sets VMVC_RIG and VMVC_KERNEL, and copies QEMU
/// and its microvm firmware in when harness's tests run): `peer:qemu-linux`
/// boots vm-linux's kernel and initramfs under QEMU, twice: READY with its
/// phases, every workload through COM2, QEMU's memory apart from guest RAM,
/// the guest kernel's own report, a clean exit, no QEMU left behind.
/// Elsewhere it says why it skips. (Its name holds `vm_linux`: the rig's
/// default set selects harness's tests with that filter.)
#[test]
fn in_the_rig_peer_qemu_linux_boots_the_vm_linux_kernel_and_runs_every_workload() {
    if std::env::var_os("VMVC_RIG").is_none() {
        eprintln!(
            "SKIPPED peer:qemu-linux test: only in the rig (rig/rig.sh), where Linux guests run"
        );
        return;
    }
    let given = std::env::var_os("VMVC_KERNEL").map(PathBuf::from);
    let kernel = crate::kernel::locate(given.as_deref()).expect("the rig provides a kernel");
    let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
    let mut env = super::qemu_linux::QemuLinuxEnv::new(&kernel, exe.path(), None);
    let host = crate::host::detect();
    assert_eq!(env.unavailable(&host), None, "QEMU and /dev/kvm in the rig");
    for round in 0..2 {
        let mut inst = env.launch().expect("peer:qemu-linux boots to READY");
        let l = inst.launch().clone();
        let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "peer:qemu-linux round {round}: READY after {:.1} ms: {:?}",
            l.ready.as_secs_f64() * 1e3,
            l.phases
        );
        assert_eq!(names.first(), Some(&"spawn"), "{names:?}");
        assert_eq!(names.last(), Some(&"kernel_boot"), "{names:?}");
        let sum: Duration = l.phases.iter().map(|(_, d)| *d).sum();
        assert_eq!(sum, l.ready, "phases add up to READY");
        run_every_workload_once(inst.as_mut(), Duration::from_secs(60));
        let mem = memory_said(inst.as_mut(), "peer:qemu-linux");
        eprintln!("peer:qemu-linux round {round}: memory {mem:?}");
        let guest_ram = part(&mem, "guest_ram").unwrap_or(0);
        assert!(guest_ram > (8 << 20), "guest RAM touched: {mem:?}");
        assert!(part(&mem, "vmm").unwrap_or(0) > 0, "QEMU's own: {mem:?}");
        let gk = part(&mem, "guest_kernel").unwrap_or(0);
        assert!(gk > (8 << 20), "the guest kernel's own memory: {mem:?}");
        let took = inst
            .teardown()
            .unwrap_or_else(|e| panic!("peer:qemu-linux exits after DONE: {e:#}"));
        eprintln!(
            "peer:qemu-linux teardown {:.1} ms",
            took.as_secs_f64() * 1e3
        );
        let left: Vec<u32> = crate::procfs::children(std::process::id())
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("qemu"))
                    .unwrap_or(false)
            })
            .collect();
        assert!(left.is_empty(), "QEMU left running: {left:?}");
    }
}
