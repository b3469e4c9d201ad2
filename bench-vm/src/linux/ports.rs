//! The Linux guest's port map: which device each I/O port reaches.
//!
//! Every `in` and `out` the in-kernel devices do not take comes to the VMM as
//! `KVM_EXIT_IO` (api.rst, "KVM_EXIT_IO") and lands in [`LinuxPorts`], which
//! routes it by port number, as a PC's I/O bus decodes addresses:
//!
//! | ports | goes to |
//! |---|---|
//! | 0x3f8–0x3ff | the 16550 UART, COM1 (`super::devices`) |
//! | 0x60, 0x64 | the i8042 (its reset command pauses the loop) |
//! | 0x70, 0x71 | the CMOS clock |
//! | 0xe0–0xe2 | the workload protocol, as in `vm-bare` (`crate::protocol_ports`) |
//! | anything else | nothing: reads return all ones, writes are dropped (counted) |
//!
//! Unlike the bare guest's, this map tolerates the unexpected: a booting
//! kernel probes ports where a PC might have a device, and must find none.

use super::devices::{Cmos, Uart, CMOS_DATA, CMOS_INDEX, COM1, I8042, I8042_COMMAND, I8042_DATA};
use crate::error::GuestFault;
use crate::protocol_ports::ProtocolPorts;
use crate::vcpu::{Flow, PortIo};
use workload::bare::{PORT_EXIT, PORT_PING, PORT_PROTOCOL};

/// The VMM's ports for a Linux guest (see the module docs).
pub struct LinuxPorts {
    pub uart: Uart,
    pub i8042: I8042,
    pub cmos: Cmos,
    pub protocol: ProtocolPorts,
    /// Accesses to ports with no device (counted, answered with all ones).
    pub unhandled: u64,
}

impl LinuxPorts {
    pub fn new(uart: Uart) -> LinuxPorts {
        LinuxPorts {
            uart,
            i8042: I8042::default(),
            cmos: Cmos::default(),
            protocol: ProtocolPorts::default(),
            unhandled: 0,
        }
    }
}

fn is_uart(port: u16) -> bool {
    (COM1..COM1 + 8).contains(&port)
}

impl PortIo for LinuxPorts {
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault> {
        let byte = data.first().copied().unwrap_or(0);
        match port {
            p if is_uart(p) => {
                // A failed interrupt trigger only delays the guest's driver.
                let _ = self.uart.write((p - COM1) as u8, byte);
            }
            I8042_DATA | I8042_COMMAND => {
                self.i8042.write(port, byte);
                if self.i8042.reset_requested {
                    return Ok(Flow::Pause);
                }
            }
            CMOS_INDEX | CMOS_DATA => self.cmos.write(port, byte),
            PORT_PROTOCOL => return self.protocol.message_byte(byte),
            PORT_EXIT if data.len() == 4 => {
                return Ok(self.protocol.exit([data[0], data[1], data[2], data[3]]));
            }
            _ => self.unhandled += 1,
        }
        Ok(Flow::Continue)
    }

    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault> {
        data.fill(0xff);
        let first = match port {
            p if is_uart(p) => self.uart.read((p - COM1) as u8),
            I8042_DATA | I8042_COMMAND => self.i8042.read(port),
            CMOS_INDEX | CMOS_DATA => self.cmos.read(port),
            PORT_PROTOCOL => self.protocol.command_byte()?,
            PORT_PING => self.protocol.ping(),
            _ => {
                self.unhandled += 1;
                0xff
            }
        };
        if let Some(d) = data.first_mut() {
            *d = first;
        }
        Ok(Flow::Continue)
    }
}
