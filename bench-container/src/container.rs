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

use crate::cgroup::{Cgroup, Cgroups, Layout, Limits};
use crate::error::{Error, Result};
use crate::memory::{self, MemoryReport};
use crate::rootfs::{self, Rootfs};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{chdir, chroot, dup2, pipe2, pivot_root, read, sethostname, write, Pid};
use std::ffi::{c_char, CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much isolation a container gets (the rows of the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `chroot(2)` only: a "directory jail". Same pids, network, hostname,
    /// mounts; and a root process can walk out of it.
    Chroot,
    /// chroot plus a cgroup with limits: the classic textbook container.
    ChrootCgroup,
    /// New mount, pid, uts, ipc and net namespaces, `pivot_root` into the
    /// rootfs with the old root detached, its own `/proc` and hostname, a cgroup.
    Full,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Chroot, Profile::ChrootCgroup, Profile::Full];

    /// `chroot`, `chroot+cgroup`, `full`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Chroot => "chroot",
            Profile::ChrootCgroup => "chroot+cgroup",
            Profile::Full => "full",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn uses_cgroup(self) -> bool {
        !matches!(self, Profile::Chroot)
    }

    /// The namespaces this profile creates (clone flags).
    pub fn namespaces(self) -> CloneFlags {
        match self {
            Profile::Chroot | Profile::ChrootCgroup => CloneFlags::empty(),
            Profile::Full => {
                CloneFlags::CLONE_NEWNS
                    | CloneFlags::CLONE_NEWPID
                    | CloneFlags::CLONE_NEWUTS
                    | CloneFlags::CLONE_NEWIPC
                    | CloneFlags::CLONE_NEWNET
            }
        }
    }
}

/// What to start. The file descriptors are borrowed: keep them open until
/// [`Runtime::spawn`] returns.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Container name: the cgroup's directory name and the default hostname.
    pub name: String,
    pub profile: Profile,
    pub rootfs: Arc<Rootfs>,
    /// The program, as a path inside the rootfs.
    pub exe: PathBuf,
    /// argv\[1..\] (argv\[0\] is `exe`).
    pub args: Vec<String>,
    /// The environment, `KEY=value` (empty by default: nothing leaks in).
    pub env: Vec<String>,
    /// Descriptors the program inherits at the same numbers (e.g. the workload socket).
    pub keep_fds: Vec<RawFd>,
    /// Become the program's stdout / stderr (default: inherited).
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
    /// Hostname in the new UTS namespace (default: `name`).
    pub hostname: Option<String>,
    pub limits: Limits,
    /// Namespaces to create; the profile's by default. Changing it is for
    /// experiments (e.g. what does the net namespace cost?); `full` needs at
    /// least the mount and pid namespaces.
    pub namespaces: CloneFlags,
    /// Benchmark baseline: clone with `namespaces` into the cgroup and exec
    /// the program by its host path, with no root set up at all (no
    /// mounts, no chroot, no hostname). "A bare clone() with the same
    /// flags plus a cgroup attach", to which `full` is compared.
    pub bare: bool,
}

impl Spec {
    pub fn new(name: &str, profile: Profile, rootfs: Arc<Rootfs>, exe: impl Into<PathBuf>) -> Spec {
        Spec {
            name: name.into(),
            profile,
            rootfs,
            exe: exe.into(),
            args: Vec::new(),
            env: Vec::new(),
            keep_fds: Vec::new(),
            stdout: None,
            stderr: None,
            hostname: None,
            limits: Limits::default(),
            namespaces: profile.namespaces(),
            bare: false,
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Spec {
        self.args.push(a.into());
        self
    }

    pub fn keep_fd(mut self, fd: RawFd) -> Spec {
        self.keep_fds.push(fd);
        self
    }

    pub fn limits(mut self, limits: Limits) -> Spec {
        self.limits = limits;
        self
    }
}

/// Checks a container name: it becomes a directory name in the cgroup tree.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidName {
            name: name.into(),
            why,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("must be 1 to 64 characters long");
    }
    if name == "." || name == ".." {
        return bad("\".\" and \"..\" are directory links");
    }
    if name.contains('/') {
        return bad("contains '/'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return bad("contains a character outside [A-Za-z0-9_.-]");
    }
    Ok(())
}

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

// ---------------------------------------------------------------------------
// The child side.

/// Steps of the child's setup, for error reports.
const STEPS: [&str; 14] = [
    "joining the cgroup (write to cgroup.procs)",
    "resetting the signal mask",
    "making / private (mount --make-rprivate /)",
    "bind-mounting the rootfs onto itself",
    "remounting the rootfs read-only",
    "mounting /proc",
    "chdir into the rootfs",
    "pivot_root",
    "detaching the old root (umount2 MNT_DETACH)",
    "chroot",
    "sethostname",
    "setting up file descriptors",
    "execve",
    "clone",
];
const STEP_EXEC: u32 = 12;
const STEP_CLONE: u32 = 13;

/// Everything the child needs, prepared before the clone.
struct Plan {
    profile: Profile,
    bare: bool,
    root: CString,
    proc_dir: CString,
    hostname: Option<Vec<u8>>,
    exe: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    join: Vec<RawFd>,
    keep: Vec<RawFd>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::InvalidName {
        name: String::from_utf8_lossy(bytes).into(),
        why: "contains a NUL byte",
    })
}

impl Plan {
    fn new(spec: &Spec, join: &[OwnedFd]) -> Result<Plan> {
        let root = spec.rootfs.root();
        let exe = if spec.bare {
            spec.rootfs.host_path(&spec.exe)
        } else {
            spec.exe.clone()
        };
        let exe = cstring(exe.as_os_str().as_bytes())?;
        let mut strings = vec![exe.clone()];
        for a in &spec.args {
            strings.push(cstring(a.as_bytes())?);
        }
        let argc = strings.len();
        for e in &spec.env {
            strings.push(cstring(e.as_bytes())?);
        }
        // Pointers into the CStrings' heap buffers, which do not move when
        // the Vec holding the CStrings does.
        let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
        envp.push(std::ptr::null());
        let hostname = spec.namespaces.contains(CloneFlags::CLONE_NEWUTS).then(|| {
            spec.hostname
                .as_deref()
                .unwrap_or(&spec.name)
                .as_bytes()
                .to_vec()
        });
        Ok(Plan {
            profile: spec.profile,
            bare: spec.bare,
            root: cstring(root.as_os_str().as_bytes())?,
            proc_dir: cstring(root.join("proc").as_os_str().as_bytes())?,
            hostname,
            exe,
            _strings: strings,
            argv,
            envp,
            join: join.iter().map(|f| f.as_raw_fd()).collect(),
            keep: spec.keep_fds.clone(),
            stdout: spec.stdout,
            stderr: spec.stderr,
        })
    }
}

/// One fixed-size message from the child on the report pipe.
struct Record {
    kind: u32,
    step: u32,
    errno: i32,
    t_clone: i64,
    t_setup: i64,
}

impl Record {
    const PROGRESS: u32 = 1;
    const FAILURE: u32 = 2;
    const LEN: usize = 28;

    fn encode(&self) -> [u8; Record::LEN] {
        let mut b = [0u8; Record::LEN];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.step.to_le_bytes());
        b[8..12].copy_from_slice(&self.errno.to_le_bytes());
        b[12..20].copy_from_slice(&self.t_clone.to_le_bytes());
        b[20..28].copy_from_slice(&self.t_setup.to_le_bytes());
        b
    }

    fn decode(b: &[u8; Record::LEN]) -> Record {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let i64_at = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            i64::from_le_bytes(x)
        };
        Record {
            kind: u32_at(0),
            step: u32_at(4),
            errno: u32_at(8) as i32,
            t_clone: i64_at(12),
            t_setup: i64_at(20),
        }
    }

    fn into_error(self) -> Error {
        Error::Setup {
            step: STEPS
                .get(self.step as usize)
                .copied()
                .unwrap_or("unknown step"),
            errno: Errno::from_raw(self.errno),
        }
    }
}

/// Reads one record; `None` at end-of-file (or a short, broken record).
fn read_record(fd: BorrowedFd<'_>) -> Option<Record> {
    let mut buf = [0u8; Record::LEN];
    let mut have = 0;
    while have < Record::LEN {
        match read(fd.as_raw_fd(), &mut buf[have..]) {
            Ok(0) => return None,
            Ok(n) => have += n,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
    Some(Record::decode(&buf))
}

/// CLOCK_MONOTONIC in ns: the clock `Instant` uses on Linux. Async-signal-safe.
fn mono_ns() -> i64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
        .unwrap_or(0)
}

/// Runs in the child: set up, report, exec. Never returns.
fn child_main(plan: &Plan, join_cgroup: bool, report: BorrowedFd<'_>) -> ! {
    let (step, errno) = match child_setup(plan, join_cgroup, report) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let rec = Record {
        kind: Record::FAILURE,
        step,
        errno: errno as i32,
        t_clone: 0,
        t_setup: 0,
    };
    let _ = write(report, &rec.encode());
    // SAFETY: _exit ends the process without running atexit handlers or
    // destructors that belong to the parent's copy of the state.
    unsafe { libc::_exit(127) }
}

fn child_setup(
    p: &Plan,
    join_cgroup: bool,
    report: BorrowedFd<'_>,
) -> std::result::Result<std::convert::Infallible, (u32, Errno)> {
    let at = |step: u32| move |e: Errno| (step, e);
    // v1 (and the clone(2) fallback): join the cgroup. Writing "0" to
    // cgroup.procs moves the writer (cgroup-v1/cgroups.rst, cgroup-v2.rst).
    for &fd in p.join.iter().filter(|_| join_cgroup) {
        // SAFETY: the descriptor was opened by the parent before the clone
        // and stays open in this copy of the descriptor table.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        write(fd, b"0").map_err(at(0))?;
    }
    let t_clone = mono_ns();
    // Start the program with no blocked signals and SIGPIPE at its default
    // (Rust's runtime ignores it in the launcher).
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(at(1))?;
    // SAFETY: SIG_DFL installs no handler; nothing can run in one.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) }
        .map_err(at(1))?;

    let none = None::<&CStr>;
    match p.profile {
        _ if p.bare => {}
        Profile::Full => {
            // Our mount namespace starts as a copy of the host's, with the
            // host's propagation: make it private so nothing we do here
            // appears on the host (mount_namespaces(7), "shared subtrees").
            mount(
                none,
                c"/",
                none,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                none,
            )
            .map_err(at(2))?;
            // pivot_root needs the new root to be a mount point: bind it
            // onto itself, then make that bind read-only (one rootfs serves
            // many containers).
            mount(
                Some(p.root.as_c_str()),
                p.root.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(at(3))?;
            let ro = MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV;
            mount(none, p.root.as_c_str(), none, ro, none).map_err(at(4))?;
            // A proc of the *new* pid namespace: the workload sees itself as PID 1.
            let noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some(c"proc"),
                p.proc_dir.as_c_str(),
                Some(c"proc"),
                noexec,
                none,
            )
            .map_err(at(5))?;
            chdir(p.root.as_c_str()).map_err(at(6))?;
            // pivot_root(".", "."): the new root goes to /, the old root is
            // stacked on top of it at the same place; detaching "." then
            // drops the old root from this namespace entirely (pivot_root(2),
            // NOTES). Unlike chroot, nothing of the host's tree stays
            // reachable, not even by a root process.
            pivot_root(c".", c".").map_err(at(7))?;
            umount2(c".", MntFlags::MNT_DETACH).map_err(at(8))?;
            chdir(c"/").map_err(at(6))?;
            if let Some(h) = &p.hostname {
                sethostname(std::ffi::OsStr::from_bytes(h)).map_err(at(10))?;
            }
        }
        Profile::Chroot | Profile::ChrootCgroup => {
            chdir(p.root.as_c_str()).map_err(at(6))?;
            chroot(c".").map_err(at(9))?;
            chdir(c"/").map_err(at(6))?;
        }
    }
    // File descriptors: stdout/stderr if asked, and clear close-on-exec on
    // the ones the program inherits.
    if let Some(fd) = p.stdout {
        dup2(fd, 1).map_err(at(11))?;
    }
    if let Some(fd) = p.stderr {
        dup2(fd, 2).map_err(at(11))?;
    }
    for &fd in &p.keep {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(at(11))?;
    }
    let rec = Record {
        kind: Record::PROGRESS,
        step: 0,
        errno: 0,
        t_clone,
        t_setup: mono_ns(),
    };
    write(report, &rec.encode()).map_err(at(11))?;
    // ETXTBSY: another thread of the launcher forked while the binary was
    // open for writing (being copied into a rootfs); that child holds the
    // descriptor until its own exec, microseconds later. Retry briefly, as
    // Go's os/exec does.
    for _ in 0..200 {
        // nix's execve builds its pointer arrays on the heap; ours are ready.
        // SAFETY: exe, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays of them, built by Plan::new and alive (the
        // child's copy of the parent's memory) for the duration of the call.
        unsafe { libc::execve(p.exe.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr()) };
        if Errno::last() != Errno::ETXTBSY {
            break;
        }
        // std's sleep is a nanosleep(2) loop: async-signal-safe.
        std::thread::sleep(Duration::from_micros(500));
    }
    Err((STEP_EXEC, Errno::last()))
}

// ---------------------------------------------------------------------------
// clone3

/// `struct clone_args` of include/uapi/linux/sched.h (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

struct Cloned {
    pid: Pid,
    pidfd: Option<OwnedFd>,
}

/// Clones the child with `namespaces`, straight into `cgroup_dir` on v2
/// (CLONE_INTO_CGROUP: no window where the child runs in the launcher's
/// cgroup, and no write to cgroup.procs), and runs [`child_main`] in it.
/// Falls back to clone(2) where clone3 is missing; the child then joins the
/// cgroup through `plan.join`.
fn clone_child(
    namespaces: CloneFlags,
    cgroup_dir: Option<&OwnedFd>,
    plan: &Plan,
    report: BorrowedFd<'_>,
) -> Result<Cloned> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: namespaces.bits() as u64 | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(dir) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = dir.as_raw_fd() as u64;
    }
    // SAFETY: fork-like clone3 (no CLONE_VM, no new stack): the child gets a
    // copy of our address space and continues here with ret == 0. In the
    // child only async-signal-safe code runs (child_main), which ends in
    // execve or _exit and never returns into our frames.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let (ret, into_cgroup) = if ret == -1 && Errno::last() == Errno::ENOSYS {
        // SAFETY: as above, with clone(2) in fork mode (stack pointer 0:
        // the child continues on its copy of our stack).
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone,
                namespaces.bits() as u64 | libc::SIGCHLD as u64,
                0,
                0,
                0,
                0,
            )
        };
        (r, false)
    } else {
        (ret, cgroup_dir.is_some())
    };
    match ret {
        -1 => Err(Error::Setup {
            step: STEPS[STEP_CLONE as usize],
            errno: Errno::last(),
        }),
        0 => {
            // With CLONE_INTO_CGROUP the child starts in its cgroup already
            // and skips the write to cgroup.procs.
            child_main(plan, !into_cgroup, report)
        }
        pid => {
            let pid = Pid::from_raw(pid as i32);
            let pidfd = if pidfd >= 0 {
                // SAFETY: clone3 stored a new pidfd for the child there; we own it.
                Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
            } else {
                pidfd_open(pid)
            };
            Ok(Cloned { pid, pidfd })
        }
    }
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative return is a new descriptor that we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
