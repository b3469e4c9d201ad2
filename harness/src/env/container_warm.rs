//! `container:warm`: the workload forked by a zygote already in its
//! container (SOCK's idea, USENIX ATC '18).
//!
//! A cold `container:full` launch makes a cgroup, clones into five new
//! namespaces, mounts and pivots its root and execs the workload. Here all
//! of that is done once, before the first `t0`, by a zygote
//! (`bench_container::zygote`): a process set up like `container:full` that,
//! per launch, forks a child which execs the workload. The child shares the
//! zygote's namespaces, root and cgroup, as SOCK's handlers share their
//! zygote's. Phases: `zygote_fork` (the request to the zygote until it
//! answered with the child's pid) and `workload_start` (until READY).
//!
//! Memory: the instances share one cgroup, so its charge is not one
//! instance's; each instance is its process (PSS and page tables, as
//! `native`), and the zygote itself is shown beside it.

use super::channel::{self, Channel};
use super::container::{ContainerEnv, READY_TIMEOUT};
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use anyhow::Context;
use bench_container::zygote::CHILD_FD;
use bench_container::{Forked, Profile, RootfsBuilder, Runtime, Spec, Zygote};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// Where the workload lives inside the rootfs (as in `container`).
const EXE_IN_ROOTFS: &str = "/vmvc-workload";

pub struct ContainerWarm {
    exe: PathBuf,
    /// Made on first launch (so that listing environments needs no root).
    /// Dropped before the runtime, whose cgroups it lives in.
    zygote: Option<Rc<Zygote>>,
    runtime: Option<Runtime>,
}

impl ContainerWarm {
    pub fn new(exe: PathBuf) -> ContainerWarm {
        ContainerWarm {
            exe,
            zygote: None,
            runtime: None,
        }
    }

    fn zygote(&mut self) -> anyhow::Result<Rc<Zygote>> {
        if let Some(z) = &self.zygote {
            if alive(z.container().pid()) {
                return Ok(z.clone());
            }
            // Killed (an OOM, a stray SIGKILL): its namespaces and cgroup
            // went or go with it. Start a new one, zygote before runtime.
            self.zygote = None;
            self.runtime = None;
        }
        let runtime = Runtime::new().context("setting up cgroups for the zygote")?;
        let rootfs = RootfsBuilder::new()
            .file(&self.exe, EXE_IN_ROOTFS)
            .build()
            .context("assembling the container rootfs")?;
        let spec = Spec::new("zygote", Profile::Full, rootfs.into(), EXE_IN_ROOTFS)
            .arg(CHILD_FD.to_string());
        // The zygote keeps the rootfs; the runtime keeps the cgroup tree.
        let z = Rc::new(runtime.spawn_zygote(spec).context("starting the zygote")?);
        self.zygote = Some(z.clone());
        self.runtime = Some(runtime);
        Ok(z)
    }

    /// `container:full`, whose notes and paths this row shares.
    fn cold(&self) -> anyhow::Result<ContainerEnv> {
        ContainerEnv::new("full", self.exe.clone())
    }
}

impl Environment for ContainerWarm {
    fn name(&self) -> String {
        "container:warm".into()
    }

    fn description(&self) -> String {
        "The workload forked by a zygote already set up as container:full (namespaces, \
         pivot_root, cgroup), as SOCK forks serverless handlers from warm zygotes: after t0 \
         only fork and exec."
            .into()
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "Warm phases: zygote_fork (a request to the zygote, with the workload's socket \
             passed as SCM_RIGHTS, until it answered with the child's pid), workload_start \
             (exec to READY). The cgroup, the five namespaces and the root were made once, \
             before the first t0."
                .into(),
            "Memory: every instance shares the zygote's cgroup, so an instance is counted as its \
             process (PSS and page tables, as native); the zygote's own PSS is shown beside it."
                .into(),
            "Teardown: EXIT, DONE, then the zygote (PID 1 of the namespace) reaps the workload."
                .into(),
        ]
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        super::shared_host_kernel_path(w)
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        self.cold().ok()?.unavailable(host)
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let zygote = self.zygote()?;
        // The socket pair is made before t0, as `container` does (its t0
        // is just before the cgroup is made).
        let (chan, theirs) = Channel::pair()?;
        let t0 = Instant::now();
        let child = zygote
            .fork(theirs.as_fd())
            .context("asking the zygote to fork")?;
        let forked = Instant::now();
        drop(theirs);
        let mut inst = WarmContainer {
            zygote,
            child: Some(child),
            chan,
            launch: Launch::from_marks(t0, &[]),
        };
        inst.chan.wait_ready(READY_TIMEOUT)?;
        let ready = Instant::now();
        inst.launch = Launch::from_marks(t0, &[("zygote_fork", forked), ("workload_start", ready)]);
        Ok(Box::new(inst))
    }
}

/// Is process `pid` (our child) still running? A killed child stays a
/// zombie (state `Z` in `/proc/PID/stat`, proc(5)) until it is reaped.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.get(s.rfind(')')? + 1..)?.split_whitespace().next()?;
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// A workload forked by the zygote. Dropped without teardown, its process
/// dies with the zygote's pid namespace at the latest.
pub struct WarmContainer {
    zygote: Rc<Zygote>,
    child: Option<Forked>,
    chan: Channel,
    launch: Launch,
}

impl Instance for WarmContainer {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.chan.request(cmd, timeout)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let pid = self
            .child
            .and_then(|c| c.host_pid)
            .context("the workload's host pid is unknown")?;
        let mut parts = crate::procfs::process_parts(pid)?;
        let zygote = crate::procfs::process_parts(self.zygote.container().pid())?;
        if let Some(z) = zygote.iter().find(|p| p.name == "workload") {
            parts.push(MemPart {
                name: "zygote",
                description: "the zygote process itself (PSS): one per container, shared by every \
                              instance it forks",
                bytes: z.bytes,
                counts_in_total: false,
            });
        }
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let child = self.child.take().context("already torn down")?;
        let reply = self.chan.request(Command::Exit, READY_TIMEOUT);
        if reply.is_err() {
            // It did not answer EXIT: kill it, or the zygote's wait blocks.
            if let Some(pid) = child.host_pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let status = self
            .zygote
            .wait(&child)
            .context("the zygote reaping the workload")?;
        channel::expect_done(reply?, "the workload")?;
        anyhow::ensure!(
            status == 0,
            "the workload ended with wait status {status:#x}"
        );
        Ok(start.elapsed())
    }
}
