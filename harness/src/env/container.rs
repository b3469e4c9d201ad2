//! `container:<profile>`: the workload in a container built from Linux
//! primitives by `bench-container` (namespaces, chroot or pivot_root,
//! cgroups), one row per profile:
//!
//! - `container:chroot` — chroot only, the "directory jail";
//! - `container:chroot+cgroup` — chroot plus a cgroup, the classic definition;
//! - `container:full` (also plain `container`) — mount, pid, uts, ipc and net
//!   namespaces, pivot_root with the old root detached, its own /proc and
//!   hostname, a cgroup, and the security defaults of a real runtime
//!   (bench-container's `container::security`: read-only and masked paths,
//!   the root read-only, no_new_privs, runc's capabilities, seccomp), each
//!   a phase of its own;
//! - `container:full-nosec` — the same without those six steps: what
//!   security costs at startup is the difference of the two rows.
//!
//! Run by a normal user, every profile is **rootless**: each container gets
//! a user namespace of its own (bench-container's `userns`), its row is
//! labelled rootless, and the id mapping is a phase of its own
//! (`userns_map`). A profile with a cgroup then needs a delegated cgroup v2
//! subtree; without one its row says why and how to get one.
//!
//! The rootfs (the workload binary and empty mount points) is assembled once
//! per environment in a private temp dir and shared read-only by every
//! launch; it is removed when the environment is dropped. The
//! `bench_container::Runtime` removes what crashed earlier runs left behind.

use super::channel::{self, Channel};
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use anyhow::Context;
use bench_container::cgroup::delegation;
use bench_container::{
    userns, Container, IdMap, Limits, Profile, Rootfs, RootfsBuilder, Runtime, Spec,
};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// How long a launch may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the workload lives inside the rootfs.
const EXE_IN_ROOTFS: &str = "/vmvc-workload";

/// The profiles a row or a shell can name: bench-container's, and
/// `full-nosec`, the full profile without its security defaults. Returns
/// the profile and whether the security defaults are on.
pub fn parse_profile(name: &str) -> anyhow::Result<(Profile, bool)> {
    if name == NOSEC {
        return Ok((Profile::Full, false));
    }
    let profile = Profile::from_name(name).with_context(|| {
        format!(
            "unknown container profile {name:?}; profiles: chroot, chroot+cgroup, full, {NOSEC}"
        )
    })?;
    Ok((profile, profile == Profile::Full))
}

/// The full profile without the security defaults.
pub const NOSEC: &str = "full-nosec";

/// One container profile as an environment.
pub struct ContainerEnv {
    profile: Profile,
    /// The security defaults (`Spec::secure`): off only for `full-nosec`.
    secure: bool,
    exe: PathBuf,
    /// Made on first launch: so that listing environments needs no root.
    state: Option<(Runtime, Arc<Rootfs>)>,
    launches: u64,
    /// Not root: every container in a user namespace of its own.
    rootless: bool,
    /// Each container's limits (none for the measured rows; fault tests
    /// set a memory limit to see the OOM killer at work).
    limits: Limits,
}

impl ContainerEnv {
    /// `profile_name`: `chroot`, `chroot+cgroup`, `full` or `full-nosec`.
    pub fn new(profile_name: &str, exe: PathBuf) -> anyhow::Result<ContainerEnv> {
        let (profile, secure) = parse_profile(profile_name)?;
        Ok(ContainerEnv {
            profile,
            secure,
            exe,
            state: None,
            launches: 0,
            rootless: !bench_container::is_root(),
            limits: Limits::default(),
        })
    }

    /// Holds every container to `bytes` of memory (its cgroup's limit):
    /// past it, the kernel's OOM killer ends the workload, and the request
    /// that was running fails saying so. Needs a profile with a cgroup.
    pub fn with_memory_limit(mut self, bytes: u64) -> ContainerEnv {
        self.limits.memory_bytes = Some(bytes);
        self
    }

    fn state(&mut self) -> anyhow::Result<&(Runtime, Arc<Rootfs>)> {
        if self.state.is_none() {
            let runtime = if self.rootless {
                let delegated = match self.profile.uses_cgroup() {
                    true => Some(delegation::find().map_err(anyhow::Error::msg)?),
                    false => None,
                };
                Runtime::rootless(IdMap::detect(), delegated)
                    .context("setting up the rootless container environment")?
            } else if self.profile.uses_cgroup() {
                Runtime::new().context("setting up cgroups for the container environment")?
            } else {
                Runtime::without_cgroups()
            };
            let rootfs = RootfsBuilder::new()
                .file(&self.exe, EXE_IN_ROOTFS)
                .build()
                .context("assembling the container rootfs")?;
            self.state = Some((runtime, Arc::new(rootfs)));
        }
        self.state.as_ref().context("container state")
    }
}

impl Environment for ContainerEnv {
    fn name(&self) -> String {
        match self.secure || self.profile != Profile::Full {
            true => format!("container:{}", self.profile.name()),
            false => format!("container:{NOSEC}"),
        }
    }

    fn description(&self) -> String {
        match self.profile {
            Profile::Chroot => "The workload chrooted into a private rootfs: no namespaces, no cgroup (a \"directory jail\").".into(),
            Profile::ChrootCgroup => "The workload chrooted into a private rootfs and placed in a cgroup of its own: the classic definition of a container.".into(),
            Profile::Full if self.secure => "The workload in new mount, pid, uts, ipc and net namespaces, pivot_root'ed into a read-only rootfs with its own /proc and hostname, in a cgroup of its own, with the security defaults of a real runtime: /proc/sys and friends read-only, /proc/kcore and friends masked, runc's 14 capabilities, no_new_privs, a seccomp filter.".into(),
            Profile::Full => "container:full without its security defaults (for teaching: what security costs at startup): the same namespaces, pivot_root, /proc, hostname and cgroup, but a writable rootfs, /proc/sys writable, nothing masked, every capability, no no_new_privs, no seccomp filter.".into(),
        }
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "A container is a host process: it runs on the host kernel, so a system call costs what it costs natively (see the syscall column); the boundary round trip crosses the same kernel as native, and anything it costs more is set-up on the way (e.g. the cgroup the launcher and the workload sit in), not a layer in between.".into(),
        ];
        if self.profile.uses_cgroup() {
            notes.push(
                "Memory is the container's cgroup charge (memory.current / memory.usage_in_bytes, split by memory.stat) plus the file-backed pages it maps that were charged to the launcher (the binary's page cache).".into(),
            );
        }
        if self.profile == Profile::Full {
            notes.push(
                "Startup includes creating a network namespace, the most expensive of the five (see the clone phase).".into(),
            );
            notes.push(if self.secure {
                "The security defaults are six phases of their own, in runc's order: readonly_paths and masked_paths (before pivot_root), then rootfs_readonly, no_new_privs, drop_caps and seccomp (the filter compiled once per process, installed per launch); container:full-nosec leaves them out.".into()
            } else {
                "Leaves out the six security phases of container:full (readonly_paths, masked_paths, rootfs_readonly, no_new_privs, drop_caps, seccomp): root inside keeps every capability, may mount, write /proc/sys and the rootfs, and make user namespaces. For comparison only; not a box to run anything in.".into()
            });
        }
        if self.rootless {
            notes.push(format!(
                "Rootless: the container has a user namespace of its own ({}). Creating it is part \
                 of clone; writing its id map is the phase userns_map.",
                self.state
                    .as_ref()
                    .and_then(|(rt, _)| rt.id_map())
                    .map_or_else(|| IdMap::detect().describe(), IdMap::describe)
            ));
        }
        if let Some(layout) = self.state.as_ref().and_then(|(rt, _)| rt.layout()) {
            notes.push(format!("cgroups: {}", layout.describe()));
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        super::shared_host_kernel_path(w)
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        if host.root {
            return None;
        }
        if let Err(why) = userns::probe() {
            return Some(format!("rootless containers need a user namespace: {why}"));
        }
        if self.profile.uses_cgroup() {
            if let Err(why) = delegation::find() {
                return Some(format!("rootless, this profile needs a cgroup: {why}"));
            }
        }
        None
    }

    fn rootless(&self) -> bool {
        self.rootless
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let (profile, secure, limits) = (self.profile, self.secure, self.limits);
        self.launches += 1;
        let name = format!("w{}", self.launches);
        let (runtime, rootfs) = self.state()?;
        let (chan, theirs) = Channel::pair()?;
        let fd = theirs.as_raw_fd();
        let mut spec = Spec::new(&name, profile, rootfs.clone(), EXE_IN_ROOTFS)
            .arg(fd.to_string())
            .keep_fd(fd);
        spec.limits = limits;
        spec.secure = secure;
        let container = runtime
            .spawn(&spec)
            .with_context(|| format!("starting {}", self.name()))?;
        drop(theirs);
        let mut inst = ContainerInstance {
            container: Some(container),
            chan,
            launch: Launch::from_marks(Instant::now(), &[]),
        };
        // Dropping `inst` on an error below kills the container and removes its cgroup.
        inst.chan.wait_ready(READY_TIMEOUT)?;
        let ready = Instant::now();
        let c = inst.container.as_ref().context("container")?;
        let mut marks = c.marks().to_vec();
        marks.push(("workload_start", ready));
        inst.launch = Launch::from_marks(c.t0(), &marks);
        Ok(Box::new(inst))
    }
}

pub struct ContainerInstance {
    container: Option<Container>,
    chan: Channel,
    launch: Launch,
}

impl Instance for ContainerInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        let reply = self.chan.request(cmd, timeout);
        // A workload that vanished mid-request may have met its memory limit.
        let oom = self
            .container
            .as_ref()
            .and_then(Container::cgroup)
            .map_or(0, |cg| cg.oom_kills());
        match reply {
            Err(e) if oom > 0 => Err(e.context(format!(
                "the kernel's OOM killer killed the workload ({oom} OOM kill(s) in the \
                 container's cgroup): it used more memory than the container's limit"
            ))),
            other => other,
        }
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let c = self
            .container
            .as_ref()
            .context("container already torn down")?;
        let m = c.memory().context("reading the container's memory")?;
        let mut parts = Vec::new();
        if let Some(current) = m.cgroup_current {
            parts.push(MemPart {
                name: "cgroup_charge",
                description: "what the container's cgroup is charged (memory.current / memory.usage_in_bytes)",
                bytes: current,
                counts_in_total: true,
            });
            for (name, description, bytes) in [
                (
                    "cgroup_anon",
                    "of which anonymous memory (memory.stat anon / rss)",
                    m.split.anon,
                ),
                (
                    "cgroup_file",
                    "of which page cache (memory.stat file / cache)",
                    m.split.file,
                ),
                (
                    "cgroup_kernel",
                    "of which kernel memory: page tables, stacks, slab (the rest of the charge)",
                    m.split.kernel,
                ),
            ] {
                parts.push(MemPart {
                    name,
                    description,
                    bytes,
                    counts_in_total: false,
                });
            }
            parts.push(MemPart {
                name: "uncharged_file",
                description: "file pages the workload maps that were charged to the launcher, not the cgroup (the binary)",
                bytes: m.uncharged,
                counts_in_total: true,
            });
            parts.push(MemPart {
                name: "workload_pss",
                description:
                    "the workload process's proportional set size (inside the figures above)",
                bytes: m.workload.pss,
                counts_in_total: false,
            });
        } else {
            parts.push(MemPart {
                name: "workload",
                description:
                    "the workload process's proportional set size (PSS); no cgroup in this profile",
                bytes: m.workload.pss,
                counts_in_total: true,
            });
        }
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let reply = self.chan.request(Command::Exit, READY_TIMEOUT);
        let c = self
            .container
            .take()
            .context("container already torn down")?;
        // Reap (killing if EXIT went unanswered), kill stragglers, remove the cgroup.
        let grace = if reply.is_ok() {
            READY_TIMEOUT
        } else {
            Duration::ZERO
        };
        c.teardown(grace).context("tearing the container down")?;
        channel::expect_done(reply?, "the workload")?;
        Ok(start.elapsed())
    }
}
