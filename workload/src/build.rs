//! Host-side helper (feature `build`, used from build scripts only): builds
//! the freestanding executables of this crate and returns their paths.
//!
//! Why a nested `cargo build`: the workload programs need `panic = "abort"`,
//! a static non-PIE link and no C runtime, while the rest of the workspace
//! (and this crate's own unit tests) are ordinary host programs. Cargo applies
//! one profile to a whole build, so the crates that embed a workload program
//! (`harness`, `bench-vm`, `bench-container`) build it with a second cargo
//! into `target/freestanding/`, for the host target: no extra rustup target,
//! no nightly.

extern crate std;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{env, format};

/// The only target the workload programs are written for.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds `bins` of the workload crate (release, freestanding) and returns
/// their paths, in order. Call from a build script; it prints the
/// `rerun-if-changed` lines for the workload sources.
pub fn freestanding(bins: &[&str]) -> Result<Vec<PathBuf>, String> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for watched in ["src", "Cargo.toml", "build.rs"] {
        std::println!(
            "cargo:rerun-if-changed={}",
            crate_dir.join(watched).display()
        );
    }
    let host = env::var("HOST").unwrap_or_default();
    if host != TARGET {
        return Err(format!(
            "the vmvc workload is written for {TARGET} (x86-64 Linux); this host is {host:?}"
        ));
    }
    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR not set: call from a build script")?);
    let target_dir = workspace_target_dir(&out_dir).join("freestanding");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--offline")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--features")
        .arg("freestanding")
        .arg("--target")
        .arg(TARGET)
        .arg("--target-dir")
        .arg(&target_dir);
    for bin in bins {
        cmd.arg("--bin").arg(bin);
    }
    // The outer build's flags and wrappers (clippy, coverage, ...) are for
    // host programs; the workload gets exactly these.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    // Static, non-PIE (the kernel or our VMM jumps to the ELF entry as linked).
    cmd.env(
        "CARGO_ENCODED_RUSTFLAGS",
        "-Crelocation-model=static\x1f-Ctarget-feature=+crt-static",
    )
    .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
    .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
    .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3");

    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo for the workload build: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the freestanding workload failed ({status})"
        ));
    }
    Ok(bins
        .iter()
        .map(|b| target_dir.join(TARGET).join("release").join(b))
        .collect())
}

/// The workspace's `target/` (marked by `CACHEDIR.TAG`) above `out_dir`, so
/// that all embedding crates share one nested build; `out_dir` itself if none.
fn workspace_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir)
        .to_path_buf()
}

/// Convenience for build scripts: builds `bin` and exports its path to the
/// crate being built as the compile-time environment variable `env_var`.
pub fn export(bin: &str, env_var: &str) {
    match freestanding(&[bin]) {
        Ok(paths) => {
            let path = paths[0].to_string_lossy().to_string();
            std::println!("cargo:rustc-env={env_var}={path}");
        }
        Err(e) => {
            std::eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
