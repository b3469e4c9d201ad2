//! A third-party VMM as an environment (a row): `peer:qemu`,
//! `peer:firecracker`, `peer:cloud-hypervisor`.
//!
//! Every one of them boots the bare guest of `vm-bare` (the same image,
//! written to vmvc's cache) with the same guest RAM, and reaches it through
//! the guest's UART; what differs is how each is found, started and how it
//! ends, which a [`VmTool`] says (`qemu`, `firecracker`, `cloud_hypervisor`).
//! One launch is [`super::vmm`].

use super::tool;
use super::vmm::{self, VmmSpec};
use crate::env::{Environment, Instance};
use anyhow::Context;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, ExitStatus};
use std::time::Duration;
use workload::protocol::Workload;

/// How long a VMM may take to READY (and to exit) before it is killed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a reader and `vmvc doctor` learn about a VMM.
pub(super) struct About {
    /// The tool's short name: the row is `peer:<name>`.
    pub(super) name: &'static str,
    /// The binary looked up on PATH.
    pub(super) binary: &'static str,
    /// Where to get it, for "not installed".
    pub(super) install_hint: &'static str,
    pub(super) description: &'static str,
}

/// What differs between third-party VMMs.
pub(super) trait VmTool {
    fn about(&self) -> &'static About;
    /// The row's notes beyond the common ones.
    fn notes(&self) -> Vec<String>;
    /// The command for one launch: `image` booted with `ram_bytes` of RAM,
    /// the guest's serial port on `serial` (as an fd or stdio).
    fn command(
        &self,
        binary: &Path,
        image: &Path,
        ram_bytes: u64,
        serial: &OwnedFd,
    ) -> anyhow::Result<Proc>;
    /// Tells whether the VMM's exit status says the guest exited cleanly.
    fn clean_exit(&self) -> fn(ExitStatus) -> bool;
}

/// A third-party VMM's row.
pub struct VmPeerEnv {
    tool: Box<dyn VmTool>,
    /// The binary: given (`--firecracker PATH`, tests), or found on PATH.
    given: Option<PathBuf>,
    ram_bytes: u64,
    /// How long a launch may take to READY (tests shorten it).
    pub(super) ready_timeout: Duration,
    /// The guest image file and the TSC rate, made at the first launch.
    prepared: Option<(PathBuf, f64)>,
}

impl VmPeerEnv {
    pub(super) fn new(tool: Box<dyn VmTool>, given: Option<PathBuf>) -> VmPeerEnv {
        VmPeerEnv {
            tool,
            given,
            ram_bytes: crate::env::vm_bare::RAM_BYTES,
            ready_timeout: READY_TIMEOUT,
            prepared: None,
        }
    }

    fn binary(&self) -> Option<PathBuf> {
        self.given
            .clone()
            .or_else(|| tool::find(self.tool.about().binary))
    }

    /// Why this row cannot run here; `None` when it can.
    pub fn why_not(&self) -> Option<String> {
        if self.binary().is_none() {
            return Some(format!(
                "not installed (no `{}` on PATH): {}",
                self.tool.about().binary,
                self.tool.about().install_hint
            ));
        }
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm");
        kvm.err()
            .map(|e| format!("{} needs /dev/kvm: {e}", self.tool.about().name))
    }
}

impl Environment for VmPeerEnv {
    fn name(&self) -> String {
        format!("peer:{}", self.tool.about().name)
    }

    fn description(&self) -> String {
        self.tool.about().description.into()
    }

    fn notes(&self) -> Vec<String> {
        let bin = self.tool.about().binary;
        let mut notes = vec![
            format!(
                "Startup counts from just before {bin} is spawned to READY on its serial port; \
                 phases inside the VMM come from the guest's own TSC readings (first \
                 instruction, CPL3, READY), reported after READY: spawn, vmm_start, [firmware, \
                 where the guest's TSC was reset,] entry_code (the guest's CPL0 entry), guest_boot."
            ),
            "Memory: the VMM's guest-RAM mapping (pages the guest touched) apart from the VMM's \
             own memory, both PSS, as for vm-bare:process."
                .into(),
            "An idle guest here busy-polls its UART (each poll a VM exit), so it keeps a CPU \
             busy: while the other rows' throughput is measured, its VMM is stopped (SIGSTOP) \
             and only runs for its own repetitions. Density instances are not paused: N of \
             them spin N CPUs, which their startup under density shows."
                .into(),
        ];
        notes.extend(self.tool.notes());
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        let name = self.tool.about().name;
        match w {
            Workload::Syscall => Some(format!(
                "`syscall` from CPL3 into the guest's CPL0 stub, as in vm-bare ({name} is not \
                 involved)"
            )),
            Workload::Boundary => Some(format!(
                "a UART round trip: PING written to {name}'s 16550 (VM exits into its device \
                 model), its serial backend to vmvc, PONG back the same way, polled by the guest"
            )),
            _ => None,
        }
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        self.why_not()
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let binary = self.binary().with_context(|| {
            format!(
                "{} is not installed: {}",
                self.tool.about().name,
                self.tool.about().install_hint
            )
        })?;
        if self.prepared.is_none() {
            let image = crate::workload_exe::install_guest_image()?;
            self.prepared = Some((image, crate::host::tsc_hz()));
        }
        let (image, tsc_hz) = self.prepared.clone().context("prepared above")?;
        let tool = &self.tool;
        let spec = VmmSpec {
            name: tool.about().name,
            ram_bytes: self.ram_bytes,
            ready_timeout: self.ready_timeout,
            clean_exit: tool.clean_exit(),
            tsc_hz,
        };
        let ram = self.ram_bytes;
        let inst = vmm::start(spec, |serial| tool.command(&binary, &image, ram, serial))?;
        Ok(Box::new(inst))
    }
}
