//! Encoding and decoding: messages to bytes and back.
//!
//! Encoding fills a [`Frame`]: the tag, then each field in little-endian
//! order, in a fixed-size array (no allocation: the workload has no heap).
//! Decoding is the reverse, once the tag and its whole payload are known
//! ([`Message::decode`], [`Command::decode`]). Who reads from a stream gets
//! those in two steps, one tag byte and then [`payload_len`] bytes:
//! [`Command::read`] for a command, [`Decoder`] for messages that arrive one
//! byte at a time (a VMM sees one port write per VM exit).

use super::message::{Command, Message, Workload};
use super::tag::{self, payload_len, MAX_LEN};

/// Decoding failures: the peer sent bytes that are not this protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The first byte of a message is not a known tag (of the expected direction).
    UnknownTag(u8),
    /// A RESULT or RUN named an unknown workload.
    UnknownWorkload(u8),
    /// A payload of the wrong length for its tag was handed to `decode`
    /// (a caller's mistake, or a truncated frame: refused, never read past).
    Length {
        tag: u8,
        got: usize,
        expected: usize,
    },
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtocolError::UnknownTag(t) => write!(f, "unknown message tag 0x{t:02x}"),
            ProtocolError::UnknownWorkload(w) => write!(f, "unknown workload id {w}"),
            ProtocolError::Length { tag, got, expected } => write!(
                f,
                "a payload of {got} bytes for tag 0x{tag:02x}, which takes {expected}"
            ),
        }
    }
}

/// An encoded message or command: `bytes[..len]` goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub bytes: [u8; MAX_LEN],
    pub len: usize,
}

impl Frame {
    fn new(tag: u8) -> Frame {
        let mut bytes = [0; MAX_LEN];
        bytes[0] = tag;
        Frame { bytes, len: 1 }
    }
    fn u8(mut self, v: u8) -> Frame {
        self.bytes[self.len] = v;
        self.len += 1;
        self
    }
    fn u32(mut self, v: u32) -> Frame {
        self.bytes[self.len..self.len + 4].copy_from_slice(&v.to_le_bytes());
        self.len += 4;
        self
    }
    fn u64(mut self, v: u64) -> Frame {
        self.bytes[self.len..self.len + 8].copy_from_slice(&v.to_le_bytes());
        self.len += 8;
        self
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The fields below index the payload directly: a payload of another length
/// than its tag takes is refused here first (the fuzz test
/// `workload/tests/fuzz_protocol.rs` found `decode` panicking on one).
fn check_len(tag: u8, payload: &[u8]) -> Result<(), ProtocolError> {
    match payload_len(tag) {
        None => Err(ProtocolError::UnknownTag(tag)),
        Some(expected) if expected != payload.len() => Err(ProtocolError::Length {
            tag,
            got: payload.len(),
            expected,
        }),
        Some(_) => Ok(()),
    }
}

/// Reads little-endian fields from a payload.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn u8(&mut self) -> u8 {
        let v = self.0[0];
        self.0 = &self.0[1..];
        v
    }
    fn u32(&mut self) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.0[..4]);
        self.0 = &self.0[4..];
        u32::from_le_bytes(b)
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0; 8];
        b.copy_from_slice(&self.0[..8]);
        self.0 = &self.0[8..];
        u64::from_le_bytes(b)
    }
}

impl Message {
    pub fn encode(&self) -> Frame {
        match *self {
            Message::Ready => Frame::new(tag::READY),
            Message::Result {
                workload,
                ops,
                cycles,
                checksum,
            } => Frame::new(tag::RESULT)
                .u8(workload)
                .u64(ops)
                .u64(cycles)
                .u64(checksum),
            Message::Held { bytes } => Frame::new(tag::HELD).u64(bytes),
            Message::Done => Frame::new(tag::DONE),
            Message::Fault { code, detail } => Frame::new(tag::FAULT).u32(code).u64(detail),
            Message::Info { key, value } => Frame::new(tag::INFO).u8(key).u64(value),
            Message::Ping => Frame::new(tag::PING),
        }
    }

    /// Decodes a message whose tag and full payload are known
    /// (`payload.len()` must be `payload_len(tag)`, else [`ProtocolError::Length`]).
    pub fn decode(tag: u8, payload: &[u8]) -> Result<Message, ProtocolError> {
        check_len(tag, payload)?;
        let mut f = Fields(payload);
        Ok(match tag {
            tag::READY => Message::Ready,
            tag::RESULT => {
                let workload = f.u8();
                if Workload::from_u8(workload).is_none() {
                    return Err(ProtocolError::UnknownWorkload(workload));
                }
                Message::Result {
                    workload,
                    ops: f.u64(),
                    cycles: f.u64(),
                    checksum: f.u64(),
                }
            }
            tag::HELD => Message::Held { bytes: f.u64() },
            tag::DONE => Message::Done,
            tag::FAULT => Message::Fault {
                code: f.u32(),
                detail: f.u64(),
            },
            tag::INFO => Message::Info {
                key: f.u8(),
                value: f.u64(),
            },
            tag::PING => Message::Ping,
            other => return Err(ProtocolError::UnknownTag(other)),
        })
    }
}

impl Command {
    pub fn encode(&self) -> Frame {
        match *self {
            Command::Run {
                workload,
                size,
                iterations,
            } => Frame::new(tag::RUN).u8(workload).u64(size).u64(iterations),
            Command::Hold { bytes } => Frame::new(tag::HOLD).u64(bytes),
            Command::Exit => Frame::new(tag::EXIT),
            Command::Pong => Frame::new(tag::PONG),
        }
    }

    /// Decodes a command whose tag and full payload are known
    /// (`payload.len()` must be `payload_len(tag)`, else [`ProtocolError::Length`]).
    pub fn decode(tag: u8, payload: &[u8]) -> Result<Command, ProtocolError> {
        check_len(tag, payload)?;
        let mut f = Fields(payload);
        Ok(match tag {
            tag::RUN => Command::Run {
                workload: f.u8(),
                size: f.u64(),
                iterations: f.u64(),
            },
            tag::HOLD => Command::Hold { bytes: f.u64() },
            tag::EXIT => Command::Exit,
            tag::PONG => Command::Pong,
            other => return Err(ProtocolError::UnknownTag(other)),
        })
    }

    /// Reads the rest of a command from a stream whose tag byte `tag` was
    /// just read: `read_payload` must fill the buffer it is given (exactly
    /// [`payload_len`] bytes). `Ok(Err(tag))` for a tag that is no command
    /// or a command that does not decode; `Err` only from `read_payload`.
    pub fn read<E>(
        tag: u8,
        read_payload: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Result<Command, u8>, E> {
        let Some(len) = payload_len(tag) else {
            return Ok(Err(tag));
        };
        let mut payload = [0u8; MAX_LEN];
        read_payload(&mut payload[..len])?;
        Ok(Command::decode(tag, &payload[..len]).map_err(|_| tag))
    }
}

/// Byte-at-a-time decoder of workload messages, for launchers that receive
/// the stream in pieces (a VMM sees one port write per VM exit).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: [u8; MAX_LEN],
    have: usize,
    need: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Feeds one byte; returns a message when this byte completed one.
    pub fn push(&mut self, byte: u8) -> Result<Option<Message>, ProtocolError> {
        if self.have == 0 {
            let need = payload_len(byte).ok_or(ProtocolError::UnknownTag(byte))?;
            if byte >= tag::RUN {
                // A command tag in the workload -> launcher direction.
                return Err(ProtocolError::UnknownTag(byte));
            }
            self.need = need;
        }
        self.buf[self.have] = byte;
        self.have += 1;
        if self.have == 1 + self.need {
            self.have = 0;
            return Message::decode(self.buf[0], &self.buf[1..1 + self.need]).map(Some);
        }
        Ok(None)
    }

    /// True between messages (no partial message buffered).
    pub fn is_idle(&self) -> bool {
        self.have == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{fault, info};

    fn all_messages() -> Vec<Message> {
        vec![
            Message::Ready,
            Message::Result {
                workload: Workload::RandomAccess as u8,
                ops: 1 << 40,
                cycles: u64::MAX,
                checksum: 0x0123_4567_89ab_cdef,
            },
            Message::Held { bytes: 64 << 20 },
            Message::Done,
            Message::Fault {
                code: fault::PANIC,
                detail: 42,
            },
            Message::Info {
                key: info::MEM_TOTAL,
                value: 123_456,
            },
            Message::Ping,
        ]
    }

    #[test]
    fn messages_round_trip_byte_by_byte() {
        let mut d = Decoder::new();
        for m in all_messages() {
            let frame = m.encode();
            assert_eq!(frame.len, 1 + payload_len(frame.bytes[0]).unwrap());
            let (last, init) = frame.as_bytes().split_last().unwrap();
            for b in init {
                assert_eq!(d.push(*b), Ok(None), "{m:?} decoded early");
                assert!(!d.is_idle());
            }
            assert_eq!(d.push(*last), Ok(Some(m)));
            assert!(d.is_idle());
        }
    }

    #[test]
    fn wire_layout_is_little_endian_and_fixed() {
        let f = Message::Held { bytes: 0x0102 }.encode();
        assert_eq!(f.as_bytes(), &[tag::HELD, 2, 1, 0, 0, 0, 0, 0, 0]);
        let f = Command::Run {
            workload: Workload::Cpu as u8,
            size: 1,
            iterations: 2,
        }
        .encode();
        assert_eq!(f.len, 18);
        assert_eq!(f.as_bytes()[..3], [tag::RUN, 1, 1]);
        assert_eq!(f.as_bytes()[10], 2);
    }

    #[test]
    fn commands_round_trip() {
        for c in [
            Command::Run {
                workload: 5,
                size: 7,
                iterations: 9,
            },
            Command::Hold { bytes: 1 << 33 },
            Command::Exit,
            Command::Pong,
        ] {
            let f = c.encode();
            assert_eq!(Command::decode(f.bytes[0], &f.as_bytes()[1..]), Ok(c));
        }
    }

    #[test]
    fn garbage_is_rejected() {
        let mut d = Decoder::new();
        assert_eq!(d.push(0xff), Err(ProtocolError::UnknownTag(0xff)));
        // A command tag is not a message.
        assert_eq!(d.push(tag::RUN), Err(ProtocolError::UnknownTag(tag::RUN)));
        // A RESULT naming no workload.
        let mut bad = Message::Result {
            workload: 1,
            ops: 0,
            cycles: 0,
            checksum: 0,
        }
        .encode();
        bad.bytes[1] = 99;
        let mut out = Ok(None);
        for b in bad.as_bytes() {
            out = d.push(*b);
        }
        assert_eq!(out, Err(ProtocolError::UnknownWorkload(99)));
        assert!(d.is_idle(), "the decoder resynchronises after a bad frame");
        assert_eq!(
            Command::decode(tag::READY, &[]),
            Err(ProtocolError::UnknownTag(tag::READY))
        );
    }
}
