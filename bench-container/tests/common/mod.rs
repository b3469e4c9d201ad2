//! Shared by the integration tests: root check, the two static programs,
//! a minimal workload channel and leak checks.
#![allow(dead_code)]

use bench_container::{Container, Exit, Profile, Rootfs, RootfsBuilder, Runtime, Spec};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workload::protocol::{Command, Decoder, Message};

/// True when root. Otherwise prints a loud SKIP and returns false, or fails
/// when `VMVC_REQUIRE_ROOT=1` (CI).
pub fn root_or_skip(test: &str) -> bool {
    if bench_container::is_root() {
        return true;
    }
    if std::env::var("VMVC_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root, and VMVC_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("\n*** SKIP {test}: needs root (namespaces, mounts, cgroups); run as root to test for real ***\n");
    false
}

/// True when NOT root and user namespaces work: the rootless tests run as
/// a normal user (scripts/rootless.sh runs them as one when the suite runs
/// as root). As root they print a loud SKIP. A normal user without user
/// namespaces skips loudly too, or fails when `VMVC_REQUIRE_ROOTLESS=1`.
pub fn normal_user_or_skip(test: &str) -> bool {
    if bench_container::is_root() {
        eprintln!(
            "\n*** SKIP {test}: a rootless test, run as root; scripts/rootless.sh runs it as a normal user ***\n"
        );
        return false;
    }
    match bench_container::userns::probe() {
        Ok(()) => true,
        Err(why) if std::env::var("VMVC_REQUIRE_ROOTLESS").as_deref() == Ok("1") => {
            panic!("{test}: VMVC_REQUIRE_ROOTLESS=1 but {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIP {test}: {why} ***\n");
            false
        }
    }
}

/// The workload binary: `VMVC_WORKLOAD_EXE` at run time (for a guest rig),
/// else the one build.rs made.
pub fn workload_exe() -> PathBuf {
    std::env::var_os("VMVC_WORKLOAD_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("VMVC_WORKLOAD_EXE").into())
}

pub fn probe_exe() -> PathBuf {
    std::env::var_os("VMVC_PROBE_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("VMVC_PROBE_EXE").into())
}

/// A rootfs with `/vmvc-workload` and `/probe`.
pub fn rootfs() -> Arc<Rootfs> {
    Arc::new(
        RootfsBuilder::new()
            .file(workload_exe(), "/vmvc-workload")
            .file(probe_exe(), "/probe")
            .build()
            .expect("assembling the test rootfs"),
    )
}

/// Runs the probe with `args` to the end; returns its stdout and exit.
pub fn probe(
    rt: &Runtime,
    rootfs: &Arc<Rootfs>,
    name: &str,
    profile: Profile,
    args: &[&str],
) -> (String, Exit) {
    let mut spec = Spec::new(name, profile, rootfs.clone(), "/probe");
    spec.args = args.iter().map(|s| s.to_string()).collect();
    probe_spec(rt, spec)
}

pub fn probe_spec(rt: &Runtime, mut spec: Spec) -> (String, Exit) {
    let (mut r, w) = UnixStream::pair().expect("socketpair");
    spec.stdout = Some(w.as_raw_fd());
    let c = rt.spawn(&spec).expect("spawning the probe");
    drop(w);
    let mut out = String::new();
    r.read_to_string(&mut out).expect("reading probe output");
    let t = c.teardown(Duration::from_secs(10)).expect("teardown");
    (out, t.exit)
}

/// The launcher's end of a workload socket (a minimal Channel).
pub struct Chan {
    sock: UnixStream,
    dec: Decoder,
}

impl Chan {
    pub fn new(sock: UnixStream) -> Chan {
        Chan {
            sock,
            dec: Decoder::new(),
        }
    }

    pub fn recv(&mut self) -> Option<Message> {
        self.sock
            .set_read_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        let mut b = [0u8; 1];
        loop {
            if self.sock.read(&mut b).ok()? == 0 {
                return None;
            }
            match self.dec.push(b[0]) {
                Ok(Some(Message::Ping)) => self.send(Command::Pong),
                Ok(Some(m)) => return Some(m),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }

    pub fn send(&mut self, c: Command) {
        let _ = self.sock.write_all(c.encode().as_bytes());
    }

    pub fn request(&mut self, c: Command) -> Option<Message> {
        self.send(c);
        self.recv()
    }
}

/// Starts the workload in `spec` (exe and args are set here) and waits for READY.
pub fn start_workload(rt: &Runtime, mut spec: Spec) -> (Container, Chan) {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    let fd = theirs.as_raw_fd();
    spec.exe = "/vmvc-workload".into();
    spec.args = vec![fd.to_string()];
    spec.keep_fds = vec![fd];
    let c = rt.spawn(&spec).expect("spawning the workload");
    drop(theirs);
    let mut chan = Chan {
        sock: ours,
        dec: Decoder::new(),
    };
    assert_eq!(chan.recv(), Some(Message::Ready), "workload READY");
    (c, chan)
}

/// Is the process `pid` (with the start time seen before) gone?
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie of someone else's is still "there"; ours are reaped.
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
    }
}

/// Host mounts whose line mentions `needle`.
pub fn host_mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

// ---------------------------------------------------------------------------
// cgroup checks, shared by the v1/hybrid run (tests/cgroups.rs) and the v2
// run in a guest (tests/cgroup_v2.rs).

use bench_container::{CpuQuota, Limits};

/// Limits are written, usage reads back sensibly, the memory split adds up.
pub fn check_limits_and_usage(rt: &Runtime, tag: &str) {
    let fs = rootfs();
    let limits = Limits {
        memory_bytes: Some(256 << 20),
        pids_max: Some(16),
        cpu: Some(CpuQuota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
    };
    let spec = Spec::new(&format!("{tag}-usage"), Profile::Full, fs.clone(), "/x").limits(limits);
    let (c, mut chan) = start_workload(rt, spec);
    let held = 32u64 << 20;
    assert_eq!(
        chan.request(Command::Hold { bytes: held }),
        Some(Message::Held { bytes: held })
    );
    let cg = c.cgroup().expect("full has a cgroup");
    let u = cg.usage().expect("usage");
    assert!(
        u.memory_current >= held,
        "charge {} covers the {held} bytes held",
        u.memory_current
    );
    assert!(u.memory_current < 256 << 20);
    assert_eq!(u.pids_current, 1);
    assert_eq!(u.oom_kills, 0);
    let split = u.charge_split();
    assert!(split.anon >= held, "held memory is anonymous: {split:?}");
    let m = c.memory().expect("memory report");
    assert!(m.workload.pss_anon >= held && m.total() >= m.workload.pss_anon);
    // The limit files say what we asked.
    let read = |f: &str| -> String {
        cg.dirs()
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join(f)).ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    if cg.is_v2() {
        assert_eq!(read("memory.max"), (256u64 << 20).to_string());
        assert_eq!(read("pids.max"), "16");
        assert_eq!(read("cpu.max"), "50000 100000");
    } else {
        assert_eq!(read("memory.limit_in_bytes"), (256u64 << 20).to_string());
        assert_eq!(read("pids.max"), "16");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
    }
    let dirs = cg.dirs().to_vec();
    assert_eq!(chan.request(Command::Exit), Some(Message::Done));
    let t = c.teardown(Duration::from_secs(10)).expect("teardown");
    assert_eq!(t.exit, Exit::Code(0));
    assert!(dirs.iter().all(|d| !d.exists()), "cgroup removed: {dirs:?}");
}

/// Holding more than the memory limit ends in an OOM kill, reported as such.
pub fn check_oom_kill(rt: &Runtime, tag: &str, profile: Profile) {
    let fs = rootfs();
    let limits = Limits {
        memory_bytes: Some(32 << 20),
        ..Limits::default()
    };
    let spec = Spec::new(
        &format!("{tag}-oom-{}", profile.name().replace('+', "-")),
        profile,
        fs,
        "/x",
    )
    .limits(limits);
    let (mut c, mut chan) = start_workload(rt, spec);
    // 128 MiB against a 32 MiB limit: the OOM killer, not a clean answer.
    let reply = chan.request(Command::Hold { bytes: 128 << 20 });
    assert_eq!(reply, None, "the workload dies instead of answering");
    let exit = c.wait().expect("wait");
    assert_eq!(exit, Exit::OomKilled);
    let t = c.teardown(Duration::from_secs(5)).expect("teardown");
    assert_eq!(t.exit, Exit::OomKilled);
}

/// A fork bomb stops at pids.max.
pub fn check_pids_limit(rt: &Runtime, tag: &str, profile: Profile) {
    let fs = rootfs();
    let mut spec = Spec::new(
        &format!("{tag}-pids-{}", profile.name().replace('+', "-")),
        profile,
        fs,
        "/probe",
    );
    spec.args = vec!["forkbomb".into(), "200".into()];
    spec.limits = Limits {
        pids_max: Some(8),
        ..Limits::default()
    };
    let (mut r, w) = UnixStream::pair().expect("socketpair");
    spec.stdout = Some(w.as_raw_fd());
    let mut c = rt.spawn(&spec).expect("spawn");
    drop(w);
    let mut line = String::new();
    // Children of the bomb hold stdout open: read the one line, not to EOF.
    let mut b = [0u8; 1];
    while r.read(&mut b).map(|n| n == 1).unwrap_or(false) && b[0] != b'\n' {
        line.push(b[0] as char);
    }
    assert_eq!(
        c.wait_timeout(Duration::from_secs(10)).expect("wait"),
        Some(Exit::Code(0))
    );
    let cg = c.cgroup().expect("a cgroup");
    let hits = cg.usage().expect("usage").pids_max_hits;
    // The bomb itself is one of the 8: 7 children, then EAGAIN (11).
    assert_eq!(line, "spawned 7 failed 11", "pids.max stopped the bomb");
    assert!(hits >= 1, "pids.events counts the refusal");
    let dirs = cg.dirs().to_vec();
    c.teardown(Duration::ZERO)
        .expect("teardown kills the sleeping children");
    assert!(dirs.iter().all(|d| !d.exists()));
}

/// Container cgroups still inside the runtime's directories.
pub fn cgroups_left(rt: &Runtime) -> Vec<PathBuf> {
    rt.cgroup_dirs()
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect()
}

/// Our open file descriptors.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
