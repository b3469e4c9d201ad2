//! Warm starts: VMs created ahead of demand, kept in a pool, reset and reused.
//!
//! A cold start ([`BareVm::launch`]) pays for every KVM object: the VM
//! (`KVM_CREATE_VM`), its memory slots (`KVM_SET_USER_MEMORY_REGION`), the
//! vCPU (`KVM_CREATE_VCPU`, the `kvm_run` mapping, `KVM_SET_CPUID2`). None
//! of that depends on which guest will run, so a platform can do it before
//! a request arrives and keep the result: AWS Lambda and Hyperlight keep
//! pools of ready sandboxes for exactly this reason. A [`ParkedVm`] is one
//! such pooled VM. What is left after the request (t0) is what must be
//! per-guest:
//!
//! | phase | what happens |
//! |---|---|
//! | `load_image` | the ELF segments, page tables and boot GDT written again |
//! | `vcpu_reset` | registers set to a fresh vCPU's (saved when it was created) and then to the long-mode entry |
//! | `guest_boot` | first `KVM_RUN` until READY, as in a cold start |
//!
//! No guest may see another's data, so guest RAM is reset too, but when a
//! guest leaves, not when the next one comes: teardown ([`WarmVm::park`])
//! replaces it by fresh anonymous memory (`mmap(MAP_FIXED)`: the next touch
//! reads zeros). An idle pool so holds no guest's data and no guest memory,
//! and as a `ParkedVm` is only ever made with fresh RAM ([`ParkedVm::create`])
//! or by `park`, a start need not reset it again.
//!
//! The pool is not free: a parked VM holds its VM and vCPU in the kernel
//! (KVM's structures, the memory slots' bookkeeping, the `kvm_run` page)
//! while it waits. [`ParkedVm::resident_bytes`] is its guest RAM, which is
//! nothing; the kernel side is measured by whoever fills the pool (the
//! harness: the drop of the host's available memory).

use crate::bare::{self, BareVm, Config, Image, Ports, SLOT_BOOT, SLOT_SCRATCH};
use crate::error::{Error, GuestFault, Result};
use crate::phases::Phases;
use crate::vcpu::{LongModeEntry, Vcpu};
use crate::vcpu_state::{complete_pending_io, VcpuState};
use crate::vm::{Kvm, Vm};
use crate::x86;
use std::time::Duration;
use workload::bare::SCRATCH_BASE;

/// The phases of a warm start (module docs).
pub const WARM_PHASES: [&str; 3] = ["load_image", "vcpu_reset", "guest_boot"];

/// A VM with RAM, memory slots and a vCPU, waiting for a guest.
pub struct ParkedVm {
    // Drop order: vCPU, VM (with its RAM), then /dev/kvm.
    vcpu: Vcpu,
    vm: Vm,
    kvm: Kvm,
    /// The vCPU's state right after `KVM_CREATE_VCPU`: the reset state.
    fresh: VcpuState,
}

impl ParkedVm {
    /// Creates a VM for the pool: everything a cold start does before it
    /// loads the image, with both memory slots plugged in.
    pub fn create(config: &Config) -> Result<ParkedVm> {
        if config.ram_bytes <= SCRATCH_BASE {
            return Err(Error::Memory {
                size: config.ram_bytes,
                reason: format!("the bare guest needs more than {SCRATCH_BASE} bytes"),
            });
        }
        let kvm = Kvm::open()?;
        let mut vm = Vm::create(&kvm)?;
        vm.map_ram(config.ram_bytes)?;
        vm.plug(SLOT_BOOT, 0, SCRATCH_BASE)?;
        vm.plug(SLOT_SCRATCH, SCRATCH_BASE, config.ram_bytes - SCRATCH_BASE)?;
        let vcpu = Vcpu::create(&kvm, &vm, 0)?;
        let fresh = VcpuState::save(&vcpu)?;
        Ok(ParkedVm {
            vcpu,
            vm,
            kvm,
            fresh,
        })
    }

    /// Starts `image` in this VM and waits for READY; `t0` is the call.
    pub fn start(self, image: Image<'_>, boot_timeout: Duration) -> Result<WarmVm> {
        let mut phases = Phases::start();
        let ParkedVm {
            mut vcpu,
            vm,
            kvm,
            fresh,
        } = self;
        // Its RAM is fresh: `create` mapped it, `park` replaced it.
        let ram = vm.ram()?;
        let entry = bare::load(ram, image)?;
        x86::write_boot_tables(ram)?;
        phases.end("load_image");

        fresh.restore(&vcpu)?;
        vcpu.enter_long_mode(&LongModeEntry {
            rip: entry,
            rsp: 0,
            rdi: SCRATCH_BASE,
            rsi: ram.size() - SCRATCH_BASE,
            // A pooled VM's guest talks through the protocol ports.
            r8: workload::boot::BOOT_PORTS,
        })?;
        vcpu.reset_exits();
        phases.end("vcpu_reset");

        let vm = BareVm::boot(kvm, vm, vcpu, phases, Ports::default(), true, boot_timeout)?;
        Ok(WarmVm { vm, fresh })
    }

    /// Its parts, for a restore into this VM (`crate::snapshot`).
    pub(crate) fn into_parts(self) -> (Kvm, Vm, Vcpu, VcpuState) {
        (self.kvm, self.vm, self.vcpu, self.fresh)
    }

    /// Guest RAM that is backed by host memory now (after a reset: none).
    pub fn resident_bytes(&self) -> Result<u64> {
        self.vm.ram()?.resident_bytes()
    }
}

/// A guest started from the pool: a [`BareVm`] that can go back to it.
pub struct WarmVm {
    vm: BareVm,
    /// The reset state of its vCPU, for the next guest.
    fresh: VcpuState,
}

impl WarmVm {
    /// A guest running in a VM of the pool (`crate::snapshot` restores
    /// into one); `fresh`: the reset state of its vCPU.
    pub(crate) fn from_parts(vm: BareVm, fresh: VcpuState) -> WarmVm {
        WarmVm { vm, fresh }
    }

    /// The running guest.
    pub fn vm(&mut self) -> &mut BareVm {
        &mut self.vm
    }

    /// When each phase of its warm start ended.
    pub fn phases(&self) -> &Phases {
        self.vm.phases()
    }

    /// Shuts the guest down (EXIT, DONE, its exit code) and keeps the VM for
    /// the next guest: the teardown of a warm start. Its memory goes back
    /// to the host here, so an idle pool holds none.
    pub fn park(mut self, timeout: Duration) -> Result<ParkedVm> {
        let code = self.vm.shutdown(timeout)?;
        if code != 0 {
            return Err(Error::Guest {
                fault: GuestFault::Exited(code),
                regs: Box::default(),
            });
        }
        let (kvm, vm, mut vcpu, _) = self.vm.into_parts();
        // Finish the guest's last `out` so that no half-done instruction is
        // carried over into the next guest (`crate::vcpu_state`).
        complete_pending_io(&mut vcpu)?;
        let ram = vm.ram()?;
        fresh_memory(ram.host_addr(), ram.size())?;
        Ok(ParkedVm {
            vcpu,
            vm,
            kvm,
            fresh: self.fresh,
        })
    }
}

/// Replaces `[addr, addr + len)`, guest RAM, by fresh anonymous memory,
/// whatever backed it (the previous guest's pages, or a snapshot file
/// mapped over it): the pages go back to the host and the next access reads
/// zeros (mmap(2), `MAP_FIXED`). KVM's memory slots keep pointing at these
/// addresses; its MMU notifier drops its mappings of the old pages.
pub(crate) fn fresh_memory(addr: *mut u8, len: u64) -> Result<()> {
    let bad = |reason: String| Error::Memory { size: len, reason };
    let n = usize::try_from(len).map_err(|_| bad("larger than this address space".into()))?;
    // SAFETY: [addr, addr + len) is the guest-RAM mapping this VM owns,
    // mapped with these very protections and flags (`crate::memory`);
    // MAP_FIXED replaces exactly it, and vm-memory still unmaps the whole
    // range on drop. No Rust reference points into it (vm-memory accesses
    // it through raw pointers) and the guest is not running (we hold its
    // only vCPU).
    let p = unsafe {
        libc::mmap(
            addr.cast(),
            n,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p != addr.cast() {
        return Err(bad(format!(
            "replacing guest RAM with fresh memory: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}
