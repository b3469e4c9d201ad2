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
//! length in bytes (guest physical = guest virtual addresses), `r8` =
//! `crate::boot::BOOT_PORTS` (or `BOOT_UART`: talk through the 16550 UART
//! instead, `crate::uart`, as under a VMM that is not ours). Other VMMs
//! enter the same image elsewhere: see `crate::boot`.

use crate::platform::Platform;
pub use crate::port::{inb, outb, outl};
use crate::protocol::tag;
use crate::uart;
use core::arch::asm;

/// How the workload reaches its launcher (chosen at boot: `crate::boot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The protocol ports below, which only our VMM understands.
    Ports,
    /// The 16550 UART at 0x3f8 (`crate::uart`), which every VMM has.
    Uart,
}

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

/// Cloud Hypervisor's ACPI shutdown port, and the value that asks for sleep
/// state S5 (off): SLP_TYP = 5 in bits 2-4, SLP_EN (bit 5).
const ACPI_SHUTDOWN: u16 = 0x600;
const ACPI_S5: u8 = (5 << 2) | (1 << 5);
/// The i8042 keyboard controller's command port, and its "pulse the reset
/// line" command: how a guest with no ACPI asks a PC to reset. Firecracker
/// ends the microVM on it.
const I8042_COMMAND: u16 = 0x64;
const I8042_RESET: u8 = 0xfe;

/// Ends the guest: our VMM stops the vCPU at the exit port and never
/// resumes it. Under a VMM that is not ours, the exit port is QEMU's
/// `isa-debug-exit` device when the launcher added one (QEMU then exits
/// with status `code << 1 | 1`), else an ignored write; then come Cloud
/// Hypervisor's ACPI shutdown and the i8042 reset that ends Firecracker.
pub fn exit(code: i32) -> ! {
    outl(PORT_EXIT, code as u32);
    outb(ACPI_SHUTDOWN, ACPI_S5);
    outb(I8042_COMMAND, I8042_RESET);
    loop {
        // Only reached under a VMM that ignores the exit port. `hlt` is not
        // allowed at CPL3, so spin.
        core::hint::spin_loop();
    }
}

/// The workload running directly on a vCPU, at CPL3, talking through ports
/// or the UART.
pub struct BarePlatform {
    scratch: *mut u8,
    scratch_len: usize,
    transport: Transport,
}

impl BarePlatform {
    /// `scratch`/`scratch_len`: the region the VMM set aside (rdi/rsi at
    /// boot, or found in the boot information; see `crate::boot`).
    pub fn new(scratch: *mut u8, scratch_len: usize, transport: Transport) -> BarePlatform {
        if transport == Transport::Uart {
            uart::init(uart::COM1);
        }
        BarePlatform {
            scratch,
            scratch_len,
            transport,
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
        match self.transport {
            Transport::Ports => port_send(bytes),
            Transport::Uart => uart::send(uart::COM1, bytes),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> bool {
        match self.transport {
            Transport::Ports => port_recv(buf),
            Transport::Uart => {
                uart::recv(uart::COM1, buf);
                true
            }
        }
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
        match self.transport {
            Transport::Ports => inb(PORT_PING) == tag::PONG,
            // As a process does on its socket: PING out, PONG back.
            Transport::Uart => {
                let mut answer = [0u8; 1];
                uart::send(uart::COM1, &[tag::PING]);
                uart::recv(uart::COM1, &mut answer);
                answer[0] == tag::PONG
            }
        }
    }

    fn exit(&mut self, code: i32) -> ! {
        if self.transport == Transport::Uart {
            uart::flush(uart::COM1);
        }
        exit(code)
    }
}
