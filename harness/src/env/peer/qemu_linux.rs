//! `peer:qemu-linux`: the Linux guest of `vm-linux` (the same kernel file,
//! the same initramfs with the workload as `/init`) booted by QEMU's
//! `microvm` machine on KVM, where Linux guests run (hardware KVM, the rig).
//!
//! QEMU loads the kernel itself: the uncompressed `vmlinux` that `vm-linux`
//! boots carries a PVH note (Debian builds it with `CONFIG_PVH`), which
//! microvm's firmware (qboot) enters as it does for `peer:qemu`'s bare
//! guest; the initramfs and the command line travel through QEMU's fw_cfg
//! (QEMU `docs/system/i386/microvm.rst`, `docs/specs/fw_cfg.rst`). microvm
//! rather than `q35`: it boots this kernel with no PCI, ACPI or option
//! ROMs, as close to our VMM's machine as QEMU comes. `acpi=off`, as our
//! VMM has no ACPI either, and because with ACPI the guest finds COM2 in
//! the DSDT and its serial driver (8250_pnp) claims it as `ttyS0` before the
//! legacy COM1 is registered: the console then moved to COM2, echoing our
//! commands back (the first rig run of this row saw that).
//!
//! QEMU does not hand us the protocol ports, so `/init` talks through a
//! second UART, COM2 (`isa-serial` at 0x2f8, on our socket), chosen by
//! `vmvc_transport=uart` on the command line; COM1 stays the kernel's
//! console (here QEMU's stderr) and `8250.nr_uarts=1` keeps the guest's
//! serial driver off COM2 (`workload::vm_init` says why COM2 is polled from
//! `/init` rather than used as the kernel's `ttyS1`). `isa-debug-exit` on
//! the exit port ends QEMU when `/init` exits, as for `peer:qemu`.
//!
//! Phases, from `/init`'s readings after READY (the TSC and the guest
//! kernel's clock; `super::guest_clock`): `spawn`, `vmm_start` (QEMU's
//! start, its device model, reading the kernel and initramfs, up to the
//! vCPU's reset), `firmware` (qboot loading the kernel and initramfs from
//! fw_cfg, and the kernel's first steps before its clock starts),
//! `kernel_boot` (the rest of the kernel's boot, to READY). Memory: QEMU's
//! own PSS apart from guest RAM (`super::vmm`), and the guest kernel's
//! own memory as `/init` reports it, as for `vm-linux`.

use super::guest_clock::GuestClock;
use super::tool;
use super::vm_env::READY_TIMEOUT;
use super::vmm::{self, VmmInstance, VmmSpec};
use crate::env::vm_linux::{self, guest_kernel_part};
use crate::env::{Environment, Instance};
use crate::kernel::GuestKernel;
use crate::measure::Launch;
use anyhow::{bail, Context};
use bench_vm::linux::{GuestMemInfo, Initramfs, DEFAULT_CMDLINE};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};
use std::time::Duration;
use workload::bare::PORT_EXIT;
use workload::protocol::{info, Workload};
use workload::uart::COM2;

/// What `/init` needs on the command line under QEMU (see the module docs).
pub const CMDLINE_EXTRA: &str = "8250.nr_uarts=1 vmvc_transport=uart";

const BINARY: &str = "qemu-system-x86_64";

/// The row.
pub struct QemuLinuxEnv {
    kernel: GuestKernel,
    workload: PathBuf,
    /// The kernel command line, without [`CMDLINE_EXTRA`] (as vm-linux's).
    cmdline: String,
    given: Option<PathBuf>,
    ram_bytes: u64,
    pub(crate) ready_timeout: Duration,
    /// Kernel file, initramfs file, TSC rate: made at the first launch.
    prepared: Option<(PathBuf, PathBuf, f64)>,
}

/// Builds the row for `vmvc run`, skipped (with the reason) where Linux
/// guests do not run, as `vm-linux` is; its kernel is `vm-linux`'s.
pub fn from_context(
    cx: &crate::env::Context,
    explicit: bool,
) -> anyhow::Result<Box<dyn Environment>> {
    let unavailable = |why: String| -> Box<dyn Environment> {
        Box::new(crate::env::Unavailable {
            name: "peer:qemu-linux".into(),
            description: DESCRIPTION.into(),
            why,
        })
    };
    if let Some(why) = why_not_here(None) {
        return Ok(unavailable(why));
    }
    let mut say = |m: &str| (cx.say)(m);
    let kernel = match crate::kernel::locate_or_fetch(cx.kernel.as_deref(), &mut say) {
        Ok(k) => k,
        Err(e) if !explicit => return Ok(unavailable(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let mut env = QemuLinuxEnv::new(&kernel, cx.exe.path(), None);
    if let Some(c) = &cx.kernel_cmdline {
        env.cmdline = c.clone();
    }
    Ok(Box::new(env))
}

/// Why the row cannot run here, before any kernel is looked for (`vmvc
/// doctor` asks this too); `None` when it can.
pub fn why_not_here(given: Option<&Path>) -> Option<String> {
    if given.is_none() && tool::find(BINARY).is_none() {
        return Some(format!(
            "not installed (no `{BINARY}` on PATH): apt-get install qemu-system-x86"
        ));
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Some(format!("qemu-linux needs /dev/kvm: {e}"));
    }
    vm_linux::not_supported_here().map(|_| {
        "QEMU would boot vm-linux's kernel, and a stock Linux kernel cannot run on this \
         host's PVM /dev/kvm (a software hypervisor; see vm-linux): measure it on a host with \
         hardware virtualization (VT-x, AMD-V) or in the project's rig (rig/rig.sh)"
            .to_owned()
    })
}

const DESCRIPTION: &str = "The same Linux kernel and initramfs as vm-linux, booted by QEMU \
    (-M microvm -accel kvm) through the kernel's PVH entry; /init talks through QEMU's \
    16550 UART on COM2.";

impl QemuLinuxEnv {
    /// The row booting `kernel` with `workload` as `/init`, QEMU from
    /// `binary` or PATH.
    pub fn new(kernel: &GuestKernel, workload: &Path, binary: Option<PathBuf>) -> QemuLinuxEnv {
        QemuLinuxEnv {
            kernel: kernel.clone(),
            workload: workload.to_owned(),
            cmdline: DEFAULT_CMDLINE.to_owned(),
            given: binary,
            ram_bytes: vm_linux::RAM_BYTES,
            ready_timeout: if std::env::var_os("VMVC_RIG").is_some() {
                vm_linux::RIG_BOOT_TIMEOUT
            } else {
                vm_linux::BOOT_TIMEOUT.max(READY_TIMEOUT)
            },
            prepared: None,
        }
    }

    fn cmdline(&self) -> String {
        format!("{} {CMDLINE_EXTRA}", self.cmdline)
    }

    /// The kernel file vm-linux boots, and the initramfs written to the cache.
    fn prepare(&mut self) -> anyhow::Result<(PathBuf, PathBuf, f64)> {
        if let Some(p) = &self.prepared {
            return Ok(p.clone());
        }
        let kernel = self
            .kernel
            .vmlinux()
            .unwrap_or_else(|_| self.kernel.bzimage.clone());
        let init = std::fs::read(&self.workload)
            .with_context(|| format!("reading the workload {}", self.workload.display()))?;
        let cpio = Initramfs::for_init(&init).to_cpio()?;
        let (initramfs, _) = crate::workload_exe::install_bytes(
            &crate::cache::dir(),
            "vmvc-initramfs",
            &cpio,
            0o644,
        )?;
        let p = (kernel, initramfs, crate::host::tsc_hz());
        self.prepared = Some(p.clone());
        Ok(p)
    }

    fn command(&self, binary: &Path, kernel: &Path, initramfs: &Path, serial: &OwnedFd) -> Proc {
        let mut cmd = Proc::new(binary);
        cmd.args(["-M", "microvm,x-option-roms=off,acpi=off"])
            .args(["-accel", "kvm", "-cpu", "host"])
            .args(["-m", &format!("{}M", self.ram_bytes >> 20), "-smp", "1"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-kernel"])
            .arg(kernel)
            .arg("-initrd")
            .arg(initramfs)
            .arg("-append")
            .arg(self.cmdline())
            // COM1: the kernel's console, on QEMU's stderr (shown when a launch fails).
            .args(["-chardev", "file,id=console,path=/proc/self/fd/2"])
            .args(["-serial", "chardev:console", "-chardev"])
            .arg(format!("socket,id=vmvc,fd={}", serial.as_raw_fd()))
            .arg("-device")
            .arg(format!("isa-serial,chardev=vmvc,iobase={COM2:#x},irq=3"))
            .arg("-device")
            .arg(format!("isa-debug-exit,iobase={PORT_EXIT:#x},iosize=1"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }

    /// One launch, READY, with its phases and the guest's memory report.
    pub(crate) fn start(&mut self) -> anyhow::Result<VmmInstance> {
        let binary = self
            .given
            .clone()
            .or_else(|| tool::find(BINARY))
            .context("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86")?;
        let (kernel, initramfs, tsc_hz) = self.prepare()?;
        let spec = VmmSpec {
            name: "qemu-linux",
            ram_bytes: self.ram_bytes,
            ready_timeout: self.ready_timeout,
            // isa-debug-exit: QEMU exits with `code << 1 | 1`; /init's 0 gives 1.
            clean_exit: |s| s.code() == Some(1),
            tsc_hz,
        };
        let (mut inst, s) = vmm::start_to_ready(spec, |serial| {
            Ok(self.command(&binary, &kernel, &initramfs, serial))
        })?;
        let ready_tsc = inst.recv_info(info::READY_TSC)?;
        let kernel_ns = inst.recv_info(info::KERNEL_CLOCK_NS)?;
        let mem = GuestMemInfo {
            mem_total: inst.recv_info(info::MEM_TOTAL)?,
            mem_free: inst.recv_info(info::MEM_FREE)?,
            mem_available: inst.recv_info(info::MEM_AVAILABLE)?,
        };
        let clock: &GuestClock = &s.clock;
        let marks = clock.linux_marks(s.t0, s.spawned, s.ready, ready_tsc, kernel_ns);
        inst.set_launch(Launch::from_marks(s.t0, &marks));
        inst.add_reported(guest_kernel_part(self.ram_bytes, mem));
        Ok(inst)
    }
}

impl Environment for QemuLinuxEnv {
    fn name(&self) -> String {
        "peer:qemu-linux".into()
    }

    fn description(&self) -> String {
        DESCRIPTION.into()
    }

    fn notes(&self) -> Vec<String> {
        vec![
            format!(
                "Startup counts from just before {BINARY} is spawned to READY on COM2. Phases \
                 from /init's readings at READY (the TSC, which QEMU resets with the vCPU, and \
                 the guest kernel's clock): spawn, vmm_start (QEMU's start, device model, \
                 reading the kernel and initramfs), firmware (qboot loading them through \
                 fw_cfg, and the kernel's first steps before its clock runs), kernel_boot."
            ),
            format!(
                "Kernel: {} (vm-linux's file), command line `{}`, {} MiB of guest RAM.",
                self.kernel.version.as_deref().unwrap_or("unknown version"),
                self.cmdline(),
                self.ram_bytes >> 20
            ),
            "Memory: QEMU's own PSS (every mapping but guest RAM: its binary and libraries, \
             device model, and its copies of the kernel and initramfs for fw_cfg) apart from \
             the guest RAM the guest touched; guest_kernel as /init reports it, inside guest RAM."
                .into(),
            "An idle /init busy-polls COM2 (each poll a VM exit), so QEMU is stopped (SIGSTOP) \
             while the other rows are measured, as for peer:qemu."
                .into(),
        ]
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => {
                Some("`syscall` into the guest's own Linux kernel (getppid), as in vm-linux".into())
            }
            Workload::Boundary => Some(
                "a UART round trip: PING written to QEMU's COM2 16550 (VM exits into its device \
                 model), its socket backend to vmvc, PONG back the same way, polled by /init"
                    .into(),
            ),
            _ => None,
        }
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        why_not_here(self.given.as_deref())
    }

    fn guest_kernel(&self) -> Option<reports::GuestKernel> {
        Some(self.kernel.to_schema(&self.cmdline()))
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        if let Some(why) = why_not_here(self.given.as_deref()) {
            bail!("peer:qemu-linux cannot run here: {why}");
        }
        Ok(Box::new(self.start()?))
    }
}
