//! Starting a container: clone into namespaces and a cgroup, set up the
//! root, exec the workload.
//!
//! ```text
//! launcher (parent)                      child
//! ---------------------------------      -----------------------------------------
//! t0
//! mkdir cgroup, write limits   cgroup_create
//! clone3(NEW* | INTO_CGROUP) --------->  (v1: write "0" to cgroup.procs)   clone
//!                                        fds; mount --make-rprivate /
//!                                        bind rootfs; mount proc rootfs_setup
//!                                        /proc/sys... read-only readonly_paths
//!                                        /proc/kcore... masked  masked_paths
//!                                        pivot_root; detach old /;
//!                                        sethostname            pivot_root
//!                                        remount / read-only    rootfs_readonly
//!                                        prctl(NO_NEW_PRIVS)    no_new_privs
//!                                        capabilities           drop_caps
//!                                        seccomp filter         seccomp
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
//! **Rootless** ([`Runtime::rootless`]): the clone adds `CLONE_NEWUSER`
//! and the child, before anything else, waits on a pipe while the launcher
//! writes its id map ([`crate::userns`]); that wait is the phase
//! `userns_map`. Everything after it happens with the capabilities the
//! child holds inside its own user namespace, none on the host.
//!
//! The files: [`profile`] (what a container gets), `clone` (clone3),
//! `child` (the child's setup: mounts, pivot_root, exec), [`security`]
//! (the security defaults of a real runtime), `report` (the
//! report pipe), `running` (the running [`Container`]: wait, kill,
//! teardown), [`zygote`] (a set-up child that forks the program on
//! request); this file holds the [`Runtime`] and [`Runtime::spawn`].

mod child;
mod clone;
pub mod profile;
mod report;
mod running;
pub mod security;
pub mod zygote;

pub use profile::{validate_name, Profile, Spec};
pub use running::{Container, Exit, Teardown};

use child::Plan;
use clone::clone_child;
use report::{mono_ns, read_record, Record, MARKS, T_CLONE};

use crate::cgroup::{Cgroups, Layout};
use crate::error::{Error, Result};
use crate::rootfs;
use crate::userns::IdMap;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::{pipe2, write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
/// Starts containers. Owns this run's share of the cgroup tree; creating
/// one removes the leftovers of crashed runs first.
#[derive(Debug)]
pub struct Runtime {
    cgroups: Option<Cgroups>,
    cleaned: Vec<PathBuf>,
    /// Rootless: every container gets a user namespace with this map.
    userns: Option<IdMap>,
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
            userns: None,
        })
    }

    /// No cgroups at all: only the `chroot` profile works.
    pub fn without_cgroups() -> Runtime {
        Runtime {
            cgroups: None,
            cleaned: rootfs::remove_leftovers(&std::env::temp_dir()),
            userns: None,
        }
    }

    /// Rootless: every container in a user namespace of its own, with
    /// `map`; cgroups only in `delegated`, a subtree this user may manage
    /// ([`crate::cgroup::delegation::find`]), else none.
    pub fn rootless(map: IdMap, delegated: Option<Layout>) -> Result<Runtime> {
        let mut rt = match delegated {
            Some(layout) => Runtime::with_layout(layout)?,
            None => Runtime::without_cgroups(),
        };
        rt.userns = Some(map);
        Ok(rt)
    }

    /// The id map of a rootless runtime.
    pub fn id_map(&self) -> Option<&IdMap> {
        self.userns.as_ref()
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
        let cgroup = if spec.profile.uses_cgroup() && !spec.no_cgroup {
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

        let pipe = || {
            pipe2(OFlag::O_CLOEXEC).map_err(|source| Error::Sys {
                step: "pipe2",
                source,
            })
        };
        // Rootless: the child waits on `sync` until its id map is written.
        let sync = self.userns.as_ref().map(|_| pipe()).transpose()?;
        let plan = Plan::new(spec, &join_fds, sync.as_ref())?;
        let (report_r, report_w) = pipe()?;
        let mut namespaces = spec.namespaces;
        if self.userns.is_some() {
            namespaces |= CloneFlags::CLONE_NEWUSER;
        }
        let cloned = clone_child(namespaces, cgroup_dir.as_ref(), &plan, report_w.as_fd())?;
        let cloned_at = Instant::now();
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
            rootless: self.userns.is_some(),
        };
        // From here on, dropping `container` kills and reaps the child and
        // removes the cgroup: every error path below is clean.
        let mapped = match (&self.userns, sync) {
            (Some(map), Some((sync_r, sync_w))) => {
                drop(sync_r);
                map.write(cloned.pid)?;
                // Taken before the child is released, so that it orders
                // before everything the child timestamps afterwards.
                let mapped = Instant::now();
                // One byte: the map is there, go on. (On an error above,
                // the child sees EOF instead and gives up.)
                write(&sync_w, b"m").map_err(|source| Error::Sys {
                    step: "releasing the child after the id map",
                    source,
                })?;
                Some(mapped)
            }
            _ => None,
        };
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
        // Rootless, the mapping is timed on our clock from clone3's return:
        // the child may not even have run yet (it waits for the map anyway).
        let clone_end = match mapped {
            Some(_) => cloned_at,
            None => at(progress.times[T_CLONE]),
        };
        let mut marks = vec![("cgroup_create", cgroup_created), ("clone", clone_end)];
        marks.extend(mapped.map(|t| ("userns_map", t)));
        // The child's phases it went through (a skipped one reports 0).
        for (name, &t) in MARKS.iter().zip(&progress.times).skip(T_CLONE + 1) {
            if t != 0 {
                marks.push((name, at(t)));
            }
        }
        marks.push(("exec", exec_done));
        container.marks = marks;
        Ok(container)
    }
}
