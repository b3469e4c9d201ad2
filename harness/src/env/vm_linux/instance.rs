//! `vm-linux` in-process: the harness itself is the VMM of a Linux guest.
//!
//! A launch is `bench_vm::linux::LinuxVm::launch` (or, for
//! `vm-linux:restored`, `LinuxSnapshot::restore`) (KVM set-up, the kernel
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
    Ok(LinuxInstance::new(vm, sec_before, false))
}

/// A running Linux guest, driven by the harness process.
pub struct LinuxInstance {
    vm: Option<LinuxVm>,
    launch: Launch,
    sec_before: Option<u64>,
    ram_bytes: u64,
    /// Restored from a snapshot (`super::restored`): its RAM is split by
    /// [`kvm_mem::snapshot_parts`].
    restored: bool,
}

impl LinuxInstance {
    /// `vm`, READY (booted, or `restored` from a snapshot).
    pub(super) fn new(vm: LinuxVm, sec_before: Option<u64>, restored: bool) -> LinuxInstance {
        let p = vm.phases();
        let launch = Launch::from_marks(p.t0, &p.marks);
        let ram_bytes = vm.ram().map_or(0, |r| r.size());
        LinuxInstance {
            vm: Some(vm),
            launch,
            sec_before,
            ram_bytes,
            restored,
        }
    }

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
        let (ram_bytes, sec_before, restored) = (self.ram_bytes, self.sec_before, self.restored);
        let vm = self.vm()?;
        let info = vm.mem_info();
        if restored {
            let mut parts = kvm_mem::snapshot_parts(vm.ram()?.host_range(), sec_before)?;
            parts.insert(2, guest_kernel_part(ram_bytes, info));
            return Ok(parts);
        }
        let touched = vm.ram()?.resident_bytes()?;
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
