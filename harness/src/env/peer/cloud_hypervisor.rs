//! `peer:cloud-hypervisor`: the bare guest under Cloud Hypervisor (a
//! rust-vmm VMM for cloud workloads), when its binary is given
//! (`--cloud-hypervisor PATH`) or on PATH. Release binaries are at
//! <https://github.com/cloud-hypervisor/cloud-hypervisor/releases>.
//!
//! Cloud Hypervisor (`docs/`, `arch/src/x86_64/`) boots an ELF with a PVH
//! note at its PVH entry with no firmware, as QEMU's qboot does, and gives
//! the guest a `hvm_start_info` with its memory map (`workload::boot`).
//! `--serial tty` puts the guest's UART on its stdio (our socket) and
//! `--console off` leaves out the virtio console. The guest's exit writes
//! "sleep state S5" to the ACPI shutdown port 0x600 that Cloud Hypervisor
//! emulates, which ends it with status 0 (its i8042 reset would reboot).
//!
//! **Untested here**: this project's machines have no Cloud Hypervisor (no
//! network to fetch it); its tests skip loudly where it is missing.

use super::vm_env::{About, VmTool};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command as Proc, ExitStatus};

pub(super) struct CloudHypervisor;

const ABOUT: About = About {
    name: "cloud-hypervisor",
    binary: "cloud-hypervisor",
    install_hint: "give `vmvc run --cloud-hypervisor PATH`, or put the release binary from \
         https://github.com/cloud-hypervisor/cloud-hypervisor/releases on PATH",
    description:
        "The same bare guest as vm-bare, booted by Cloud Hypervisor through its PVH entry; \
         the workload talks through Cloud Hypervisor's 16550 UART.",
};

impl VmTool for CloudHypervisor {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "Cloud Hypervisor loads no firmware for a PVH guest: its vmm_start is the process \
              start, the VM and its devices, and writing the start_info and ACPI tables."
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
        cmd.arg("--kernel")
            .arg(image)
            .args(["--cpus", "boot=1", "--memory"])
            .arg(format!("size={}M", ram_bytes >> 20))
            .args(["--serial", "tty", "--console", "off"])
            .stdin(serial.try_clone()?)
            .stdout(serial.try_clone()?);
        Ok(cmd)
    }

    fn clean_exit(&self) -> fn(ExitStatus) -> bool {
        |s| s.success()
    }
}
