//! The VMM's end of the workload protocol through a 16550 UART, as a VMM
//! that is not ours offers it (`vm-bare:uart`).
//!
//! QEMU, Firecracker and Cloud Hypervisor reach the bare guest through an
//! emulated 16550 at 0x3f8 (`workload::uart`). To compare that transport
//! with our protocol ports like with like, our VMM can offer it too: the
//! same `vm-superio` `Serial` a Linux guest's console uses (and Firecracker
//! itself), its output fed to the protocol's decoder, commands queued in
//! its receive FIFO, a PING answered with a PONG in the FIFO without leaving
//! the exit loop. Each guest access to a UART register is one VM exit, as
//! under any VMM; only the host side after the exit differs (an ioctl
//! return in this process instead of QEMU's device model and a socket).

use crate::error::GuestFault;
use crate::protocol_ports::ProtocolPorts;
use crate::vcpu::Flow;
use std::convert::Infallible;
use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};
use workload::protocol::{tag, Command};
use workload::uart::COM1;

/// The bare guest polls the UART: its interrupt goes nowhere.
pub struct NoIrq;

impl Trigger for NoIrq {
    type E = Infallible;
    fn trigger(&self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// The UART and the protocol state behind it.
pub struct ProtocolUart {
    serial: Serial<NoIrq, NoEvents, Vec<u8>>,
}

impl Default for ProtocolUart {
    fn default() -> ProtocolUart {
        ProtocolUart {
            serial: Serial::new(NoIrq, Vec::new()),
        }
    }
}

/// Whether `port` is one of COM1's eight registers.
pub fn is_uart(port: u16) -> bool {
    (COM1..COM1 + 8).contains(&port)
}

impl ProtocolUart {
    /// Queues `cmd` in the receive FIFO (64 bytes; a command is at most 26).
    pub fn send(&mut self, cmd: Command) -> Result<(), GuestFault> {
        self.enqueue(cmd.encode().as_bytes())
    }

    fn enqueue(&mut self, bytes: &[u8]) -> Result<(), GuestFault> {
        match self.serial.enqueue_raw_bytes(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            other => Err(GuestFault::Protocol(format!(
                "the UART's receive FIFO took {other:?} of {} bytes: the guest is not reading",
                bytes.len()
            ))),
        }
    }

    /// The guest wrote `value` to UART register `port`: bytes it transmitted
    /// go to the decoder in `proto`; a PING is answered here.
    pub fn write(
        &mut self,
        proto: &mut ProtocolPorts,
        port: u16,
        value: u8,
    ) -> Result<Flow, GuestFault> {
        // NoIrq cannot fail; other errors are the FIFO's, reported above.
        let _ = self.serial.write((port - COM1) as u8, value);
        let sent = std::mem::take(self.serial.writer_mut());
        let mut flow = Flow::Continue;
        for byte in sent {
            if proto.message_byte(byte)? == Flow::Pause {
                if proto.take_ping() {
                    self.enqueue(&[tag::PONG])?;
                } else {
                    flow = Flow::Pause;
                }
            }
        }
        Ok(flow)
    }

    /// The guest read UART register `port`.
    pub fn read(&mut self, port: u16) -> u8 {
        self.serial.read((port - COM1) as u8)
    }
}
