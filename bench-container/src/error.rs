//! Typed errors: each says which step failed, on what, and how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong while building a rootfs, managing cgroups
/// or starting a container.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "invalid container name {name:?}: {why}; use 1-64 characters from [A-Za-z0-9_.-], \
         not \".\" or \"..\" (the name becomes a cgroup directory)"
    )]
    InvalidName { name: String, why: &'static str },

    #[error("rootfs {path} does not exist or is not a directory; assemble one with RootfsBuilder or pass an existing directory")]
    MissingRootfs { path: PathBuf },

    #[error("{path} does not exist; {hint}")]
    MissingFile { path: PathBuf, hint: &'static str },

    #[error("{path} is not an executable regular file (mode {mode:o}); chmod +x it or pick the right file")]
    NotExecutable { path: PathBuf, mode: u32 },

    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "cgroup tree {path} is not writable ({step}): {source}; run as root, or point the \
         runtime at a cgroup hierarchy you may write (Layout::v1/v2)"
    )]
    CgroupUnwritable {
        step: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no usable cgroup hierarchy: {0}")]
    NoCgroups(String),

    #[error("a container named {name:?} already exists in this runtime; pick another name")]
    NameInUse { name: String },

    #[error("{step} failed: {source}")]
    Sys {
        step: &'static str,
        #[source]
        source: nix::Error,
    },

    #[error(
        "the container's setup failed at step '{step}': {errno}{hint}",
        hint = setup_hint(*errno)
    )]
    Setup {
        step: &'static str,
        errno: nix::Error,
    },

    #[error("the container process exited during setup ({status}) without reporting why")]
    DiedDuringSetup { status: String },

    #[error("building the seccomp filter: {why}; the filter is written for x86_64")]
    Seccomp { why: String },

    #[error("this profile needs cgroups, but the runtime was created without them")]
    CgroupsDisabled,

    #[error(
        "user namespace: {step}: {why}; check that unprivileged user namespaces are allowed \
         (`vmvc doctor`), or remove the subordinate ranges from /etc/subuid and /etc/subgid to \
         use the single-id map"
    )]
    IdMap { step: &'static str, why: String },
}

fn setup_hint(errno: nix::Error) -> &'static str {
    match errno {
        nix::Error::EPERM => " (namespaces, mounts, chroot and cgroups need root, CAP_SYS_ADMIN and CAP_SYS_CHROOT, or a user namespace of one's own: Runtime::rootless)",
        nix::Error::EACCES => " (is the workload binary executable, and is the rootfs on a filesystem mounted without noexec?)",
        nix::Error::ENOENT => " (does the path exist inside the rootfs?)",
        _ => "",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an [`Error::Io`] with context.
pub(crate) fn io(
    step: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { step, path, source }
}
