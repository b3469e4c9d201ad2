//! Link flags for the freestanding executables (only with `--features
//! freestanding`, as the nested build in `workload::build` — see
//! `src/build.rs` — passes it). No C runtime start files and no libc: the
//! programs define `_start` themselves and make raw system calls.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_FREESTANDING").is_some() {
        println!("cargo:rustc-link-arg-bins=-nostartfiles");
        println!("cargo:rustc-link-arg-bins=-nostdlib");
        println!("cargo:rustc-link-arg-bins=-Wl,--build-id=none");
    }
}
