//! Builds the two static programs the tests and examples run in containers:
//! the real workload (`VMVC_WORKLOAD_EXE`, via the workload crate's nested
//! freestanding build) and the probe (`VMVC_PROBE_EXE`, probe/probe.rs,
//! a std program linked statically so it needs nothing in the rootfs).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    workload::build::export("vmvc-workload", "VMVC_WORKLOAD_EXE");

    let src = PathBuf::from("probe/probe.rs");
    println!("cargo:rerun-if-changed={}", src.display());
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("vmvc-probe");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "debuginfo=0",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        // Flags of the outer build (clippy, coverage) are not for this program.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status();
    match status {
        Ok(s) if s.success() => println!("cargo:rustc-env=VMVC_PROBE_EXE={}", out.display()),
        Ok(s) => panic!(
            "building the static probe failed ({s}); is glibc's libc.a installed (libc6-dev)?"
        ),
        Err(e) => panic!("cannot run rustc for the probe: {e}"),
    }
}
