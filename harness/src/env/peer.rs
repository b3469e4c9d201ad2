//! `peer:crun`, `peer:runc`, `peer:bwrap`: the same workload started by the
//! container tools people actually use, measured next to our own
//! `container:full` in the same run.
//!
//! # What a peer is
//!
//! `container:full` is a container we build ourselves, system call by system
//! call (`bench-container`). A fair question from any reader is: "is that how
//! real containers start, or did you build a toy that is faster (or slower)
//! than the real thing?" A *peer* answers it: the **same static workload
//! binary**, in the **same read-only rootfs**, with the **same namespaces**,
//! but launched by a tool someone else wrote. If a peer's startup or memory
//! differs from `container:full`, the difference is the tool's own work, not
//! the kernel's.
//!
//! # The three tools
//!
//! **OCI runtimes (crun, runc).** The Open Container Initiative runtime
//! specification defines a *bundle*: a directory holding a `config.json`
//! (which program to run, which namespaces to create, what to mount, which
//! cgroup to join) and a root filesystem. An OCI runtime turns a bundle into
//! a running container; Docker, containerd, Podman and Kubernetes all end up
//! calling one. `<runtime> run --bundle DIR ID` does the whole life cycle in
//! the foreground: *create* (namespaces, mounts, cgroup), *start* (exec the
//! program), wait for it to exit, *delete* (remove the cgroup and the state
//! kept under `/run/<runtime>/ID`). `--preserve-fds 1` passes our socket,
//! inherited as fd 3, through to the container.
//!
//! - **crun** is written in C (by the containers project, Podman's default
//!   runtime). `crun run` forks the container process itself and stays, in
//!   the foreground, waiting for it.
//! - **runc** is the reference implementation, written in Go (Docker's and
//!   containerd's default). A Go program cannot safely fork and then change
//!   namespaces, so `runc run` re-executes itself as `runc init`, whose small
//!   C part (`nsexec`) enters the new namespaces before the Go runtime starts;
//!   `runc init` then execs the workload. `runc run` stays in the foreground.
//!
//! **bubblewrap (bwrap)** is not an OCI runtime: it is the sandbox tool
//! Flatpak uses, driven entirely by its command line. We run
//! `bwrap --unshare-all --die-with-parent --ro-bind ROOTFS / --proc /proc
//! --dev /dev /vmvc-workload 3`: new namespaces (`--unshare-all` also tries
//! user and cgroup namespaces), the rootfs bind-mounted read-only as `/`, a
//! fresh `/proc` and a small `/dev`. bwrap never creates cgroups. It leaves
//! two processes of its own running: a monitor outside the new pid namespace
//! that waits for the sandbox, and a tiny init (pid 1 inside) that reaps
//! zombies while the workload runs as pid 2.
//!
//! # What is measured
//!
//! Startup counts from just before the tool is spawned to READY on our
//! socket: spawning the tool binary, everything the tool does, and the
//! workload's first instruction. Writing the launch's `config.json` (the
//! part a container engine does before it calls the runtime) is done before
//! `t0`. Memory is the tool's processes that stay alive while the container
//! runs plus the workload process, each as proportional set size (PSS) and
//! page tables; for crun and runc the cgroup's charge is shown too, for
//! information.
//!
//! # crun on hybrid cgroup hosts
//!
//! crun 1.8 refuses to start a container on a *hybrid* host (controllers in
//! cgroup v1, plus a cgroup2 tree at `/sys/fs/cgroup/unified`) when that
//! cgroup2 tree has any controller enabled: it reads
//! `/sys/fs/cgroup/unified/cgroup.controllers` and fails with "cgroups in
//! hybrid mode not supported, drop all controllers from cgroupv2". Where that
//! file is not empty, we start crun (and only crun, never the harness
//! itself) in a private mount namespace in which the cgroup2 tree is lazily
//! unmounted: there the host looks like plain cgroup v1, which crun
//! supports. Nothing changes for anyone else on the host.
//!
//! What it costs, measured on the project's machine: the system calls take
//! about 0.15 ms, most of it `unshare(CLONE_NEWNS)` copying the mount table,
//! and the lazy unmount then waits for the kernel (an RCU grace period), so
//! crun's `spawn` phase is about 1 ms longer than runc's or bwrap's. READY,
//! though, came out the same (±0.1 ms over 4×25 launches) as with a variant
//! that avoids the unmount (`/dev/null` bind-mounted over
//! `cgroup.controllers`, leaving crun in hybrid mode with a cgroup in the
//! cgroup2 tree too): the time moves between phases more than it adds up.
//!
//! # Leaving nothing behind
//!
//! Everything a launch creates carries the owner tag of this vmvc process
//! (`PID-STARTTIME`, see `bench_container::owner`): container ids
//! `vmvc-<tag>-<n>`, cgroups `/vmvc/<tag>-peer-<tool>-<n>` (we only ever create
//! cgroups under a `vmvc` parent), and the private temp dir
//! `vmvc-peer.<tag>-<seq>` that holds the bundles. On every path — teardown,
//! error, panic — a launch kills the processes it started (by the pids it
//! holds), runs `<tool> delete -f <id>` if the tool left state, and removes
//! its cgroup. Leftovers of a vmvc that crashed are removed by the next one.
//!
//! Sources: the OCI runtime specification
//! (<https://github.com/opencontainers/runtime-spec>: `bundle.md`,
//! `config.md`, `config-linux.md`, `runtime.md`); the man pages crun(1),
//! runc-run(8), runc-delete(8), runc-list(8) and bwrap(1); crun's
//! `src/libcrun/cgroup.c` for the hybrid check.

use super::channel::Channel;
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use crate::procfs::{self, comm, descendants};
use anyhow::{bail, Context};
use bench_container::owner::{self, Owner};
use bench_container::{Layout, Rootfs, RootfsBuilder};
use serde_json::json;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// How long a launch (or a tool's exit) may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the workload lives inside the rootfs.
const EXE_IN_ROOTFS: &str = "/vmvc-workload";
/// The workload's process name (`/proc/PID/comm`): how we tell it apart from
/// the tool's own processes.
const WORKLOAD_COMM: &str = "vmvc-workload";
/// The fd number the workload finds its socket at, in every peer.
const FD_IN_CONTAINER: RawFd = 3;
/// Prefix of our private temp dirs (bundles and logs).
const DIR_PREFIX: &str = "vmvc-peer.";
/// The cgroup2 mount of a hybrid host, which crun 1.8 checks.
const UNIFIED: &CStr = c"/sys/fs/cgroup/unified";

/// Which tool runs the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Crun,
    Runc,
    Bwrap,
}

impl Tool {
    pub const ALL: [Tool; 3] = [Tool::Crun, Tool::Runc, Tool::Bwrap];

    /// The command's name, also the suffix of the row name `peer:<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Crun => "crun",
            Tool::Runc => "runc",
            Tool::Bwrap => "bwrap",
        }
    }

    /// `crun`, `runc` or `bwrap`.
    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The Debian/Ubuntu package that provides it.
    fn package(self) -> &'static str {
        match self {
            Tool::Crun => "crun",
            Tool::Runc => "runc",
            Tool::Bwrap => "bubblewrap",
        }
    }

    /// crun and runc read an OCI bundle and put the container in a cgroup.
    fn is_oci(self) -> bool {
        matches!(self, Tool::Crun | Tool::Runc)
    }

    /// Where an OCI runtime run by root keeps its per-container state.
    fn state_dir(self, id: &str) -> Option<PathBuf> {
        self.is_oci()
            .then(|| Path::new("/run").join(self.name()).join(id))
    }

    /// What the `runtime` memory part is, in this tool's terms.
    fn runtime_description(self) -> &'static str {
        match self {
            Tool::Crun => "the `crun run` process waiting in the foreground for the container (PSS and page tables)",
            Tool::Runc => "the `runc run` process (a Go program) waiting in the foreground for the container (PSS and page tables)",
            Tool::Bwrap => "bwrap's own processes: the monitor outside the sandbox and the init (pid 1) inside it (PSS and page tables)",
        }
    }
}

/// One peer tool as an environment.
pub struct PeerEnv {
    kind: Tool,
    exe: PathBuf,
    /// Decided once, when the environment is made (see the module docs).
    hide_unified: bool,
    /// Made on first launch: so that listing environments needs no root.
    state: Option<State>,
    launches: u64,
}

/// What every launch of one environment shares.
struct State {
    tool: ToolCmd,
    /// The rootfs with the workload at /vmvc-workload, shared read-only.
    rootfs: Arc<Rootfs>,
    /// Our private temp dir: one `launch-<n>/` per launch (config.json, the
    /// tool's stderr).
    dir: Arc<PrivateDir>,
    /// The memory controller's hierarchy root, for the cgroup charge (OCI).
    memory_root: Option<(PathBuf, &'static str)>,
    /// This process's owner tag, in every name we create.
    tag: String,
}

/// How to start the tool binary: its path and whether crun needs the
/// hybrid-cgroup workaround.
#[derive(Debug, Clone)]
struct ToolCmd {
    kind: Tool,
    path: PathBuf,
    hide_unified: bool,
}

impl ToolCmd {
    /// The tool as a command, with our socket (if any) as fd 3 and, for crun
    /// on a hybrid host, the cgroup2 mount hidden from it.
    fn command(&self, sock: Option<RawFd>) -> Proc {
        let mut cmd = Proc::new(&self.path);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let hide_unified = self.hide_unified;
        if sock.is_some() || hide_unified {
            // SAFETY: the closure runs in the forked child before exec; it
            // only makes raw system calls on constants and integers captured
            // here (no allocation, no locks), which is what pre_exec requires.
            unsafe {
                cmd.pre_exec(move || in_child(sock, hide_unified));
            }
        }
        cmd
    }

    /// `<tool> delete -f <id>`: kills the container if it still runs and
    /// removes its state and cgroup. Errors are the caller's to ignore.
    fn delete(&self, id: &str) -> anyhow::Result<()> {
        let mut child = self
            .command(None)
            .args(["delete", "-f", id])
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} delete", self.kind.name()))?;
        match wait_for(&mut child, READY_TIMEOUT)? {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!("{} delete -f {id} failed ({s})", self.kind.name()),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} delete -f {id} hung", self.kind.name())
            }
        }
    }

    /// `<tool> list -q`: the ids of the containers the tool knows.
    fn list(&self) -> anyhow::Result<Vec<String>> {
        let out = self
            .command(None)
            .args(["list", "-q"])
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("running {} list", self.kind.name()))?;
        if !out.status.success() {
            bail!("{} list -q failed ({})", self.kind.name(), out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect())
    }
}

/// Runs in the forked child just before exec (see [`ToolCmd::command`]).
fn in_child(sock: Option<RawFd>, hide_unified: bool) -> std::io::Result<()> {
    if hide_unified {
        // A mount namespace of the child's own, so that what follows is
        // invisible to the host and to the harness.
        // SAFETY: unshare takes a flag word and affects only this process.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Stop mount events from propagating back to the host's namespace.
        // SAFETY: constant NUL-terminated target; mount(2) accepts null
        // source, type and data when only changing propagation.
        let r = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Detach the cgroup2 tree crun objects to: in this namespace the
        // host looks like plain cgroup v1, a layout crun supports.
        // SAFETY: a constant NUL-terminated path. If it is not mounted the
        // call fails harmlessly, and crun then reports what it sees.
        unsafe { libc::umount2(UNIFIED.as_ptr(), libc::MNT_DETACH) };
    }
    if let Some(fd) = sock {
        if fd != FD_IN_CONTAINER {
            // dup2 clears close-on-exec on the new fd, so fd 3 reaches the
            // tool. It cannot clobber std's own exec-status pipe: our two
            // socket ends were opened before it, so if fd 3 was free then,
            // one of them took it.
            // SAFETY: plain integers; dup2 and close are async-signal-safe.
            if unsafe { libc::dup2(fd, FD_IN_CONTAINER) } < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: as above; the original is not needed past exec.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

impl PeerEnv {
    pub fn new(kind: Tool, exe: PathBuf) -> PeerEnv {
        PeerEnv {
            kind,
            exe,
            hide_unified: kind == Tool::Crun && unified_has_controllers(),
            state: None,
            launches: 0,
        }
    }

    /// `peer:<tool>` from a row name, for `by_name`.
    pub fn from_name(name: &str, exe: PathBuf) -> Option<PeerEnv> {
        let tool = Tool::from_name(name.strip_prefix("peer:")?)?;
        Some(PeerEnv::new(tool, exe))
    }

    /// Why this peer cannot run here, in plain words; `None` when it can.
    fn why_not(&self, root: bool) -> Option<String> {
        let tool = self.kind.name();
        if find_tool(tool).is_none() {
            return Some(format!(
                "not installed: apt-get install {} (no `{tool}` on PATH)",
                self.kind.package()
            ));
        }
        if !root {
            return Some(format!(
                "{tool} needs root here (namespaces, mounts{}); run vmvc as root",
                if self.kind.is_oci() { ", cgroups" } else { "" }
            ));
        }
        if self.kind.is_oci() {
            if let Err(e) = Layout::detect() {
                return Some(format!("{tool} needs cgroups and none are usable: {e}"));
            }
        }
        None
    }

    fn state(&mut self) -> anyhow::Result<&State> {
        if self.state.is_none() {
            let kind = self.kind;
            let path = find_tool(kind.name()).with_context(|| {
                format!(
                    "{} is not installed: apt-get install {}",
                    kind.name(),
                    kind.package()
                )
            })?;
            let tool = ToolCmd {
                kind,
                path,
                hide_unified: self.hide_unified,
            };
            let tag = Owner::current().tag();
            remove_leftovers(&tool);
            let dir = Arc::new(PrivateDir::new(&tag)?);
            let rootfs = RootfsBuilder::new()
                .file(&self.exe, EXE_IN_ROOTFS)
                .build()
                .context("assembling the peer rootfs")?;
            let memory_root = match (kind.is_oci(), Layout::detect()) {
                (true, Ok(Layout::V1 { memory, .. })) => Some((memory, "memory.usage_in_bytes")),
                (true, Ok(Layout::V2 { root })) => Some((root, "memory.current")),
                _ => None,
            };
            self.state = Some(State {
                tool,
                rootfs: Arc::new(rootfs),
                dir,
                memory_root,
                tag,
            });
        }
        self.state.as_ref().context("peer state")
    }

    /// Starts one instance and returns it READY (the concrete type, for tests).
    fn start(&mut self) -> anyhow::Result<PeerInstance> {
        self.launches += 1;
        let n = self.launches;
        let kind = self.kind;
        let state = self.state()?;
        let id = format!("vmvc-{}-{n}", state.tag);
        let cgroup = kind.is_oci().then(|| {
            format!(
                "/{}/{}-peer-{}-{n}",
                bench_container::cgroup::PARENT,
                state.tag,
                kind.name()
            )
        });

        // Prepared before t0: the launch's directory, its config.json (OCI)
        // and the file that catches the tool's error messages.
        let launch_dir = state.dir.path.join(format!("launch-{n}"));
        std::fs::create_dir(&launch_dir)
            .with_context(|| format!("creating {}", launch_dir.display()))?;
        let log_path = launch_dir.join("stderr.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        if let Some(cg) = &cgroup {
            let config = oci_config(state.rootfs.root(), cg)?;
            let bytes = serde_json::to_vec_pretty(&config).context("encoding config.json")?;
            std::fs::write(launch_dir.join("config.json"), bytes)
                .with_context(|| format!("writing config.json in {}", launch_dir.display()))?;
        }
        let (chan, theirs) = Channel::pair()?;
        let mut cmd = state.tool.command(Some(theirs.as_raw_fd()));
        cmd.stderr(log);
        if kind.is_oci() {
            cmd.args(["run", "--preserve-fds", "1", "--bundle"])
                .arg(&launch_dir)
                .arg(&id);
        } else {
            cmd.args(["--unshare-all", "--die-with-parent", "--ro-bind"])
                .arg(state.rootfs.root())
                .args(["/", "--proc", "/proc", "--dev", "/dev"])
                .arg(EXE_IN_ROOTFS)
                .arg(FD_IN_CONTAINER.to_string());
        }
        let mut inst = PeerInstance {
            tool: state.tool.clone(),
            id,
            cgroup,
            child: None,
            chan,
            launch: Launch::from_marks(Instant::now(), &[]),
            launch_dir,
            memory_file: None,
            _dir: state.dir.clone(),
            _rootfs: state.rootfs.clone(),
        };
        inst.memory_file = match (&state.memory_root, &inst.cgroup) {
            (Some((root, file)), Some(cg)) => {
                Some(root.join(cg.trim_start_matches('/')).join(file))
            }
            _ => None,
        };

        let t0 = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", inst.tool.path.display()))?;
        // std's spawn returns once exec succeeded (it waits on a close-on-exec pipe).
        let spawned = Instant::now();
        drop(theirs);
        // From here on, dropping `inst` kills what we started and removes
        // the container's state and cgroup.
        inst.child = Some(child);
        if let Err(e) = inst.chan.wait_ready(READY_TIMEOUT) {
            return Err(e.context(format!(
                "{} did not bring the workload to READY{}",
                kind.name(),
                inst.stderr_tail()
            )));
        }
        let ready = Instant::now();
        inst.launch = Launch::from_marks(t0, &[("spawn", spawned), ("workload_start", ready)]);
        Ok(inst)
    }
}

impl Environment for PeerEnv {
    fn name(&self) -> String {
        format!("peer:{}", self.kind.name())
    }

    fn description(&self) -> String {
        match self.kind {
            Tool::Crun => "The workload started by crun (the OCI runtime in C, Podman's default) from an OCI bundle: the same read-only rootfs and namespaces as container:full, a cgroup of its own.".into(),
            Tool::Runc => "The workload started by runc (the OCI reference runtime in Go, Docker's and containerd's default) from an OCI bundle: the same read-only rootfs and namespaces as container:full, a cgroup of its own.".into(),
            Tool::Bwrap => "The workload sandboxed by bubblewrap (bwrap, Flatpak's sandbox tool): new namespaces, the same rootfs bind-mounted read-only as /, its own /proc and /dev; no cgroup.".into(),
        }
    }

    fn notes(&self) -> Vec<String> {
        let tool = self.kind.name();
        let mut notes = vec![
            "A peer container is a host process, like container:full: syscall and boundary cost what they cost natively; startup and memory show the tool's own work.".into(),
            format!("Startup counts from just before `{tool}` is spawned to READY; it includes starting the tool's binary."),
            format!("Memory is {}, plus the workload process (PSS and page tables).", self.kind.runtime_description()),
        ];
        if self.kind.is_oci() {
            notes.push(format!(
                "Run as a container engine would: `{tool} run --preserve-fds 1 --bundle DIR ID`; config.json is written before t0. /dev is a small tmpfs with the standard device nodes, as `runc spec` makes it (container:full leaves /dev empty). The cgroup charge is shown for information."
            ));
        } else {
            notes.push(
                "`--unshare-all` also tries user and cgroup namespaces, beyond container:full's five; `--dev /dev` mounts a small tmpfs with the standard device nodes. bwrap creates no cgroup.".into(),
            );
        }
        if self.hide_unified {
            notes.push(
                "This host's cgroups are hybrid and its cgroup2 tree has controllers, which crun 1.8 refuses; vmvc starts crun in a private mount namespace with /sys/fs/cgroup/unified lazily unmounted, so crun sees cgroup v1. This is included in startup: it makes the spawn phase about 1 ms longer (the unmount waits for the kernel), while READY measured the same as with a variant without the unmount.".into(),
            );
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some("shared host kernel (getppid), as native".into()),
            Workload::Boundary => {
                Some("socket round trip through the shared host kernel, as native".into())
            }
            _ => None,
        }
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        self.why_not(host.root)
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        Ok(Box::new(self.start()?))
    }
}

/// One launch's OCI runtime configuration (config.json): the namespaces of
/// `container:full`, the rootfs read-only, /proc, a tmpfs /dev, and a cgroup
/// at `cgroups_path` (relative to each hierarchy's root).
fn oci_config(rootfs: &Path, cgroups_path: &str) -> anyhow::Result<serde_json::Value> {
    let root = rootfs
        .to_str()
        .with_context(|| format!("the rootfs path {} is not UTF-8", rootfs.display()))?;
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": [EXE_IN_ROOTFS, FD_IN_CONTAINER.to_string()],
            "env": [],
            "cwd": "/",
            // No capabilities: the workload needs none.
            "capabilities": { "bounding": [], "effective": [], "permitted": [] },
            "noNewPrivileges": true
        },
        "root": { "path": root, "readonly": true },
        "hostname": "vmvc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            // Without a /dev mount the runtimes create device nodes in the
            // rootfs itself, i.e. in the directory every launch shares.
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            }
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ]
        }
    }))
}

/// A running, READY workload under a peer tool.
pub struct PeerInstance {
    tool: ToolCmd,
    /// The container id (OCI) or a name for messages (bwrap).
    id: String,
    /// Our cgroup, relative to each hierarchy's root (OCI).
    cgroup: Option<String>,
    /// The tool's process: `crun run`, `runc run`, or bwrap's monitor.
    child: Option<Child>,
    chan: Channel,
    launch: Launch,
    launch_dir: PathBuf,
    memory_file: Option<PathBuf>,
    // Held so that they outlive the container even if the environment is
    // dropped first.
    _dir: Arc<PrivateDir>,
    _rootfs: Arc<Rootfs>,
}

impl PeerInstance {
    /// The last lines the tool wrote to stderr, for error messages.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.launch_dir.join("stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            String::new()
        } else {
            let from = lines.len().saturating_sub(5);
            format!(
                "; {} said: {}",
                self.tool.kind.name(),
                lines[from..].join(" / ")
            )
        }
    }

    /// Kills the tool and every process below it (by the pids we hold).
    fn kill_all(&mut self) {
        if let Some(child) = self.child.as_mut() {
            for pid in descendants(child.id()) {
                // ESRCH: it is gone already, which is what we want.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = None;
    }

    /// Removes whatever the launch left: the tool's state (`delete -f`), our
    /// cgroup in every hierarchy, the launch directory. Safe to call twice.
    fn clean_up(&mut self) {
        if let Some(state) = self.tool.kind.state_dir(&self.id) {
            if state.exists() {
                let _ = self.tool.delete(&self.id);
            }
        }
        if let Some(cg) = &self.cgroup {
            for mount in cgroup_mounts() {
                let _ = remove_cgroup(&mount.join(cg.trim_start_matches('/')));
            }
        }
        let _ = std::fs::remove_dir_all(&self.launch_dir);
    }
}

impl Instance for PeerInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.chan.request(cmd, timeout)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let tool_pid = self
            .child
            .as_ref()
            .map(|c| c.id())
            .context("the container was already torn down")?;
        let below = descendants(tool_pid);
        let (workload, helpers): (Vec<u32>, Vec<u32>) = below
            .into_iter()
            .partition(|p| comm(*p).as_deref() == Some(WORKLOAD_COMM));
        let &[workload_pid] = workload.as_slice() else {
            bail!(
                "expected one {WORKLOAD_COMM} process below {} (pid {tool_pid}), found {workload:?}",
                self.tool.kind.name()
            );
        };
        // The tool's processes: the one we spawned and any helper below it
        // (bwrap's init). PSS and page tables, summed.
        let mut runtime = 0;
        for pid in std::iter::once(tool_pid).chain(helpers) {
            let parts = procfs::process_parts(pid).with_context(|| {
                format!(
                    "reading the memory of {} process {pid}",
                    self.tool.kind.name()
                )
            })?;
            runtime += parts.iter().map(|p| p.bytes).sum::<u64>();
        }
        let mut parts = vec![MemPart {
            name: "runtime",
            description: self.tool.kind.runtime_description(),
            bytes: runtime,
            counts_in_total: true,
        }];
        // The workload: the same two parts (PSS, page tables) as `native`.
        parts.extend(procfs::process_parts(workload_pid)?);
        if let Some(file) = &self.memory_file {
            if let Ok(text) = std::fs::read_to_string(file) {
                if let Ok(bytes) = text.trim().parse() {
                    parts.push(MemPart {
                        name: "cgroup_charge",
                        description: "what the container's cgroup is charged (memory.usage_in_bytes / memory.current): the workload's pages, for information",
                        bytes,
                        counts_in_total: false,
                    });
                }
            }
        }
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let reply = self.chan.request(Command::Exit, READY_TIMEOUT);
        if reply.is_err() {
            self.kill_all();
        }
        // The tool exits when the workload has: crun and runc remove the
        // container's cgroup and state first.
        let status = match self.child.as_mut() {
            Some(child) => wait_for(child, READY_TIMEOUT)?,
            None => None,
        };
        let took = start.elapsed();
        let tail = self.stderr_tail();
        let name = self.tool.kind.name();
        if status.is_none() {
            // Timed out (or killed above): Drop kills and cleans up.
            reply.with_context(|| format!("asking the workload to exit{tail}"))?;
            bail!("{name} did not exit within {READY_TIMEOUT:?} after the workload did{tail}");
        }
        self.child = None;
        // Normally nothing is left; this only acts when the tool misbehaved.
        self.clean_up();
        match reply.with_context(|| format!("asking the workload to exit{tail}"))? {
            Message::Done => {}
            other => bail!("expected DONE from the workload, got {other:?}"),
        }
        match status {
            Some(s) if s.success() => Ok(took),
            Some(s) => bail!("{name} ended with {s} after the workload's DONE{tail}"),
            None => bail!("{name} did not exit"),
        }
    }
}

impl Drop for PeerInstance {
    fn drop(&mut self) {
        // Error and panic paths: never leave a process, a container's
        // state or a cgroup behind.
        self.kill_all();
        self.clean_up();
    }
}

/// Waits up to `timeout` for `child` to exit; `None` if it did not.
fn wait_for(child: &mut Child, timeout: Duration) -> anyhow::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    // Short sleeps first: a tool usually exits within milliseconds, and
    // the teardown time includes however long we oversleep.
    let mut nap = Duration::from_micros(20);
    loop {
        if let Some(status) = child.try_wait().context("waiting for the tool")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(1));
    }
}

/// The tool's path: on PATH, or in the sbin directories where Debian puts
/// runc (they are missing from non-root users' PATH).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// crun's hybrid check: is there a cgroup2 tree at /sys/fs/cgroup/unified
/// (next to cgroup v1 hierarchies) with controllers?
fn unified_has_controllers() -> bool {
    use std::os::unix::ffi::OsStrExt;
    let unified = Path::new(std::ffi::OsStr::from_bytes(UNIFIED.to_bytes()));
    std::fs::read_to_string(unified.join("cgroup.controllers"))
        .map(|c| !c.trim().is_empty())
        .unwrap_or(false)
}

/// Mount points of every cgroup hierarchy, v1 and v2 (from mountinfo, see proc(5)).
fn cgroup_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            // "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts"
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount_point = left.split(' ').nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect()
}

/// Kills what is still in cgroup `dir` and removes it; Ok if it is not there.
fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let members = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in members.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY: members are still exiting.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes what a vmvc that crashed left: containers the tool still lists
/// (`vmvc-<tag>-<n>`), cgroups (`vmvc/<tag>-peer-*`) and temp dirs
/// (`vmvc-peer.<tag>-<seq>`), each only when its owner process is gone.
fn remove_leftovers(tool: &ToolCmd) {
    let dead = |s: &str| Owner::parse(s).is_some_and(|o| !o.is_alive());
    if tool.kind.is_oci() {
        for id in tool.list().unwrap_or_default() {
            if id.strip_prefix("vmvc-").is_some_and(dead) {
                let _ = tool.delete(&id);
            }
        }
        for mount in cgroup_mounts() {
            let parent = mount.join(bench_container::cgroup::PARENT);
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.contains("-peer-") && dead(&name) {
                    let _ = remove_cgroup(&e.path());
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.strip_prefix(DIR_PREFIX).is_some_and(dead) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Our private (0700) temp dir, removed on drop.
#[derive(Debug)]
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new(tag: &str) -> anyhow::Result<PrivateDir> {
        let path = std::env::temp_dir().join(format!("{DIR_PREFIX}{tag}-{}", owner::next_seq()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `tool` can be tested here; prints a loud SKIPPED line when
    /// not, or fails when VMVC_REQUIRE_PEERS=1 (CI).
    fn testable(env: &PeerEnv) -> bool {
        let root = nix::unistd::geteuid().is_root();
        let Some(why) = env.why_not(root) else {
            return true;
        };
        let name = env.name();
        if std::env::var("VMVC_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{name}: {why}; VMVC_REQUIRE_PEERS=1 forbids skipping");
        }
        eprintln!("\n*** SKIPPED {name} test: {why} ***\n");
        false
    }

    fn env(tool: Tool) -> PeerEnv {
        let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
        PeerEnv::new(tool, exe.path().to_owned())
    }

    /// Nothing of launch `id` (with cgroup `cgroup`) is left on the host.
    fn assert_nothing_left(tool: &ToolCmd, id: &str, cgroup: Option<&str>) {
        if tool.kind.is_oci() {
            let listed = tool.list().expect("tool list");
            assert!(
                !listed.iter().any(|l| l == id),
                "{id} still listed by {}",
                tool.kind.name()
            );
            let state = tool.kind.state_dir(id).expect("state dir");
            assert!(!state.exists(), "{} left behind", state.display());
        }
        if let Some(cg) = cgroup {
            for mount in cgroup_mounts() {
                let dir = mount.join(cg.trim_start_matches('/'));
                assert!(!dir.exists(), "cgroup {} left behind", dir.display());
            }
        }
    }

    fn launch_run_measure_teardown(tool: Tool) {
        let mut env = env(tool);
        if !testable(&env) {
            return;
        }
        let name = env.name();
        for round in 0..2 {
            let mut inst = env.start().expect("READY");
            let (id, cgroup) = (inst.id.clone(), inst.cgroup.clone());
            let tool_cmd = inst.tool.clone();
            let l = inst.launch().clone();
            let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, ["spawn", "workload_start"]);
            eprintln!(
                "{name} launch {round}: READY after {:.2} ms {:?}",
                l.ready.as_secs_f64() * 1e3,
                l.phases
            );
            crate::env::run_every_workload_once(&mut inst, READY_TIMEOUT);
            if let Some(c) = inst.child.as_ref() {
                let tree: Vec<(u32, Option<String>)> = descendants(c.id())
                    .into_iter()
                    .map(|p| (p, comm(p)))
                    .collect();
                eprintln!("{name}: tool pid {} and below it {tree:?}", c.id());
            }
            let mem = inst.memory().expect("memory");
            eprintln!(
                "{name} memory (KiB): {:?}",
                mem.iter()
                    .map(|p| (p.name, p.bytes >> 10))
                    .collect::<Vec<_>>()
            );
            for part in ["runtime", "workload", "page_tables"] {
                let bytes = mem.iter().find(|p| p.name == part).map(|p| p.bytes);
                assert!(
                    bytes.unwrap_or(0) > 0,
                    "{name}: memory part {part}: {bytes:?}"
                );
            }
            let took = Box::new(inst).teardown().expect("clean teardown");
            eprintln!("{name} teardown {:.2} ms", took.as_secs_f64() * 1e3);
            assert_nothing_left(&tool_cmd, &id, cgroup.as_deref());
        }
        // Dropping an instance without teardown (the error path) also
        // leaves nothing: the workload is killed, state and cgroup removed.
        let inst = env.start().expect("READY");
        let (id, cgroup, tool_cmd) = (inst.id.clone(), inst.cgroup.clone(), inst.tool.clone());
        let tool_pid = inst.child.as_ref().map(|c| c.id()).expect("tool running");
        let below = descendants(tool_pid);
        drop(inst);
        assert_nothing_left(&tool_cmd, &id, cgroup.as_deref());
        // SIGKILL is delivered at once but dying takes a moment: allow it
        // a second to be gone (or a zombie, no longer running).
        let gone = |pid: u32| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            matches!(state, None | Some("Z") | Some("X"))
        };
        let deadline = Instant::now() + Duration::from_secs(1);
        for pid in below {
            while !gone(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert!(gone(pid), "process {pid} ({:?}) survived", comm(pid));
        }
        // And the environment's temp dir goes with the environment.
        let dir = env
            .state
            .as_ref()
            .map(|s| s.dir.path.clone())
            .expect("state");
        drop(env);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn crun_launch_run_measure_teardown() {
        launch_run_measure_teardown(Tool::Crun);
    }

    #[test]
    fn runc_launch_run_measure_teardown() {
        launch_run_measure_teardown(Tool::Runc);
    }

    #[test]
    fn bwrap_launch_run_measure_teardown() {
        launch_run_measure_teardown(Tool::Bwrap);
    }

    /// What a crashed vmvc left (a cgroup and a temp dir tagged with a dead
    /// owner) is removed by the next environment's first launch.
    #[test]
    fn leftovers_of_a_dead_owner_are_removed() {
        let mut env = env(Tool::Runc);
        if !testable(&env) {
            return;
        }
        // No process has pid 0x3fffffff (above pid_max): a dead owner.
        let dead = "1073741823-1";
        let mount = cgroup_mounts()
            .into_iter()
            .find(|m| m.join("cgroup.procs").exists())
            .expect("a cgroup hierarchy");
        let parent = mount.join(bench_container::cgroup::PARENT);
        std::fs::create_dir_all(&parent).expect("vmvc parent");
        let cg = parent.join(format!("{dead}-peer-runc-1"));
        std::fs::create_dir(&cg).expect("leftover cgroup");
        let tmp = std::env::temp_dir().join(format!("{DIR_PREFIX}{dead}-0"));
        std::fs::create_dir(&tmp).expect("leftover temp dir");
        let inst = env.start().expect("READY");
        assert!(!cg.exists(), "{} not removed", cg.display());
        assert!(!tmp.exists(), "{} not removed", tmp.display());
        Box::new(inst).teardown().expect("teardown");
    }

    #[test]
    fn config_matches_container_full() {
        let c = oci_config(Path::new("/tmp/r"), "/vmvc/1-2-peer-crun-3").expect("config");
        assert_eq!(c["root"]["path"], "/tmp/r");
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(c["process"]["args"], json!(["/vmvc-workload", "3"]));
        assert_eq!(c["linux"]["cgroupsPath"], "/vmvc/1-2-peer-crun-3");
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .expect("namespaces")
            .iter()
            .filter_map(|n| n["type"].as_str())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
        assert!(c["mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .any(|m| m["destination"] == "/proc" && m["type"] == "proc"));
    }

    #[test]
    fn names_and_plain_reasons() {
        for t in Tool::ALL {
            let name = format!("peer:{}", t.name());
            let env = PeerEnv::from_name(&name, PathBuf::from("/nonexistent")).expect("known");
            assert_eq!(env.name(), name);
            if let Some(why) = env.why_not(false) {
                assert!(
                    why.contains("apt-get install") || why.contains("root"),
                    "{why}"
                );
            }
        }
        assert!(PeerEnv::from_name("peer:docker", PathBuf::new()).is_none());
    }

    #[test]
    fn children_of_a_child() {
        let mut c = Proc::new("sleep").arg("5").spawn().expect("sleep");
        let me = std::process::id();
        assert!(descendants(me).contains(&c.id()));
        let _ = c.kill();
        let _ = c.wait();
    }
}
