//! `vm-linux` in-process: the harness itself is the VMM of a Linux guest.
//!
//! A launch is `bench_vm::linux::LinuxVm::launch` (KVM set-up, the kernel
//! and initramfs loaded per the x86 boot protocol, the guest's whole boot);
//! the kernel image is read once and kept. Memory is what the guest touched
//! of its RAM, what the guest kernel keeps for itself as the guest reports
//! it (inside guest RAM, for information) and KVM's page tables
//! ([`crate::env::kvm_mem`]). Teardown asks `/init` to exit, which powers
//! the guest off, and drops the VM (its fds and mapping).

use super::{guest_kernel_part, VmLinux, REQUEST_TIMEOUT};
use crate::env::kvm_mem;
use crate::env::Instance;
use crate::measure::{Launch, MemPart};
use anyhow::{bail, Context};
use bench_vm::linux::LinuxVm;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message};

impl VmLinux {
    /// `vm-linux`: a VM driven by this process.
    pub(super) fn launch_in_process(
        &mut self,
        sec_before: Option<u64>,
    ) -> anyhow::Result<Box<dyn Instance>> {
        if self.kernel.is_none() {
            self.kernel = Some(super::read_kernel(&self.kernel_path)?);
        }
        let kernel = self.kernel.as_ref().context("the guest kernel")?;
        let vm = LinuxVm::launch(kernel, &self.initramfs, &self.config)
            .context("launching the Linux VM")?;
        let p = vm.phases();
        let launch = Launch::from_marks(p.t0, &p.marks);
        Ok(Box::new(LinuxInstance {
            vm: Some(vm),
            launch,
            sec_before,
            ram_bytes: self.config.ram_bytes,
        }))
    }
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
