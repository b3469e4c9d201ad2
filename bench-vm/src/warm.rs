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
//! | `reset_memory` | the previous guest's pages are dropped (`madvise(MADV_DONTNEED)`: the next touch reads zeros), so no guest sees another's data |
//! | `load_image` | the ELF segments, page tables and boot GDT written again |
//! | `vcpu_reset` | registers set to a fresh vCPU's (saved when it was created) and then to the long-mode entry |
//! | `guest_boot` | first `KVM_RUN` until READY, as in a cold start |
//!
//! The pool is not free: a parked VM holds its VM and vCPU in the kernel
//! (KVM's structures, the memory slots' bookkeeping, the `kvm_run` page)
//! while it waits. [`ParkedVm::resident_bytes`] is its guest RAM after the
//! reset, which should be nothing; the kernel side is measured by whoever
//! fills the pool (the harness: the drop of the host's available memory).

use crate::bare::{self, BareVm, Config, Image, SLOT_BOOT, SLOT_SCRATCH};
use crate::error::{Error, GuestFault, Result};
use crate::phases::Phases;
use crate::vcpu::{LongModeEntry, Vcpu};
use crate::vcpu_state::{complete_pending_io, VcpuState};
use crate::vm::{Kvm, Vm};
use crate::x86;
use std::time::Duration;
use workload::bare::SCRATCH_BASE;

/// The phases of a warm start (module docs).
pub const WARM_PHASES: [&str; 4] = ["reset_memory", "load_image", "vcpu_reset", "guest_boot"];

/// A VM with RAM, memory slots and a vCPU, waiting for a guest.
pub struct ParkedVm {
    // Drop order: vCPU, VM (with its RAM), then /dev/kvm.
    vcpu: Vcpu,
    vm: Vm,
    kvm: Kvm,
    /// The vCPU's state right after `KVM_CREATE_VCPU`: the reset state.
    fresh: VcpuState,
    /// Whether the guest may have touched memory since the last reset.
    dirty: bool,
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
            dirty: false,
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
            dirty,
        } = self;
        let ram = vm.ram()?;
        if dirty {
            forget_contents(ram.host_addr(), ram.size())?;
        }
        phases.end("reset_memory");

        let entry = bare::load(ram, image)?;
        x86::write_boot_tables(ram)?;
        phases.end("load_image");

        fresh.restore(&vcpu)?;
        vcpu.enter_long_mode(&LongModeEntry {
            rip: entry,
            rsp: 0,
            rdi: SCRATCH_BASE,
            rsi: ram.size() - SCRATCH_BASE,
        })?;
        vcpu.reset_exits();
        phases.end("vcpu_reset");

        let vm = BareVm::boot(kvm, vm, vcpu, phases, true, boot_timeout)?;
        Ok(WarmVm { vm, fresh })
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
    /// The running guest.
    pub fn vm(&mut self) -> &mut BareVm {
        &mut self.vm
    }

    /// Shuts the guest down (EXIT, DONE, its exit code) and keeps the VM for
    /// the next guest: the teardown of a warm start. Its memory is wiped by
    /// the next [`ParkedVm::start`], which is per-request work.
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
        Ok(ParkedVm {
            vcpu,
            vm,
            kvm,
            fresh: self.fresh,
            dirty: true,
        })
    }
}

/// Drops every page of `[addr, addr + len)` of a private anonymous
/// mapping: the memory goes back to the host and the next access reads
/// zeros (madvise(2), MADV_DONTNEED). KVM hears of it through its MMU
/// notifier and drops its own mappings of those pages.
fn forget_contents(addr: *mut u8, len: u64) -> Result<()> {
    let len = usize::try_from(len).map_err(|_| Error::Memory {
        size: len,
        reason: "larger than this host's address space".into(),
    })?;
    // SAFETY: [addr, addr + len) is the guest-RAM mapping this VM owns; no
    // Rust reference points into it (vm-memory accesses it through raw
    // pointers), and the guest is not running (we hold its only vCPU).
    let rc = unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) };
    if rc != 0 {
        return Err(Error::os("madvise(MADV_DONTNEED) on guest RAM")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
