//! The seccomp filter: system calls a container has no business making,
//! answered with EPERM before the kernel runs them (seccomp(2),
//! Documentation/userspace-api/seccomp_filter.rst).
//!
//! A seccomp filter is a small BPF program the kernel runs on every system
//! call of the process (and of everything it forks or execs: the filter is
//! inherited and cannot be removed). It sees the call's number and
//! arguments and returns what to do: allow, fail with an errno, kill. Ours
//! is a *denylist* in the spirit of Docker's default profile (moby's
//! `profiles/seccomp/default.json`): everything is allowed but the calls
//! that act on the whole machine (modules, kexec, reboot, swap, the clock,
//! I/O ports, accounting, quotas), that make new namespaces (unshare,
//! setns, clone with a `CLONE_NEW*` flag) or mounts, and that have been the
//! way out in known escapes (keyctl, bpf, perf_event_open, userfaultfd,
//! open_by_handle_at: "shocker", 2014). Docker's is an allowlist of ~350
//! calls; a denylist is shorter to read and shows the idea. Most of these
//! are also refused for lack of a capability (see `super::caps`); the filter
//! is the second wall, and the first one the kernel meets.
//!
//! Three filters are installed, because one seccompiler filter has one
//! action for all its matches:
//! 1. the x32 guard: x86_64 also accepts system call numbers with bit 30
//!    set (the x32 ABI), which match no rule of a denylist; refuse them all.
//!    seccompiler's rules are per number and cannot say "every number above
//!    X", so these four BPF instructions are written by hand;
//! 2. the denylist, EPERM;
//! 3. clone3 fails with ENOSYS, as Docker does: its flags are in a struct
//!    in memory, which a filter cannot read, and ENOSYS makes the C library
//!    fall back to clone(2), whose flags the filter checks.
//!
//! The filters are compiled once per process (seccompiler, Firecracker's
//! BPF compiler) and only installed by each container's child; runc
//! compiles its profile at every start (libseccomp).

use crate::error::{Error, Result};
use nix::errno::Errno;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The system calls refused outright (EPERM): number, name, why.
#[cfg(target_arch = "x86_64")]
pub const DENIED: [(i64, &str, &str); 43] = {
    use libc::*;
    [
        (SYS_init_module, "init_module", "load a kernel module"),
        (SYS_finit_module, "finit_module", "load a kernel module"),
        (SYS_delete_module, "delete_module", "unload a kernel module"),
        (SYS_kexec_load, "kexec_load", "boot another kernel"),
        (
            SYS_kexec_file_load,
            "kexec_file_load",
            "boot another kernel",
        ),
        (SYS_reboot, "reboot", "reboot the host"),
        (SYS_mount, "mount", "mount (after setup)"),
        (SYS_umount2, "umount2", "unmount, e.g. a masked path"),
        (SYS_pivot_root, "pivot_root", "change the root mount"),
        (SYS_open_tree, "open_tree", "new mount API"),
        (SYS_move_mount, "move_mount", "new mount API"),
        (SYS_fsopen, "fsopen", "new mount API"),
        (SYS_fsconfig, "fsconfig", "new mount API"),
        (SYS_fsmount, "fsmount", "new mount API"),
        (SYS_fspick, "fspick", "new mount API"),
        (SYS_mount_setattr, "mount_setattr", "new mount API"),
        (SYS_swapon, "swapon", "host swap"),
        (SYS_swapoff, "swapoff", "host swap"),
        (SYS_keyctl, "keyctl", "kernel keyrings are not namespaced"),
        (SYS_add_key, "add_key", "kernel keyrings are not namespaced"),
        (
            SYS_request_key,
            "request_key",
            "kernel keyrings are not namespaced",
        ),
        (SYS_bpf, "bpf", "load BPF programs into the kernel"),
        (
            SYS_perf_event_open,
            "perf_event_open",
            "observe the host's CPUs and kernel",
        ),
        (
            SYS_userfaultfd,
            "userfaultfd",
            "stall the kernel at will (exploit helper)",
        ),
        (
            SYS_open_by_handle_at,
            "open_by_handle_at",
            "open host files by handle (shocker)",
        ),
        (SYS_setns, "setns", "join another namespace"),
        (
            SYS_unshare,
            "unshare",
            "make new namespaces, a user namespace too",
        ),
        (SYS_acct, "acct", "process accounting for the host"),
        (
            SYS_settimeofday,
            "settimeofday",
            "the clock is not namespaced",
        ),
        (
            SYS_clock_settime,
            "clock_settime",
            "the clock is not namespaced",
        ),
        (
            SYS_clock_adjtime,
            "clock_adjtime",
            "the clock is not namespaced",
        ),
        (SYS_iopl, "iopl", "raw I/O ports"),
        (SYS_ioperm, "ioperm", "raw I/O ports"),
        (
            SYS_kcmp,
            "kcmp",
            "compare kernel objects of other processes",
        ),
        (SYS_lookup_dcookie, "lookup_dcookie", "kernel profiling"),
        (SYS_quotactl, "quotactl", "filesystem quotas of the host"),
        (SYS_syslog, "syslog", "the kernel log"),
        (SYS_uselib, "uselib", "obsolete"),
        (SYS_ustat, "ustat", "obsolete"),
        (SYS_sysfs, "sysfs", "obsolete"),
        (SYS__sysctl, "_sysctl", "obsolete"),
        (SYS_nfsservctl, "nfsservctl", "obsolete"),
        (SYS_vhangup, "vhangup", "hang up the terminal"),
    ]
};

/// The `clone(2)` flags that make a new namespace: clone with any of them
/// is refused (clone's flags are its first argument on x86_64).
pub const CLONE_NEW: [libc::c_int; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWCGROUP,
];

/// The compiled filters, in the order they are installed.
pub(crate) type Filters = [BpfProgram; 3];

/// The filters, compiled on first use and kept for the process.
pub(crate) fn filters() -> Result<&'static Filters> {
    static FILTERS: OnceLock<std::result::Result<Filters, String>> = OnceLock::new();
    FILTERS
        .get_or_init(|| compile().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|why| Error::Seccomp { why: why.clone() })
}

#[cfg(not(target_arch = "x86_64"))]
fn compile() -> std::result::Result<Filters, seccompiler::BackendError> {
    Err(seccompiler::BackendError::InvalidTargetArch(
        std::env::consts::ARCH.into(),
    ))
}

#[cfg(target_arch = "x86_64")]
fn compile() -> std::result::Result<Filters, seccompiler::BackendError> {
    let arch = seccompiler::TargetArch::x86_64;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|(nr, _, _)| (*nr, Vec::new())).collect();
    // clone: refused when any CLONE_NEW* bit is set; one rule per bit (the
    // rules of a call are OR'ed, the conditions of a rule AND'ed).
    let mut clone = Vec::new();
    for flag in CLONE_NEW {
        let bit = flag as u64;
        let cond =
            SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(bit), bit)?;
        clone.push(SeccompRule::new(vec![cond])?);
    }
    rules.insert(libc::SYS_clone, clone);
    let eperm = SeccompAction::Errno(libc::EPERM as u32);
    let deny = SeccompFilter::new(rules, SeccompAction::Allow, eperm, arch)?;
    let clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )?;
    Ok([x32_guard(), deny.try_into()?, clone3.try_into()?])
}

/// Refuses every system call number with the x32 bit (0x4000_0000) set.
/// The arch itself is checked by the seccompiler filters that follow.
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> BpfProgram {
    use seccompiler::sock_filter;
    // Classic BPF opcodes (linux/bpf_common.h): BPF_LD | BPF_W | BPF_ABS
    // (0x00 | 0x00 | 0x20), BPF_JMP | BPF_JGE | BPF_K (0x05 | 0x30 | 0x00),
    // BPF_RET | BPF_K (0x06 | 0x00); the offsets of `struct seccomp_data`
    // (linux/seccomp.h): nr is at 0.
    const LD_W_ABS: u16 = 0x20;
    const JMP_JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        op(LD_W_ABS, 0, 0, 0),
        op(JMP_JGE_K, 0, 1, X32_SYSCALL_BIT),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
}

/// In the child: installs the filters. Needs no_new_privs (or
/// CAP_SYS_ADMIN): seccompiler sets it again, harmlessly.
/// Async-signal-safe: seccompiler's apply_filter makes two system calls
/// and allocates nothing, on error either.
pub(crate) fn install(filters: &Filters) -> Result<(), Errno> {
    for f in filters {
        if let Err(e) = seccompiler::apply_filter(f) {
            let raw = match &e {
                seccompiler::Error::Prctl(io) | seccompiler::Error::Seccomp(io) => {
                    io.raw_os_error()
                }
                _ => None,
            };
            return Err(raw.map_or(Errno::EINVAL, Errno::from_raw));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filters compile, and each fits the kernel's limit of 4096
    /// instructions (BPF_MAXINSNS); their sizes are printed for the curious.
    #[test]
    fn the_filters_compile_and_fit() {
        let f = filters().expect("compiling the filters");
        for (what, prog) in ["x32 guard", "denylist", "clone3"].iter().zip(f) {
            eprintln!("{what}: {} BPF instructions", prog.len());
            assert!(!prog.is_empty() && prog.len() <= 4096, "{what}");
        }
        let names: std::collections::BTreeSet<i64> = DENIED.iter().map(|d| d.0).collect();
        assert_eq!(names.len(), DENIED.len(), "no call listed twice");
        assert!(!names.contains(&libc::SYS_clone), "clone has its own rules");
    }
}
