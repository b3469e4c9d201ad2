//! What a container gets: its profile (which namespaces, a cgroup or not)
//! and the [`Spec`] of one start.
//!
//! Each namespace isolates one thing the kernel shares by default
//! (namespaces(7)): mount (`CLONE_NEWNS`, mount_namespaces(7)), pid
//! (pid_namespaces(7)), uts (hostname), ipc and net (network_namespaces(7)).
//! A profile is the set a container asks for: `chroot` none, `full` all five.

use crate::cgroup::Limits;
use crate::error::{Error, Result};
use crate::rootfs::Rootfs;
use nix::sched::CloneFlags;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::Arc;

/// How much isolation a container gets (the rows of the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `chroot(2)` only: a "directory jail". Same pids, network, hostname,
    /// mounts; and a root process can walk out of it.
    Chroot,
    /// chroot plus a cgroup with limits: the classic textbook container.
    ChrootCgroup,
    /// New mount, pid, uts, ipc and net namespaces, `pivot_root` into the
    /// rootfs with the old root detached, its own `/proc` and hostname, a
    /// cgroup, and the security defaults of a real runtime (`Spec::secure`).
    Full,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Chroot, Profile::ChrootCgroup, Profile::Full];

    /// `chroot`, `chroot+cgroup`, `full`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Chroot => "chroot",
            Profile::ChrootCgroup => "chroot+cgroup",
            Profile::Full => "full",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn uses_cgroup(self) -> bool {
        !matches!(self, Profile::Chroot)
    }

    /// The namespaces this profile creates (clone flags).
    pub fn namespaces(self) -> CloneFlags {
        match self {
            Profile::Chroot | Profile::ChrootCgroup => CloneFlags::empty(),
            Profile::Full => {
                CloneFlags::CLONE_NEWNS
                    | CloneFlags::CLONE_NEWPID
                    | CloneFlags::CLONE_NEWUTS
                    | CloneFlags::CLONE_NEWIPC
                    | CloneFlags::CLONE_NEWNET
            }
        }
    }
}

/// What to start. The file descriptors are borrowed: keep them open until
/// [`Runtime::spawn`] returns.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Container name: the cgroup's directory name and the default hostname.
    pub name: String,
    pub profile: Profile,
    pub rootfs: Arc<Rootfs>,
    /// The program, as a path inside the rootfs.
    pub exe: PathBuf,
    /// argv\[1..\] (argv\[0\] is `exe`).
    pub args: Vec<String>,
    /// The environment, `KEY=value` (empty by default: nothing leaks in).
    pub env: Vec<String>,
    /// Descriptors the program inherits at the same numbers (e.g. the workload socket).
    pub keep_fds: Vec<RawFd>,
    /// Become the program's stdout / stderr (default: inherited).
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
    /// Hostname in the new UTS namespace (default: `name`).
    pub hostname: Option<String>,
    pub limits: Limits,
    /// Namespaces to create; the profile's by default. Changing it is for
    /// experiments (e.g. what does the net namespace cost?); `full` needs at
    /// least the mount and pid namespaces.
    pub namespaces: CloneFlags,
    /// Benchmark baseline: clone with `namespaces` into the cgroup and exec
    /// the program by its host path, with no root set up at all (no
    /// mounts, no chroot, no hostname). "A bare clone() with the same
    /// flags plus a cgroup attach", to which `full` is compared.
    pub bare: bool,
    /// Experiments: the profile's namespaces and root without its cgroup
    /// (e.g. `full` rootless where no cgroup subtree is delegated).
    pub no_cgroup: bool,
    /// A `/dev` with the few devices programs expect (null, zero, full,
    /// random, urandom, tty): a tmpfs with the host's device nodes bound in,
    /// as runc does for a rootless container. Off by default, so that the
    /// measured rows pay for nothing the workload does not use. `full`
    /// profile only: the others have no mount namespace of their own, so a
    /// mount there would appear on the host.
    pub devices: bool,
    /// The security defaults of a real runtime (`super::security`):
    /// read-only and masked paths, the root read-only, no_new_privs,
    /// runc's capabilities, a seccomp filter. On by default for `full`
    /// (the other profiles have no mount namespace and keep the host's
    /// view, so the rest would be half a box); off for the
    /// `container:full-nosec` row, which shows what they cost.
    pub secure: bool,
    /// Set by [`crate::Runtime::spawn_zygote`]: the child becomes a zygote
    /// serving this socket instead of exec'ing (`container::zygote`).
    pub(crate) zygote: Option<RawFd>,
}

impl Spec {
    pub fn new(name: &str, profile: Profile, rootfs: Arc<Rootfs>, exe: impl Into<PathBuf>) -> Spec {
        Spec {
            name: name.into(),
            profile,
            rootfs,
            exe: exe.into(),
            args: Vec::new(),
            env: Vec::new(),
            keep_fds: Vec::new(),
            stdout: None,
            stderr: None,
            hostname: None,
            limits: Limits::default(),
            namespaces: profile.namespaces(),
            bare: false,
            devices: false,
            no_cgroup: false,
            secure: profile == Profile::Full,
            zygote: None,
        }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Spec {
        self.args.push(a.into());
        self
    }

    pub fn keep_fd(mut self, fd: RawFd) -> Spec {
        self.keep_fds.push(fd);
        self
    }

    pub fn limits(mut self, limits: Limits) -> Spec {
        self.limits = limits;
        self
    }
}

/// Checks a container name: it becomes a directory name in the cgroup tree.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidName {
            name: name.into(),
            why,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return bad("must be 1 to 64 characters long");
    }
    if name == "." || name == ".." {
        return bad("\".\" and \"..\" are directory links");
    }
    if name.contains('/') {
        return bad("contains '/'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return bad("contains a character outside [A-Za-z0-9_.-]");
    }
    Ok(())
}
