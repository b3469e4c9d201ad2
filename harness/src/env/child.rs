//! A child process the launcher drives through a [`Channel`]: the workload
//! itself (`native`), a container tool with the workload below it (the
//! peers), or a VMM process with the guest inside (`vm-bare:process`,
//! `vm-linux:process`).
//!
//! The child inherits one end of a `socketpair(2)` as a plain fd number; the
//! launcher keeps the other end. `spawn` returns once `execve(2)` succeeded:
//! std's `Command::spawn` waits on a close-on-exec pipe, so a missing or
//! unrunnable binary is an error at once, not a READY that never comes.
//! A [`ChildProc`] owns its child: dropping it kills and reaps the process
//! (`kill(2)`, `waitpid(2)`), so no process outlives its instance on an
//! error or panic path.

use super::channel::{self, Channel};
use anyhow::Context;
use std::os::fd::OwnedFd;
use std::process::{Child, Command as Proc, ExitStatus};
use std::time::{Duration, Instant};
use workload::protocol::Command;

/// A child process and the launcher's end of its channel.
pub struct ChildProc {
    child: Option<Child>,
    /// The launcher's end of the socket.
    pub chan: Channel,
}

impl ChildProc {
    /// No process yet; [`ChildProc::spawn`] starts it.
    pub fn new(chan: Channel) -> ChildProc {
        ChildProc { child: None, chan }
    }

    /// Starts `cmd`, which inherits `theirs` (the workload's end of the
    /// channel); returns when exec succeeded. `theirs` is closed here once
    /// the child has it, so that the channel sees EOF if the child dies.
    pub fn spawn(&mut self, cmd: &mut Proc, theirs: OwnedFd) -> std::io::Result<Instant> {
        let child = cmd.spawn()?;
        // std's spawn returns once exec succeeded (it waits on a close-on-exec pipe).
        let spawned = Instant::now();
        drop(theirs);
        self.child = Some(child);
        Ok(spawned)
    }

    /// The child's pid, while it has not been reaped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The child, while it has not been reaped (for its stdout).
    pub fn child_mut(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// Asks the workload to exit (EXIT, waiting up to `timeout` for its
    /// answer), kills the child if it did not answer, and reaps it.
    /// `reaping`: what the child is, `answering`: who answers EXIT, for
    /// errors. Returns the child's exit status (`None`: there was no child).
    pub fn exit(
        &mut self,
        timeout: Duration,
        reaping: &str,
        answering: &str,
    ) -> anyhow::Result<Option<ExitStatus>> {
        let reply = self.chan.request(Command::Exit, timeout);
        let mut status = None;
        if let Some(mut child) = self.child.take() {
            if reply.is_err() {
                let _ = child.kill();
            }
            status = Some(child.wait().with_context(|| format!("reaping {reaping}"))?);
        }
        channel::expect_done(reply?, answering)?;
        Ok(status)
    }

    /// Waits up to `timeout` for the child to exit by itself; `None` if it
    /// did not (it is then still ours, and Drop kills it) or if there is none.
    pub fn wait_within(&mut self, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        let status = wait_for(child, timeout)?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// Kills and reaps the child, if there is one.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means it is gone already, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        // Error and panic paths: never leave a process behind.
        self.kill();
    }
}

/// Waits up to `timeout` for `child` to exit; `None` if it did not.
pub fn wait_for(child: &mut Child, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    // Short sleeps first: a process usually exits within milliseconds, and
    // a teardown time includes however long we oversleep.
    let mut nap = Duration::from_micros(20);
    loop {
        if let Some(status) = child
            .try_wait()
            .context("waiting for the process to exit")?
        {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(1));
    }
}
