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

use crate::error::{io, Error, Result};
use crate::owner::{self, Owner};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Name of our parent directory in every hierarchy.
pub const PARENT: &str = "vmvc";

/// How long to wait for a cgroup to empty after SIGKILL.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The cgroup hierarchies this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// cgroup v1: one hierarchy per controller. `hybrid` says a (controller-less)
    /// cgroup2 tree is mounted too.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpu: Option<PathBuf>,
        hybrid: bool,
    },
    /// cgroup v2: the unified hierarchy mounted at `root`.
    V2 { root: PathBuf },
}

impl Layout {
    /// Reads `/proc/self/mountinfo` and picks the hierarchy that carries the
    /// memory and pids controllers: cgroup2 if it has them, else v1.
    pub fn detect() -> Result<Layout> {
        let text = fs::read_to_string("/proc/self/mountinfo")
            .map_err(io("reading", "/proc/self/mountinfo"))?;
        let mut v2 = None;
        let (mut memory, mut pids, mut cpu) = (None, None, None);
        for line in text.lines() {
            // "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts"
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut right = right.split(' ');
            let (fstype, superopts) = (right.next(), right.nth(1).unwrap_or(""));
            let mount_point = PathBuf::from(mount_point);
            match fstype {
                Some("cgroup2") => v2 = v2.or(Some(mount_point)),
                Some("cgroup") => {
                    for opt in superopts.split(',') {
                        let slot = match opt {
                            "memory" => &mut memory,
                            "pids" => &mut pids,
                            "cpu" => &mut cpu,
                            _ => continue,
                        };
                        if slot.is_none() {
                            *slot = Some(mount_point.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(root) = &v2 {
            let controllers =
                fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            if has("memory") && has("pids") {
                return Ok(Layout::V2 { root: root.clone() });
            }
        }
        match (memory, pids) {
            (Some(memory), Some(pids)) => Ok(Layout::V1 {
                memory,
                pids,
                cpu,
                hybrid: v2.is_some(),
            }),
            _ => Err(Error::NoCgroups(format!(
                "neither a cgroup2 tree with the memory and pids controllers nor v1 memory and pids \
                 hierarchies are mounted (cgroup2: {v2:?}); mount one, e.g. \
                 `mount -t cgroup2 none /sys/fs/cgroup`"
            ))),
        }
    }

    /// cgroup v2 rooted at `root` (a cgroup2 mount or a directory in one).
    pub fn v2(root: impl Into<PathBuf>) -> Layout {
        Layout::V2 { root: root.into() }
    }

    /// `v1`, `v2` or `hybrid`.
    pub fn version(&self) -> &'static str {
        match self {
            Layout::V1 { hybrid: false, .. } => "v1",
            Layout::V1 { hybrid: true, .. } => "hybrid",
            Layout::V2 { .. } => "v2",
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Layout::V1 {
                memory,
                pids,
                cpu,
                hybrid,
            } => format!(
                "cgroup {} (controllers in v1: memory at {}, pids at {}, cpu at {})",
                if *hybrid { "hybrid" } else { "v1" },
                memory.display(),
                pids.display(),
                cpu.as_deref()
                    .map_or("-".into(), |p| p.display().to_string())
            ),
            Layout::V2 { root } => format!("cgroup v2 (unified hierarchy at {})", root.display()),
        }
    }

    fn is_v2(&self) -> bool {
        matches!(self, Layout::V2 { .. })
    }

    /// The hierarchy roots we create directories in, pids first (it lists
    /// the members on v1).
    fn roots(&self) -> Vec<PathBuf> {
        match self {
            Layout::V1 {
                memory, pids, cpu, ..
            } => {
                let mut v = vec![pids.clone(), memory.clone()];
                v.extend(cpu.clone());
                v
            }
            Layout::V2 { root } => vec![root.clone()],
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
            if this.layout.is_v2() {
                enable_controllers(&root)?;
                enable_controllers(&parent)?;
            }
            let dir = parent.join(&tag);
            mkdir(&dir, false)?;
            // Pushed at once, so Drop removes it on the error paths below.
            this.dirs.push(dir.clone());
            if this.layout.is_v2() {
                enable_controllers(&dir)?;
            }
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

    /// Creates the cgroup of container `name` with `limits`. The cpu
    /// hierarchy (v1) is joined only when a cpu limit is asked for: one
    /// directory less on the hot path.
    pub fn create(&self, name: &str, limits: &Limits) -> Result<Cgroup> {
        let mut cg = Cgroup {
            v2: self.layout.is_v2(),
            dirs: Vec::new(),
        };
        for (i, runtime_dir) in self.dirs.iter().enumerate() {
            // v1 order is pids, memory, cpu (see Layout::roots).
            if !cg.v2 && i == 2 && limits.cpu.is_none() {
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
    v2: bool,
    dirs: Vec<PathBuf>,
}

/// Usage read back from a cgroup.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// What the memory controller charges now (`memory.usage_in_bytes` / `memory.current`).
    pub memory_current: u64,
    /// Highest charge seen, where the kernel keeps it.
    pub memory_peak: Option<u64>,
    /// Every line of `memory.stat`, as the kernel wrote it (bytes or counts).
    pub memory_stat: Vec<(String, u64)>,
    /// Members killed by the OOM killer.
    pub oom_kills: u64,
    /// Processes/threads now.
    pub pids_current: u64,
    /// Times `fork`/`clone` failed on `pids.max`.
    pub pids_max_hits: u64,
    /// CPU time used, where readable.
    pub cpu_usage: Option<Duration>,
}

/// The memory charge split three ways, named the same on v1 and v2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargeSplit {
    /// Anonymous memory: heap, stacks, the touched working set.
    pub anon: u64,
    /// Page cache (files, tmpfs/shmem) charged to this cgroup.
    pub file: u64,
    /// Kernel memory charged to the cgroup (page tables, kernel stacks,
    /// slab objects, ...): what is left of the charge.
    pub kernel: u64,
}

impl Usage {
    /// A `memory.stat` value by key.
    pub fn stat(&self, key: &str) -> Option<u64> {
        self.memory_stat
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The charge split: v2 names `anon` and `file`; v1 names them `rss` and
    /// `cache`. Kernel memory is the rest of the charge.
    pub fn charge_split(&self) -> ChargeSplit {
        let anon = self.stat("anon").or_else(|| self.stat("rss")).unwrap_or(0);
        let file = self
            .stat("file")
            .or_else(|| self.stat("cache"))
            .unwrap_or(0);
        let kernel = self
            .stat("kernel")
            .unwrap_or_else(|| self.memory_current.saturating_sub(anon + file));
        ChargeSplit { anon, file, kernel }
    }
}

impl Cgroup {
    /// The directories, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn is_v2(&self) -> bool {
        self.v2
    }

    fn memory_dir(&self) -> &Path {
        // v1 order: pids, memory[, cpu]; v2: the one directory.
        &self.dirs[if self.v2 { 0 } else { 1 }]
    }

    fn pids_dir(&self) -> &Path {
        &self.dirs[0]
    }

    fn cpu_dir(&self) -> Option<&Path> {
        if self.v2 {
            Some(&self.dirs[0])
        } else {
            self.dirs.get(2).map(|p| p.as_path())
        }
    }

    fn apply(&self, limits: &Limits) -> Result<()> {
        if let Some(bytes) = limits.memory_bytes {
            let mem = self.memory_dir();
            if self.v2 {
                write(&mem.join("memory.max"), &bytes.to_string())?;
                // Without swap the limit is a real one: the OOM killer, not
                // swapping, answers an overrun.
                write_if_exists(&mem.join("memory.swap.max"), "0")?;
            } else {
                write(&mem.join("memory.limit_in_bytes"), &bytes.to_string())?;
                // memsw (memory+swap) must be >= the memory limit: set after it.
                write_if_exists(&mem.join("memory.memsw.limit_in_bytes"), &bytes.to_string())?;
            }
        }
        if let Some(max) = limits.pids_max {
            write(&self.pids_dir().join("pids.max"), &max.to_string())?;
        }
        if let Some(q) = limits.cpu {
            let dir = self.cpu_dir().ok_or(Error::NoCgroups(
                "a cpu limit was asked for but no cpu controller is mounted".into(),
            ))?;
            if self.v2 {
                write(
                    &dir.join("cpu.max"),
                    &format!("{} {}", q.quota_us, q.period_us),
                )?;
            } else {
                write(&dir.join("cpu.cfs_period_us"), &q.period_us.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &q.quota_us.to_string())?;
            }
        }
        Ok(())
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
        let dir_fd = if self.v2 {
            let fd = open(
                &self.dirs[0],
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| cgroup_error("opening", &self.dirs[0], e.into()))?;
            // SAFETY: as above, a fresh descriptor we own.
            Some(unsafe { OwnedFd::from_raw_fd(fd) })
        } else {
            None
        };
        Ok((procs, dir_fd))
    }

    /// Host pids of the members.
    pub fn members(&self) -> Vec<i32> {
        fs::read_to_string(self.pids_dir().join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Reads usage back.
    pub fn usage(&self) -> Result<Usage> {
        let mem = self.memory_dir();
        let (current, peak, events) = if self.v2 {
            ("memory.current", "memory.peak", "memory.events")
        } else {
            (
                "memory.usage_in_bytes",
                "memory.max_usage_in_bytes",
                "memory.oom_control",
            )
        };
        let memory_stat = read_keyed(&mem.join("memory.stat"))?;
        let cpu_usage = if self.v2 {
            read_keyed(&self.dirs[0].join("cpu.stat"))
                .ok()
                .and_then(|s| s.into_iter().find(|(k, _)| k == "usage_usec"))
                .map(|(_, v)| Duration::from_micros(v))
        } else {
            self.cpu_dir()
                .and_then(|d| read_u64(&d.join("cpuacct.usage")).ok())
                .map(Duration::from_nanos)
        };
        Ok(Usage {
            memory_current: read_u64(&mem.join(current))?,
            memory_peak: read_u64(&mem.join(peak)).ok(),
            memory_stat,
            oom_kills: key_of(&mem.join(events), "oom_kill"),
            pids_current: read_u64(&self.pids_dir().join("pids.current"))?,
            pids_max_hits: key_of(&self.pids_dir().join("pids.events"), "max"),
            cpu_usage,
        })
    }

    /// Members killed by the OOM killer so far.
    pub fn oom_kills(&self) -> u64 {
        let (dir, file) = if self.v2 {
            (self.memory_dir(), "memory.events")
        } else {
            (self.memory_dir(), "memory.oom_control")
        };
        key_of(&dir.join(file), "oom_kill")
    }

    /// SIGKILLs every member until none is left (a fork bomb cannot outrun
    /// this: killed processes fork no more). v2 has `cgroup.kill` for it.
    pub fn kill_all(&self) -> Result<()> {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let kill_file = self.dirs[0].join("cgroup.kill");
        let use_kill_file = self.v2 && kill_file.exists();
        loop {
            let members = self.members();
            if members.is_empty() {
                return Ok(());
            }
            if use_kill_file {
                write(&kill_file, "1")?;
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

/// rmdir, retrying for a moment while the kernel finishes taking the last
/// exited members out (`EBUSY`).
fn rmdir_retry(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(io("removing cgroup", dir)(e)),
        }
    }
}

/// Kills the members of every cgroup under `dir` (depth first) and removes it.
fn remove_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path())?;
            }
        }
    }
    let members = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in members.lines().filter_map(|l| l.trim().parse().ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    rmdir_retry(dir)
}

/// Removes `parent/<owner>-<seq>` directories whose owner is dead; returns
/// what was removed. Entries that do not carry our tag are left alone.
fn remove_leftovers(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name.to_str().and_then(Owner::parse) else {
            continue;
        };
        if !owner.is_alive()
            && e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && remove_tree(&e.path()).is_ok()
        {
            removed.push(e.path());
        }
    }
    removed
}

fn mkdir(dir: &Path, exist_ok: bool) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if exist_ok && e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cgroup_error("creating", dir, e)),
    }
}

/// v2: lets children of `dir` use every controller we want that `dir` has.
fn enable_controllers(dir: &Path) -> Result<()> {
    let have = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for c in ["memory", "pids", "cpu"] {
        let listed = |s: &str| s.split_whitespace().any(|x| x == c);
        if listed(&have) && !listed(&enabled) {
            let r = write(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
            // cpu can be refused (e.g. realtime threads in the tree): then
            // cpu limits are unavailable, the rest still works.
            if c != "cpu" {
                r?;
            }
        }
    }
    Ok(())
}

fn cgroup_error(step: &'static str, path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => Error::CgroupUnwritable {
            step,
            path: path.to_owned(),
            source: e,
        },
        _ => Error::Io {
            step,
            path: path.to_owned(),
            source: e,
        },
    }
}

fn write(path: &Path, value: &str) -> Result<()> {
    use std::io::Write;
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| cgroup_error("writing", path, e))
}

fn write_if_exists(path: &Path, value: &str) -> Result<()> {
    if path.exists() {
        write(path, value)
    } else {
        Ok(())
    }
}

fn read_u64(path: &Path) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(io("reading", path))?;
    s.trim().parse().map_err(|_| Error::Io {
        step: "parsing",
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a number: {s:?}"),
        ),
    })
}

/// A `key value` per line file (`memory.stat`, `memory.events`, ...).
fn read_keyed(path: &Path) -> Result<Vec<(String, u64)>> {
    let s = fs::read_to_string(path).map_err(io("reading", path))?;
    Ok(s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect())
}

/// One key of a keyed file, 0 when absent.
fn key_of(path: &Path, key: &str) -> u64 {
    read_keyed(path)
        .ok()
        .and_then(|v| v.into_iter().find(|(k, _)| k == key))
        .map_or(0, |(_, v)| v)
}
