//! crun on hybrid cgroup hosts: the workaround that lets `peer:crun` run on
//! a machine like this project's.
//!
//! crun 1.8 refuses to start a container on a *hybrid* host (controllers in
//! cgroup v1, plus a cgroup2 tree at `/sys/fs/cgroup/unified`) when that
//! cgroup2 tree has any controller enabled: it reads
//! `/sys/fs/cgroup/unified/cgroup.controllers` and fails with "cgroups in
//! hybrid mode not supported, drop all controllers from cgroupv2". Where that
//! file is not empty, we start crun (and only crun, never the harness
//! itself) in a private mount namespace in which the cgroup2 tree is lazily
//! unmounted: there the host looks like plain cgroup v1, which crun
//! supports. Nothing changes for anyone else on the host.
//!
//! What it costs, measured on the project's machine: the system calls take
//! about 0.15 ms, most of it `unshare(CLONE_NEWNS)` copying the mount table,
//! and the lazy unmount then waits for the kernel (an RCU grace period), so
//! crun's `spawn` phase is about 1 ms longer than runc's or bwrap's. READY,
//! though, came out the same (±0.1 ms over 4×25 launches) as with a variant
//! that avoids the unmount (`/dev/null` bind-mounted over
//! `cgroup.controllers`, leaving crun in hybrid mode with a cgroup in the
//! cgroup2 tree too): the time moves between phases more than it adds up.
//!
//! Source: crun's `src/libcrun/cgroup.c` (the hybrid check); unshare(2),
//! mount_namespaces(7), umount2(2).

use std::ffi::CStr;
use std::path::Path;

/// The cgroup2 mount of a hybrid host, which crun 1.8 checks.
const UNIFIED: &CStr = c"/sys/fs/cgroup/unified";

/// The row's note when crun runs with the cgroup2 tree hidden.
pub(super) const HIDE_UNIFIED_NOTE: &str = "This host's cgroups are hybrid and its cgroup2 tree has controllers, which crun 1.8 refuses; vmvc starts crun in a private mount namespace with /sys/fs/cgroup/unified lazily unmounted, so crun sees cgroup v1. This is included in startup: it makes the spawn phase about 1 ms longer (the unmount waits for the kernel), while READY measured the same as with a variant without the unmount.";

/// crun's hybrid check: is there a cgroup2 tree at /sys/fs/cgroup/unified
/// (next to cgroup v1 hierarchies) with controllers?
pub(super) fn unified_has_controllers() -> bool {
    use std::os::unix::ffi::OsStrExt;
    let unified = Path::new(std::ffi::OsStr::from_bytes(UNIFIED.to_bytes()));
    std::fs::read_to_string(unified.join("cgroup.controllers"))
        .map(|c| !c.trim().is_empty())
        .unwrap_or(false)
}

/// In the forked child, before exec: a private mount namespace without the
/// cgroup2 tree (see the module docs). Async-signal-safe system calls only.
pub(super) fn hide_unified_in_child() -> std::io::Result<()> {
    // A mount namespace of the child's own, so that what follows is
    // invisible to the host and to the harness.
    // SAFETY: unshare takes a flag word and affects only this process.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Stop mount events from propagating back to the host's namespace.
    // SAFETY: constant NUL-terminated target; mount(2) accepts null
    // source, type and data when only changing propagation.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Detach the cgroup2 tree crun objects to: in this namespace the
    // host looks like plain cgroup v1, a layout crun supports.
    // SAFETY: a constant NUL-terminated path. If it is not mounted the
    // call fails harmlessly, and crun then reports what it sees.
    unsafe { libc::umount2(UNIFIED.as_ptr(), libc::MNT_DETACH) };
    Ok(())
}
