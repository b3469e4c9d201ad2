//! What every fuzz target of vmvc shares (docs/fuzzing.md): how many cases
//! to run, running a property with proptest's [`TestRunner`] and counting
//! its executions, and the mutations that damage a valid input.
//!
//! proptest on stable Rust stands in for a coverage-guided fuzzer
//! (cargo-fuzz needs nightly): it draws inputs from strategies, here mostly
//! valid inputs with a few mutations applied, and shrinks a failing one to
//! a small case. A failure is written to
//! `tests/proptest-regressions/<test file>/<target>.txt` of the crate, committed, and replayed first on every later run:
//! that directory is the corpus of inputs that once found a bug.
//!
//! The other crates' fuzz tests include this file by path
//! (`#[path = "../../workload/tests/fuzz_support/mod.rs"]`), so that the
//! three copies cannot drift apart; it uses nothing but std and proptest.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};

/// Cases per target: `default` in a normal `cargo test` (bounded, CI runs
/// it), or `VMVC_FUZZ_CASES` for a long run.
pub fn cases(default: u32) -> u32 {
    std::env::var("VMVC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Where the regressions of target `name` of test file `source` (a
/// `file!()`) live: `<crate>/tests/proptest-regressions/<file stem>/<name>.txt`
/// (one file per target: a seed replays the same input only in its own).
fn regressions_file(source: &str, name: &str) -> &'static str {
    let stem = std::path::Path::new(source)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("fuzz");
    let path = format!(
        "{}/tests/proptest-regressions/{stem}/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    // proptest wants a &'static str; one small string per target and run.
    Box::leak(path.into_boxed_str())
}

/// Runs `body` on `cases(default)` inputs drawn from `strategy`, replaying
/// the committed regressions of `source` (the caller's `file!()`) first.
/// Prints and returns the number of executions; panics with the shrunk
/// input when the property fails.
pub fn fuzz<S: Strategy>(
    name: &str,
    source: &'static str,
    default: u32,
    strategy: S,
    body: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64 {
    let config = Config {
        cases: cases(default),
        source_file: Some(source),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions_file(
            source, name,
        )))),
        // Long runs: do not give up on inputs that the strategy filters.
        max_global_rejects: 1 << 20,
        ..Config::default()
    };
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        executions.fetch_add(1, Ordering::Relaxed);
        body(v)
    });
    let n = executions.load(Ordering::Relaxed);
    // Straight to stderr: libtest captures println! of passing tests, and
    // the count is what a long run is for.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "fuzz {name}: {n} executions");
    if let Err(e) = result {
        panic!("fuzz target {name} failed: {e}");
    }
    n
}

/// One way of damaging a valid input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Cut the input at this offset (modulo its length + 1).
    Truncate(usize),
    /// Flip one bit of one byte.
    FlipBit(usize, u8),
    /// Overwrite 8 bytes (as far as the input goes) with a huge or boundary
    /// value: what a corrupt length or offset field looks like.
    Huge(usize, u64),
    /// Overwrite one byte.
    Set(usize, u8),
    /// Insert one byte.
    Insert(usize, u8),
    /// Delete one byte.
    Delete(usize),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let huge = prop_oneof![
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(1u64 << 63),
        Just(0x8000_0000),
        Just(0x7fff_ffff),
        any::<u64>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (any::<usize>(), huge).prop_map(|(at, v)| Mutation::Huge(at, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

/// Up to `n` mutations.
pub fn mutations(n: usize) -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 0..=n)
}

/// Applies `m` to `bytes`; offsets wrap around the input's length.
pub fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Truncate(at) => bytes.truncate(at % (len + 1)),
        Mutation::FlipBit(at, bit) if len > 0 => bytes[at % len] ^= 1 << bit,
        Mutation::Huge(at, v) if len > 0 => {
            let at = at % len;
            for (i, b) in v.to_le_bytes().iter().enumerate().take(len - at) {
                bytes[at + i] = *b;
            }
        }
        Mutation::Set(at, b) if len > 0 => bytes[at % len] = b,
        Mutation::Insert(at, b) => bytes.insert(at % (len + 1), b),
        Mutation::Delete(at) if len > 0 => {
            bytes.remove(at % len);
        }
        _ => {}
    }
}

/// `bytes` with every mutation of `ms` applied, in order.
pub fn mutated(mut bytes: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        apply(&mut bytes, m);
    }
    bytes
}

/// Mutations aimed at the first `window` bytes (a header), where the
/// fields that place everything else are: offsets below `window`.
pub fn header_mutations(window: usize, n: usize) -> impl Strategy<Value = Vec<Mutation>> {
    let at = 0..window.max(1);
    let one = prop_oneof![
        (at.clone(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (
            at.clone(),
            prop_oneof![
                Just(u64::MAX),
                Just(u64::from(u32::MAX)),
                Just(0x8000_0000),
                any::<u64>()
            ]
        )
            .prop_map(|(at, v)| Mutation::Huge(at, v)),
        (at, any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ];
    proptest::collection::vec(one, 0..=n)
}
