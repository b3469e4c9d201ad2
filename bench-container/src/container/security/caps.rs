//! Capabilities: root's power split into ~41 separate privileges
//! (capabilities(7)), and the 14 a container keeps.
//!
//! A process has five capability sets. *Effective* is what the kernel
//! checks, *permitted* the most it may make effective, *inheritable* and
//! *ambient* what may pass through an `execve`, and the *bounding* set
//! caps what any later `execve` can grant. The last one matters most
//! here: the workload runs as uid 0, and for root an `execve` makes the
//! new permitted set the whole bounding set (capabilities(7),
//! "Transformation of capabilities during execve()"). Dropping from
//! effective and permitted alone would be undone by the next exec.
//!
//! The kept set is runc's and Docker's default (the OCI spec's example
//! config; moby's `oci/caps/defaults.go`): enough to run ordinary programs
//! as root (chown, kill, bind port 80, setuid), without the ones that reach
//! the host: CAP_SYS_ADMIN (mount, namespaces and much else), CAP_SYS_MODULE,
//! CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_NET_ADMIN, ... The
//! inheritable set is left empty, as runc and Docker do since 2022
//! (CVE-2022-29162: a non-empty inheritable set let file capabilities
//! reach a non-root user's program).
//!
//! The names come from the `caps` crate. The child sets them with the
//! system calls directly, not with the crate's `set`/`drop`: those build
//! error strings on failure, an allocation the child between clone and
//! execve must not risk (signal-safety(7)); the calls are three:
//! prctl(PR_CAPBSET_DROP), prctl(PR_CAP_AMBIENT_CLEAR_ALL), capset(2).

use caps::Capability;
use nix::errno::Errno;

/// What runc keeps by default.
pub const DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// The kept set as a bit mask (bit n = capability n).
pub(crate) fn keep_mask() -> u64 {
    DEFAULT.iter().fold(0, |m, c| m | c.bitmask())
}

/// `struct __user_cap_header_struct` (linux/capability.h).
#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`; version 3 takes two of them (bits 0-31, 32-63).
#[repr(C)]
#[derive(Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// In the child: bounding set first (dropping from it needs CAP_SETPCAP,
/// which the next steps may take away), then ambient cleared, then
/// effective = permitted = `keep`, inheritable empty. Async-signal-safe.
pub(crate) fn drop_to(keep: u64) -> Result<(), Errno> {
    for cap in 0..64u32 {
        if keep & (1 << cap) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            match Errno::last() {
                // Past the kernel's last capability (cap_last_cap): done.
                Errno::EINVAL => break,
                e => return Err(e),
            }
        }
    }
    let clear = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, clear, 0, 0, 0) } != 0 {
        return Err(Errno::last());
    }
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |bits: u32| Data {
        effective: bits,
        permitted: bits,
        inheritable: 0,
    };
    let data = [half(keep as u32), half((keep >> 32) as u32)];
    // SAFETY: capset reads one header and two data structs, laid out as
    // linux/capability.h declares them, from our locals.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if r != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
