//! The workload executable, embedded in `vmvc` and written out on demand.
//!
//! `build.rs` builds the freestanding `vmvc-workload` and embeds its bytes, so
//! an installed or copied `vmvc` needs no build tree. At run time the bytes
//! are written once to a private cache file named after their hash. The bare
//! guest image (`vmvc-guest`, embedded in `bench-vm`) is written out the
//! same way for the VMMs that load it from a file (the VM peers).

use anyhow::Context;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The freestanding Linux workload executable built with this `vmvc`.
pub const BYTES: &[u8] = include_bytes!(env!("VMVC_WORKLOAD_EXE"));

/// FNV-1a 64: a fast fingerprint of the binary (not a security hash).
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The workload binary on disk.
pub struct WorkloadExe {
    path: PathBuf,
    pub size: u64,
    pub fnv64: u64,
}

impl WorkloadExe {
    /// Writes the embedded binary to `dir` (if not already there) and returns it.
    pub fn install_in(dir: &Path) -> anyhow::Result<WorkloadExe> {
        let (path, hash) = install_bytes(dir, "vmvc-workload", BYTES, 0o755)?;
        Ok(WorkloadExe {
            path,
            size: BYTES.len() as u64,
            fnv64: hash,
        })
    }

    /// Installs in vmvc's cache ([`crate::cache::dir`]).
    pub fn install() -> anyhow::Result<WorkloadExe> {
        WorkloadExe::install_in(&crate::cache::dir())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes `bytes` to `dir/<prefix>-<fnv64 of bytes>` (file mode `mode`)
/// unless it is there already; returns the path and the hash.
pub(crate) fn install_bytes(
    dir: &Path,
    prefix: &str,
    bytes: &[u8],
    mode: u32,
) -> anyhow::Result<(PathBuf, u64)> {
    let hash = fnv64(bytes);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating cache directory {}", dir.display()))?;
    // Private: a world-writable cache would let another user swap the binary.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    let path = dir.join(format!("{prefix}-{hash:016x}"));
    let fresh = std::fs::read(&path).map(|b| b == bytes).unwrap_or(false);
    if !fresh {
        crate::cache::write_atomic(&path, bytes, mode)
            .with_context(|| format!("installing {}", path.display()))?;
    }
    Ok((path, hash))
}

/// The bare guest image `vm-bare` boots, as a file in vmvc's cache, for
/// VMMs that load their guest from a path (`peer:qemu`).
pub fn install_guest_image() -> anyhow::Result<PathBuf> {
    let (path, _) = install_bytes(
        &crate::cache::dir(),
        "vmvc-guest",
        bench_vm::GUEST_IMAGE,
        0o644,
    )?;
    Ok(path)
}
