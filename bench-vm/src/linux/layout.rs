//! Where a Linux guest's boot data goes in guest physical memory.
//!
//! The x86 boot protocol (`Documentation/arch/x86/boot.rst`, "64-bit BOOT
//! PROTOCOL") leaves the placement to the boot loader, within a few rules:
//! the kernel at or above 1 MiB, nothing in the legacy hole below it, the
//! initramfs below the kernel's `initrd_addr_max`, and an identity mapping
//! of everything the kernel reads at entry. This VMM uses one fixed map
//! (addresses in hex), close to Firecracker's:
//!
//! ```text
//!        500  GDT (null, null, __BOOT_CS, __BOOT_DS)
//!       1000  page tables: identity map of all RAM with 2 MiB pages (crate::x86)
//!       7000  zero page (struct boot_params)
//!       8ff0  initial stack (the kernel switches to its own at once)
//!      20000  kernel command line
//!      9fc00  -- 640 KiB: legacy hole (EBDA, VGA, BIOS), not RAM in the e820 map --
//!     100000  bzImage: its protected-mode part (entry at +0x200);
//!    1000000  vmlinux (ELF): its segments at their physical addresses (16 MiB)
//!   top - n   initramfs, page aligned, as high as the kernel allows
//! ```
//!
//! [`Layout`] is what one boot actually placed; [`LayoutError`] says why a
//! kernel, initramfs or command line does not fit.

use linux_loader::loader::bootparam::boot_params;

/// Where the zero page goes.
pub const BOOT_PARAMS: u64 = 0x7000;
/// The initial stack pointer.
pub const BOOT_STACK: u64 = 0x8ff0;
/// Where the command line goes.
pub const CMDLINE: u64 = 0x2_0000;
/// Start of the legacy hole below 1 MiB (Extended BIOS Data Area).
pub const EBDA_START: u64 = 0x9_fc00;
/// Start of "high memory": kernels load at or above 1 MiB.
pub const HIMEM_START: u64 = 0x10_0000;
/// Our boot GDT: selectors `__BOOT_CS` = 0x10 and `__BOOT_DS` = 0x18 (boot.rst).
pub const GDT: u64 = 0x500;
pub const BOOT_CS: u16 = 0x10;
pub const BOOT_DS: u16 = 0x18;
/// Guest RAM stays below the 32-bit MMIO hole where the IOAPIC (0xfec00000)
/// and local APIC (0xfee00000) live.
pub const MAX_RAM: u64 = 3 << 30;

/// Where things were put, and the zero page that describes them.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Where the vCPU starts.
    pub entry: u64,
    /// End of the kernel's memory while it boots (its image, bss and, for a
    /// bzImage, the room its decompressor needs).
    pub kernel_end: u64,
    pub initramfs_addr: u64,
    pub initramfs_size: u64,
    pub params: boot_params,
}

/// Why a kernel and initramfs cannot be laid out in the guest.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("guest RAM of {ram} bytes is out of range: vm-linux needs 64 MiB to 3 GiB (a multiple of 2 MiB)")]
    Ram { ram: u64 },
    #[error("linux-loader could not load the {kind}: {detail}")]
    Load { kind: &'static str, detail: String },
    #[error("the initramfs ({size} bytes) does not fit: guest RAM is {ram} bytes, the kernel needs memory up to {kernel_end:#x} and the initramfs must end below {limit:#x}. Give the VM more memory")]
    InitramfsTooLarge {
        size: u64,
        ram: u64,
        kernel_end: u64,
        limit: u64,
    },
    #[error("the kernel command line is {len} bytes; this kernel accepts at most {max}")]
    CmdlineTooLong { len: usize, max: usize },
    #[error("the kernel command line contains a NUL byte or a non-ASCII character")]
    CmdlineBad,
    #[error("writing {what} into guest memory failed: {detail}")]
    Write { what: &'static str, detail: String },
}

impl LayoutError {
    /// For `map_err`: writing `what` into guest memory failed.
    pub fn write(what: &'static str) -> impl Fn(vm_memory::GuestMemoryError) -> LayoutError {
        move |e| LayoutError::Write {
            what,
            detail: e.to_string(),
        }
    }

    /// For `map_err`: linux-loader (or our own check) refused the `kind` of kernel.
    pub fn load<E: std::fmt::Display>(kind: &'static str) -> impl Fn(E) -> LayoutError {
        move |e| LayoutError::Load {
            kind,
            detail: e.to_string(),
        }
    }
}
