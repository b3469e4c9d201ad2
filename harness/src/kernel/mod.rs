//! The guest kernel of `vm-linux`: where it comes from and how it is cached.
//!
//! Every VM carries its own kernel, and `vm-linux` needs one to boot: any
//! x86-64 Linux `bzImage` (what `/boot/vmlinuz-*` is) with boot protocol 2.12
//! or later. Three ways to get one, in the order [`locate`] tries them:
//!
//! 1. a path the user gives (`--kernel PATH`);
//! 2. a distribution kernel fetched earlier by `vmvc kernel fetch` into the
//!    cache ([`fetch`]: on Debian and Ubuntu, the kernel image package,
//!    downloaded with apt and unpacked, never installed);
//! 3. the host's own `/boot/vmlinuz-$(uname -r)`, when readable (on Ubuntu
//!    it is readable by root only).
//!
//! A bzImage carries a compressed kernel and the code to decompress it; run
//! in the guest, that decompression takes ~3 s under emulation. So the first
//! time a kernel is used, [`GuestKernel::vmlinux`] decompresses it on the host
//! (see `bench_vm::linux::bzimage`) and caches the ELF `vmlinux`, which the
//! VMM then loads directly (the 64-bit entry point of
//! `Documentation/arch/x86/boot.rst`).
//!
//! The cache is `$VMVC_CACHE`, else `$XDG_CACHE_HOME/vmvc`, else
//! `~/.cache/vmvc`; `rig/rig.sh` shares it:
//!
//! ```text
//! <cache>/kernel/<package>_<version>/boot/vmlinuz-<release>   unpacked from the .deb
//! <cache>/kernel/<package>_<version>/vmlinux                  extracted from it
//! <cache>/vmlinux/<name>-<size>-<mtime>                       vmlinux of other kernels
//! ```

mod fetch;

pub use fetch::{fetch, locate_or_fetch};

use bench_vm::linux::bzimage::{BzImage, KernelImageError};
use std::path::{Path, PathBuf};

/// What went wrong getting a guest kernel; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("no guest kernel for vm-linux: none was given (--kernel PATH), none is in the cache {cache}, and the host's {host} is {why}; run `vmvc kernel fetch` (Debian/Ubuntu) or pass --kernel PATH to any x86-64 bzImage")]
    NotFound {
        cache: PathBuf,
        host: PathBuf,
        why: String,
    },
    #[error("`vmvc kernel fetch` needs apt-get (Debian or Ubuntu); this host is {distro}. Pass --kernel PATH to an x86-64 Linux bzImage instead (your distribution's kernel package has one in /boot)")]
    NotDebian { distro: String },
    #[error(
        "apt has no package {meta}: run `apt-get update` first (as root), or pass --kernel PATH"
    )]
    NoMetaPackage { meta: String },
    #[error("{step} failed: {detail}")]
    Command { step: String, detail: String },
    #[error("the package {deb} holds no /boot/vmlinuz-*: not a kernel image package")]
    NoVmlinuz { deb: PathBuf },
    #[error("cannot read the kernel {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the kernel cache at {path}: {source} (set VMVC_CACHE to a writable directory)")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable kernel: {source}")]
    Image {
        path: PathBuf,
        source: KernelImageError,
    },
}

/// Where a kernel came from, for results and `vmvc doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--kernel PATH`.
    Given,
    /// Unpacked from a distribution package into the cache.
    Package { package: String, version: String },
    /// The host's own `/boot/vmlinuz-$(uname -r)`.
    Host,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Given => f.write_str("given on the command line"),
            Origin::Package { package, version } => write!(f, "package {package} {version}"),
            Origin::Host => f.write_str("the host's own kernel"),
        }
    }
}

/// A guest kernel ready to boot.
#[derive(Debug, Clone)]
pub struct GuestKernel {
    /// The bzImage.
    pub bzimage: PathBuf,
    pub origin: Origin,
    /// `uname -r` of the guest, from the setup header, e.g. `6.1.0-56-amd64`.
    pub release: Option<String>,
    /// The full version string from the setup header.
    pub version: Option<String>,
    /// Size of the bzImage in bytes.
    pub size: u64,
    /// Where the extracted vmlinux is (or will be) cached.
    vmlinux_cache: PathBuf,
}

/// The cache directory (see the module docs).
pub fn cache_dir() -> PathBuf {
    crate::cache::dir()
}

/// The host's own kernel image path, `/boot/vmlinuz-$(uname -r)`.
pub fn host_kernel_path() -> PathBuf {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    PathBuf::from(format!("/boot/vmlinuz-{}", release.trim()))
}

impl GuestKernel {
    /// Checks that `path` is a bzImage we can boot and describes it.
    pub fn inspect(path: &Path, origin: Origin) -> Result<GuestKernel, KernelError> {
        let bytes = std::fs::read(path).map_err(|source| KernelError::Read {
            path: path.to_owned(),
            source,
        })?;
        let image = BzImage::parse(&bytes).map_err(|source| KernelError::Image {
            path: path.to_owned(),
            source,
        })?;
        let vmlinux_cache = match &origin {
            Origin::Package { .. } => path
                .parent()
                .and_then(Path::parent)
                .map(|d| d.join("vmlinux"))
                .unwrap_or_else(|| cache_dir().join("vmlinux").join("vmlinux")),
            _ => {
                let mtime = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                let name = path
                    .file_name()
                    .map_or_else(|| "kernel".into(), |n| n.to_string_lossy());
                cache_dir()
                    .join("vmlinux")
                    .join(format!("{name}-{}-{mtime}", bytes.len()))
            }
        };
        Ok(GuestKernel {
            bzimage: path.to_owned(),
            origin,
            release: image.release(),
            version: image.version_string(),
            size: bytes.len() as u64,
            vmlinux_cache,
        })
    }

    /// The cached vmlinux, if it was extracted already.
    pub fn vmlinux_cached(&self) -> Option<&Path> {
        self.vmlinux_cache
            .is_file()
            .then_some(self.vmlinux_cache.as_path())
    }

    /// For the results: what was booted, with which command line.
    pub fn to_schema(&self, cmdline: &str) -> reports::GuestKernel {
        reports::GuestKernel {
            version: self
                .version
                .clone()
                .or_else(|| self.release.clone())
                .unwrap_or_else(|| "unknown".into()),
            path: self.bzimage.display().to_string(),
            size_bytes: self.size,
            cmdline: cmdline.to_owned(),
        }
    }

    /// The uncompressed ELF `vmlinux`, extracted on first use and cached.
    pub fn vmlinux(&self) -> Result<PathBuf, KernelError> {
        let out = &self.vmlinux_cache;
        if out.is_file() {
            return Ok(out.clone());
        }
        let bytes = std::fs::read(&self.bzimage).map_err(|source| KernelError::Read {
            path: self.bzimage.clone(),
            source,
        })?;
        let elf = BzImage::parse(&bytes)
            .and_then(|b| b.decompress())
            .map_err(|source| KernelError::Image {
                path: self.bzimage.clone(),
                source,
            })?;
        let cache_err = |source| KernelError::Cache {
            path: out.clone(),
            source,
        };
        let dir = out.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(cache_err)?;
        // A concurrent run never sees half a file.
        crate::cache::write_atomic(out, &elf, 0o644).map_err(cache_err)?;
        Ok(out.clone())
    }
}

/// Kernels unpacked into the cache, newest package version first.
pub fn cached() -> Vec<GuestKernel> {
    let dir = cache_dir().join("kernel");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<GuestKernel> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (package, version) = name.split_once('_')?;
            let vmlinuz = std::fs::read_dir(e.path().join("boot"))
                .ok()?
                .filter_map(Result::ok)
                .map(|f| f.path())
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                })?;
            let origin = Origin::Package {
                package: package.to_owned(),
                version: version.to_owned(),
            };
            GuestKernel::inspect(&vmlinuz, origin).ok()
        })
        .collect();
    // Debian versions like 6.1.192-2 sort well enough by their numeric parts.
    found.sort_by_key(|k| match &k.origin {
        Origin::Package { version, .. } => std::cmp::Reverse(version_key(version)),
        _ => std::cmp::Reverse(Vec::new()),
    });
    found
}

fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

/// Finds a kernel without touching the network (see the module docs for the order).
pub fn locate(given: Option<&Path>) -> Result<GuestKernel, KernelError> {
    if let Some(path) = given {
        return GuestKernel::inspect(path, Origin::Given);
    }
    if let Some(k) = cached().into_iter().next() {
        return Ok(k);
    }
    let host = host_kernel_path();
    let why = match GuestKernel::inspect(&host, Origin::Host) {
        Ok(k) => return Ok(k),
        Err(KernelError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            "missing".to_owned()
        }
        Err(KernelError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            "not readable by this user (run as root, or fetch one)".to_owned()
        }
        Err(e) => e.to_string(),
    };
    Err(KernelError::NotFound {
        cache: cache_dir(),
        host,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(version_key("6.1.192-2") > version_key("6.1.99-1"));
        assert!(version_key("6.10.1-1") > version_key("6.9.12-3"));
    }

    #[test]
    fn a_file_that_is_not_a_kernel_is_refused_with_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = dir.path().join("vmlinuz");
        std::fs::write(&p, vec![0u8; 8192]).expect("write");
        let e = GuestKernel::inspect(&p, Origin::Given).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("not a usable kernel") && msg.contains("vmlinuz"),
            "{msg}"
        );
        let e = locate(Some(&dir.path().join("missing"))).unwrap_err();
        assert!(matches!(e, KernelError::Read { .. }), "{e}");
    }

    #[test]
    fn cache_dir_follows_vmvc_cache() {
        // Only reads the variable; other tests do not set it.
        if std::env::var_os("VMVC_CACHE").is_none() {
            assert!(cache_dir().ends_with("vmvc") || cache_dir().starts_with(std::env::temp_dir()));
        }
    }
}
