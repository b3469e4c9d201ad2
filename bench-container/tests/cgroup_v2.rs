//! cgroup v2 for real: the same checks as tests/cgroups.rs plus the
//! v2-only parts (CLONE_INTO_CGROUP, cgroup.kill, subtree_control), run
//! only where cgroup2 is the hierarchy with the memory, pids and cpu
//! controllers. This host (hybrid, controllers in v1) skips loudly; a Linux
//! guest that mounts cgroup2 with every controller runs them (see README.md,
//! "cgroup v2 in a guest"). `VMVC_REQUIRE_CGROUP2=1` turns the skip into a
//! failure.
mod common;

use bench_container::{Layout, Profile, Runtime};
use common::*;

/// The v2 layout, or a loud skip (or a failure when v2 is required).
fn v2_or_skip(test: &str) -> Option<Layout> {
    if !root_or_skip(test) {
        return None;
    }
    let required = std::env::var("VMVC_REQUIRE_CGROUP2").as_deref() == Ok("1");
    let layout = Layout::detect();
    let why = match &layout {
        Ok(Layout::V2 { root }) => {
            let controllers =
                std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            if controllers.split_whitespace().any(|c| c == "cpu") {
                return layout.ok();
            }
            format!(
                "cgroup2 at {} lacks the cpu controller ({controllers:?})",
                root.display()
            )
        }
        Ok(other) => format!(
            "this host's controllers are not on cgroup2: {}",
            other.describe()
        ),
        Err(e) => e.to_string(),
    };
    if required {
        panic!("{test}: VMVC_REQUIRE_CGROUP2=1 but {why}");
    }
    eprintln!("\n*** SKIP {test}: {why}; run in a guest with cgroup2 (README.md) ***\n");
    None
}

#[test]
fn v2_limits_usage_and_removal() {
    let Some(layout) = v2_or_skip("v2_limits_usage_and_removal") else {
        return;
    };
    let rt = Runtime::with_layout(layout).expect("runtime on cgroup2");
    // Our parent hands the controllers down (subtree_control).
    for dir in rt.cgroup_dirs() {
        let enabled =
            std::fs::read_to_string(dir.join("cgroup.subtree_control")).expect("subtree_control");
        for c in ["memory", "pids", "cpu"] {
            assert!(
                enabled.split_whitespace().any(|x| x == c),
                "{c} enabled in {}",
                dir.display()
            );
        }
    }
    check_limits_and_usage(&rt, "v2");
    assert!(cgroups_left(&rt).is_empty());
}

#[test]
fn v2_clone_into_cgroup_places_the_child_directly() {
    let Some(layout) = v2_or_skip("v2_clone_into_cgroup") else {
        return;
    };
    let rt = Runtime::with_layout(layout).expect("runtime on cgroup2");
    let fs = rootfs();
    let spec = bench_container::Spec::new("v2-into", Profile::Full, fs, "/probe").arg("sleep");
    let c = rt.spawn(&spec).expect("spawn");
    let cg = c.cgroup().expect("cgroup");
    assert!(cg.is_v2());
    assert_eq!(cg.members(), vec![c.pid() as i32]);
    let own =
        std::fs::read_to_string(format!("/proc/{}/cgroup", c.pid())).expect("/proc/PID/cgroup");
    assert!(
        own.trim().starts_with("0::/") && own.trim().ends_with("/v2-into"),
        "{own}"
    );
    let dirs = cg.dirs().to_vec();
    // cgroup.kill does the teardown.
    c.teardown(std::time::Duration::ZERO).expect("teardown");
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn v2_oom_kill_is_reported() {
    let Some(layout) = v2_or_skip("v2_oom_kill_is_reported") else {
        return;
    };
    let rt = Runtime::with_layout(layout).expect("runtime on cgroup2");
    check_oom_kill(&rt, "v2", Profile::Full);
    check_oom_kill(&rt, "v2", Profile::ChrootCgroup);
}

#[test]
fn v2_pids_limit_stops_a_fork_bomb() {
    let Some(layout) = v2_or_skip("v2_pids_limit_stops_a_fork_bomb") else {
        return;
    };
    let rt = Runtime::with_layout(layout).expect("runtime on cgroup2");
    check_pids_limit(&rt, "v2", Profile::Full);
    check_pids_limit(&rt, "v2", Profile::ChrootCgroup);
}

#[test]
fn v2_leftovers_of_a_dead_owner_are_removed() {
    let Some(layout) = v2_or_skip("v2_leftovers_of_a_dead_owner_are_removed") else {
        return;
    };
    let Layout::V2 { root } = &layout else {
        return;
    };
    // A runtime directory whose owner (pid 999999999, never a live pid) is
    // dead, with a container cgroup inside: what a killed launcher leaves.
    let parent = root.join(bench_container::cgroup::PARENT);
    std::fs::create_dir_all(&parent).expect("vmvc parent");
    let dead = parent.join("999999999-1-0");
    std::fs::create_dir_all(dead.join("left")).expect("leftover");
    // Not ours (no owner tag): must be kept.
    let foreign = parent.join("not-ours");
    std::fs::create_dir_all(&foreign).expect("foreign dir");
    let rt = Runtime::with_layout(layout.clone()).expect("runtime");
    assert!(!dead.exists(), "dead owner's cgroups removed");
    assert!(foreign.exists(), "entries without our tag are left alone");
    let _ = std::fs::remove_dir(&foreign);
    drop(rt);
}
