//! Two `vmvc run`s at once, with the real binary: both succeed, neither
//! touches the other's resources (the second starts while the first has
//! cgroups, temp dirs and processes live, and its clean-up of dead runs'
//! leftovers must leave them alone), and each results.json names the other
//! run as disturbing its timings. Needs root (containers, peers).

#[path = "common/vmvc.rs"]
mod vmvc;

use std::time::{Duration, Instant};
use vmvc::{root_or_skip, Bg};

const ENVS: &str = "container:full,container:chroot,peer:crun,vm-bare:process";
const RUN_LIMIT: Duration = Duration::from_secs(600);

#[test]
fn two_runs_at_once_both_succeed_untouched_and_say_so() {
    if !root_or_skip("two_runs_at_once_both_succeed_untouched_and_say_so") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = Bg::run(ENVS, &dir.path().join("a"), &[]);
    // Wait until the first run holds cgroups of its own.
    let deadline = Instant::now() + Duration::from_secs(120);
    let held = loop {
        let c = a.census();
        if c.count(harness::leftovers::scan::Kind::Cgroup) > 0 || Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!("run A (pid {}) holds {held} when B starts", a.owner.pid);
    assert!(
        held.total() > 0,
        "run A never held anything: {}",
        a.stderr()
    );
    let mut b = Bg::run(ENVS, &dir.path().join("b"), &[]);
    let (sa, sb) = (a.wait(RUN_LIMIT), b.wait(RUN_LIMIT));
    assert!(sa.success(), "run A: {}", a.stderr());
    assert!(sb.success(), "run B: {}", b.stderr());
    for (run, other) in [(&a, &b), (&b, &a)] {
        let cleaned = format!("killed run (pid {})", other.owner.pid);
        assert!(
            !run.stderr().contains(&cleaned),
            "run {} cleaned up a live run: {}",
            run.owner.pid,
            run.stderr()
        );
        let r = run.results().expect("results.json");
        assert!(
            r.environments.iter().all(|e| !e
                .skipped
                .as_deref()
                .unwrap_or("")
                .starts_with("measurement failed")),
            "every row measured (or unavailable here): {:?}",
            r.environments
                .iter()
                .map(|e| (&e.name, &e.skipped))
                .collect::<Vec<_>>()
        );
        assert!(
            r.concurrent_runs.iter().any(|c| c.pid == other.owner.pid),
            "run {} does not name run {} as concurrent: {:?}",
            run.owner.pid,
            other.owner.pid,
            r.concurrent_runs
        );
        assert!(
            run.stdout()
                .contains("other vmvc run(s) measured on this host"),
            "the table warns: {}",
            run.stdout()
        );
        let left = run.census();
        assert_eq!(left.total(), 0, "left {left}: {:?}", left.found);
    }
}
