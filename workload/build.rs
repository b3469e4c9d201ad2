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
        // The bare VM guest: linked at 1 MiB (where the VMM loads it), plus
        // the linker-computed descriptor tables (see src/bare.ld).
        // `--image-base` is rust-lld's flag (the default linker of Rust
        // >= 1.90 on x86-64 Linux); GNU ld would need `-Ttext-segment`.
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
        println!("cargo:rerun-if-changed=src/bare.ld");
        println!("cargo:rustc-link-arg-bin=vmvc-guest=-Wl,--image-base=0x100000");
        println!("cargo:rustc-link-arg-bin=vmvc-guest={dir}/src/bare.ld");
    }
}
