//! `vm-linux`: a KVM virtual machine that boots a real Linux kernel, whose
//! `/init` is the workload (bench-vm's `linux` module).
//!
//! This is the row that shows what the others leave out: every VM carries
//! its own kernel. Startup includes the guest kernel's whole boot (phase
//! `kernel_boot`, first `KVM_RUN` until `/init`'s first instruction says
//! READY), memory includes what the guest kernel keeps for itself (as the
//! guest reports it from `/proc/meminfo`), and `syscall` goes to the guest
//! kernel, not the host's.
//!
//! The guest kernel comes from [`crate::kernel`]; its uncompressed `vmlinux`
//! is used when it can be extracted (no decompression in the guest), else
//! the bzImage itself. The initramfs is built once per environment: the
//! freestanding workload as `/init` plus `/dev/console`.
//!
//! Two ways to run it, as for `vm-bare`:
//!
//! - **in-process** (`vm-linux`): the harness itself is the VMM.
//! - **own process** (`vm-linux:process`): one small VMM process per VM,
//!   the `vmvc` binary re-executed as `vmvc __vmm-linux FD KERNEL WORKLOAD
//!   RAM_BYTES BOOT_TIMEOUT_MS` ([`VMM_SUBCOMMAND`], [`vmm_main`]), like
//!   Firecracker, so the VMM's own memory can be measured apart from guest
//!   RAM and from the harness (`process`).
//!
//! **Where it runs.** On hardware KVM (VMX/SVM) and in the project's rig
//! (`rig/`). On a PVM host (`kvm_pvm`) a stock kernel cannot boot (its
//! kernel-mode code is emulated and dies), so the environment is not
//! attempted there unless forced ([`VmLinux::new`]'s `force`), and then with
//! a short timeout.

//!
//! Here: the environment (the kernel and initramfs it boots, its rows'
//! notes); beside it [`restored`], `vm-linux:restored`, the same guest
//! restored from a snapshot; below them `instance`, the in-process VM, and
//! `process`, the VMM process, launcher side and VMM side; below both
//! `guest`, what every guest is; `tests`.

mod guest;
mod instance;
mod process;
pub mod restored;
#[cfg(test)]
mod tests;

pub(crate) use guest::guest_kernel_part;
pub use guest::{BOOT_TIMEOUT, FORCED_PVM_TIMEOUT, RAM_BYTES, REQUEST_TIMEOUT, RIG_BOOT_TIMEOUT};
pub use instance::LinuxInstance;
pub use process::{vmm_main, VmmArgs, PROCESS_PHASES, VMM_SUBCOMMAND};

use super::kvm_mem;
use super::vmm_process;
use super::{Environment, Instance};
use crate::kernel::GuestKernel;
use anyhow::{bail, Context};
use bench_vm::linux::{Config, Initramfs, KernelImage};
use std::path::{Path, PathBuf};
use workload::protocol::Workload;

/// Why a Linux guest is not attempted on this host, in plain words; None
/// when it can run.
pub fn not_supported_here() -> Option<String> {
    // /sys/module/<name> exists for a loaded module and for a built-in one
    // with parameters (kvm_pvm is built into this project's host kernels).
    let pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    if pvm && std::env::var_os("VMVC_RIG").is_none() {
        return Some(
            "this host's /dev/kvm is PVM, a software hypervisor: a stock Linux kernel's own (CPL0) code \
             is emulated instruction by instruction and dies on instructions the emulator lacks, and its \
             programs cannot make system calls. vm-linux needs hardware virtualization (Intel VT-x or \
             AMD-V); measure it on such a host or in the project's rig (rig/rig.sh). --force tries anyway."
                .into(),
        );
    }
    None
}

pub use super::vmm_process::Mode;

fn env_name(own_process: bool) -> &'static str {
    if own_process {
        "vm-linux:process"
    } else {
        "vm-linux"
    }
}

fn env_description(own_process: bool, release: &str) -> String {
    let vmm = if own_process {
        "with one small VMM process per VM (vmvc re-executed as a VMM), as Firecracker runs one \
         per microVM"
    } else {
        "vmvc itself is the VMM"
    };
    format!(
        "A KVM virtual machine booting a real Linux kernel ({release}) with the workload as /init \
         in an initramfs; {vmm}."
    )
}

/// Builds `vm-linux` (or, `own_process`, `vm-linux:process`) for `vmvc run`:
/// not attempted on a PVM host unless forced (and then no kernel is fetched
/// for nothing); otherwise the guest kernel is located, or fetched once,
/// saying so. When no kernel can be had, the environment is skipped with the
/// reason, or fails if it was named.
pub fn from_context(
    cx: &super::Context,
    explicit: bool,
    own_process: bool,
) -> anyhow::Result<Box<dyn Environment>> {
    let name = env_name(own_process);
    let mut env = match located(
        cx,
        explicit,
        name,
        env_description(own_process, "any release"),
    )? {
        Ok(env) => env,
        Err(unavailable) => return Ok(unavailable),
    };
    if own_process {
        let exe = vmm_process::vmvc_exe(cx.vmvc_exe.as_deref(), "vm-linux:process")?;
        env.set_mode(Mode::OwnProcess { exe });
    }
    Ok(Box::new(env))
}

/// The environment with its kernel located or fetched (see [`from_context`]),
/// or the row `name` that says why it cannot run here.
fn located(
    cx: &super::Context,
    explicit: bool,
    name: &str,
    description: String,
) -> anyhow::Result<Result<VmLinux, Box<dyn Environment>>> {
    let unavailable = |why: String| -> Box<dyn Environment> {
        Box::new(super::Unavailable {
            name: name.into(),
            description: description.clone(),
            why,
        })
    };
    if !std::path::Path::new("/dev/kvm").exists() {
        return Ok(Err(unavailable(
            "no /dev/kvm on this host: vm-linux needs KVM with hardware virtualization (VT-x or AMD-V)"
                .into(),
        )));
    }
    if let Some(why) = not_supported_here().filter(|_| !cx.force) {
        return Ok(Err(unavailable(why)));
    }
    let mut say = |m: &str| (cx.say)(m);
    let kernel = match crate::kernel::locate_or_fetch(cx.kernel.as_deref(), &mut say) {
        Ok(k) => k,
        Err(e) if !explicit => return Ok(Err(unavailable(e.to_string()))),
        Err(e) => return Err(e.into()),
    };
    if kernel.vmlinux_cached().is_none() {
        (cx.say)(&format!(
            "extracting vmlinux from {} (once; it is cached)",
            kernel.bzimage.display()
        ));
    }
    let mut env = VmLinux::new(&kernel, cx.exe.path(), cx.force)?;
    if let Some(cmdline) = &cx.kernel_cmdline {
        env.config.cmdline = cmdline.clone();
    }
    Ok(Ok(env))
}

pub struct VmLinux {
    /// The kernel file booted (the cached vmlinux, or the bzImage).
    kernel_path: PathBuf,
    /// Its bytes, read on the first launch and kept: a 60 MiB image in the
    /// launcher's memory from the start would make every `clone()` the
    /// container rows time slower (the child's page tables are copied), as
    /// a first version of this file measured (chroot: 0.11 -> 0.79 ms).
    kernel: Option<KernelImage>,
    info: GuestKernel,
    initramfs: Vec<u8>,
    /// The workload, for the VMM process to build its own initramfs.
    workload_path: PathBuf,
    config: Config,
    mode: Mode,
    /// Set when this host cannot run it and we were not forced.
    blocked: Option<String>,
    /// Why the bzImage is booted rather than an extracted vmlinux.
    bzimage_reason: Option<String>,
}

impl VmLinux {
    /// `kernel`: the guest kernel ([`crate::kernel::locate_or_fetch`]);
    /// `workload_exe`: the freestanding workload, which becomes `/init`;
    /// `force`: try even where [`not_supported_here`] says no.
    pub fn new(kernel: &GuestKernel, workload_exe: &Path, force: bool) -> anyhow::Result<VmLinux> {
        let reason = not_supported_here();
        let blocked = if force { None } else { reason.clone() };
        let (path, bzimage_reason) = match kernel.vmlinux() {
            Ok(p) => (p, None),
            Err(e) => (kernel.bzimage.clone(), Some(e.to_string())),
        };
        let init = std::fs::read(workload_exe)
            .with_context(|| format!("reading the workload {}", workload_exe.display()))?;
        let boot_timeout = if reason.is_some() {
            FORCED_PVM_TIMEOUT
        } else if std::env::var_os("VMVC_RIG").is_some() {
            RIG_BOOT_TIMEOUT
        } else {
            BOOT_TIMEOUT
        };
        Ok(VmLinux {
            kernel_path: path,
            kernel: None,
            info: kernel.clone(),
            initramfs: Initramfs::for_init(&init).to_cpio()?,
            workload_path: workload_exe.to_owned(),
            config: Config {
                ram_bytes: RAM_BYTES,
                boot_timeout,
                ..Config::default()
            },
            mode: Mode::InProcess,
            blocked,
            bzimage_reason,
        })
    }

    /// Chooses how VMs are run (default: in-process).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    fn own_process(&self) -> bool {
        matches!(self.mode, Mode::OwnProcess { .. })
    }

    /// Why this environment will not launch here (None: it will try).
    pub fn not_attempted(&self) -> Option<&str> {
        self.blocked.as_deref()
    }

    /// The kernel command line used.
    pub fn cmdline(&self) -> &str {
        &self.config.cmdline
    }

    /// The guest kernel.
    pub fn kernel(&self) -> &GuestKernel {
        &self.info
    }
}

impl Environment for VmLinux {
    fn name(&self) -> String {
        env_name(self.own_process()).into()
    }

    fn description(&self) -> String {
        env_description(
            self.own_process(),
            self.info.release.as_deref().unwrap_or("unknown release"),
        )
    }

    fn notes(&self) -> Vec<String> {
        let phases = "kvm_open, create_vm (+ in-kernel interrupt controllers and timer), guest_memory, \
                      load_image (kernel, initramfs, zero page), vcpu_setup, kernel_boot (first KVM_RUN \
                      until /init's first instruction says READY: the guest kernel's whole boot)";
        let mut notes = vec![
            if self.own_process() {
                format!(
                    "Startup phases: spawn_vmm (fork + exec of the VMM process), vmm_load (the VMM \
                     starts, reads the kernel image and builds the initramfs), then the VMM's own: \
                     {phases}; vmm_ready (the guest's memory report, the VMM's announcement, READY \
                     through the socket). The VMM's phases are placed on the launcher's clock \
                     (CLOCK_MONOTONIC)."
                )
            } else {
                format!("Startup phases: {phases}.")
            },
            format!(
                "Guest kernel: {} booted as {} ({}), command line `{}`, {} MiB of guest RAM.",
                self.info.version.as_deref().unwrap_or("unknown version"),
                if self.bzimage_reason.is_some() {
                    "bzImage"
                } else {
                    "vmlinux (ELF)"
                },
                self.info.origin,
                self.config.cmdline,
                self.config.ram_bytes >> 20
            ),
            "Memory: guest RAM counts only pages the guest touched; guest_kernel is the guest's own \
             view (RAM minus MemFree at boot), already inside guest_ram: each VM carries its own kernel."
                .into(),
        ];
        if let Some(why) = &self.bzimage_reason {
            notes.push(format!(
                "The bzImage is booted (the guest decompresses itself, slower) because no vmlinux could be extracted: {why}"
            ));
        }
        if let Some(why) = not_supported_here() {
            notes.push(format!("Forced on an unsupported host: {why}"));
        }
        if self.own_process() {
            notes.push(
                "Memory: vmm is the VMM process's own memory (every mapping but guest RAM, PSS), \
                 page_tables its page tables; the guest's view comes from the VMM's announcement."
                    .into(),
            );
        } else {
            notes.push(kvm_mem::in_process_note("vm-linux:process"));
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some(
                "`syscall` into the guest's own Linux kernel (getppid): no host kernel involved on \
                 hardware KVM"
                    .into(),
            ),
            Workload::Boundary => Some(
                "one VM exit: /init's `in` on an I/O port (allowed by iopl) -> KVM -> the VMM's KVM_RUN \
                 returns -> answer -> KVM_RUN again"
                    .into(),
            ),
            _ => None,
        }
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        self.blocked.clone()
    }

    fn guest_kernel(&self) -> Option<reports::GuestKernel> {
        Some(self.info.to_schema(&self.config.cmdline))
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        if let Some(why) = &self.blocked {
            bail!("{} is not attempted on this host: {why}", self.name());
        }
        let sec_before = kvm_mem::sec_page_tables();
        if let Mode::OwnProcess { exe } = &self.mode {
            let args = VmmArgs {
                fd: -1, // not in to_args(): VmmProcess::start puts the socket's first
                kernel: self.kernel_path.clone(),
                workload: self.workload_path.clone(),
                ram_bytes: self.config.ram_bytes,
                boot_timeout: self.config.boot_timeout,
            };
            return process::launch(exe, &args, sec_before);
        }
        if self.kernel.is_none() {
            self.kernel = Some(guest::read_kernel(&self.kernel_path)?);
        }
        let kernel = self.kernel.as_ref().context("the guest kernel")?;
        let vm = instance::launch(kernel, &self.initramfs, &self.config, sec_before)?;
        Ok(Box::new(vm))
    }
}
