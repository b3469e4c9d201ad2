//! clone3(2): one system call that makes the child, its namespaces and,
//! on cgroup v2, puts it straight into its cgroup.
//!
//! `CLONE_NEW*` flags give the child new namespaces (clone(2),
//! namespaces(7)); `CLONE_PIDFD` returns a file descriptor for the child
//! that cannot be confused with a recycled pid (pidfd_open(2));
//! `CLONE_INTO_CGROUP` (Linux 5.7) starts it in a cgroup directory. libc
//! has no clone3 wrapper, so the `struct clone_args` of
//! include/uapi/linux/sched.h is written here.

use super::child::{child_main, Plan};
use super::report::{STEPS, STEP_CLONE};
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `struct clone_args` of include/uapi/linux/sched.h (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pub(super) pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

pub(super) struct Cloned {
    pub(super) pid: Pid,
    pub(super) pidfd: Option<OwnedFd>,
}

/// Clones the child with `namespaces`, straight into `cgroup_dir` on v2
/// (CLONE_INTO_CGROUP: no window where the child runs in the launcher's
/// cgroup, and no write to cgroup.procs), and runs [`child_main`] in it.
/// Falls back to clone(2) where clone3 is missing; the child then joins the
/// cgroup through `plan.join`.
pub(super) fn clone_child(
    namespaces: CloneFlags,
    cgroup_dir: Option<&OwnedFd>,
    plan: &Plan,
    report: BorrowedFd<'_>,
) -> Result<Cloned> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: namespaces.bits() as u64 | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(dir) = cgroup_dir {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = dir.as_raw_fd() as u64;
    }
    // No rootfs copy is open for writing while we clone (see the lock's doc);
    // the parent drops the guard below, the child never returns here.
    let _no_copy = crate::rootfs::COPY_VS_CLONE
        .read()
        .unwrap_or_else(|e| e.into_inner());
    // SAFETY: fork-like clone3 (no CLONE_VM, no new stack): the child gets a
    // copy of our address space and continues here with ret == 0. In the
    // child only async-signal-safe code runs (child_main), which ends in
    // execve or _exit and never returns into our frames.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    let (ret, into_cgroup) = if ret == -1 && Errno::last() == Errno::ENOSYS {
        // SAFETY: as above, with clone(2) in fork mode (stack pointer 0:
        // the child continues on its copy of our stack).
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone,
                namespaces.bits() as u64 | libc::SIGCHLD as u64,
                0,
                0,
                0,
                0,
            )
        };
        (r, false)
    } else {
        (ret, cgroup_dir.is_some())
    };
    match ret {
        -1 => Err(Error::Setup {
            step: STEPS[STEP_CLONE as usize],
            errno: Errno::last(),
        }),
        0 => {
            // With CLONE_INTO_CGROUP the child starts in its cgroup already
            // and skips the write to cgroup.procs.
            child_main(plan, !into_cgroup, report)
        }
        pid => {
            let pid = Pid::from_raw(pid as i32);
            let pidfd = if pidfd >= 0 {
                // SAFETY: clone3 stored a new pidfd for the child there; we own it.
                Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
            } else {
                pidfd_open(pid)
            };
            Ok(Cloned { pid, pidfd })
        }
    }
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    // SAFETY: a non-negative return is a new descriptor that we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
