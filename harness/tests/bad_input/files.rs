//! The bad files `bad_input.rs` hands to vmvc: made in a scratch folder,
//! from fixed bytes (a failure reproduces) and the committed reference run.

use std::path::{Path, PathBuf};

/// A scratch folder with the bad files every case needs.
pub struct Files {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Files {
    pub fn new() -> Files {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path().to_owned();
        let w = |name: &str, bytes: &[u8]| {
            std::fs::write(root.join(name), bytes).expect("writing a test file")
        };
        w("a-file", b"x");
        w("empty", b"");
        w("random", &pseudo_random(64 << 10));
        w("truncated-bzimage", &truncated_bzimage());
        w("not-json.json", b"results: maybe\n");
        w(
            "wrong-schema.json",
            br#"{"schema_version": 1, "hello": "world"}"#,
        );
        w(
            "future.json",
            br#"{"schema_version": 999, "from": "the future"}"#,
        );
        w("binary.json", &[0xff, 0xfe, 0x00, 0x80, 0x81]);
        let reference = reference_json();
        w(
            "nan-literal.json",
            with_number(&reference, SAMPLE, "NaN").as_bytes(),
        );
        w(
            "huge-literal.json",
            with_number(&reference, SAMPLE, "1e999").as_bytes(),
        );
        w(
            "nan-null.json",
            with_number(&reference, "\"median_ci_low\": ", "null").as_bytes(),
        );
        w(
            "huge-valid.json",
            with_number(&reference, SAMPLE, "1e308").as_bytes(),
        );
        w("script-not-exec", b"#!/bin/sh\nexit 0\n");
        w("text-exec", b"I am not a program\n");
        use std::os::unix::fs::PermissionsExt;
        let exec = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(root.join("text-exec"), exec).expect("chmod");
        std::fs::create_dir(root.join("a-dir")).expect("mkdir");
        Files { _dir: dir, root }
    }

    pub fn path(&self, name: &str) -> String {
        self.root.join(name).to_string_lossy().into_owned()
    }
}

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A bzImage header (boot.rst) whose payload runs past the end of the file.
fn truncated_bzimage() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0x1f1] = 1;
    b[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x236..0x238].copy_from_slice(&0x7fu16.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(8u32 << 20).to_le_bytes());
    b
}

const SAMPLE: &str = "\"samples\": [";

fn reference_json() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference/results.json");
    std::fs::read_to_string(&p).expect("the committed reference results")
}

/// The reference results with the first number after `key` (the first
/// READY sample for `"samples": [`) replaced by `literal`.
fn with_number(json: &str, key: &str, literal: &str) -> String {
    let at = json.find(key).expect("the key is in the reference results") + key.len();
    let rest = &json[at..];
    let end = rest.find([',', ']']).expect("a number ends");
    format!("{}{}{}", &json[..at], literal.trim(), &rest[end..])
}
