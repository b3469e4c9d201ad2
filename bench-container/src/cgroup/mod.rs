//! Control groups: what a cgroup limits, and the two versions of the interface.
//!
//! A *namespace* changes what a process can **see**; a *control group*
//! changes how much it can **use**. A cgroup is a directory in a special
//! filesystem; the processes listed in its `cgroup.procs` file are its
//! members, and the files next to it are the knobs of the *controllers*:
//!
//! | controller | limits (v1 file / v2 file) | reads back |
//! |---|---|---|
//! | memory | `memory.limit_in_bytes` / `memory.max`: above it the kernel reclaims, then the OOM killer kills a member | `memory.usage_in_bytes` / `memory.current`, the split in `memory.stat`, OOM kills in `memory.oom_control` / `memory.events` |
//! | pids | `pids.max`: `fork()`/`clone()` fail with `EAGAIN` beyond it (a fork bomb stops) | `pids.current`, `pids.events` |
//! | cpu | `cpu.cfs_quota_us`+`cpu.cfs_period_us` / `cpu.max`: at most *quota* of CPU time per *period* | `cpuacct.usage` / `cpu.stat` |
//!
//! Sources: the kernel's `Documentation/admin-guide/cgroup-v1/` (`cgroups.rst`,
//! `memory.rst`, `pids.rst`) and `Documentation/admin-guide/cgroup-v2.rst`,
//! and cgroups(7).
//!
//! **v1** mounts one hierarchy per controller (or per group of controllers):
//! `/sys/fs/cgroup/memory/...`, `/sys/fs/cgroup/pids/...`; a process is in one
//! cgroup per hierarchy, so a container needs one directory in each.
//! **v2** has a single unified tree; a controller works in a child only if
//! the parent lists it in `cgroup.subtree_control`, and (the "no internal
//! processes" rule) a cgroup that hands controllers down holds no processes
//! itself. **Hybrid** systems (like the machine this suite grew up on) keep
//! the controllers in v1 and mount an empty cgroup2 tree next to them: we use
//! v1 there. Detection follows what youki and systemd do: read the mounts and
//! see which hierarchy carries the controllers.
//!
//! Layout of what we create, always under a `vmvc` directory of our own:
//!
//! ```text
//! <hierarchy>/vmvc/<pid>-<starttime>-<seq>/<container name>
//!                  `- one per Runtime (owner tag: see crate::owner)
//! ```
//!
//! A runtime's directory whose owner process is gone is a leftover of a
//! crashed run: [`Cgroups::new`] kills what is still inside and removes it.
//!
//! The files: [`Layout`] finds the hierarchies (`layout.rs`); one trait,
//! `Version`, says what differs between the versions, with [`v1`] and [`v2`]
//! behind it, as youki's libcgroups does; `files.rs` reads, writes and
//! removes. [`Cgroups`] and [`Cgroup`] below are the same for both.

pub mod delegation;
mod files;
mod layout;
mod usage;
pub mod v1;
pub mod v2;

pub use layout::Layout;
pub use usage::{ChargeSplit, Usage};

use crate::error::{Error, Result};
use crate::owner::{self, Owner};
use files::{
    cgroup_error, key_of, mkdir, read_keyed, read_u64, remove_leftovers, remove_tree, rmdir_retry,
    write, DRAIN_TIMEOUT,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Name of our parent directory in every hierarchy.
pub const PARENT: &str = "vmvc";

/// What differs between cgroup v1 and v2 for one container's cgroup. `dirs`
/// are its directories: one per hierarchy on v1, the one on v2.
pub(crate) trait Version: std::fmt::Debug + Sync {
    /// v2's single tree?
    fn unified(&self) -> bool;
    /// Whether the container gets a directory in hierarchy `index`
    /// (the order of [`Layout`]'s roots) for `limits`.
    fn wants_dir(&self, index: usize, limits: &Limits) -> bool;
    /// The directory whose `cgroup.procs` lists the members.
    fn pids_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path;
    /// The directory of the memory controller's files.
    fn memory_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path;
    /// Writes `limits` into the controllers' files.
    fn apply(&self, dirs: &[PathBuf], limits: &Limits) -> Result<()>;
    /// The names of the memory controller's files.
    fn memory_files(&self) -> MemoryFiles;
    /// CPU time used by the members, where the kernel counts it.
    fn cpu_usage(&self, dirs: &[PathBuf]) -> Option<Duration>;
    /// The directory clone3(`CLONE_INTO_CGROUP`) can start a child in.
    fn clone_into_dir<'a>(&self, dirs: &'a [PathBuf]) -> Option<&'a Path>;
    /// A file that kills every member when `1` is written to it.
    fn kill_file(&self, dirs: &[PathBuf]) -> Option<PathBuf>;
    /// Lets the children of `dir` use the controllers we need.
    fn delegate_controllers(&self, dir: &Path) -> Result<()>;
}

/// The memory controller's file names of one version.
pub(crate) struct MemoryFiles {
    /// What is charged now.
    pub current: &'static str,
    /// The highest charge seen.
    pub peak: &'static str,
    /// The file whose `oom_kill` line counts OOM kills.
    pub events: &'static str,
}

impl Layout {
    /// The version behind this layout.
    fn version_impl(&self) -> &'static dyn Version {
        if self.is_v2() {
            &v2::V2
        } else {
            &v1::V1
        }
    }
}

/// Limits for one container; `None` leaves the kernel's default (no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory (and, where the kernel counts it, memory+swap) in bytes.
    pub memory_bytes: Option<u64>,
    /// Most processes/threads at once.
    pub pids_max: Option<u64>,
    /// CPU bandwidth: `quota_us` of CPU time every `period_us`.
    pub cpu: Option<CpuQuota>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

/// One runtime's share of the cgroup tree: `vmvc/<owner>-<seq>` in each hierarchy.
#[derive(Debug)]
pub struct Cgroups {
    layout: Layout,
    /// `(hierarchy root, our runtime directory in it)`.
    dirs: Vec<PathBuf>,
    cleaned: Vec<PathBuf>,
}

impl Cgroups {
    /// Removes leftovers of dead runs, then creates this runtime's directory
    /// in every hierarchy of `layout`.
    pub fn new(layout: Layout) -> Result<Cgroups> {
        let mut cleaned = Vec::new();
        let tag = format!("{}-{}", Owner::current().tag(), owner::next_seq());
        let mut this = Cgroups {
            layout,
            dirs: Vec::new(),
            cleaned: Vec::new(),
        };
        for root in this.layout.roots() {
            if !root.is_dir() {
                return Err(Error::MissingFile {
                    path: root,
                    hint: "the cgroup hierarchy is not mounted there",
                });
            }
            let parent = root.join(PARENT);
            cleaned.extend(remove_leftovers(&parent));
            mkdir(&parent, true)?;
            let version = this.layout.version_impl();
            version.delegate_controllers(&root)?;
            version.delegate_controllers(&parent)?;
            let dir = parent.join(&tag);
            mkdir(&dir, false)?;
            // Pushed at once, so Drop removes it on the error paths below.
            this.dirs.push(dir.clone());
            version.delegate_controllers(&dir)?;
        }
        this.cleaned = cleaned;
        Ok(this)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// This runtime's directories, one per hierarchy (containers' cgroups go inside).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Leftover cgroups of dead runs that [`Cgroups::new`] removed.
    pub fn cleaned(&self) -> &[PathBuf] {
        &self.cleaned
    }

    /// Creates the cgroup of container `name` with `limits`, in the
    /// hierarchies its version wants for them.
    pub fn create(&self, name: &str, limits: &Limits) -> Result<Cgroup> {
        let mut cg = Cgroup {
            version: self.layout.version_impl(),
            dirs: Vec::new(),
        };
        for (i, runtime_dir) in self.dirs.iter().enumerate() {
            if !cg.version.wants_dir(i, limits) {
                continue;
            }
            let dir = runtime_dir.join(name);
            match fs::create_dir(&dir) {
                Ok(()) => cg.dirs.push(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::NameInUse { name: name.into() })
                }
                Err(e) => return Err(cgroup_error("creating", &dir, e)),
            }
        }
        cg.apply(limits)?;
        Ok(cg)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // Children are gone by now (each Container removes its own);
            // a non-empty directory stays for the next run to clean.
            let _ = remove_tree(dir);
        }
    }
}

/// One container's cgroup (a directory per hierarchy on v1, one on v2).
/// Dropping it kills its members and removes it.
#[derive(Debug)]
pub struct Cgroup {
    version: &'static dyn Version,
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// The directories, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn is_v2(&self) -> bool {
        self.version.unified()
    }

    fn apply(&self, limits: &Limits) -> Result<()> {
        self.version.apply(&self.dirs, limits)
    }

    /// Opens, for the child, `cgroup.procs` in every directory (writing `0`
    /// there moves the writer in) and, on v2, the directory itself for
    /// `clone3(CLONE_INTO_CGROUP)`.
    pub(crate) fn open_for_join(&self) -> Result<(Vec<OwnedFd>, Option<OwnedFd>)> {
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::Mode;
        use std::os::fd::FromRawFd;
        let mut procs = Vec::with_capacity(self.dirs.len());
        for dir in &self.dirs {
            let path = dir.join("cgroup.procs");
            let fd = open(&path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| cgroup_error("opening", &path, e.into()))?;
            // SAFETY: `open` just returned this descriptor and nothing else owns it.
            procs.push(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let dir_fd = if let Some(dir) = self.version.clone_into_dir(&self.dirs) {
            let fd = open(
                dir,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| cgroup_error("opening", dir, e.into()))?;
            // SAFETY: as above, a fresh descriptor we own.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            None
        };
        Ok((procs, dir_fd))
    }

    /// Host pids of the members.
    pub fn members(&self) -> Vec<i32> {
        fs::read_to_string(self.version.pids_dir(&self.dirs).join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Reads usage back.
    pub fn usage(&self) -> Result<Usage> {
        let mem = self.version.memory_dir(&self.dirs);
        let pids = self.version.pids_dir(&self.dirs);
        let files = self.version.memory_files();
        Ok(Usage {
            memory_current: read_u64(&mem.join(files.current))?,
            memory_peak: read_u64(&mem.join(files.peak)).ok(),
            memory_stat: read_keyed(&mem.join("memory.stat"))?,
            oom_kills: self.oom_kills(),
            pids_current: read_u64(&pids.join("pids.current"))?,
            pids_max_hits: key_of(&pids.join("pids.events"), "max"),
            cpu_usage: self.version.cpu_usage(&self.dirs),
        })
    }

    /// Members killed by the OOM killer so far.
    pub fn oom_kills(&self) -> u64 {
        let events = self.version.memory_files().events;
        key_of(
            &self.version.memory_dir(&self.dirs).join(events),
            "oom_kill",
        )
    }

    /// SIGKILLs every member until none is left (a fork bomb cannot outrun
    /// this: killed processes fork no more). v2 has `cgroup.kill` for it.
    pub fn kill_all(&self) -> Result<()> {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let kill_file = self.version.kill_file(&self.dirs);
        loop {
            let members = self.members();
            if members.is_empty() {
                return Ok(());
            }
            if let Some(kill_file) = &kill_file {
                write(kill_file, "1")?;
            } else {
                for pid in members {
                    // ESRCH: it died meanwhile, which is what we want.
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Io {
                    step: "emptying",
                    path: self.dirs[0].clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "processes survived SIGKILL for 5 s",
                    ),
                });
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Kills what is left inside and removes the directories.
    pub fn remove(mut self) -> Result<()> {
        let result = self.remove_now();
        // Done (or reported): Drop has nothing left to do.
        self.dirs.clear();
        result
    }

    fn remove_now(&self) -> Result<()> {
        self.kill_all()?;
        let mut first_err = None;
        for dir in &self.dirs {
            if let Err(e) = rmdir_retry(dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.dirs.is_empty() {
            let _ = self.remove_now();
        }
    }
}
