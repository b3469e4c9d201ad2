//! `bench-vm`: a minimal virtual machine monitor on KVM, for teaching and
//! measuring.
//!
//! It is built on the rust-vmm crates (`kvm-ioctls`, `kvm-bindings`,
//! `vm-memory`, `linux-loader`), like Firecracker and Cloud Hypervisor, and
//! kept small enough to read in one sitting. `README.md` walks through the
//! life of a VM; the modules, bottom up (each uses only modules above it,
//! named in brackets; `error` is used by nearly all and not repeated):
//!
//! ```text
//! error           typed errors, the guest's registers
//! memory          guest RAM: an mmap lent to the guest
//! vm              /dev/kvm, KVM_CREATE_VM, memory slots             (memory)
//! x86             page tables, segments, long mode                  (memory)
//! vcpu            a vCPU, the KVM_RUN exit loop, PortIo, timeouts   (vm, x86)
//! vcpu_state      a vCPU's registers saved and set again            (vcpu)
//! phases          launch phases and when each ended
//! protocol_ports  the VMM's end of the workload's port protocol     (vcpu)
//! protocol_uart   the same through a 16550 UART (vm-superio)        (vcpu, protocol_ports)
//! bare            the vm-bare guest                                 (memory, vm, x86, vcpu, vcpu_state, phases, protocol_ports, protocol_uart)
//! handover        a bare VM put together from parts, taken apart    (bare, vm, vcpu, phases)
//! hostmem         what a VM costs the host
//! ksm             KSM: ksmd on for our VMs' RAM, settings restored  (memory)
//! warm            a pool of VMs made before the request             (bare, vm, x86, vcpu, phases, vcpu_state)
//! snapshot_dir    where snapshot files live, removed on drop
//! snapshot        a READY guest saved, restored copy-on-write       (bare, memory, vm, vcpu, phases, vcpu_state, snapshot_dir, warm)
//! linux/          the vm-linux guest (its own graph: linux/mod.rs)  (memory, vm, x86, vcpu, phases, protocol_ports)
//! process/        a VM in its own process; announce.rs: the text it
//!                 tells its launcher                                (bare, linux, phases)
//! ```
//!
//! - [`vm`]: `/dev/kvm`, `KVM_CREATE_VM`, guest RAM ([`memory`]);
//! - [`x86`]: page tables and registers for 64-bit long mode;
//! - [`vcpu`]: a vCPU, the `KVM_RUN` exit loop with a pluggable port
//!   handler, exit counts and timeouts;
//! - [`phases`]: the launch phases every guest shares, and their timing;
//! - [`protocol_ports`]: the VMM's side of the workload protocol on I/O
//!   ports, the same for both guests; [`protocol_uart`]: the same through
//!   a 16550 UART, the transport third-party VMMs offer (`vm-bare:uart`);
//! - [`bare`]: the `vm-bare` guest — the workload on a vCPU with no OS;
//! - [`hostmem`]: what a VM costs the host (guest RAM touched, the VMM's own
//!   memory, KVM's kernel-side page tables);
//! - [`linux`]: the `vm-linux` guest — a real Linux kernel booted per the
//!   x86 boot protocol, with the workload as `/init`;
//! - [`process`]: a VM in its own small process, for memory and density;
//! - [`vcpu_state`], [`warm`], [`snapshot`]: warm starts from a pool of
//!   VMs made in advance, and restores of a guest saved at READY.
//!
//! Sources: the KVM API (`Documentation/virt/kvm/api.rst` in Linux), the
//! Intel SDM Vol. 3A and the AMD APM Vol. 2.

pub mod bare;
pub mod error;
mod handover;
pub mod hostmem;
pub mod ksm;
pub mod linux;
pub mod memory;
pub mod phases;
pub mod process;
pub mod protocol_ports;
pub mod protocol_uart;
pub mod snapshot;
pub mod snapshot_dir;
pub mod vcpu;
pub mod vcpu_state;
pub mod vm;
pub mod warm;
pub mod x86;

pub use bare::{BareVm, Config, Image, Transport, GUEST_IMAGE, PHASES};
pub use error::{Error, GuestFault, GuestRegs, Result};
pub use phases::Phases;
pub use snapshot::Snapshot;
pub use vcpu::{ExitCounts, Flow, PortIo, Vcpu};
pub use vm::{Kvm, Vm};
pub use warm::{ParkedVm, WarmVm};

/// True if `/dev/kvm` exists and can be opened here.
pub fn kvm_available() -> bool {
    Kvm::open().is_ok()
}
