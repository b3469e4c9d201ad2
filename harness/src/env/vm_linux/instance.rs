//! `vm-linux` in-process: the harness itself is the VMM of a Linux guest.
//!
//! A launch is `bench_vm::linux::LinuxVm::launch` (KVM set-up, the kernel
//! and initramfs loaded per the x86 boot protocol, the guest's whole boot). Memory is what the guest touched
//! of its RAM, what the guest kernel keeps for itself as the guest reports
//! it (inside guest RAM, for information) and KVM's page tables
//! ([`crate::env::kvm_mem`]). Teardown asks `/init` to exit, which powers
//! the guest off, and drops the VM (its fds and mapping).

use super::guest::{guest_kernel_part, REQUEST_TIMEOUT};
use crate::env::kvm_mem;
use crate::env::Instance;
use crate::measure::{Launch, MemPart};
use anyhow::{bail, Context};
use bench_vm::linux::{Config, KernelImage, LinuxVm};
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message};

/// `vm-linux`: boots `kernel` with `initramfs` in a VM driven by this
/// process. `sec_before`: `SecPageTables` read before the launch.
pub(super) fn launch(
    kernel: &KernelImage,
    initramfs: &[u8],
    config: &Config,
    sec_before: Option<u64>,
) -> anyhow::Result<LinuxInstance> {
    let vm = LinuxVm::launch(kernel, initramfs, config).context("launching the Linux VM")?;
    let p = vm.phases();
    let launch = Launch::from_marks(p.t0, &p.marks);
    Ok(LinuxInstance {
        vm: Some(vm),
        launch,
        sec_before,
        ram_bytes: config.ram_bytes,
    })
}

/// A running Linux guest, driven by the harness process.
pub struct LinuxInstance {
    vm: Option<LinuxVm>,
    launch: Launch,
    sec_before: Option<u64>,
    ram_bytes: u64,
}

impl LinuxInstance {
    fn vm(&mut self) -> anyhow::Result<&mut LinuxVm> {
        self.vm.as_mut().context("the VM was already torn down")
    }
}

impl Instance for LinuxInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        Ok(self.vm()?.request(cmd, timeout)?)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let ram_bytes = self.ram_bytes;
        let vm = self.vm()?;
        let touched = vm.ram()?.resident_bytes()?;
        let info = vm.mem_info();
        let mut parts = vec![
            kvm_mem::guest_ram_resident(touched),
            guest_kernel_part(ram_bytes, info),
        ];
        parts.extend(kvm_mem::kvm_page_tables(self.sec_before));
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let mut vm = self.vm.take().context("the VM was already torn down")?;
        let code = vm.shutdown(REQUEST_TIMEOUT);
        drop(vm); // closes the vCPU and VM fds, unmaps guest RAM
        let took = start.elapsed();
        match code? {
            0 => Ok(took),
            c => bail!("the guest's /init exited with code {c}"),
        }
    }
}
