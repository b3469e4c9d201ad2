//! A zygote for real: set up once in its namespaces and cgroup, it forks
//! workloads that answer the protocol, reaps them, and leaves nothing behind.

mod common;

use bench_container::zygote::CHILD_FD;
use bench_container::{Profile, Runtime, Spec};
use common::{gone, root_or_skip, rootfs, Chan};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use workload::protocol::{Command, Message};

#[test]
fn a_zygote_forks_workloads_that_share_its_container() {
    if !root_or_skip("a_zygote_forks_workloads_that_share_its_container") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let spec = Spec::new("zygote-test", Profile::Full, rootfs(), "/vmvc-workload")
        .arg(CHILD_FD.to_string());
    let zygote = rt.spawn_zygote(spec).expect("spawning the zygote");
    let zygote_pid = zygote.container().pid();
    let ns = |pid: u32, kind: &str| std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok();

    let mut host_pids = Vec::new();
    for round in 0..3 {
        let (ours, theirs) = UnixStream::pair().expect("socketpair");
        let child = zygote.fork(theirs.as_fd()).expect("fork");
        drop(theirs);
        let mut chan = Chan::new(ours);
        assert_eq!(chan.recv(), Some(Message::Ready), "round {round}: READY");
        // PID 1 is the zygote: its children count from 2.
        assert!(child.ns_pid >= 2, "{child:?}");
        let host = child.host_pid.expect("the child's host pid");
        // The child is in the zygote's namespaces, not the launcher's.
        for kind in ["pid", "mnt", "net", "uts", "ipc"] {
            assert_eq!(ns(host, kind), ns(zygote_pid, kind), "{kind}");
            assert_ne!(ns(host, kind), ns(std::process::id(), kind), "{kind}");
        }
        match chan.request(Command::Hold { bytes: 1 << 20 }) {
            Some(Message::Held { .. }) => {}
            other => panic!("round {round}: {other:?}"),
        }
        assert_eq!(chan.request(Command::Exit), Some(Message::Done));
        let status = zygote.wait(&child).expect("wait");
        assert_eq!(status, 0, "round {round}: exit status");
        host_pids.push(host);
    }
    assert!(host_pids.iter().all(|p| gone(*p)));
    drop(zygote);
    assert!(gone(zygote_pid), "the zygote is gone with its handle");
}
