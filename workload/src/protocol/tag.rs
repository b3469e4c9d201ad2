//! Tag bytes: the first byte of every message and command on the wire.
//!
//! The tag says what follows and so how long it is ([`payload_len`]): a
//! reader takes one byte, then exactly that many more, and never has to
//! search for the end of a message. Messages from the workload have tags
//! below 0x10, commands from the launcher 0x11 and up, so each side can
//! tell the other direction's bytes from garbage.

pub const READY: u8 = 0x01;
pub const RESULT: u8 = 0x02;
pub const HELD: u8 = 0x03;
pub const DONE: u8 = 0x04;
pub const FAULT: u8 = 0x05;
pub const INFO: u8 = 0x06;
pub const PING: u8 = 0x07;
// Commands from the launcher.
pub const RUN: u8 = 0x11;
pub const HOLD: u8 = 0x12;
pub const EXIT: u8 = 0x13;
pub const PONG: u8 = 0x14;

/// Longest encoded message or command, bytes.
pub const MAX_LEN: usize = 1 + 1 + 8 + 8 + 8;

/// Payload length that follows `tag`, or `None` for an unknown tag.
pub fn payload_len(tag: u8) -> Option<usize> {
    Some(match tag {
        READY | DONE | PING | EXIT | PONG => 0,
        RESULT => 1 + 8 + 8 + 8,
        HELD | HOLD => 8,
        FAULT => 4 + 8,
        INFO => 1 + 8,
        RUN => 1 + 8 + 8,
        _ => return None,
    })
}
