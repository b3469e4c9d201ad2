//! Nothing is left after many launches (its own test binary: it counts our
//! file descriptors, which parallel tests would disturb).
mod common;

use bench_container::{Exit, Profile, Runtime, Spec};
use common::*;
use std::time::Duration;
use workload::protocol::{Command, Message};

#[test]
fn nothing_left_after_200_launches() {
    if !root_or_skip("nothing_left_after_200_launches") {
        return;
    }
    let fds_before = open_fds();
    let mounts_before = host_mounts_with("").len();
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    let root = fs.root().to_owned();
    let mut pids = Vec::new();
    for i in 0..200 {
        let profile = Profile::ALL[i % 3];
        let spec = Spec::new(&format!("many-{i}"), profile, fs.clone(), "/x");
        let (c, mut chan) = start_workload(&rt, spec);
        pids.push(c.pid());
        if i % 2 == 0 {
            // The polite way: EXIT, DONE, teardown.
            assert_eq!(chan.request(Command::Exit), Some(Message::Done));
            assert_eq!(
                c.teardown(Duration::from_secs(5)).expect("teardown").exit,
                Exit::Code(0)
            );
        } else {
            // The abrupt way: drop (kill, reap, remove).
            drop(c);
        }
    }
    assert!(
        cgroups_left(&rt).is_empty(),
        "cgroups left: {:?}",
        cgroups_left(&rt)
    );
    assert!(
        pids.iter().all(|&p| gone(p)),
        "a container process survived"
    );
    assert!(host_mounts_with(root.to_str().expect("utf-8")).is_empty());
    assert_eq!(
        host_mounts_with("").len(),
        mounts_before,
        "host mount table unchanged"
    );
    let runtime_dirs = rt.cgroup_dirs().to_vec();
    drop(fs);
    drop(rt);
    assert!(!root.exists(), "rootfs temp dir removed");
    assert!(
        runtime_dirs.iter().all(|d| !d.exists()),
        "runtime cgroup dirs removed"
    );
    assert_eq!(open_fds(), fds_before, "no descriptor leaked");
}
