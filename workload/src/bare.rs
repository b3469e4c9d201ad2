//! The bare-VM platform: the workload as a KVM guest with no operating system.
//!
//! In `vm-bare` there is no kernel under the workload: the VMM (`bench-vm`)
//! puts the vCPU straight into 64-bit long mode, a stub of a few dozen
//! instructions (`src/bin/bare.rs`) loads the descriptor tables and drops to
//! CPL3, and from then on the workload talks to the VMM through I/O ports.
//! Every `in` or `out` on a port is a *VM exit*: the CPU leaves the guest,
//! KVM returns from the `KVM_RUN` ioctl in the VMM with `KVM_EXIT_IO`, the
//! VMM handles the byte and calls `KVM_RUN` again (Linux
//! `Documentation/virt/kvm/api.rst`, "KVM_RUN" and "KVM_EXIT_IO").
//!
//! This module is the contract between the guest and the VMM: both sides use
//! these constants, so they cannot drift apart.
//!
//! | port | direction | meaning |
//! |---|---|---|
//! | [`PORT_PROTOCOL`] | out | one byte of a workload message (READY, RESULT, ...) |
//! | [`PORT_PROTOCOL`] | in  | the next byte of the current command |
//! | [`PORT_PING`]     | in  | boundary round trip: the VMM answers `tag::PONG` |
//! | [`PORT_EXIT`]     | out (32 bit) | the workload exits with this code |
//! | [`PORT_EXCEPTION`]| out (32 bit) | a CPU exception: eax = vector, rdi = RIP, rsi = error code |
//!
//! Boot protocol (what the VMM promises at the first instruction, `_start`):
//! long mode with paging, all guest RAM identity-mapped and user-accessible,
//! CPL0, interrupts off, `rdi` = start of the scratch region and `rsi` = its
//! length in bytes (guest physical = guest virtual addresses).

use crate::platform::Platform;
use crate::protocol::tag;
use core::arch::asm;

/// Workload messages out, command bytes in (one byte per VM exit).
pub const PORT_PROTOCOL: u16 = 0xe0;
/// An `in` here is one boundary round trip; the VMM answers `tag::PONG`.
pub const PORT_PING: u16 = 0xe1;
/// A 32-bit `out` here ends the guest with that exit code.
pub const PORT_EXIT: u16 = 0xe2;
/// A 32-bit `out` here reports a CPU exception (see the module docs).
pub const PORT_EXCEPTION: u16 = 0xe3;

/// Where the VMM loads the guest image (1 MiB, as the link address).
pub const IMAGE_BASE: u64 = 0x10_0000;
/// Where the scratch region starts: everything from here to the end of
/// guest RAM belongs to the workload's buffers.
pub const SCRATCH_BASE: u64 = 0x40_0000;

/// Writes one byte to an I/O port.
#[inline(always)]
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O touches no memory. In the guest the stub gave us
    // IOPL=3, so CPL3 may use it; the VMM traps every port we use.
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

/// Ends the guest: the VMM stops the vCPU at this exit and never resumes it.
pub fn exit(code: i32) -> ! {
    outl(PORT_EXIT, code as u32);
    loop {
        // Only reached under a VMM that ignores the exit port. `hlt` is not
        // allowed at CPL3, so spin.
        core::hint::spin_loop();
    }
}

/// The workload running directly on a vCPU, at CPL3, talking through ports.
pub struct BarePlatform {
    scratch: *mut u8,
    scratch_len: usize,
}

impl BarePlatform {
    /// `scratch`/`scratch_len`: the region the VMM set aside (rdi/rsi at boot).
    pub fn new(scratch: *mut u8, scratch_len: usize) -> BarePlatform {
        BarePlatform {
            scratch,
            scratch_len,
        }
    }
}

/// Sends protocol bytes to the VMM: one `out` (one VM exit) a byte. Shared
/// with the Linux guest's `/init` (`crate::vm_init`), which talks the same way.
pub fn port_send(bytes: &[u8]) {
    for b in bytes {
        outb(PORT_PROTOCOL, *b);
    }
}

/// Receives protocol bytes from the VMM: one `in` a byte; the VMM holds the
/// vCPU until it has a byte to give, so this never fails.
pub fn port_recv(buf: &mut [u8]) -> bool {
    for b in buf {
        *b = inb(PORT_PROTOCOL);
    }
    true
}

impl Platform for BarePlatform {
    fn send(&mut self, bytes: &[u8]) {
        port_send(bytes)
    }

    fn recv(&mut self, buf: &mut [u8]) -> bool {
        port_recv(buf)
    }

    fn scratch(&mut self, bytes: usize) -> Option<*mut u8> {
        (bytes <= self.scratch_len && !self.scratch.is_null()).then_some(self.scratch)
    }

    fn trivial_syscall(&mut self) -> u64 {
        let ret: u64;
        // SAFETY: `syscall` enters the stub's handler (src/bin/bare.rs),
        // which sets rax and returns at once with `iretq` on its own stack (our
        // stack is not touched); the CPU clobbers rcx (return RIP) and r11
        // (saved RFLAGS).
        unsafe {
            asm!("syscall", lateout("rax") ret, lateout("rcx") _, lateout("r11") _,
                 options(nomem, nostack));
        }
        ret
    }

    fn round_trip(&mut self) -> bool {
        inb(PORT_PING) == tag::PONG
    }

    fn exit(&mut self, code: i32) -> ! {
        exit(code)
    }
}
