//! Booting a real Linux kernel (`vm-linux`): every VM carries its own kernel.
//!
//! The bare guest (`crate::bare`) shows the least a VM needs. A Linux guest
//! needs what a PC gives an operating system, in the form the kernel's boot
//! protocol asks for, and a handful of devices. Bottom up:
//!
//! - [`bzimage`]: the kernel file (`/boot/vmlinuz`), its setup header, and
//!   extracting the plain ELF `vmlinux` on the host;
//! - [`initramfs`]: the guest's root file system, a cpio archive whose
//!   `/init` is the workload;
//! - [`boot`]: memory layout, the zero page (e820 map, command line,
//!   initramfs), CPUID, MSRs and registers for the 64-bit entry;
//! - [`devices`]: serial console (16550, vm-superio), i8042 reset, CMOS clock;
//! - [`vm`]: [`LinuxVm`], the launch, the exit loop, the errors.
//!
//! Sources: Linux `Documentation/arch/x86/boot.rst` (boot protocol and zero
//! page), `Documentation/virt/kvm/api.rst` (the ioctls),
//! `Documentation/filesystems/ramfs-rootfs-initramfs.rst` (the initramfs),
//! and Firecracker's x86 boot code, which this follows in spirit.

pub mod boot;
pub mod bzimage;
pub mod devices;
pub mod initramfs;
pub mod vm;

pub use boot::{KernelImage, DEFAULT_CMDLINE};
pub use initramfs::Initramfs;
pub use vm::{Config, GuestMemInfo, LinuxError, LinuxVm, PHASES};

#[cfg(test)]
mod tests;
