//! Masked and read-only paths: the parts of `/proc` (and `/sys`) that are
//! not namespaced and would show or change the *host*.
//!
//! A new pid namespace gets its own `/proc`, but many files in it still
//! describe the whole machine: `/proc/kcore` is the host's physical memory,
//! `/proc/keys` the kernel's keyrings, `/proc/sysrq-trigger` reboots the
//! host, most of `/proc/sys` sets kernel-wide knobs. runc hides them as the
//! OCI runtime spec's defaults list them (config-linux.md, "Masked Paths"
//! and "Readonly Paths"; runc's libcontainer/rootfs_linux.go, `maskPath`
//! and `readonlyPath`):
//!
//! - a *masked* file gets `/dev/null` bind-mounted over it (it reads as
//!   empty), a masked directory an empty read-only tmpfs;
//! - a *read-only* path is bind-mounted onto itself and remounted read-only,
//!   so it can still be read (programs read `/proc/sys/kernel/hostname`)
//!   but a write fails with EROFS.
//!
//! Paths that do not exist are skipped, as runc does (our rootfs has no
//! `/sys`). runc does this after pivot_root, naming the container's own
//! `/dev/null`; ours usually has no `/dev`, so the child does it just before
//! pivot_root, on the same paths under the new root, naming the host's
//! `/dev/null`: the same mounts end up at the same places.

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// runc's default masked paths (the OCI spec's example config, `maskedPaths`).
pub const MASKED: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's default read-only paths (`readonlyPaths`).
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The paths under the new root, as C strings made before the clone (the
/// child may not allocate).
pub(crate) struct Paths {
    masked: Vec<CString>,
    readonly: Vec<CString>,
}

impl Paths {
    pub(crate) fn under(root: &Path) -> Result<Paths> {
        let c = |p: &str| {
            let host = root.join(p.trim_start_matches('/'));
            CString::new(host.as_os_str().as_bytes()).map_err(|_| Error::InvalidName {
                name: host.display().to_string(),
                why: "contains a NUL byte",
            })
        };
        Ok(Paths {
            masked: MASKED.iter().map(|p| c(p)).collect::<Result<_>>()?,
            readonly: READONLY.iter().map(|p| c(p)).collect::<Result<_>>()?,
        })
    }

    /// Bind each read-only path onto itself, then remount the bind
    /// read-only (a bind mount takes its flags only on a remount, mount(2)).
    /// The proc flags (nosuid, nodev, noexec) are kept: a remount that
    /// clears a locked flag fails in a user namespace.
    pub(crate) fn make_readonly(&self) -> Result<(), Errno> {
        let none = None::<&CStr>;
        let keep = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        for p in &self.readonly {
            match mount(
                Some(p.as_c_str()),
                p.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            ) {
                Err(Errno::ENOENT) => continue,
                r => r?,
            }
            let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep;
            mount(none, p.as_c_str(), none, ro, none)?;
        }
        Ok(())
    }

    /// `/dev/null` over each masked file, an empty read-only tmpfs over each
    /// masked directory (binding a file onto a directory fails ENOTDIR:
    /// that is how runc tells them apart, without a stat first).
    pub(crate) fn mask(&self) -> Result<(), Errno> {
        let none = None::<&CStr>;
        for p in &self.masked {
            match mount(
                Some(c"/dev/null"),
                p.as_c_str(),
                none,
                MsFlags::MS_BIND,
                none,
            ) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(Errno::ENOTDIR) => mount(
                    Some(c"tmpfs"),
                    p.as_c_str(),
                    Some(c"tmpfs"),
                    MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    none,
                )?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
