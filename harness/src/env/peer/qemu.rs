//! `peer:qemu`: the bare guest of `vm-bare`, booted by QEMU's `microvm`
//! machine on KVM: the general-purpose VMM next to our own small one.
//!
//! QEMU's microvm (QEMU `docs/system/i386/microvm.rst`) is QEMU's
//! Firecracker-like machine: no PCI, no ACPI unless asked, virtio-mmio
//! devices, a small firmware (qboot). Given `-kernel` an ELF with a PVH
//! note, it loads the ELF's segments and the firmware enters the PVH entry
//! (`workload::boot`). We ask for as little as microvm allows: no option
//! ROMs, RTC, PIT or PIC; one UART (`isa-serial`) on our socket, passed as
//! an inherited fd (`-chardev socket,fd=N`); and QEMU's `isa-debug-exit`
//! device on the guest's exit port, so that the guest's exit ends QEMU
//! (status `code << 1 | 1`).
//!
//! `-cpu host,-arch-capabilities`: `-cpu host` gives the guest the host's
//! CPU features, as our VMM does (KVM_GET_SUPPORTED_CPUID); PVM refuses the
//! IA32_ARCH_CAPABILITIES MSR QEMU then sets (QEMU aborts), so that one is
//! left out.

use super::vm_env::{About, VmTool};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command as Proc, ExitStatus, Stdio};
use workload::bare::PORT_EXIT;

pub(super) struct Qemu;

const ABOUT: About = About {
    name: "qemu",
    binary: "qemu-system-x86_64",
    install_hint: "apt-get install qemu-system-x86",
    description:
        "The same bare guest as vm-bare, booted by QEMU (-M microvm -accel kvm) through its PVH \
         entry; the workload talks through QEMU's emulated 16550 UART.",
};

impl VmTool for Qemu {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "QEMU's vmm_start holds the process start (a large dynamically linked binary), the \
             machine and its device model, and the firmware (qboot) loading the image and \
             writing the PVH start_info, where the guest's TSC is not reset (PVM)."
                .into(),
            "The UART costs two VM exits into QEMU's device model per byte (LSR poll, then \
             THR/RBR); compare boundary with vm-bare:uart (the same UART, our VMM)."
                .into(),
        ]
    }

    fn command(
        &self,
        binary: &Path,
        image: &Path,
        ram_bytes: u64,
        serial: &OwnedFd,
    ) -> anyhow::Result<Proc> {
        let mut cmd = Proc::new(binary);
        cmd.args(["-M", "microvm,x-option-roms=off,rtc=off,pit=off,pic=off"])
            .args(["-accel", "kvm", "-cpu", "host,-arch-capabilities"])
            .args(["-m", &format!("{}M", ram_bytes >> 20), "-smp", "1"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-kernel"])
            .arg(image)
            .arg("-chardev")
            .arg(format!("socket,id=vmvc,fd={}", serial.as_raw_fd()))
            .args(["-serial", "chardev:vmvc", "-device"])
            .arg(format!("isa-debug-exit,iobase={PORT_EXIT:#x},iosize=1"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        Ok(cmd)
    }

    /// isa-debug-exit: QEMU exits with `code << 1 | 1`; the guest's 0 gives 1.
    fn clean_exit(&self) -> fn(ExitStatus) -> bool {
        |s| s.code() == Some(1)
    }
}
