//! x86 port I/O: `in` and `out`, the instructions a VMM traps.
//!
//! In a guest every access to an emulated port is a VM exit (KVM hands it to
//! the VMM as `KVM_EXIT_IO`; Linux `Documentation/virt/kvm/api.rst`). At CPL3
//! they are allowed when RFLAGS.IOPL is 3 (Intel SDM Vol. 1, 19.5.1), which
//! the bare guest's stub and `iopl(3)` in a Linux guest's `/init` arrange.

use core::arch::asm;

/// Writes one byte to an I/O port.
#[inline(always)]
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O touches no memory. The caller runs with IOPL=3
    // (see the module docs), so CPL3 may use it; the VMM traps every port.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

/// Writes four bytes to an I/O port.
#[inline(always)]
pub fn outl(port: u16, value: u32) {
    // SAFETY: as in `outb`.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads one byte from an I/O port.
#[inline(always)]
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as in `outb`.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    }
    value
}
