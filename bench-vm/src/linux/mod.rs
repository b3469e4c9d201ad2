//! Booting a real Linux kernel (`vm-linux`): every VM carries its own kernel.
//!
//! The bare guest (`crate::bare`) shows the least a VM needs. A Linux guest
//! needs what a PC gives an operating system, in the form the kernel's boot
//! protocol asks for, and a handful of devices. Bottom up (each module uses
//! only modules above it; `crate::` modules in brackets):
//!
//! ```text
//! bzimage     the kernel file: setup header, payload, its compression
//! extract     host-side decompression of the payload into vmlinux    (bzimage)
//! initramfs   the root file system: a cpio archive with /init
//! layout      guest physical memory map, Layout, LayoutError
//! kernel      KernelImage: recognise it, copy it into guest RAM      (bzimage, layout)
//! zero_page   command line, initramfs, boot_params with e820, GDT    (kernel, layout)
//! cpu         CPUID, MSRs, FPU, LAPIC, registers for the 64-bit entry (layout; [vcpu, vm])
//! devices     UART (vm-superio), i8042, CMOS, the in-kernel irqchip and PIT ([vm])
//! ports       the port map: devices + the workload protocol         (devices; [protocol_ports])
//! error       LinuxError: what failed, with the console's last lines (layout)
//! vm          LinuxVm: the launch, the exit loop                      (all of the above; [phases])
//! state       the vCPU, irqchip, PIT and clock state a snapshot holds ([vcpu, vcpu_state, vm])
//! snapshot    LinuxSnapshot: a READY guest saved, restored copy-on-write
//!                                       (devices, error, layout, ports, state, vm; [phases, snapshot,
//!                                        snapshot_dir, vcpu, vcpu_state, vm])
//! console     LinuxVm::run_console: the guest as a terminal (vmvc shell vm) (vm, devices, error)
//! ```
//!
//! - [`bzimage`] and [`extract`]: the kernel file (`/boot/vmlinuz`), its
//!   setup header, and extracting the plain ELF `vmlinux` on the host;
//! - [`initramfs`]: the guest's root file system, a cpio archive whose
//!   `/init` is the workload;
//! - [`layout`], [`kernel`], [`zero_page`], [`cpu`]: the boot protocol —
//!   where everything goes, the kernel loaded, the zero page (e820 map,
//!   command line, initramfs), CPUID, MSRs and registers for the 64-bit entry;
//! - [`devices`] and [`ports`]: serial console (16550, vm-superio), i8042
//!   reset, CMOS clock, and which port reaches which;
//! - [`error`] and [`vm`]: [`LinuxVm`], the launch, the exit loop, the errors;
//! - [`state`] and [`snapshot`]: [`LinuxSnapshot`], a guest saved at READY
//!   (memory, vCPU, interrupt controllers, timer, clock, UART) and restored
//!   into fresh VMs, as Firecracker restores microVMs.
//! - [`console`]: the guest's serial console as an interactive terminal.
//!
//! Sources: Linux `Documentation/arch/x86/boot.rst` (boot protocol) and
//! `Documentation/arch/x86/zero-page.rst` (the zero page),
//! `Documentation/virt/kvm/api.rst` (the ioctls),
//! `Documentation/filesystems/ramfs-rootfs-initramfs.rst` (the initramfs),
//! and Firecracker's x86 boot code, which this follows in spirit.

pub mod bzimage;
pub mod console;
pub mod cpu;
pub mod devices;
pub mod error;
pub mod extract;
pub mod initramfs;
pub mod kernel;
pub mod layout;
pub mod ports;
pub mod snapshot;
pub mod state;
pub mod vm;
pub mod zero_page;

pub use console::ConsoleEnd;
pub use error::LinuxError;
pub use initramfs::Initramfs;
pub use kernel::KernelImage;
pub use snapshot::LinuxSnapshot;
pub use vm::{Config, GuestMemInfo, LinuxVm, PHASES};
pub use zero_page::DEFAULT_CMDLINE;

#[cfg(test)]
mod tests;
