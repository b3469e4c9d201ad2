//! `peer:crun`, `peer:runc`, `peer:bwrap`: the same workload started by the
//! container tools people actually use, measured next to our own
//! `container:full` in the same run; and `peer:qemu`, `peer:firecracker`,
//! `peer:cloud-hypervisor`, the same bare guest as `vm-bare` under the VMMs
//! people use (see "VM peers" below).
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
//! - this file: a tool as an [`Environment`] (its row);
//! - `instance`: one launch, its memory and its teardown;
//! - `cleanup`: leaving nothing behind, even after a crash;
//! - `oci`: crun and runc (the OCI bundle, `run`/`delete`/`list`);
//!   `bwrap`: bubblewrap's command line;
//! - `qemu`, `firecracker`, `cloud_hypervisor`: each VMM's command line
//!   and how it ends; `vm_env`: a VMM as a row; `vmm`: one launch of it
//!   with the bare guest (READY on its UART, the guest's boot timings, the
//!   memory split, teardown); `guest_clock`: the guest's clock readings
//!   placed on ours; `qemu_linux`: `vm-linux`'s kernel and initramfs under
//!   QEMU, a row of its own on `vmm`;
//! - `tool`: the tools, and starting one's binary with our socket as fd 3
//!   (and finding any binary on PATH);
//! - `hybrid`: crun's workaround on hybrid cgroup hosts.
//!
//! Each file uses only those listed below it.
//!
//! # VM peers
//!
//! `vm-bare` is a VM our own VMM starts, ioctl by ioctl. The VM peers boot
//! the very same guest image with QEMU, Firecracker or Cloud Hypervisor,
//! which reach it through what every VMM has (a PVH or 64-bit entry, a
//! 16550 UART) instead of our protocol ports. The difference in startup and
//! memory is the VMM's own work: a process to start, a machine and device
//! model to build, firmware to run. QEMU is a distribution package and is
//! required in CI; Firecracker and Cloud Hypervisor run when their binary is
//! given or on PATH (untested on this project's machines, which have
//! neither). Where Linux guests run, `peer:qemu-linux` boots `vm-linux`'s
//! kernel and initramfs under QEMU the same way.
//!
//! Sources: the OCI runtime specification
//! (<https://github.com/opencontainers/runtime-spec>: `bundle.md`,
//! `config.md`, `config-linux.md`, `runtime.md`); the man pages crun(1),
//! runc-run(8), runc-delete(8), runc-list(8) and bwrap(1).

mod bwrap;
mod cleanup;
pub(crate) use cleanup::{delete_oci_state, remove_cgroup};
mod cloud_hypervisor;
mod firecracker;
mod guest_clock;
mod hybrid;
mod instance;
mod oci;
mod qemu;
pub mod qemu_linux;
#[cfg(test)]
mod tests;
mod tool;
mod vm_env;
mod vmm;
#[cfg(test)]
mod vmm_tests;

pub use instance::PeerInstance;
pub use tool::{Tool, READY_TIMEOUT};
pub use vm_env::VmPeerEnv;
pub use vmm::VmmInstance;

/// `peer:qemu`, with QEMU from `binary` or PATH.
pub fn qemu_env(binary: Option<PathBuf>) -> VmPeerEnv {
    VmPeerEnv::new(Box::new(qemu::Qemu), binary)
}

/// `peer:firecracker`, with Firecracker from `binary` or PATH.
pub fn firecracker_env(binary: Option<PathBuf>) -> VmPeerEnv {
    VmPeerEnv::new(Box::new(firecracker::Firecracker), binary)
}

/// `peer:cloud-hypervisor`, with Cloud Hypervisor from `binary` or PATH.
pub fn cloud_hypervisor_env(binary: Option<PathBuf>) -> VmPeerEnv {
    VmPeerEnv::new(Box::new(cloud_hypervisor::CloudHypervisor), binary)
}

use super::{Environment, Instance};
use anyhow::Context;
use bench_container::owner::{self, Owner};
use bench_container::{Layout, RootfsBuilder};
use cleanup::PrivateDir;
use instance::Shared;
use std::path::PathBuf;
use std::sync::Arc;
use tool::{ToolCmd, EXE_IN_ROOTFS};
use workload::protocol::Workload;

/// One peer tool as an environment.
pub struct PeerEnv {
    kind: Tool,
    exe: PathBuf,
    /// Decided once, when the environment is made (see [`oci`]).
    hide_unified: bool,
    /// Made on first launch: so that listing environments needs no root.
    shared: Option<Shared>,
    launches: u64,
}

impl PeerEnv {
    pub fn new(kind: Tool, exe: PathBuf) -> PeerEnv {
        PeerEnv {
            kind,
            exe,
            hide_unified: kind == Tool::Crun && hybrid::unified_has_controllers(),
            shared: None,
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
        if !root && self.hide_unified {
            return Some(format!(
                "{tool} 1.8 refuses this hybrid host's cgroups (its cgroup2 tree has controllers), \
                 and vmvc's workaround, unmounting that tree in a private mount namespace, needs \
                 root; run vmvc as root for this row"
            ));
        }
        if !root {
            // bwrap, crun and runc make the user namespace themselves.
            if let Err(why) = bench_container::userns::probe() {
                return Some(format!("rootless {tool} needs a user namespace: {why}"));
            }
            return None;
        }
        if self.kind.is_oci() {
            if let Err(e) = Layout::detect() {
                return Some(format!("{tool} needs cgroups and none are usable: {e}"));
            }
        }
        None
    }

    /// What every launch shares, made on the first.
    fn shared(&mut self) -> anyhow::Result<&Shared> {
        if self.shared.is_none() {
            let kind = self.kind;
            let path = tool::find(kind.name()).with_context(|| {
                format!(
                    "{} is not installed: apt-get install {}",
                    kind.name(),
                    kind.package()
                )
            })?;
            let rootless = kind.is_oci() && !bench_container::is_root();
            let tool = ToolCmd {
                kind,
                path,
                hide_unified: self.hide_unified,
                state_root: match rootless {
                    true => Some(oci::rootless_state_root(kind)?),
                    false => None,
                },
            };
            // Owner tag plus a sequence number: two environments of one
            // process (tests run in parallel) never share a container id.
            let tag = format!("{}-{}", Owner::current().tag(), owner::next_seq());
            cleanup::remove_leftovers(&tool);
            let dir = Arc::new(PrivateDir::new(&tag)?);
            let rootfs = RootfsBuilder::new()
                .file(&self.exe, EXE_IN_ROOTFS)
                .build()
                .context("assembling the peer rootfs")?;
            let memory_root = match (kind.is_oci() && !rootless, Layout::detect()) {
                (true, Ok(Layout::V1 { memory, .. })) => Some((memory, "memory.usage_in_bytes")),
                (true, Ok(Layout::V2 { root })) => Some((root, "memory.current")),
                _ => None,
            };
            self.shared = Some(Shared {
                tool,
                rootfs: Arc::new(rootfs),
                dir,
                memory_root,
                tag,
                rootless: rootless.then(|| oci::RootlessIds {
                    uid: nix::unistd::Uid::current().as_raw(),
                    gid: nix::unistd::Gid::current().as_raw(),
                }),
            });
        }
        self.shared.as_ref().context("peer state")
    }

    /// Starts one instance and returns it READY (the concrete type, for tests).
    fn start(&mut self) -> anyhow::Result<PeerInstance> {
        self.launches += 1;
        let n = self.launches;
        instance::start(self.shared()?, n)
    }
}

impl Environment for PeerEnv {
    fn name(&self) -> String {
        format!("peer:{}", self.kind.name())
    }

    fn description(&self) -> String {
        match self.kind {
            Tool::Crun => "The workload started by crun (the OCI runtime in C, Podman's default) from an OCI bundle: the same read-only rootfs, namespaces and security defaults (masked and read-only paths, capabilities, no_new_privs, the seccomp filter, written into config.json) as container:full, a cgroup of its own.".into(),
            Tool::Runc => "The workload started by runc (the OCI reference runtime in Go, Docker's and containerd's default) from an OCI bundle: the same read-only rootfs, namespaces and security defaults (masked and read-only paths, capabilities, no_new_privs, the seccomp filter, written into config.json) as container:full, a cgroup of its own.".into(),
            Tool::Bwrap => "The workload sandboxed by bubblewrap (bwrap, Flatpak's sandbox tool): new namespaces, the same rootfs bind-mounted read-only as /, its own /proc and /dev; no cgroup.".into(),
        }
    }

    fn notes(&self) -> Vec<String> {
        let tool = self.kind.name();
        let mut notes = vec![
            "A peer container is a host process, like container:full: a system call costs what it costs natively; startup and memory show the tool's own work. Its boundary round trip has come out near 0.85x native under crun and runc (not under bwrap), which the reference run shows; what on that path differs is not yet known.".into(),
            format!("Startup counts from just before `{tool}` is spawned to READY; it includes starting the tool's binary."),
            format!("Memory is {}, plus the workload process (PSS and page tables).", self.kind.runtime_description()),
        ];
        if self.kind.is_oci() {
            notes.push(oci::note(tool));
            if self.rootless() {
                notes.push(oci::rootless_note(tool));
            }
        } else {
            notes.push(bwrap::NOTE.into());
        }
        if self.hide_unified && !self.rootless() {
            notes.push(hybrid::HIDE_UNIFIED_NOTE.into());
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        super::shared_host_kernel_path(w)
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        self.why_not(host.root)
    }

    fn rootless(&self) -> bool {
        !bench_container::is_root()
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        Ok(Box::new(self.start()?))
    }
}
