//! A 16550 UART, polled from CPL3: the transport every VMM offers.
//!
//! Our own VMM hands the bare guest its port exits (`crate::bare`'s
//! protocol ports), but a general-purpose VMM (QEMU, Firecracker, Cloud
//! Hypervisor) does not: it emulates a PC serial port, a 16550 UART at
//! I/O port 0x3f8 (COM1), and wires it to a file, socket or its stdio on
//! the host. The workload protocol travels through it unchanged, one byte
//! per data-register access.
//!
//! The registers used (National Semiconductor / TI PC16550D datasheet,
//! "Register Description"; offsets from the base port):
//!
//! | offset | register | use here |
//! |---|---|---|
//! | 0 | THR (write) / RBR (read) | one byte out / in |
//! | 3 | LCR | 0x03: 8 data bits, no parity, 1 stop bit |
//! | 5 | LSR | bit 0 DR: a byte waits in RBR; bit 5 THRE: THR may be written; bit 6 TEMT: everything sent |
//!
//! No interrupts (IER stays 0 from reset): the guest polls LSR. Each access
//! is a VM exit into the VMM's device model, so a byte costs two exits (LSR,
//! then THR or RBR): the price of a general device compared with a port
//! that means "here is a protocol byte".
//!
//! Every function takes the UART's base port: the bare guest uses COM1,
//! a Linux guest's `/init` COM2 (its kernel's console is on COM1;
//! `crate::vm_init`).

use crate::port::{inb, outb};

/// COM1's base port.
pub const COM1: u16 = 0x3f8;
/// COM2's base port (the second PC serial port; IRQ 3, unused here).
pub const COM2: u16 = 0x2f8;
const THR_RBR: u16 = 0;
const LCR: u16 = 3;
const LSR: u16 = 5;
const LCR_8N1: u8 = 0x03;
const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
const LSR_TEMT: u8 = 1 << 6;

/// Sets the line format (8N1). The rate does not matter to a VMM.
pub fn init(base: u16) {
    outb(base + LCR, LCR_8N1);
}

/// Sends bytes, each once the transmit holding register is empty.
pub fn send(base: u16, bytes: &[u8]) {
    for b in bytes {
        while inb(base + LSR) & LSR_THRE == 0 {
            core::hint::spin_loop();
        }
        outb(base + THR_RBR, *b);
    }
}

/// Receives bytes, waiting for each one (the launcher always answers).
pub fn recv(base: u16, buf: &mut [u8]) {
    for b in buf {
        while inb(base + LSR) & LSR_DR == 0 {
            core::hint::spin_loop();
        }
        *b = inb(base + THR_RBR);
    }
}

/// Waits until every byte sent has left the UART: a VMM that stops the
/// guest next (exit) would otherwise drop the last bytes.
pub fn flush(base: u16) {
    while inb(base + LSR) & LSR_TEMT == 0 {
        core::hint::spin_loop();
    }
}
