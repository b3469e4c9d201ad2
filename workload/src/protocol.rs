//! The wire protocol between a workload and its launcher.
//!
//! The same bytes travel every environment's natural path: a socket inherited
//! by a process (native, containers), or I/O ports trapped by the VMM (VMs).
//! Every message is one tag byte followed by a fixed little-endian payload, so
//! a VMM that sees one byte per VM exit can decode it with a tiny state machine
//! ([`Decoder`]) and no allocation.
//!
//! ```text
//! workload -> launcher            launcher -> workload
//!   READY                           RUN  workload size iterations
//!   RESULT workload ops cycles sum  HOLD bytes
//!   HELD   bytes                    EXIT
//!   DONE                            PONG   (answer to PING)
//!   FAULT  code detail
//!   INFO   key value
//!   PING   (boundary round trip)
//! ```

/// The throughput workloads (DESIGN.md, "Throughput").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Workload {
    /// Integer work that stays in registers and L1.
    Cpu = 1,
    /// Sequential copy over a large buffer: memory bandwidth.
    MemBw = 2,
    /// Pointer chase over a large buffer: latency, TLB and nested paging.
    RandomAccess = 3,
    /// A trivial system call: whatever kernel the workload runs on.
    Syscall = 4,
    /// A round trip to the launcher: pipe/socket for a process, VM exit for a VM.
    Boundary = 5,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Cpu,
        Workload::MemBw,
        Workload::RandomAccess,
        Workload::Syscall,
        Workload::Boundary,
    ];

    pub fn from_u8(v: u8) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| *w as u8 == v)
    }

    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Cpu => "cpu",
            Workload::MemBw => "mem_bw",
            Workload::RandomAccess => "random_access",
            Workload::Syscall => "syscall",
            Workload::Boundary => "boundary",
        }
    }

    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// FAULT codes a workload can report.
pub mod fault {
    /// A command tag the workload does not know.
    pub const BAD_COMMAND: u32 = 1;
    /// RUN named an unknown workload.
    pub const BAD_WORKLOAD: u32 = 2;
    /// Scratch memory of the requested size could not be had (detail: bytes).
    pub const NO_MEMORY: u32 = 3;
    /// The workload panicked.
    pub const PANIC: u32 = 4;
    /// A parameter was out of range (detail: the value).
    pub const BAD_PARAMETER: u32 = 5;
    /// The platform's round trip failed (launcher gone or wrong answer).
    pub const BOUNDARY: u32 = 6;
    /// Set by a bare-guest exception handler: detail is the vector.
    pub const EXCEPTION: u32 = 7;

    pub fn describe(code: u32) -> &'static str {
        match code {
            BAD_COMMAND => "unknown command",
            BAD_WORKLOAD => "unknown workload",
            NO_MEMORY => "scratch memory unavailable",
            PANIC => "workload panicked",
            BAD_PARAMETER => "parameter out of range",
            BOUNDARY => "round trip to the launcher failed",
            EXCEPTION => "CPU exception",
            _ => "unknown fault code",
        }
    }
}

/// INFO keys: facts a workload reports about the system it sees.
pub mod info {
    /// `MemTotal` as the (guest) kernel reports it, bytes.
    pub const MEM_TOTAL: u8 = 1;
    /// `MemFree`, bytes.
    pub const MEM_FREE: u8 = 2;
    /// `MemAvailable`, bytes.
    pub const MEM_AVAILABLE: u8 = 3;
    /// The workload's own pid as it sees it.
    pub const PID: u8 = 4;
}

/// Tag bytes of messages from the workload.
pub mod tag {
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
}

/// Longest encoded message or command, bytes.
pub const MAX_LEN: usize = 1 + 1 + 8 + 8 + 8;

/// A message from the workload to its launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The workload's entry point is running: the end of startup.
    Ready,
    /// One finished RUN: `ops` operations took `cycles` time-stamp-counter ticks;
    /// `checksum` depends on every operation so none can be optimised away.
    Result {
        workload: u8,
        ops: u64,
        cycles: u64,
        checksum: u64,
    },
    /// HOLD done: `bytes` of scratch memory are touched and stay so.
    Held { bytes: u64 },
    /// Answer to EXIT; the workload exits right after.
    Done,
    /// Something went wrong; see [`fault`].
    Fault { code: u32, detail: u64 },
    /// A fact about the system as the workload sees it; see [`info`].
    Info { key: u8, value: u64 },
    /// First half of a boundary round trip; the launcher answers PONG.
    Ping,
}

/// A command from the launcher to the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run `workload` over a buffer of `size` bytes for `iterations`.
    Run {
        workload: u8,
        size: u64,
        iterations: u64,
    },
    /// Touch `bytes` of scratch memory, answer HELD and keep it touched.
    Hold { bytes: u64 },
    /// Answer DONE and exit with status 0.
    Exit,
    /// Second half of a boundary round trip.
    Pong,
}

/// Decoding failures: the peer sent bytes that are not this protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The first byte of a message is not a known tag (of the expected direction).
    UnknownTag(u8),
    /// A RESULT or RUN named an unknown workload.
    UnknownWorkload(u8),
}

impl core::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtocolError::UnknownTag(t) => write!(f, "unknown message tag 0x{t:02x}"),
            ProtocolError::UnknownWorkload(w) => write!(f, "unknown workload id {w}"),
        }
    }
}

/// Payload length that follows `tag`, or `None` for an unknown tag.
pub fn payload_len(tag: u8) -> Option<usize> {
    Some(match tag {
        tag::READY | tag::DONE | tag::PING | tag::EXIT | tag::PONG => 0,
        tag::RESULT => 1 + 8 + 8 + 8,
        tag::HELD | tag::HOLD => 8,
        tag::FAULT => 4 + 8,
        tag::INFO => 1 + 8,
        tag::RUN => 1 + 8 + 8,
        _ => return None,
    })
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

    /// Decodes a message whose tag and full payload are known.
    /// `payload.len()` must be `payload_len(tag)`.
    pub fn decode(tag: u8, payload: &[u8]) -> Result<Message, ProtocolError> {
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

    /// Decodes a command whose tag and full payload are known.
    pub fn decode(tag: u8, payload: &[u8]) -> Result<Command, ProtocolError> {
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

    #[test]
    fn workload_names() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
            assert_eq!(Workload::from_u8(w as u8), Some(w));
        }
        assert_eq!(Workload::from_name("gpu"), None);
        assert_eq!(Workload::from_u8(0), None);
    }
}
