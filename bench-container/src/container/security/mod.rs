//! The security defaults of a real container runtime, applied by the
//! `full` profile's child after its root is set up and before `execve`.
//!
//! Namespaces change what a process *sees*; they do not take away what
//! root may *do*. A root process in new namespaces still holds every
//! capability, may load kernel modules, reboot the host, write the host's
//! kernel settings through `/proc/sys`, read the host's memory through
//! `/proc/kcore`. runc and crun close these by default, in this order
//! (runc's libcontainer/standard_init_linux.go; the OCI runtime spec,
//! config-linux.md), and so does the child here, each step a phase of its
//! own in the results so that its cost shows:
//!
//! | phase | what | stops |
//! |---|---|---|
//! | `readonly_paths` | /proc/sys, /proc/sysrq-trigger, ... bound read-only ([`paths`]) | writing kernel-wide settings, SysRq |
//! | `masked_paths` | /dev/null or an empty tmpfs over /proc/kcore, /proc/keys, ... ([`paths`]) | reading the host's memory, keys, timers |
//! | `rootfs_readonly` | the new root remounted read-only (runc's `readonlyfs`) | changing the image, which every launch shares |
//! | `no_new_privs` | prctl(PR_SET_NO_NEW_PRIVS) (Documentation/userspace-api/no_new_privs.rst) | gaining privileges through a set-uid or file-capability binary |
//! | `drop_caps` | capabilities down to runc's 14 ([`caps`]) | mount, modules, ptrace, raw I/O, the clock, ... |
//! | `seccomp` | a filter that refuses ~50 system calls ([`seccomp`]) | the same and more, before the kernel even looks at capabilities |
//!
//! The paths are done just before pivot_root (see [`paths`] for why), the
//! rest after it. no_new_privs comes before the seccomp filter because
//! installing a filter without CAP_SYS_ADMIN needs it, and the filter comes
//! last so that setup itself (mount, pivot_root) is not refused.
//!
//! A [`crate::Spec`] with `secure: false` skips all six: the
//! `container:full-nosec` row, to see what they cost.

pub mod caps;
pub mod paths;
pub mod seccomp;

use crate::error::Result;
use std::path::Path;

/// The phases this module adds, in the order they happen.
pub const PHASES: [&str; 6] = [
    "readonly_paths",
    "masked_paths",
    "rootfs_readonly",
    "no_new_privs",
    "drop_caps",
    "seccomp",
];

/// What the child needs, made before the clone (it may not allocate).
pub(crate) struct Hardening {
    pub(crate) paths: paths::Paths,
    pub(crate) keep_caps: u64,
    pub(crate) filters: &'static seccomp::Filters,
}

impl Hardening {
    /// For a container whose new root is `root` (a host path).
    pub(crate) fn new(root: &Path) -> Result<Hardening> {
        Ok(Hardening {
            paths: paths::Paths::under(root)?,
            keep_caps: caps::keep_mask(),
            filters: seccomp::filters()?,
        })
    }
}

/// In the child: no_new_privs (prctl(2)). Async-signal-safe.
pub(crate) fn no_new_privs() -> std::result::Result<(), nix::errno::Errno> {
    nix::sys::prctl::set_no_new_privs()
}
