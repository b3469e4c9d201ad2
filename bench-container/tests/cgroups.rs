//! Cgroup limits on whatever this host has (v1, hybrid or v2).
mod common;

use bench_container::{Profile, Runtime};
use common::*;

#[test]
fn limits_are_written_and_usage_reads_back() {
    if !root_or_skip("limits_are_written_and_usage_reads_back") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    eprintln!("cgroups: {}", rt.layout().expect("layout").describe());
    check_limits_and_usage(&rt, "cg");
}

#[test]
fn memory_limit_below_working_set_is_an_oom_kill() {
    if !root_or_skip("memory_limit_below_working_set_is_an_oom_kill") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    check_oom_kill(&rt, "cg", Profile::Full);
    check_oom_kill(&rt, "cg", Profile::ChrootCgroup);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !root_or_skip("pids_limit_stops_a_fork_bomb") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    check_pids_limit(&rt, "cg", Profile::Full);
    check_pids_limit(&rt, "cg", Profile::ChrootCgroup);
}
