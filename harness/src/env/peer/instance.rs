//! One launch of a peer: start the tool, wait for READY, measure the
//! processes it left running, tear it all down.
//!
//! A launch gets a directory of its own in the environment's private temp
//! dir (the OCI bundle's `config.json`, the tool's stderr, kept for error
//! messages), an id and, for OCI runtimes, a cgroup path, all tagged with
//! our owner tag ([`super::cleanup`]). `t0` is taken just before the tool is
//! spawned. While the container runs, the tool's process tree is read from
//! /proc: the one process named `vmvc-workload` is the workload, every other
//! one is the tool's (crun's or runc's foreground process, bwrap's monitor
//! and its init). Teardown asks the workload to exit and waits for the tool
//! to follow, as it does when its container ends; `Drop` kills whatever is
//! left on error and panic paths.

use super::cleanup::{self, PrivateDir};
use super::tool::{ToolCmd, READY_TIMEOUT, WORKLOAD_COMM};
use super::{bwrap, oci};
use crate::env::channel::{self, Channel};
use crate::env::child::ChildProc;
use crate::env::Instance;
use crate::measure::{Launch, MemPart};
use crate::procfs::{self, comm, descendants};
use anyhow::{bail, Context};
use bench_container::Rootfs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message};

/// What every launch of one environment shares.
pub(super) struct Shared {
    pub(super) tool: ToolCmd,
    /// The rootfs with the workload at /vmvc-workload, shared read-only.
    pub(super) rootfs: Arc<Rootfs>,
    /// Our private temp dir: one `launch-<n>/` per launch (config.json, the
    /// tool's stderr).
    pub(super) dir: Arc<PrivateDir>,
    /// The memory controller's hierarchy root, for the cgroup charge (OCI).
    pub(super) memory_root: Option<(PathBuf, &'static str)>,
    /// This process's owner tag, in every name we create.
    pub(super) tag: String,
    /// Rootless OCI runtimes: the ids root maps to in the user namespace.
    pub(super) rootless: Option<oci::RootlessIds>,
}

/// Starts launch number `n` of the environment that shares `state`, and
/// returns it READY.
pub(super) fn start(state: &Shared, n: u64) -> anyhow::Result<PeerInstance> {
    let kind = state.tool.kind;
    let id = format!("vmvc-{}-{n}", state.tag);
    let cgroup = (kind.is_oci() && state.rootless.is_none()).then(|| {
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
    if kind.is_oci() {
        let root = state.rootfs.root();
        oci::write_config(
            &launch_dir,
            root,
            cgroup.as_deref(),
            state.rootless.as_ref(),
        )?;
    }
    let (chan, theirs) = Channel::pair()?;
    let mut cmd = state.tool.command(Some(theirs.as_raw_fd()));
    cmd.stderr(log);
    if kind.is_oci() {
        oci::run_args(&mut cmd, &launch_dir, &id);
    } else {
        bwrap::args(&mut cmd, state.rootfs.root());
    }
    let memory_file = match (&state.memory_root, &cgroup) {
        (Some((root, file)), Some(cg)) => Some(root.join(cg.trim_start_matches('/')).join(file)),
        _ => None,
    };
    // From here on, dropping `inst` kills what we started and removes
    // the container's state and cgroup.
    let mut inst = PeerInstance {
        tool: state.tool.clone(),
        id,
        cgroup,
        proc: ChildProc::new(chan),
        launch: Launch::from_marks(Instant::now(), &[]),
        launch_dir,
        memory_file,
        _dir: state.dir.clone(),
        _rootfs: state.rootfs.clone(),
    };

    let t0 = Instant::now();
    let spawned = inst
        .proc
        .spawn(&mut cmd, theirs)
        .with_context(|| format!("starting {}", inst.tool.path.display()))?;
    if let Err(e) = inst.proc.chan.wait_ready(READY_TIMEOUT) {
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

/// A running, READY workload under a peer tool.
pub struct PeerInstance {
    pub(super) tool: ToolCmd,
    /// The container id (OCI) or a name for messages (bwrap).
    pub(super) id: String,
    /// Our cgroup, relative to each hierarchy's root (OCI).
    pub(super) cgroup: Option<String>,
    /// The tool's process: `crun run`, `runc run`, or bwrap's monitor.
    pub(super) proc: ChildProc,
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
        if let Some(tool_pid) = self.proc.pid() {
            for pid in descendants(tool_pid) {
                // ESRCH: it is gone already, which is what we want.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        self.proc.kill();
    }

    /// Removes whatever the launch left: the tool's state (`delete -f`), our
    /// cgroup in every hierarchy, the launch directory. Safe to call twice.
    fn clean_up(&mut self) {
        if let Some(state) = oci::state_dir(&self.tool, &self.id) {
            if state.exists() {
                let _ = self.tool.delete(&self.id);
            }
        }
        if let Some(cg) = &self.cgroup {
            for mount in cleanup::cgroup_mounts() {
                let _ = cleanup::remove_cgroup(&mount.join(cg.trim_start_matches('/')));
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
        self.proc.chan.request(cmd, timeout)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let tool_pid = self
            .proc
            .pid()
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
        let reply = self.proc.chan.request(Command::Exit, READY_TIMEOUT);
        if reply.is_err() {
            self.kill_all();
        }
        // The tool exits when the workload has: crun and runc remove the
        // container's cgroup and state first.
        let status = self.proc.wait_within(READY_TIMEOUT)?;
        let took = start.elapsed();
        let tail = self.stderr_tail();
        let name = self.tool.kind.name();
        let Some(status) = status else {
            // Timed out (or killed above): Drop kills and cleans up.
            reply.with_context(|| format!("asking the workload to exit{tail}"))?;
            bail!("{name} did not exit within {READY_TIMEOUT:?} after the workload did{tail}");
        };
        // Normally nothing is left; this only acts when the tool misbehaved.
        self.clean_up();
        let reply = reply.with_context(|| format!("asking the workload to exit{tail}"))?;
        channel::expect_done(reply, "the workload")?;
        if !status.success() {
            bail!("{name} ended with {status} after the workload's DONE{tail}");
        }
        Ok(took)
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
