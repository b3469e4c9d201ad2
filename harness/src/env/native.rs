//! `native`: the workload as a plain child process (fork + exec), the baseline.
//!
//! Every other row is measured against this one: the same static binary,
//! started with `fork(2)` + `execve(2)` (std's `Command::spawn`), its socket
//! inherited as a plain fd. No namespace, no cgroup, no VM: what is left is
//! what any process costs, its proportional set size and page tables
//! (proc(5), `/proc/PID/smaps_rollup` and `VmPTE`).

use super::channel::Channel;
use super::child::ChildProc;
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use crate::procfs;
use anyhow::Context;
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// How long a launch may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Native {
    exe: PathBuf,
}

impl Native {
    pub fn new(exe: PathBuf) -> Native {
        Native { exe }
    }
}

impl Environment for Native {
    fn name(&self) -> String {
        "native".into()
    }
    fn description(&self) -> String {
        "A plain child process (fork + exec of the static workload binary): the baseline.".into()
    }
    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some("host kernel (getppid)".into()),
            Workload::Boundary => Some("socket round trip through the host kernel".into()),
            _ => None,
        }
    }
    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let t0 = Instant::now();
        let (chan, theirs) = Channel::pair()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&theirs);
        // From here on, dropping `proc` kills the child on every error path.
        let mut proc = ChildProc::new(chan);
        let spawned = proc
            .spawn(
                Proc::new(&self.exe)
                    .arg(fd.to_string())
                    .stdin(Stdio::null()),
                theirs,
            )
            .with_context(|| format!("starting {}", self.exe.display()))?;
        proc.chan.wait_ready(READY_TIMEOUT)?;
        let ready = Instant::now();
        Ok(Box::new(NativeInstance {
            proc,
            launch: Launch::from_marks(t0, &[("fork_exec", spawned), ("workload_start", ready)]),
        }))
    }
}

pub struct NativeInstance {
    proc: ChildProc,
    launch: Launch,
}

impl Instance for NativeInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }
    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.proc.chan.request(cmd, timeout)
    }
    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let pid = self.proc.pid().context("process already reaped")?;
        procfs::process_parts(pid)
    }
    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        self.proc
            .exit(READY_TIMEOUT, "the workload", "the workload")?;
        Ok(start.elapsed())
    }
}
