//! `native`: the workload as a plain child process (fork + exec), the baseline.

use super::channel::Channel;
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use crate::procfs;
use anyhow::Context;
use std::path::PathBuf;
use std::process::{Child, Command as Proc, Stdio};
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
        let child = Proc::new(&self.exe)
            .arg(fd.to_string())
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", self.exe.display()))?;
        // std's spawn returns once exec succeeded (it waits on a close-on-exec pipe).
        let spawned = Instant::now();
        drop(theirs);
        // From here on, Drop kills the child on every error path.
        let mut inst = NativeInstance {
            child: Some(child),
            chan,
            launch: Launch::from_marks(t0, &[]),
        };
        inst.chan.wait_ready(READY_TIMEOUT)?;
        let ready = Instant::now();
        inst.launch = Launch::from_marks(t0, &[("fork_exec", spawned), ("workload_start", ready)]);
        Ok(Box::new(inst))
    }
}

pub struct NativeInstance {
    child: Option<Child>,
    chan: Channel,
    launch: Launch,
}

impl Instance for NativeInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }
    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.chan.request(cmd, timeout)
    }
    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let pid = self
            .child
            .as_ref()
            .map(|c| c.id())
            .context("process already reaped")?;
        procfs::process_parts(pid)
    }
    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let reply = self.chan.request(Command::Exit, READY_TIMEOUT);
        if let Some(mut child) = self.child.take() {
            if reply.is_err() {
                let _ = child.kill();
            }
            child.wait().context("reaping the workload")?;
        }
        match reply? {
            Message::Done => Ok(start.elapsed()),
            other => anyhow::bail!("expected DONE from the workload, got {other:?}"),
        }
    }
}

impl Drop for NativeInstance {
    fn drop(&mut self) {
        // Error and panic paths: never leave a workload process behind.
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
