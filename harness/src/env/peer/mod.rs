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
//! # Where each piece lives
//!
//! - this file: the tools, and a tool as an [`Environment`];
//! - [`tool`]: starting a tool's binary with our socket as fd 3;
//! - [`oci`]: crun and runc (the OCI bundle, `run`/`delete`/`list`, crun's
//!   hybrid-cgroup workaround); [`bwrap`]: bubblewrap's command line;
//! - [`instance`]: one launch, its memory and its teardown;
//! - [`cleanup`]: leaving nothing behind, even after a crash.
//!
//! Sources: the OCI runtime specification
//! (<https://github.com/opencontainers/runtime-spec>: `bundle.md`,
//! `config.md`, `config-linux.md`, `runtime.md`); the man pages crun(1),
//! runc-run(8), runc-delete(8), runc-list(8) and bwrap(1).

mod bwrap;
mod cleanup;
mod instance;
mod oci;
#[cfg(test)]
mod tests;
mod tool;

pub use instance::PeerInstance;

use super::{Environment, Instance};
use anyhow::Context;
use bench_container::owner::Owner;
use bench_container::{Layout, Rootfs, RootfsBuilder};
use cleanup::PrivateDir;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tool::ToolCmd;
use workload::protocol::Workload;

/// How long a launch (or a tool's exit) may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the workload lives inside the rootfs.
const EXE_IN_ROOTFS: &str = "/vmvc-workload";
/// The workload's process name (`/proc/PID/comm`): how we tell it apart from
/// the tool's own processes.
const WORKLOAD_COMM: &str = "vmvc-workload";
/// The fd number the workload finds its socket at, in every peer.
const FD_IN_CONTAINER: RawFd = 3;

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
    /// Decided once, when the environment is made (see [`oci`]).
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

impl PeerEnv {
    pub fn new(kind: Tool, exe: PathBuf) -> PeerEnv {
        PeerEnv {
            kind,
            exe,
            hide_unified: kind == Tool::Crun && oci::unified_has_controllers(),
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
        if tool::find(tool).is_none() {
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
            let path = tool::find(kind.name()).with_context(|| {
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
            cleanup::remove_leftovers(&tool);
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
            notes.push(oci::note(tool));
        } else {
            notes.push(bwrap::NOTE.into());
        }
        if self.hide_unified {
            notes.push(oci::HIDE_UNIFIED_NOTE.into());
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        super::shared_host_kernel_path(w)
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        self.why_not(host.root)
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        Ok(Box::new(self.start()?))
    }
}
