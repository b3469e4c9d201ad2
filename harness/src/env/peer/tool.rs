//! The peer tools, and starting one's binary: found on PATH (or in the sbin
//! directories), with our socket passed down as fd 3.
//!
//! The workload expects its socket at a fixed fd number, but the number our
//! end of `socketpair(2)` got is whatever was free. Between `fork` and
//! `exec` the child `dup2(2)`s it to fd 3 (which also clears close-on-exec,
//! so the fd survives `execve(2)`), and the tool passes fd 3 on to the
//! workload (`--preserve-fds 1` for OCI runtimes, inheritance for bwrap).
//! That code runs in the forked child of a multi-threaded process, where only
//! async-signal-safe calls are allowed (signal-safety(7)): raw system calls
//! on integers, nothing that allocates or locks.

use super::hybrid;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::time::Duration;

/// How long a launch (or a tool's exit) may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the workload lives inside the rootfs.
pub(super) const EXE_IN_ROOTFS: &str = "/vmvc-workload";
/// The workload's process name (`/proc/PID/comm`): how we tell it apart from
/// the tool's own processes.
pub(super) const WORKLOAD_COMM: &str = "vmvc-workload";
/// The fd number the workload finds its socket at, in every peer.
pub(super) const FD_IN_CONTAINER: RawFd = 3;

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
    pub(super) fn package(self) -> &'static str {
        match self {
            Tool::Crun => "crun",
            Tool::Runc => "runc",
            Tool::Bwrap => "bubblewrap",
        }
    }

    /// crun and runc read an OCI bundle and put the container in a cgroup.
    pub(super) fn is_oci(self) -> bool {
        matches!(self, Tool::Crun | Tool::Runc)
    }

    /// What the `runtime` memory part is, in this tool's terms.
    pub(super) fn runtime_description(self) -> &'static str {
        match self {
            Tool::Crun => "the `crun run` process waiting in the foreground for the container (PSS and page tables)",
            Tool::Runc => "the `runc run` process (a Go program) waiting in the foreground for the container (PSS and page tables)",
            Tool::Bwrap => "bwrap's own processes: the monitor outside the sandbox and the init (pid 1) inside it (PSS and page tables)",
        }
    }
}

/// How to start the tool binary: its path and whether crun needs the
/// hybrid-cgroup workaround ([`hybrid`]).
#[derive(Debug, Clone)]
pub(super) struct ToolCmd {
    pub(super) kind: Tool,
    pub(super) path: PathBuf,
    pub(super) hide_unified: bool,
    /// Rootless OCI runtimes: their state directory (`--root`).
    pub(super) state_root: Option<PathBuf>,
}

impl ToolCmd {
    /// The tool as a command, with our socket (if any) as fd 3 and, for crun
    /// on a hybrid host, the cgroup2 mount hidden from it.
    pub(super) fn command(&self, sock: Option<RawFd>) -> Proc {
        let mut cmd = Proc::new(&self.path);
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        if let Some(root) = &self.state_root {
            cmd.arg("--root").arg(root);
            if self.kind == Tool::Crun {
                // No cgroup for a rootless container here (none delegated).
                cmd.arg("--cgroup-manager=disabled");
            }
        }
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
}

/// Runs in the forked child just before exec (see [`ToolCmd::command`]).
fn in_child(sock: Option<RawFd>, hide_unified: bool) -> std::io::Result<()> {
    if hide_unified {
        hybrid::hide_unified_in_child()?;
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

/// The tool's path: on PATH, or in the sbin directories where Debian puts
/// runc (they are missing from non-root users' PATH).
pub(super) fn find(name: &str) -> Option<PathBuf> {
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
