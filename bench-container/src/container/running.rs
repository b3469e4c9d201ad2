//! A running container: waiting for it, killing it, tearing it down, and
//! what its program's end was.

use super::Profile;
use crate::cgroup::Cgroup;
use crate::error::{Error, Result};
use crate::memory::{self, MemoryReport};
use crate::rootfs::Rootfs;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a container's program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
    /// Killed by the OOM killer of its cgroup (SIGKILL, and the cgroup
    /// counted an OOM kill).
    OomKilled,
}

/// What [`Container::teardown`] did.
#[derive(Debug, Clone, Copy)]
pub struct Teardown {
    /// From the call to everything released (reaped, cgroup removed).
    pub took: Duration,
    pub exit: Exit,
}

/// A started container. Dropping it kills the program, reaps it and
/// removes the cgroup; [`Container::teardown`] does the same and reports.
#[derive(Debug)]
pub struct Container {
    pub(super) name: String,
    pub(super) profile: Profile,
    pub(super) pid: Pid,
    pub(super) pidfd: Option<OwnedFd>,
    pub(super) cgroup: Option<Cgroup>,
    pub(super) _rootfs: Arc<Rootfs>,
    pub(super) t0: Instant,
    pub(super) marks: Vec<(&'static str, Instant)>,
    pub(super) exit: Option<Exit>,
    /// Root inside is this map's id outside (rootless), if any.
    pub(super) rootless: bool,
}

impl Container {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// In a user namespace of its own (a rootless runtime's container)?
    pub fn rootless(&self) -> bool {
        self.rootless
    }

    /// The program's pid as the host sees it.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// When `spawn` started (before the cgroup was made).
    pub fn t0(&self) -> Instant {
        self.t0
    }

    /// Phase ends in order: `cgroup_create`, `clone`, `rootfs_setup`, `exec`.
    pub fn marks(&self) -> &[(&'static str, Instant)] {
        &self.marks
    }

    /// When the launcher saw `execve` succeed: the start of `workload_start`.
    pub fn exec_done(&self) -> Instant {
        self.marks.last().map_or(self.t0, |m| m.1)
    }

    /// Memory: the cgroup's charge and split, the workload's PSS.
    pub fn memory(&self) -> Result<MemoryReport> {
        let cg = match &self.cgroup {
            Some(cg) => {
                let u = cg.usage()?;
                Some((u.memory_current, u.charge_split()))
            }
            None => None,
        };
        Ok(MemoryReport::new(cg, memory::smaps_rollup(self.pid())?))
    }

    /// Waits up to `timeout` for the program to end; `None` if it still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Exit>> {
        if let Some(e) = self.exit {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => return Ok(Some(self.reaped(status))),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(Error::Sys {
                        step: "waitpid",
                        source,
                    })
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sleep_until_exit(left);
        }
    }

    /// Waits for the program to end.
    pub fn wait(&mut self) -> Result<Exit> {
        loop {
            if let Some(e) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(e);
            }
        }
    }

    /// SIGKILL (the program; in `full` the kernel then kills the whole pid namespace).
    pub fn kill(&self) {
        if self.exit.is_none() {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
    }

    /// Waits up to `grace` for the program to exit by itself, kills it if
    /// not, reaps it, kills what is left in the cgroup and removes it.
    pub fn teardown(mut self, grace: Duration) -> Result<Teardown> {
        let start = Instant::now();
        let exit = match self.wait_timeout(grace)? {
            Some(e) => e,
            None => {
                self.kill();
                self.wait()?
            }
        };
        if let Some(cg) = self.cgroup.take() {
            cg.remove()?;
        }
        Ok(Teardown {
            took: start.elapsed(),
            exit,
        })
    }

    fn reaped(&mut self, status: WaitStatus) -> Exit {
        let exit = match status {
            WaitStatus::Exited(_, code) => Exit::Code(code),
            WaitStatus::Signaled(_, Signal::SIGKILL, _)
                if self.cgroup.as_ref().is_some_and(|c| c.oom_kills() > 0) =>
            {
                Exit::OomKilled
            }
            WaitStatus::Signaled(_, sig, _) => Exit::Signal(sig),
            // We do not ask for stop/continue events.
            _ => Exit::Code(-1),
        };
        self.exit = Some(exit);
        self.pidfd = None;
        exit
    }

    /// Blocks until the program exits or `max` passes: on its pidfd when we
    /// have one (pidfd_open(2): readable once the process exits), else a nap.
    fn sleep_until_exit(&self, max: Duration) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        match &self.pidfd {
            Some(fd) => {
                let ms = max.as_millis().clamp(1, i32::MAX as u128) as i32;
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                );
            }
            None => std::thread::sleep(max.min(Duration::from_millis(1))),
        }
    }

    pub(super) fn died_during_setup(&mut self) -> Error {
        let status = match self.wait_timeout(Duration::from_secs(5)) {
            Ok(Some(e)) => format!("{e:?}"),
            _ => "still running".into(),
        };
        Error::DiedDuringSetup { status }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
            let _ = waitpid(self.pid, None);
        }
        // `cgroup` drops next: kills stragglers, removes the directories.
    }
}
