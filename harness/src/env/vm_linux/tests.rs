//! vm-linux's tests. The Linux-guest ones boot a real kernel and run only
//! in the rig (rig/rig.sh sets VMVC_RIG and VMVC_KERNEL; it selects them
//! with the filter `vm_linux`); elsewhere they say why they skip. The others
//! check the VMM subcommand's arguments and how a PVM host is recognised.

use super::*;
use crate::env::{part, Instance};
use crate::measure::{Launch, MemPart};
use std::time::Duration;

/// The environment as the rig's tests use it (rig/rig.sh sets VMVC_RIG
/// and VMVC_KERNEL); elsewhere `None`, having said why the test skips.
fn rig_env(what: &str) -> Option<VmLinux> {
    if std::env::var_os("VMVC_RIG").is_none() {
        eprintln!("SKIPPED {what} environment test: only in the rig (rig/rig.sh), or on hardware KVM via `vmvc run`");
        return None;
    }
    let given = std::env::var_os("VMVC_KERNEL").map(std::path::PathBuf::from);
    let kernel = crate::kernel::locate(given.as_deref()).expect("the rig provides a kernel");
    let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
    Some(VmLinux::new(&kernel, exe.path(), false).expect("environment"))
}

/// One launch of `env` as both rig tests check it: READY with `phases`,
/// every workload, memory, and the guest kernel's own memory in range.
fn one_round(
    env: &mut VmLinux,
    round: usize,
    phases: &[&str],
) -> (Box<dyn Instance>, Launch, Vec<MemPart>) {
    one_round_as(env, round, phases)
}

/// [`one_round`] for any of vm-linux's rows.
fn one_round_as(
    env: &mut dyn crate::env::Environment,
    round: usize,
    phases: &[&str],
) -> (Box<dyn Instance>, Launch, Vec<MemPart>) {
    let what = env.name();
    let mut inst = env.launch().expect("boots to READY");
    let l = inst.launch().clone();
    let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, phases, "phases");
    eprintln!(
        "{what} launch {round}: READY after {:.1} ms: {:?}",
        l.ready.as_secs_f64() * 1e3,
        l.phases
    );
    crate::env::run_every_workload_once(inst.as_mut(), REQUEST_TIMEOUT);
    let mem = crate::env::memory_said(inst.as_mut(), &what);
    eprintln!("{what} launch {round}: memory {mem:?}");
    let gk = part(&mem, "guest_kernel").unwrap_or(0);
    assert!(
        gk > (8 << 20) && gk < RAM_BYTES,
        "guest kernel's own memory: {gk}"
    );
    (inst, l, mem)
}

fn tear_down(inst: Box<dyn Instance>, what: &str) {
    let took = inst.teardown().expect("clean teardown");
    eprintln!("{what} teardown {:.2} ms", took.as_secs_f64() * 1e3);
}

/// In the rig (rig/rig.sh sets VMVC_RIG and VMVC_KERNEL): the whole
/// environment, as `vmvc run` uses it. Elsewhere it says why it skips.
#[test]
fn in_the_rig_launch_runs_every_workload_reports_memory_and_tears_down() {
    let Some(mut env) = rig_env("vm-linux") else {
        return;
    };
    assert!(env.not_attempted().is_none());
    for round in 0..2 {
        let (inst, _, mem) = one_round(&mut env, round, &bench_vm::linux::PHASES);
        assert!(part(&mem, "guest_ram").unwrap_or(0) > 0);
        tear_down(inst, "vm-linux");
    }
}

/// In the rig: `vm-linux:process`, the VMM in its own process (the
/// `vmvc` binary cargo built), twice: READY with every phase, every
/// workload, memory split with the VMM's own part, clean teardown, no
/// VMM process left behind.
#[test]
fn in_the_rig_vm_linux_process_mode_runs_every_workload_splits_memory_and_reaps_its_vmm() {
    let Some(mut env) = rig_env("vm-linux:process") else {
        return;
    };
    // The vmvc cargo built beside this test binary (target/release/deps/..).
    let vmvc = std::env::current_exe()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("vmvc")))
        .filter(|p| p.exists())
        .expect("target/release/vmvc beside the test binary (cargo test builds it)");
    env.set_mode(Mode::OwnProcess { exe: vmvc });
    assert_eq!(env.name(), "vm-linux:process");
    assert!(env.not_attempted().is_none());
    for round in 0..2 {
        let (inst, l, mem) = one_round(&mut env, round, &PROCESS_PHASES);
        let sum: Duration = l.phases.iter().map(|(_, d)| *d).sum();
        assert_eq!(sum, l.ready, "the phases add up to READY");
        let boot = l.phases[7].1;
        assert!(boot > Duration::from_millis(100), "kernel_boot {boot:?}");
        let get = |n: &str| part(&mem, n);
        let guest_ram = get("guest_ram").unwrap_or(0);
        let vmm = get("vmm").unwrap_or(0);
        assert!(guest_ram > (8 << 20), "guest RAM touched: {guest_ram}");
        assert!(
            vmm > 0 && vmm < guest_ram / 4,
            "the VMM's own memory {vmm} vs guest RAM {guest_ram}"
        );
        assert!(get("page_tables").unwrap_or(0) > 0);
        assert!(get("kvm_page_tables").is_some(), "SecPageTables in the rig");
        tear_down(inst, "vm-linux:process");
        assert_eq!(vmm_children(), Vec::<u32>::new(), "no VMM process left");
    }
}

/// In the rig: `vm-linux:restored`, two guests restored at once from one
/// snapshot: READY in the restore phases, far sooner than the cold boot
/// the snapshot was taken after; every workload answered; memory split into
/// their own pages and their share of the snapshot's; clean teardown.
#[test]
fn in_the_rig_vm_linux_restored_answers_every_workload_and_shares_its_snapshot() {
    let Some(cold) = rig_env("vm-linux:restored") else {
        return;
    };
    let mut env = restored::VmLinuxRestored::new(cold);
    assert_eq!(env.name(), restored::NAME);
    assert!(env.not_attempted().is_none());
    let mut both = Vec::new();
    for round in 0..2 {
        let (inst, l, mem) =
            one_round_as(&mut env, round, &bench_vm::linux::snapshot::RESTORE_PHASES);
        let boot = env
            .notes()
            .into_iter()
            .find(|n| n.contains("cold boot to READY"));
        eprintln!("vm-linux:restored launch {round}: {:?}; {boot:?}", l.phases);
        for name in ["guest_ram_own", "snapshot_pss", "snapshot_rss"] {
            assert!(part(&mem, name).is_some(), "{name} in {mem:?}");
        }
        both.push((inst, mem));
    }
    // Two guests map the snapshot: each is charged about half of its pages.
    let rss = part(&both[0].1, "snapshot_rss").unwrap_or(0);
    let pss = part(&both[1].1, "snapshot_pss").unwrap_or(0);
    assert!(
        rss > (8 << 20) && pss < rss,
        "snapshot pages: rss {rss}, pss {pss}"
    );
    for (inst, _) in both {
        tear_down(inst, "vm-linux:restored");
    }
}

/// This process's children that are VMM processes.
fn vmm_children() -> Vec<u32> {
    crate::procfs::children(std::process::id())
        .into_iter()
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(VMM_SUBCOMMAND)
        })
        .collect()
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn vmm_arguments_round_trip() {
    let a = VmmArgs {
        fd: 7,
        kernel: "/cache/vmlinux".into(),
        workload: "/w/vmvc-workload".into(),
        ram_bytes: RAM_BYTES,
        boot_timeout: Duration::from_millis(30_000),
    };
    let mut args = vec!["7".to_string()];
    args.extend(a.to_args());
    assert_eq!(VmmArgs::parse(&args), Ok(a));
}

#[test]
fn bad_vmm_arguments_are_a_usage_error() {
    let good = ["7", "/k", "/w", "402653184", "30000"];
    assert!(VmmArgs::parse(&strings(&good)).is_ok());
    for bad in [
        &[][..],
        &good[..4],
        &["7", "/k", "/w", "402653184", "30000", "extra"][..],
        &["2", "/k", "/w", "402653184", "30000"][..],
        &["x", "/k", "/w", "402653184", "30000"][..],
        &["7", "/k", "/w", "384M", "30000"][..],
        &["7", "/k", "/w", "402653184", "-1"][..],
    ] {
        let e = VmmArgs::parse(&strings(bad));
        assert!(e.is_err(), "{bad:?} -> {e:?}");
        // Refused before the FD is taken or anything is read.
        assert_eq!(vmm_main(strings(bad).into_iter()), 2, "{bad:?}");
    }
}

/// On a PVM host, vm-linux:process and vm-linux:restored are skipped
/// exactly like vm-linux.
#[test]
fn the_process_mode_is_skipped_where_vm_linux_is() {
    let Some(why) = not_supported_here() else {
        return;
    };
    let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
    let cx = crate::env::Context::plain(&exe);
    let host = crate::host::detect();
    for (name, process) in [
        ("vm-linux", false),
        ("vm-linux:process", true),
        (restored::NAME, false),
    ] {
        let env = if name == restored::NAME {
            restored::from_context(&cx, true)
        } else {
            from_context(&cx, true, process)
        }
        .expect("an unavailable environment");
        assert_eq!(env.name(), name);
        assert_eq!(
            env.unavailable(&host).as_deref(),
            Some(why.as_str()),
            "{name}"
        );
    }
}

#[test]
fn pvm_reason_is_plain_words() {
    if let Some(why) = not_supported_here() {
        assert!(why.contains("PVM") && why.contains("--force"), "{why}");
    }
}

/// On a PVM host, `vmvc run` must not even try vm-linux unless forced.
#[test]
fn a_pvm_host_is_recognised_as_one() {
    let pvm = crate::host::detect().virtualization == reports::Virtualization::Pvm;
    if std::env::var_os("VMVC_RIG").is_none() {
        assert_eq!(pvm, not_supported_here().is_some());
    }
}

/// In the rig: `vmvc shell vm` (the vmvc binary cargo built) with commands
/// piped in, as a student would: the guest answers from its own kernel
/// (its boot id is not the rig's), the shell's exit status comes back, and
/// no VM is left (it lived in that vmvc process only).
#[test]
fn in_the_rig_vmvc_shell_vm_answers_from_the_guests_own_kernel() {
    if std::env::var_os("VMVC_RIG").is_none() {
        eprintln!(
            "SKIPPED vmvc shell vm test: only in the rig (rig/rig.sh), where Linux guests run"
        );
        return;
    }
    let vmvc = std::env::current_exe()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("vmvc")))
        .filter(|p| p.exists())
        .expect("target/release/vmvc beside the test binary (cargo test builds it)");
    let mut child = std::process::Command::new(vmvc)
        .args(["shell", "vm", "-q"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("vmvc runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(b"echo BOOT-ID=$(cat /proc/sys/kernel/random/boot_id); exit 7\n")
            .expect("commands written");
    }
    let out = child.wait_with_output().expect("vmvc ends");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("vmvc shell vm said:\n{text}");
    assert_eq!(out.status.code(), Some(7), "the shell's exit status");
    let ours = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot_id");
    // The echoed command line holds `BOOT-ID=$(`: the answer is the line
    // whose value is a boot id.
    let guest = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("BOOT-ID="))
        .find(|v| v.len() == 36)
        .unwrap_or_else(|| panic!("no boot id from the guest in:\n{text}"));
    assert_ne!(guest, ours.trim(), "the guest's kernel booted on its own");
}

/// In the rig (rig.sh copies strace in with harness's tests): `vmvc trace
/// vm-linux` narrates one Linux guest's launch: the KVM set-up ioctls, the
/// guest kernel's boot as streaks of KVM_RUN exits, READY, the teardown.
#[test]
fn in_the_rig_vmvc_trace_vm_linux_narrates_the_boot() {
    if std::env::var_os("VMVC_RIG").is_none() {
        eprintln!("SKIPPED vmvc trace vm-linux test: only in the rig (rig/rig.sh), where Linux guests run");
        return;
    }
    let vmvc = std::env::current_exe()
        .ok()
        .and_then(|t| Some(t.parent()?.parent()?.join("vmvc")))
        .filter(|p| p.exists())
        .expect("target/release/vmvc beside the test binary (cargo test builds it)");
    let out = std::process::Command::new(vmvc)
        .args(["trace", "vm-linux"])
        .output()
        .expect("vmvc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vmvc trace vm-linux: {err}");
    eprintln!("vmvc trace vm-linux: {} lines", text.lines().count());
    let mut at = 0;
    for needle in [
        "KVM_CREATE_VM",
        "KVM_CREATE_IRQCHIP",
        "KVM_SET_USER_MEMORY_REGION",
        "KVM_CREATE_VCPU",
        "KVM_SET_REGS",
        "KVM_RUN",
        "in a row",
        "READY",
        "closes the VM",
        "torn down",
    ] {
        let found = text[at..].find(needle);
        at += found.unwrap_or_else(|| panic!("{needle:?} missing or out of order in:\n{text}"));
    }
}
