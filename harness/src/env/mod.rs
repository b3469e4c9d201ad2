//! Environments: what runs the workload (the rows of every table).
//!
//! Each environment starts instances of the same workload and hands back an
//! [`Instance`] that is READY, with the timings of how it got there
//! ([`crate::measure`]). The experiments in [`crate::experiment`] only ever
//! see these two traits, so adding an environment never touches the
//! measuring code. The rows and what each one runs are defined in DESIGN.md
//! ("Environments").
//!
//! The files, top to bottom (each uses only what is below it, and this file
//! uses none of them):
//!
//! - `registry` (`by_name`, `KNOWN`): every row by name;
//! - the rows: [`native`], [`container`] (bench-container), [`peer`]
//!   (crun, runc, bwrap; QEMU, Firecracker, Cloud Hypervisor), [`vm_bare`]
//!   and [`vm_linux`] (bench-vm); [`vm_bare_warm`], [`vm_bare_restored`]
//!   and [`container_warm`]: warm and restored starts;
//! - [`vmm_process`]: one VMM process per VM, for `vm-bare:process` and
//!   `vm-linux:process`; [`kvm_mem`]: a VM's memory parts;
//! - [`child`]: a child process on a channel; [`channel`]: the launcher's
//!   end of a workload's socket.

pub mod channel;
pub mod child;
pub mod container;
pub mod container_warm;
pub mod kvm_mem;
pub mod native;
pub mod peer;
mod registry;
pub mod vm_bare;
pub mod vm_bare_restored;
pub mod vm_bare_warm;
pub mod vm_linux;
pub mod vmm_process;
#[cfg(test)]
mod warm_tests;

pub use registry::{by_name, KNOWN, OPT_IN};

use crate::measure::{Launch, MemPart};
use std::time::Duration;
use workload::protocol::{Command, Message, Workload};

/// An environment: a way to run the workload.
pub trait Environment {
    /// Row name: `native`, `container:full`, `vm-bare`, ...
    fn name(&self) -> String;
    /// One sentence: what runs the workload here.
    fn description(&self) -> String;
    /// Things a reader must know to read this row's figures.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// What one operation of `w` crosses here (for `syscall` and `boundary`).
    fn path_of(&self, w: Workload) -> Option<String> {
        let _ = w;
        None
    }
    /// Why this environment cannot run on `host`, in plain words; `None`
    /// when it can. Unavailable environments are reported, not measured.
    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        let _ = host;
        None
    }
    /// Runs without root, in user namespaces (labelled rootless in the
    /// table, results.json and the report).
    fn rootless(&self) -> bool {
        false
    }
    /// The guest kernel this environment boots, for the results (vm-linux).
    fn guest_kernel(&self) -> Option<reports::GuestKernel> {
        None
    }
    /// Starts one instance and returns it READY.
    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>>;
}

/// A running, READY instance of the workload.
pub trait Instance {
    /// How this instance started.
    fn launch(&self) -> &Launch;
    /// Sends `cmd` and returns the workload's answer, serving boundary
    /// round trips on the way; fails after `timeout`.
    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message>;
    /// What this instance, idle, costs the host now, split into parts.
    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>>;
    /// Keeps the idle instance off the CPU while another row is measured,
    /// until [`Instance::resume`]. Nothing to do for most: an idle process,
    /// or a guest under our own VMM, waits in a blocking read. A guest under
    /// a third-party VMM busy-polls its UART instead, and on a pinned run
    /// would take half the CPU from the row being measured.
    fn pause(&mut self) {}
    /// Undoes [`Instance::pause`].
    fn resume(&mut self) {}
    /// Stops the workload and releases everything; returns how long it took.
    fn teardown(self: Box<Self>) -> anyhow::Result<Duration>;
}

/// [`Environment::path_of`] for a host process in a sandbox (containers and
/// peers): it shares the host kernel with native, so it crosses what native
/// crosses.
pub(crate) fn shared_host_kernel_path(w: Workload) -> Option<String> {
    match w {
        Workload::Syscall => Some("shared host kernel (getppid), as native".into()),
        Workload::Boundary => {
            Some("socket round trip through the shared host kernel, as native".into())
        }
        _ => None,
    }
}

/// What building an environment may need besides its name.
pub struct Context<'a> {
    /// The freestanding workload binary, installed.
    pub exe: &'a crate::workload_exe::WorkloadExe,
    /// `--kernel PATH`: the guest kernel for `vm-linux`.
    pub kernel: Option<std::path::PathBuf>,
    /// `--kernel-cmdline`: the Linux guest's command line, replacing the default.
    pub kernel_cmdline: Option<String>,
    /// `--force`: attempt environments this host is known not to support.
    pub force: bool,
    /// Where to say what is done on the user's behalf (fetching a kernel).
    pub say: &'a dyn Fn(&str),
    /// The `vmvc` binary, which `vm-bare:process` and `vm-linux:process`
    /// re-run as a VMM
    /// [default: this executable, when it is vmvc].
    pub vmvc_exe: Option<std::path::PathBuf>,
    /// `--firecracker PATH` [default: `firecracker` on PATH].
    pub firecracker: Option<std::path::PathBuf>,
    /// `--cloud-hypervisor PATH` [default: `cloud-hypervisor` on PATH].
    pub cloud_hypervisor: Option<std::path::PathBuf>,
}

impl<'a> Context<'a> {
    /// No options, nothing said: what `vmvc doctor` and tests build with.
    pub fn plain(exe: &'a crate::workload_exe::WorkloadExe) -> Context<'a> {
        fn silent(_: &str) {}
        Context {
            exe,
            kernel: None,
            kernel_cmdline: None,
            force: false,
            say: &silent,
            vmvc_exe: None,
            firecracker: None,
            cloud_hypervisor: None,
        }
    }
}

/// An environment that cannot be built on this host; reported, not measured.
pub struct Unavailable {
    pub name: String,
    pub description: String,
    pub why: String,
}

impl Environment for Unavailable {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn description(&self) -> String {
        self.description.clone()
    }
    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        Some(self.why.clone())
    }
    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        anyhow::bail!("{} is not available here: {}", self.name, self.why)
    }
}

/// Test helper: runs every workload once, small, and checks each answer.
#[cfg(test)]
pub(crate) fn run_every_workload_once(inst: &mut dyn Instance, timeout: Duration) {
    for w in workload::protocol::Workload::ALL {
        let cmd = Command::Run {
            workload: w as u8,
            size: 1 << 20,
            iterations: 100,
        };
        match inst.request(cmd, timeout) {
            Ok(Message::Result { workload, ops, .. }) => {
                assert!(workload == w as u8 && ops > 0, "{}", w.name())
            }
            other => panic!("{}: {other:?}", w.name()),
        }
    }
}

/// Test helper: `inst`'s memory, printed in KiB under `what`.
#[cfg(test)]
pub(crate) fn memory_said(inst: &mut dyn Instance, what: &str) -> Vec<MemPart> {
    let mem = inst.memory().expect("memory");
    let kib: Vec<(&str, u64)> = mem.iter().map(|p| (p.name, p.bytes >> 10)).collect();
    eprintln!("{what} memory (KiB): {kib:?}");
    mem
}

/// Test helper: the bytes of memory part `name`, if it is there.
#[cfg(test)]
pub(crate) fn part(mem: &[MemPart], name: &str) -> Option<u64> {
    mem.iter().find(|p| p.name == name).map(|p| p.bytes)
}
