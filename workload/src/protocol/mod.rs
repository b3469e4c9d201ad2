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
//!
//! In three parts, bottom up (each uses only the ones above it):
//!
//! - [`message`]: what is said — [`Message`], [`Command`], the [`Workload`]
//!   ids, the [`fault`] codes and [`info`] keys;
//! - [`tag`]: how each one starts on the wire — its tag byte, which fixes the
//!   payload's length ([`payload_len`]);
//! - [`codec`]: bytes to messages and back — [`Frame`], `decode`, the
//!   byte-at-a-time [`Decoder`], [`Command::read`].
//!
//! This file only gathers them, so that users name `protocol::Message`,
//! `protocol::tag::READY`, and so on.

pub mod codec;
pub mod message;
pub mod tag;

pub use codec::{Decoder, Frame, ProtocolError};
pub use message::{fault, info, Command, Message, Workload};
pub use tag::{payload_len, MAX_LEN};
