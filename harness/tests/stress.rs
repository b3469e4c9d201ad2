//! `vmvc stress --launches 1000`, the size (~1 min here): launches
//! round robin over every environment this host runs, a fifth of them with
//! a fault (SIGKILL of the instance's processes or its VMM at a random
//! point, OOM in a memory-limited container), and a leftover census every
//! 100 launches: 0 of every kind, and no clean launch failing.
//! `VMVC_STRESS_LAUNCHES=N` changes the size; by hand it is
//! `sudo target/release/vmvc stress --launches 1000` (docs/hardening.md).

#[path = "common/vmvc.rs"]
mod vmvc;

use std::time::Duration;
use vmvc::{root_or_skip, Bg};

#[test]
fn stress_with_faults_leaves_nothing() {
    if !root_or_skip("stress_with_faults_leaves_nothing") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let launches = std::env::var("VMVC_STRESS_LAUNCHES").unwrap_or_else(|_| "1000".into());
    let mut run = Bg::start(
        &["stress", "--launches", &launches, "--check-every", "100"],
        &dir.path().join("stress"),
    );
    let status = run.wait(Duration::from_secs(900));
    let out = run.stdout();
    eprintln!("{out}{}", run.stderr());
    assert!(status.success(), "{out}{}", run.stderr());
    assert!(out.contains("clean launches that failed: 0"), "{out}");
    assert!(
        out.contains(
            "0 processes, 0 VM fds, 0 cgroups, 0 mounts, 0 network namespaces, 0 temp dirs, \
             0 OCI state dirs, 0 run files"
        ),
        "{out}"
    );
    assert!(!out.contains("faults injected: 0"), "{out}");
    let left = run.census();
    assert_eq!(left.total(), 0, "left {left}: {:?}", left.found);
}

#[test]
fn a_fault_rate_outside_0_to_1_is_refused() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["stress", "--launches", "1", "--fault-rate", "2"])
        .output()
        .expect("vmvc");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--fault-rate 2 is not between 0 and 1"),
        "{err}"
    );
}
