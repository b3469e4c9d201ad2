//! `peer:qemu`: the bare guest of `vm-bare`, booted by QEMU's `microvm`
//! machine on KVM: the general-purpose VMM next to our own small one.
//!
//! QEMU's microvm (QEMU `docs/system/i386/microvm.rst`) is QEMU's
//! Firecracker-like machine: no PCI, no ACPI unless asked, virtio-mmio
//! devices, a small firmware (qboot). Given `-kernel` an ELF with a PVH
//! note, it loads the ELF's segments and the firmware enters the PVH entry
//! (`workload::boot`). We ask for as little as microvm allows: no option
//! ROMs, RTC, PIT or PIC; one UART (`isa-serial`) on our socket; and QEMU's
//! `isa-debug-exit` device on the guest's exit port, so that the guest's
//! exit ends QEMU (status `code << 1 | 1`).
//!
//! `-cpu host,-arch-capabilities`: `-cpu host` gives the guest the host's
//! CPU features, as our VMM does (KVM_GET_SUPPORTED_CPUID); PVM refuses the
//! IA32_ARCH_CAPABILITIES MSR QEMU then sets (QEMU aborts), so that one is
//! left out.

use super::tool;
use super::vmm::{self, VmmSpec};
use crate::env::{Environment, Instance};
use anyhow::Context;
use std::path::PathBuf;
use std::process::{Command as Proc, ExitStatus};
use std::time::Duration;
use workload::bare::PORT_EXIT;
use workload::protocol::Workload;

/// QEMU's x86-64 system emulator, as Debian's qemu-system-x86 installs it.
pub const BINARY: &str = "qemu-system-x86_64";
/// How long QEMU may take to READY (and to exit) before it is killed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// `peer:qemu`.
pub struct QemuEnv {
    /// The binary: given, or found on PATH at first use.
    given: Option<PathBuf>,
    ram_bytes: u64,
    /// How long a launch may take to READY (tests shorten it).
    pub(super) ready_timeout: Duration,
    /// The guest image file and the TSC rate, made at the first launch.
    prepared: Option<(PathBuf, f64)>,
}

impl QemuEnv {
    /// QEMU from PATH.
    pub fn new() -> QemuEnv {
        QemuEnv::with_binary(None)
    }

    /// QEMU from `binary` when given (tests give broken ones).
    pub fn with_binary(binary: Option<PathBuf>) -> QemuEnv {
        QemuEnv {
            given: binary,
            ram_bytes: crate::env::vm_bare::RAM_BYTES,
            ready_timeout: READY_TIMEOUT,
            prepared: None,
        }
    }

    fn binary(&self) -> Option<PathBuf> {
        self.given.clone().or_else(|| tool::find(BINARY))
    }

    /// Why `peer:qemu` cannot run here; `None` when it can.
    pub fn why_not(&self) -> Option<String> {
        if self.binary().is_none() {
            return Some(format!(
                "not installed: apt-get install qemu-system-x86 (no `{BINARY}` on PATH)"
            ));
        }
        if let Err(e) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
        {
            return Some(format!("QEMU with -accel kvm needs /dev/kvm: {e}"));
        }
        None
    }

    /// The QEMU command line for one launch, its serial port on `fd`.
    fn command(&self, binary: &PathBuf, image: &PathBuf, fd: i32) -> Proc {
        let mut cmd = Proc::new(binary);
        cmd.args(["-M", "microvm,x-option-roms=off,rtc=off,pit=off,pic=off"])
            .args(["-accel", "kvm", "-cpu", "host,-arch-capabilities"])
            .args(["-m", &format!("{}M", self.ram_bytes >> 20), "-smp", "1"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-kernel"])
            .arg(image)
            .args(["-chardev", &format!("socket,id=vmvc,fd={fd}")])
            .args(["-serial", "chardev:vmvc"])
            .args([
                "-device",
                &format!("isa-debug-exit,iobase={PORT_EXIT:#x},iosize=1"),
            ]);
        cmd
    }
}

impl Default for QemuEnv {
    fn default() -> QemuEnv {
        QemuEnv::new()
    }
}

/// isa-debug-exit: QEMU exits with `code << 1 | 1`; the guest's 0 gives 1.
fn clean_exit(s: ExitStatus) -> bool {
    s.code() == Some(1)
}

impl Environment for QemuEnv {
    fn name(&self) -> String {
        "peer:qemu".into()
    }

    fn description(&self) -> String {
        "The same bare guest as vm-bare, booted by QEMU (-M microvm -accel kvm) through its PVH \
         entry; the workload talks through QEMU's emulated 16550 UART."
            .into()
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "Startup counts from just before qemu-system-x86_64 is spawned to READY on its serial \
             port: the process start (a large dynamically linked binary), QEMU's machine and \
             device model, the firmware (qboot) loading the image, and the guest's entry code."
                .into(),
            "Phases inside QEMU come from the guest's own TSC readings (first instruction, CPL3, \
             READY), reported after READY: spawn, vmm_start, [firmware, where the guest's TSC \
             was reset,] entry_code (the PVH entry: long mode, at CPL0), guest_boot."
                .into(),
            "Memory: QEMU's guest RAM mapping (pages the guest touched) apart from QEMU's own \
             memory, both PSS, as for vm-bare:process."
                .into(),
            "The UART costs two VM exits into QEMU's device model per byte (LSR poll, then \
             THR/RBR); vm-bare's protocol port costs one exit into our VMM."
                .into(),
        ]
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some(
                "`syscall` from CPL3 into the guest's CPL0 stub, as in vm-bare (QEMU is not \
                 involved)"
                    .into(),
            ),
            Workload::Boundary => Some(
                "a UART round trip: PING written to QEMU's 16550 (VM exits into QEMU), QEMU's \
                 chardev socket to vmvc, PONG back the same way, polled by the guest"
                    .into(),
            ),
            _ => None,
        }
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        self.why_not()
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let binary = self
            .binary()
            .context("QEMU is not installed: apt-get install qemu-system-x86")?;
        if self.prepared.is_none() {
            let image = crate::workload_exe::install_guest_image()?;
            self.prepared = Some((image, crate::host::tsc_hz()));
        }
        let (image, tsc_hz) = self.prepared.clone().context("prepared above")?;
        let spec = VmmSpec {
            name: "qemu",
            ram_bytes: self.ram_bytes,
            ready_timeout: self.ready_timeout,
            clean_exit,
            tsc_hz,
        };
        let inst = vmm::start(spec, |fd| self.command(&binary, &image, fd))?;
        Ok(Box::new(inst))
    }
}
