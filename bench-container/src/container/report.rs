//! The report pipe: how the child tells the launcher how far it got.
//!
//! Between clone and execve the child can only make async-signal-safe calls
//! (signal-safety(7)), so it reports in fixed-size records written to a
//! close-on-exec pipe: progress timestamps, or the step that failed and its
//! errno. End-of-file means `execve` succeeded (pipe(7), O_CLOEXEC in
//! open(2)).

use crate::error::Error;
use nix::errno::Errno;
use nix::unistd::read;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Steps of the child's setup, for error reports.
pub(super) const STEPS: [&str; 21] = [
    "joining the cgroup (write to cgroup.procs)",
    "resetting the signal mask",
    "making / private (mount --make-rprivate /)",
    "bind-mounting the rootfs onto itself",
    "remounting the new root read-only",
    "mounting /proc",
    "chdir into the rootfs",
    "pivot_root",
    "detaching the old root (umount2 MNT_DETACH)",
    "chroot",
    "sethostname",
    "setting up file descriptors",
    "execve",
    "clone",
    "waiting for the launcher to write the id map (user namespace)",
    "mounting /dev (a tmpfs, with the host's null, zero, full, random, urandom and tty bound in)",
    "making /proc/sys, /proc/sysrq-trigger, ... read-only (readonly paths)",
    "masking /proc/kcore, /proc/keys, ... (masked paths)",
    "setting no_new_privs (prctl PR_SET_NO_NEW_PRIVS)",
    "dropping capabilities (bounding set, ambient, capset)",
    "installing the seccomp filter",
];
pub(super) const STEP_EXEC: u32 = 12;
pub(super) const STEP_CLONE: u32 = 13;
pub(super) const STEP_USERNS: u32 = 14;
pub(super) const STEP_DEV: u32 = 15;
pub(super) const STEP_RO_PATHS: u32 = 16;
pub(super) const STEP_MASK: u32 = 17;
pub(super) const STEP_NNP: u32 = 18;
pub(super) const STEP_CAPS: u32 = 19;
pub(super) const STEP_SECCOMP: u32 = 20;

/// The child's timestamps, one per phase that ends in the child, in the
/// order they happen (indices into [`Record::times`]); a phase the
/// container skips stays 0. The security phases are `super::security`'s.
pub(super) const MARKS: [&str; 9] = [
    "clone",
    "rootfs_setup",
    "readonly_paths",
    "masked_paths",
    "pivot_root",
    "rootfs_readonly",
    "no_new_privs",
    "drop_caps",
    "seccomp",
];
pub(super) const T_CLONE: usize = 0;
pub(super) const T_ROOTFS: usize = 1;
pub(super) const T_RO_PATHS: usize = 2;
pub(super) const T_MASK: usize = 3;
pub(super) const T_PIVOT: usize = 4;
pub(super) const T_ROOT_RO: usize = 5;
pub(super) const T_NNP: usize = 6;
pub(super) const T_CAPS: usize = 7;
pub(super) const T_SECCOMP: usize = 8;

/// One fixed-size message from the child on the report pipe.
pub(super) struct Record {
    pub(super) kind: u32,
    pub(super) step: u32,
    pub(super) errno: i32,
    /// CLOCK_MONOTONIC at the end of each of [`MARKS`], 0 if skipped.
    pub(super) times: [i64; 9],
}

impl Record {
    pub(super) const PROGRESS: u32 = 1;
    pub(super) const FAILURE: u32 = 2;
    pub(super) const LEN: usize = 12 + 8 * 9;

    pub(super) fn encode(&self) -> [u8; Record::LEN] {
        let mut b = [0u8; Record::LEN];
        b[0..4].copy_from_slice(&self.kind.to_le_bytes());
        b[4..8].copy_from_slice(&self.step.to_le_bytes());
        b[8..12].copy_from_slice(&self.errno.to_le_bytes());
        for (i, t) in self.times.iter().enumerate() {
            b[12 + 8 * i..20 + 8 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    pub(super) fn decode(b: &[u8; Record::LEN]) -> Record {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let i64_at = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            i64::from_le_bytes(x)
        };
        let mut times = [0i64; 9];
        for (i, t) in times.iter_mut().enumerate() {
            *t = i64_at(12 + 8 * i);
        }
        Record {
            kind: u32_at(0),
            step: u32_at(4),
            errno: u32_at(8) as i32,
            times,
        }
    }

    pub(super) fn into_error(self) -> Error {
        Error::Setup {
            step: STEPS
                .get(self.step as usize)
                .copied()
                .unwrap_or("unknown step"),
            errno: Errno::from_raw(self.errno),
        }
    }
}

/// Reads one record; `None` at end-of-file (or a short, broken record).
pub(super) fn read_record(fd: BorrowedFd<'_>) -> Option<Record> {
    let mut buf = [0u8; Record::LEN];
    let mut have = 0;
    while have < Record::LEN {
        match read(fd.as_raw_fd(), &mut buf[have..]) {
            Ok(0) => return None,
            Ok(n) => have += n,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
    Some(Record::decode(&buf))
}

/// CLOCK_MONOTONIC in ns: the clock `Instant` uses on Linux. Async-signal-safe.
pub(super) fn mono_ns() -> i64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
        .unwrap_or(0)
}
