//! The VMM's end of the workload protocol on I/O ports, for every guest.
//!
//! A guest workload talks to the VMM the way `workload::bare` describes:
//! every byte of a message is one `out` to `PORT_PROTOCOL` (a VM exit each),
//! every byte of a command one `in` from it, a boundary round trip one `in`
//! from `PORT_PING`, and its exit code one 4-byte `out` to `PORT_EXIT`. The
//! VMM side of that is the same for the bare guest and for a Linux guest's
//! `/init`: [`ProtocolPorts`] keeps the command bytes the guest has yet to
//! read, feeds the bytes it writes to a [`Decoder`], and pauses the exit loop
//! ([`Flow::Pause`]) when a message is complete or the guest has exited.
//! Which port numbers and access sizes reach it is the guest's port map's
//! business (`crate::bare`, `crate::linux::ports`).

use crate::error::GuestFault;
use crate::vcpu::Flow;
use std::collections::VecDeque;
use workload::protocol::{tag, Command, Decoder, Message};

/// The protocol state between the VMM and one guest workload.
#[derive(Debug, Default)]
pub struct ProtocolPorts {
    /// Command bytes not yet read by the guest.
    pending: VecDeque<u8>,
    decoder: Decoder,
    /// The last complete message, when the loop paused for it.
    message: Option<Message>,
    /// The guest's exit code, once it wrote one.
    exited: Option<i32>,
    /// Boundary round trips served.
    pings: u64,
}

impl ProtocolPorts {
    /// Queues `cmd` for the guest to read, dropping what it left unread.
    pub fn send(&mut self, cmd: Command) {
        self.pending.clear();
        self.pending.extend(cmd.encode().as_bytes());
    }

    /// The guest wrote one byte of a message to `PORT_PROTOCOL`.
    pub fn message_byte(&mut self, byte: u8) -> Result<Flow, GuestFault> {
        match self.decoder.push(byte) {
            Ok(None) => Ok(Flow::Continue),
            Ok(Some(m)) => {
                self.message = Some(m);
                Ok(Flow::Pause)
            }
            Err(e) => Err(GuestFault::Protocol(format!("{e} (byte {byte:#04x})"))),
        }
    }

    /// The guest reads the next byte of the current command from `PORT_PROTOCOL`.
    pub fn command_byte(&mut self) -> Result<u8, GuestFault> {
        self.pending.pop_front().ok_or(GuestFault::UnexpectedRead)
    }

    /// Whether the message that paused the loop is a PING (a boundary round
    /// trip through a transport without a PING port, `crate::protocol_uart`);
    /// if so, it is taken and counted, and the caller answers PONG.
    pub fn take_ping(&mut self) -> bool {
        if self.message != Some(Message::Ping) {
            return false;
        }
        self.message = None;
        self.pings += 1;
        true
    }

    /// The guest reads `PORT_PING`: one boundary round trip, answered PONG.
    pub fn ping(&mut self) -> u8 {
        self.pings += 1;
        tag::PONG
    }

    /// The guest wrote its exit code (4 bytes, little-endian) to `PORT_EXIT`.
    pub fn exit(&mut self, code: [u8; 4]) -> Flow {
        self.exited = Some(i32::from_le_bytes(code));
        Flow::Pause
    }

    /// After the exit loop paused: the message that paused it, or else the
    /// guest's exit code (-1 if it wrote none).
    pub fn take_message(&mut self) -> Result<Message, i32> {
        self.message.take().ok_or(self.exited.unwrap_or(-1))
    }

    /// Boundary round trips served so far.
    pub fn pings(&self) -> u64 {
        self.pings
    }
}
