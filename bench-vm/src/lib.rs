//! `bench-vm`: a minimal virtual machine monitor on KVM, for teaching and
//! measuring.
//!
//! It is built on the rust-vmm crates (`kvm-ioctls`, `kvm-bindings`,
//! `vm-memory`, `linux-loader`), like Firecracker and Cloud Hypervisor, and
//! kept small enough to read in one sitting. `README.md` walks through the
//! life of a VM; the modules, bottom up:
//!
//! - [`vm`]: `/dev/kvm`, `KVM_CREATE_VM`, guest RAM ([`memory`]);
//! - [`x86`]: page tables and registers for 64-bit long mode;
//! - [`vcpu`]: a vCPU, the `KVM_RUN` exit loop with a pluggable port
//!   handler, exit counts and timeouts;
//! - [`bare`]: the `vm-bare` guest — the workload on a vCPU with no OS;
//! - [`hostmem`]: what a VM costs the host (guest RAM touched, the VMM's own
//!   memory, KVM's kernel-side page tables);
//! - [`process`]: a VM in its own small process, for memory and density;
//! - [`linux`]: the `vm-linux` guest — a real Linux kernel booted per the
//!   x86 boot protocol, with the workload as `/init`.
//!
//! Sources: the KVM API (`Documentation/virt/kvm/api.rst` in Linux), the
//! Intel SDM Vol. 3A and the AMD APM Vol. 2.

pub mod bare;
pub mod error;
pub mod hostmem;
pub mod linux;
pub mod memory;
pub mod process;
pub mod vcpu;
pub mod vm;
pub mod x86;

pub use bare::{BareVm, Config, Image, Phases, GUEST_IMAGE, PHASES};
pub use error::{Error, GuestFault, GuestRegs, Result};
pub use vcpu::{ExitCounts, Flow, PortIo, Vcpu};
pub use vm::{Kvm, Vm};

/// True if `/dev/kvm` exists and can be opened here.
pub fn kvm_available() -> bool {
    Kvm::open().is_ok()
}
