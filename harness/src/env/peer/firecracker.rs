//! `peer:firecracker`: the bare guest under Firecracker, AWS's microVM
//! monitor, when its binary is given (`--firecracker PATH`) or on PATH.
//! Not packaged by distributions: release binaries are at
//! <https://github.com/firecracker-microvm/firecracker/releases>.
//!
//! Firecracker (`docs/getting-started.md`, `src/vmm/src/arch/x86_64/`)
//! loads an ELF kernel's segments and enters it at its 64-bit entry as the
//! Linux 64-bit boot protocol says: long mode, `rsi` = the zero page (whose
//! E820 table lists RAM), page tables of its own that identity-map the first
//! GiB but are not user-accessible. The bare guest's `_start` sees `r8` is
//! not our VMM's, loads its own page tables and reads RAM from the E820
//! table (`workload::boot`). Without `--no-api` Firecracker waits for API
//! calls; with it, a JSON file configures the VM (`--config-file`). The
//! serial port is Firecracker's stdio, here our socket; the guest's i8042
//! reset ends Firecracker with status 0.
//!
//! **Untested here**: this project's machines have no Firecracker (no
//! network to fetch it); its tests skip loudly where it is missing.

use super::vm_env::{About, VmTool};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command as Proc, ExitStatus};

pub(super) struct Firecracker;

const ABOUT: About = About {
    name: "firecracker",
    binary: "firecracker",
    install_hint: "give `vmvc run --firecracker PATH`, or put the release binary from \
         https://github.com/firecracker-microvm/firecracker/releases on PATH",
    description: "The same bare guest as vm-bare, booted by Firecracker at its 64-bit entry; the \
         workload talks through Firecracker's 16550 UART (vm-superio, as vm-bare:uart).",
};

/// Firecracker's configuration of one VM (its `--config-file` format).
fn config(image: &Path, ram_bytes: u64) -> String {
    serde_json::json!({
        "boot-source": { "kernel_image_path": image, "boot_args": "" },
        "drives": [],
        "machine-config": { "vcpu_count": 1, "mem_size_mib": ram_bytes >> 20, "smt": false },
    })
    .to_string()
}

impl VmTool for Firecracker {
    fn about(&self) -> &'static About {
        &ABOUT
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "Firecracker loads no firmware: its vmm_start is the process start, the VM and \
              its few devices, and writing the zero page and its page tables."
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
        let dir = crate::cache::dir();
        let (cfg, _) = crate::workload_exe::install_bytes(
            &dir,
            "firecracker-config",
            config(image, ram_bytes).as_bytes(),
            0o600,
        )?;
        // Its log goes to a file: its stdout is the guest's serial port.
        let log = dir.join("firecracker.log");
        std::fs::write(&log, b"")?;
        let mut cmd = Proc::new(binary);
        cmd.arg("--no-api")
            .arg("--config-file")
            .arg(cfg)
            .args(["--level", "Warning", "--log-path"])
            .arg(log)
            .stdin(serial.try_clone()?)
            .stdout(serial.try_clone()?);
        Ok(cmd)
    }

    fn clean_exit(&self) -> fn(ExitStatus) -> bool {
        |s| s.success()
    }
}
