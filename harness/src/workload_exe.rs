//! The workload executable, embedded in `vmvc` and written out on demand.
//!
//! `build.rs` builds the freestanding `vmvc-workload` and embeds its bytes, so
//! an installed or copied `vmvc` needs no build tree. At run time the bytes
//! are written once to a private cache file named after their hash.

use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
        let hash = fnv64(BYTES);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating cache directory {}", dir.display()))?;
        // Private: a world-writable cache would let another user swap the binary.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
        let path = dir.join(format!("vmvc-workload-{hash:016x}"));
        let fresh = std::fs::read(&path).map(|b| b == BYTES).unwrap_or(false);
        if !fresh {
            // Write to a temporary name then rename, so a concurrent vmvc
            // never executes a half-written file.
            let tmp = dir.join(format!(".vmvc-workload-{}", std::process::id()));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o755)
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            f.write_all(BYTES)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("installing {}", path.display()))?;
        }
        Ok(WorkloadExe {
            path,
            size: BYTES.len() as u64,
            fnv64: hash,
        })
    }

    /// Installs in the default cache: `$XDG_CACHE_HOME/vmvc` or `~/.cache/vmvc`,
    /// else a per-user directory under the temp dir.
    pub fn install() -> anyhow::Result<WorkloadExe> {
        WorkloadExe::install_in(&cache_dir())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// vmvc's per-user cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("vmvc");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("vmvc");
    }
    std::env::temp_dir().join(format!("vmvc-{}", nix::unistd::geteuid()))
}
