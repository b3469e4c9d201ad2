//! The VM core: `/dev/kvm`, a VM, its memory. Reused by every guest type.
//!
//! The KVM API is a hierarchy of file descriptors (api.rst, section 1
//! "General description"):
//!
//! ```text
//! open("/dev/kvm")            system fd: version, capabilities, CPUID support
//!   └─ KVM_CREATE_VM          VM fd: memory slots, interrupt controllers
//!        └─ KVM_CREATE_VCPU   vCPU fd: registers, KVM_RUN; mmap'd `kvm_run`
//! ```
//!
//! [`Kvm`] is the first, [`Vm`] the second (plus the guest RAM it owns),
//! [`crate::vcpu::Vcpu`] the third. A VM is destroyed when its last fd is
//! closed; Rust's drop order (vCPU, then VM, then RAM) releases everything
//! on every path, errors and panics included.

use crate::error::{Error, Result};
use crate::memory::GuestRam;
use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_MAX_CPUID_ENTRIES};
use std::sync::OnceLock;

/// An open `/dev/kvm`.
pub struct Kvm {
    kvm: kvm_ioctls::Kvm,
}

impl Kvm {
    /// Opens `/dev/kvm` (close-on-exec) and checks the API version.
    pub fn open() -> Result<Kvm> {
        let kvm = kvm_ioctls::Kvm::new().map_err(Error::KvmOpen)?;
        // KVM_GET_API_VERSION has been 12 since Linux 2.6.22; anything else
        // is not the API this code (or api.rst) describes.
        if kvm.get_api_version() != 12 {
            return Err(Error::Unsupported(
                "KVM API version 12 (KVM_GET_API_VERSION)",
            ));
        }
        Ok(Kvm { kvm })
    }

    /// The rust-vmm handle, for what this wrapper does not cover.
    pub fn inner(&self) -> &kvm_ioctls::Kvm {
        &self.kvm
    }

    /// The CPUID leaves KVM can offer a guest on this host
    /// (`KVM_GET_SUPPORTED_CPUID`). A fact about the host, so it is asked
    /// once per process and reused by every VM.
    pub fn supported_cpuid(&self) -> Result<&'static CpuId> {
        static CPUID: OnceLock<CpuId> = OnceLock::new();
        if let Some(c) = CPUID.get() {
            return Ok(c);
        }
        let c = self
            .kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(Error::kvm("KVM_GET_SUPPORTED_CPUID"))?;
        Ok(CPUID.get_or_init(|| c))
    }
}

/// A VM: its fd and its RAM.
pub struct Vm {
    // Field order is drop order: the VM fd is closed before its RAM is unmapped.
    pub(crate) fd: kvm_ioctls::VmFd,
    ram: Option<GuestRam>,
}

impl Vm {
    /// `KVM_CREATE_VM`: an empty VM, no memory, no vCPU yet.
    pub fn create(kvm: &Kvm) -> Result<Vm> {
        let fd = kvm.kvm.create_vm().map_err(Error::kvm("KVM_CREATE_VM"))?;
        Ok(Vm { fd, ram: None })
    }

    /// Maps `size` bytes of RAM and plugs them all in at guest physical 0
    /// (`KVM_SET_USER_MEMORY_REGION`, memory slot 0).
    pub fn add_ram(&mut self, size: u64) -> Result<&GuestRam> {
        self.map_ram(size)?;
        self.plug(0, 0, size)?;
        self.ram()
    }

    /// Maps `size` bytes of RAM for guest physical `[0, size)` without
    /// telling KVM yet: see [`Vm::plug`].
    pub fn map_ram(&mut self, size: u64) -> Result<&GuestRam> {
        if self.ram.is_some() {
            return Err(Error::Memory {
                size,
                reason: "this VM already has RAM".into(),
            });
        }
        Ok(self.ram.insert(GuestRam::new(size)?))
    }

    /// Plugs guest physical `[start, start + len)` of the mapped RAM into
    /// the VM as memory slot `slot` (`KVM_SET_USER_MEMORY_REGION`). Until a
    /// range is plugged in, a guest access there is an MMIO exit.
    ///
    /// A VMM may plug memory in at any time, also while the guest runs (on
    /// another thread: KVM makes the change atomic for the guest). Each slot
    /// costs KVM bookkeeping proportional to its size (under shadow paging,
    /// as on PVM, a reverse map of 8 bytes per 4 KiB page), so a VMM can
    /// save launch time by plugging in only what booting needs.
    pub fn plug(&mut self, slot: u32, start: u64, len: u64) -> Result<()> {
        let ram = self.ram()?;
        let end = start.checked_add(len).filter(|e| *e <= ram.size());
        if end.is_none() || len == 0 || !start.is_multiple_of(4096) || !len.is_multiple_of(4096) {
            return Err(Error::Memory {
                size: ram.size(),
                reason: format!(
                    "cannot plug in [{start:#x}, +{len:#x}): not page-aligned inside RAM"
                ),
            });
        }
        let region = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: start,
            memory_size: len,
            userspace_addr: ram.host_addr() as u64 + start,
        };
        // SAFETY: the range lies inside our own live mapping (checked above).
        // It stays mapped as long as the VM exists: `ram` is stored in `self`
        // and dropped after `fd` (field order), when KVM no longer uses it.
        unsafe { self.fd.set_user_memory_region(region) }
            .map_err(Error::kvm("KVM_SET_USER_MEMORY_REGION"))
    }

    /// The guest's RAM (an error before [`Vm::add_ram`]).
    pub fn ram(&self) -> Result<&GuestRam> {
        self.ram.as_ref().ok_or(Error::Memory {
            size: 0,
            reason: "the VM has no RAM yet".into(),
        })
    }

    /// The rust-vmm handle, for what this wrapper does not cover.
    pub fn inner(&self) -> &kvm_ioctls::VmFd {
        &self.fd
    }
}
