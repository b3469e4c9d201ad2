//! Starting a container: clone into namespaces and a cgroup, set up the
//! root, exec the workload.
//!
//! ```text
//! launcher (parent)                      child
//! ---------------------------------      -----------------------------------------
//! t0
//! mkdir cgroup, write limits   cgroup_create
//! clone3(NEW* | INTO_CGROUP) --------->  (v1: write "0" to cgroup.procs)   clone
//!                                        mount --make-rprivate /
//!                                        bind rootfs, remount read-only
//!                                        mount proc; pivot_root; detach old /
//!                                        sethostname; fds    rootfs_setup
//! read report pipe  <-----------------   report timestamps; execve
//! EOF on the pipe (close-on-exec)  exec
//! [harness: READY on its socket]   workload_start
//! ```
//!
//! The report pipe is close-on-exec: the parent sees end-of-file exactly when
//! `execve` succeeded, and a failure record (step and errno) when any step
//! failed, so errors inside the child come back as [`Error::Setup`].
//!
//! Between `clone` and `execve` the child is a copy of a possibly
//! multi-threaded parent: only async-signal-safe calls are allowed there
//! (signal-safety(7)): no allocation, no locks. Everything the child needs
//! (paths as C strings, argv/envp pointer arrays, file descriptors) is
//! prepared before the clone.
//!
//! The files: [`profile`] (what a container gets), `clone` (clone3),
//! `child` (the child's setup: mounts, pivot_root, exec), `report` (the
//! report pipe), [`zygote`] (a set-up child that forks the program on
//! request); this file holds the [`Runtime`] and the running
//! [`Container`] (wait, kill, teardown).

mod child;
mod clone;
pub mod profile;
mod report;
pub mod zygote;

pub use profile::{validate_name, Profile, Spec};

use child::Plan;
use clone::clone_child;
use report::{mono_ns, read_record, Record};

use crate::cgroup::{Cgroup, Cgroups, Layout};
use crate::error::{Error, Result};
use crate::memory::{self, MemoryReport};
use crate::rootfs::{self, Rootfs};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
/// Starts containers. Owns this run's share of the cgroup tree; creating
/// one removes the leftovers of crashed runs first.
#[derive(Debug)]
pub struct Runtime {
    cgroups: Option<Cgroups>,
    cleaned: Vec<PathBuf>,
}

impl Runtime {
    /// Detects the cgroup layout ([`Layout::detect`]) and sets up our part of it.
    pub fn new() -> Result<Runtime> {
        Runtime::with_layout(Layout::detect()?)
    }

    /// Uses the given cgroup hierarchies.
    pub fn with_layout(layout: Layout) -> Result<Runtime> {
        let mut cleaned = rootfs::remove_leftovers(&std::env::temp_dir());
        let cgroups = Cgroups::new(layout)?;
        cleaned.extend(cgroups.cleaned().iter().cloned());
        Ok(Runtime {
            cgroups: Some(cgroups),
            cleaned,
        })
    }

    /// No cgroups at all: only the `chroot` profile works.
    pub fn without_cgroups() -> Runtime {
        Runtime {
            cgroups: None,
            cleaned: rootfs::remove_leftovers(&std::env::temp_dir()),
        }
    }

    pub fn layout(&self) -> Option<&Layout> {
        self.cgroups.as_ref().map(|c| c.layout())
    }

    /// This runtime's cgroup directories (empty without cgroups).
    pub fn cgroup_dirs(&self) -> &[PathBuf] {
        self.cgroups.as_ref().map_or(&[], |c| c.dirs())
    }

    /// Leftovers of crashed runs removed when this runtime was made.
    pub fn cleaned(&self) -> &[PathBuf] {
        &self.cleaned
    }

    /// Starts `spec` and returns once the program is exec'd (the report
    /// pipe closed). Waiting for the workload's READY is the caller's: the
    /// time from [`Container::exec_done`] to READY is `workload_start`.
    pub fn spawn(&self, spec: &Spec) -> Result<Container> {
        validate_name(&spec.name)?;
        spec.rootfs.check_executable(&spec.exe)?;
        if spec.profile == Profile::Full
            && !spec
                .namespaces
                .contains(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID)
        {
            return Err(Error::InvalidName {
                name: format!("{:?}", spec.namespaces),
                why: "the full profile needs the mount and pid namespaces",
            });
        }

        // ---- t0: the first container-specific step.
        let t0 = Instant::now();
        let t0_ns = mono_ns();
        let cgroup = if spec.profile.uses_cgroup() {
            let cgroups = self.cgroups.as_ref().ok_or(Error::CgroupsDisabled)?;
            Some(cgroups.create(&spec.name, &spec.limits)?)
        } else {
            None
        };
        let (join_fds, cgroup_dir) = match &cgroup {
            Some(cg) => cg.open_for_join()?,
            None => (Vec::new(), None),
        };
        let cgroup_created = Instant::now();

        let plan = Plan::new(spec, &join_fds)?;
        let (report_r, report_w) = pipe2(OFlag::O_CLOEXEC).map_err(|source| Error::Sys {
            step: "pipe2",
            source,
        })?;
        let cloned = clone_child(
            spec.namespaces,
            cgroup_dir.as_ref(),
            &plan,
            report_w.as_fd(),
        )?;
        // The child has its copies; ours must go or we never see EOF.
        drop(report_w);
        drop(join_fds);
        drop(cgroup_dir);

        let mut container = Container {
            name: spec.name.clone(),
            profile: spec.profile,
            pid: cloned.pid,
            pidfd: cloned.pidfd,
            cgroup,
            _rootfs: Arc::clone(&spec.rootfs),
            t0,
            marks: Vec::new(),
            exit: None,
        };
        // From here on, dropping `container` kills and reaps the child and
        // removes the cgroup: every error path below is clean.
        let progress = match read_record(report_r.as_fd()) {
            Some(r) if r.kind == Record::PROGRESS => r,
            Some(r) => return Err(r.into_error()),
            None => return Err(container.died_during_setup()),
        };
        // Next: EOF (exec succeeded) or a failure record (execve failed).
        if let Some(r) = read_record(report_r.as_fd()) {
            return Err(r.into_error());
        }
        let exec_done = Instant::now();
        let at = |ns: i64| t0 + Duration::from_nanos(ns.saturating_sub(t0_ns).max(0) as u64);
        container.marks = vec![
            ("cgroup_create", cgroup_created),
            ("clone", at(progress.t_clone)),
            ("rootfs_setup", at(progress.t_setup)),
            ("exec", exec_done),
        ];
        Ok(container)
    }
}

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
    name: String,
    profile: Profile,
    pid: Pid,
    pidfd: Option<OwnedFd>,
    cgroup: Option<Cgroup>,
    _rootfs: Arc<Rootfs>,
    t0: Instant,
    marks: Vec<(&'static str, Instant)>,
    exit: Option<Exit>,
}

impl Container {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn profile(&self) -> Profile {
        self.profile
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

    fn died_during_setup(&mut self) -> Error {
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
