//! Fuzzing the wire protocol's decoders (issue 13), with proptest on stable Rust.
//!
//! The bytes a launcher decodes come from a workload it does not trust (a
//! guest, a container): whatever they are, decoding must end in a message
//! or a typed [`ProtocolError`], never a panic. Each property starts from
//! valid frames and mutates them (truncation, bit flips, huge fields,
//! inserted and deleted bytes) as well as trying plain random bytes; the
//! round trips encode -> decode hold for every message and command.
//!
//! Cases per property: 5,000 in the normal `cargo test`; set
//! `VMVC_FUZZ_CASES` for a long run (docs/fuzzing.md). Inputs that once
//! found a bug are kept in `tests/proptest-regressions/fuzz_protocol/` and
//! replayed first on every run.

mod fuzz_support;

use fuzz_support::{fuzz, mutated, mutations};
use proptest::prelude::*;
use workload::protocol::{payload_len, tag, Command, Decoder, Message, ProtocolError, MAX_LEN};

/// Cases per property in a normal `cargo test` (each takes microseconds).
const CASES: u32 = 5000;

fn any_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        Just(Message::Ready),
        (1u8..=5, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(w, o, c, s)| {
            Message::Result {
                workload: w,
                ops: o,
                cycles: c,
                checksum: s,
            }
        }),
        any::<u64>().prop_map(|bytes| Message::Held { bytes }),
        Just(Message::Done),
        (any::<u32>(), any::<u64>()).prop_map(|(code, detail)| Message::Fault { code, detail }),
        (any::<u8>(), any::<u64>()).prop_map(|(key, value)| Message::Info { key, value }),
        Just(Message::Ping),
    ]
}

fn any_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (any::<u8>(), any::<u64>(), any::<u64>()).prop_map(|(workload, size, iterations)| {
            Command::Run {
                workload,
                size,
                iterations,
            }
        }),
        any::<u64>().prop_map(|bytes| Command::Hold { bytes }),
        Just(Command::Exit),
        Just(Command::Pong),
    ]
}

/// Feeds `bytes` to a fresh [`Decoder`]; every byte gives a message, nothing
/// yet, or a typed error, after which the decoder starts over.
fn decode_stream(bytes: &[u8]) -> Vec<Result<Option<Message>, ProtocolError>> {
    let mut d = Decoder::new();
    bytes.iter().map(|b| d.push(*b)).collect()
}

#[test]
fn messages_round_trip() {
    fuzz("messages_round_trip", file!(), CASES, any_message(), |m| {
        let frame = m.encode();
        prop_assert_eq!(
            frame.len,
            1 + payload_len(frame.bytes[0]).unwrap_or(usize::MAX)
        );
        let out = decode_stream(frame.as_bytes());
        let (last, init) = out.split_last().expect("a frame has a tag");
        prop_assert!(init.iter().all(|r| *r == Ok(None)));
        prop_assert_eq!(*last, Ok(Some(m)));
        prop_assert_eq!(
            Message::decode(frame.bytes[0], &frame.as_bytes()[1..]),
            Ok(m)
        );
        Ok(())
    });
}

#[test]
fn commands_round_trip() {
    fuzz("commands_round_trip", file!(), CASES, any_command(), |c| {
        let frame = c.encode();
        let bytes = frame.as_bytes();
        prop_assert_eq!(Command::decode(bytes[0], &bytes[1..]), Ok(c));
        let mut rest = &bytes[1..];
        let read = Command::read(bytes[0], |buf: &mut [u8]| {
            let (now, later) = rest.split_at(buf.len());
            buf.copy_from_slice(now);
            rest = later;
            Ok::<(), ()>(())
        });
        prop_assert_eq!(read, Ok(Ok(c)));
        prop_assert!(rest.is_empty());
        Ok(())
    });
}

#[test]
fn mutated_message_streams_never_panic() {
    let input = (proptest::collection::vec(any_message(), 1..6), mutations(6));
    fuzz(
        "mutated_message_streams",
        file!(),
        CASES,
        input,
        |(ms, muts)| {
            let valid: Vec<u8> = ms
                .iter()
                .flat_map(|m| m.encode().as_bytes().to_vec())
                .collect();
            let bytes = mutated(valid, &muts);
            let out = decode_stream(&bytes);
            // At most one message per byte; never a panic.
            prop_assert!(out.iter().filter(|r| matches!(r, Ok(Some(_)))).count() <= bytes.len());
            Ok(())
        },
    );
}

#[test]
fn random_bytes_never_panic() {
    let input = proptest::collection::vec(any::<u8>(), 0..4 * MAX_LEN);
    fuzz("random_message_bytes", file!(), CASES, input, |bytes| {
        decode_stream(&bytes);
        Ok(())
    });
}

#[test]
fn decode_with_any_payload_is_typed() {
    let input = (
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..2 * MAX_LEN),
    );
    fuzz(
        "decode_any_payload",
        file!(),
        CASES,
        input,
        |(t, payload)| {
            let m = Message::decode(t, &payload);
            let c = Command::decode(t, &payload);
            // A payload of the wrong length is never decoded as something.
            if payload_len(t) != Some(payload.len()) {
                prop_assert!(m.is_err() && c.is_err(), "{:?} {:?}", m, c);
            }
            if t == tag::READY {
                prop_assert!(c.is_err(), "READY is no command");
            }
            Ok(())
        },
    );
}

/// The inputs the fuzzer found, as plain tests: they hold even if a change
/// of the strategies makes the saved seeds draw other inputs.
#[test]
fn found_by_fuzzing_wrong_payload_lengths_are_refused() {
    assert_eq!(
        Command::decode(tag::RUN, &[]),
        Err(ProtocolError::Length {
            tag: tag::RUN,
            got: 0,
            expected: 17
        })
    );
    assert!(matches!(
        Message::decode(tag::HELD, &[0; 9]),
        Err(ProtocolError::Length { got: 9, .. })
    ));
}
