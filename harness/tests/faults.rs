//! Fault injection into the whole harness, with the real `vmvc` binary:
//! SIGINT, SIGTERM and SIGKILL at random points of `vmvc run`, repeated;
//! after each, what the run owns on the host is counted ([`census`]) and
//! must be nothing, at once for SIGINT and SIGTERM, and after the next run
//! for SIGKILL (which the next run must say it cleaned). Then faults in
//! workloads: an OOM in a memory-limited container, a crashing and a
//! hanging peer. Needs root (containers, peers) and KVM for the VM rows;
//! vmvc skips a row it cannot run and says why.

#[path = "common/vmvc.rs"]
mod vmvc;

use harness::env::Environment;
use harness::leftovers::{census, Scope};
use nix::sys::signal::Signal;
use std::time::Duration;
use vmvc::{root_or_skip, Bg, ENVS};
use workload::protocol::{Command, Message, Workload};

/// How long a signalled run may take to stop: a hang check, generous for a
/// loaded 2-core machine (a launch in flight finishes first).
const STOP_LIMIT: Duration = Duration::from_secs(60);
/// How long a whole `--quick` run of [`ENVS`] may take before it is a hang.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// A random delay into a run: from just after start to well into the
/// environments (a quick run of ENVS takes ~30 s here, native first).
fn random_delay(rng: &mut fastrand::Rng) -> Duration {
    Duration::from_millis(rng.u64(100..12_000))
}

#[test]
fn sigint_sigterm_and_sigkill_at_random_points_leave_nothing() {
    if !root_or_skip("sigint_sigterm_and_sigkill_at_random_points_leave_nothing") {
        return;
    }
    let seed = fastrand::u64(..);
    eprintln!("seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut n = 0;
    let mut kills_cleaned = 0;
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL] {
        for _ in 0..3 {
            n += 1;
            let delay = random_delay(&mut rng);
            let mut run = Bg::run(ENVS, &dir.path().join(format!("run{n}")), &[]);
            std::thread::sleep(delay);
            run.signal(sig);
            let status = run.wait(STOP_LIMIT);
            let what = format!("{sig} after {delay:?} (run {n}, pid {})", run.owner.pid);
            eprintln!("{what}: {status}");
            if sig == Signal::SIGKILL {
                kills_cleaned += after_sigkill(&run, &dir.path().join(format!("next{n}")), &what);
                continue;
            }
            if status.success() {
                eprintln!("{what}: the run had finished before the signal");
                continue;
            }
            let code = 128 + sig as i32;
            assert_eq!(status.code(), Some(code), "{what}: {}", run.stderr());
            let name = format!("interrupted by {}", sig.as_str());
            assert!(run.stderr().contains(&name), "{what}: {}", run.stderr());
            assert!(
                !run.out.join("results.json").exists(),
                "{what}: nothing written half"
            );
            let left = run.census();
            assert_eq!(left.total(), 0, "{what}: left {left}: {:?}", left.found);
        }
    }
    assert!(kills_cleaned > 0, "no SIGKILLed run left anything to clean");
}

/// After a SIGKILL: the next run removes what the killed one left and says
/// so; then nothing of it is left. Returns 1 if there was something to clean.
fn after_sigkill(killed: &Bg, out: &std::path::Path, what: &str) -> usize {
    let left = killed.census();
    eprintln!("{what}: left {left}");
    let mut next = Bg::run("native", out, &[]);
    let status = next.wait(RUN_LIMIT);
    assert!(status.success(), "the run after {what}: {}", next.stderr());
    let line = format!(
        "cleaned leftovers of a killed run (pid {})",
        killed.owner.pid
    );
    if left.total() > 0 {
        assert!(
            next.stderr().contains(&line),
            "the run after {what} does not say it cleaned {left}: {}",
            next.stderr()
        );
    }
    let now = killed.census();
    assert_eq!(now.total(), 0, "{what}: still left {now}: {:?}", now.found);
    usize::from(left.total() > 0)
}

#[test]
fn a_crashing_and_a_hanging_peer_fail_their_rows_only() {
    if !root_or_skip("a_crashing_and_a_hanging_peer_fail_their_rows_only") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("script");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&p, mode).expect("chmod");
        p.to_string_lossy().into_owned()
    };
    let crash = script("crash", "kill -SEGV $$");
    let hang = script("hang", "exec sleep 600");
    let mut run = Bg::run(
        "container:full,peer:firecracker,peer:cloud-hypervisor",
        &dir.path().join("out"),
        &["--firecracker", &crash, "--cloud-hypervisor", &hang],
    );
    let status = run.wait(RUN_LIMIT);
    let err = run.stderr();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("measurement failed for: peer:firecracker, peer:cloud-hypervisor"),
        "{err}"
    );
    let r = run.results().expect("results.json is written");
    let row = |name: &str| {
        r.environments
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("row {name}"))
    };
    assert!(
        row("container:full").startup.is_some(),
        "the others are measured"
    );
    let crashed = row("peer:firecracker").skipped.clone().unwrap_or_default();
    assert!(crashed.contains("closed its channel"), "{crashed}");
    let hung = row("peer:cloud-hypervisor")
        .skipped
        .clone()
        .unwrap_or_default();
    assert!(hung.contains("timed out"), "{hung}");
    let left = run.census();
    assert_eq!(left.total(), 0, "left {left}: {:?}", left.found);
}

#[test]
fn oom_in_a_container_is_a_clear_error_and_leaves_nothing() {
    if !root_or_skip("oom_in_a_container_is_a_clear_error_and_leaves_nothing") {
        return;
    }
    let me = bench_container::owner::Owner::current();
    {
        let exe = harness::workload_exe::WorkloadExe::install().expect("workload");
        let path = exe.path().to_owned();
        let mut limited = harness::env::container::ContainerEnv::new("full", path.clone())
            .expect("env")
            .with_memory_limit(32 << 20);
        let mut inst = limited.launch().expect("launch");
        let err = match inst.request(Command::Hold { bytes: 96 << 20 }, Duration::from_secs(30)) {
            Ok(m) => panic!("held 96 MiB in 32 MiB: {m:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("OOM killer"), "{err}");
        assert!(inst.teardown().is_err(), "the workload is gone");
        // Another container of the same run is still measured.
        let mut other = harness::env::container::ContainerEnv::new("full", path).expect("env");
        let mut inst = other.launch().expect("launch after an OOM");
        let cmd = Command::Run {
            workload: Workload::Cpu as u8,
            size: 0,
            iterations: 1000,
        };
        assert!(matches!(
            inst.request(cmd, Duration::from_secs(30)),
            Ok(Message::Result { .. })
        ));
        inst.teardown().expect("teardown");
    }
    let left = census(Scope::Run(me));
    assert_eq!(left.total(), 0, "left {left}: {:?}", left.found);
}
