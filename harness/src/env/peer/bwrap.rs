//! bubblewrap (bwrap): the sandbox tool Flatpak uses, driven entirely by its
//! command line; not an OCI runtime.
//!
//! We run `bwrap --unshare-all --die-with-parent --ro-bind ROOTFS / --proc
//! /proc --dev /dev /vmvc-workload 3`: new namespaces (`--unshare-all` also
//! tries user and cgroup namespaces), the rootfs bind-mounted read-only as
//! `/`, a fresh `/proc` and a small `/dev`. bwrap never creates cgroups. It
//! leaves two processes of its own running: a monitor outside the new pid
//! namespace that waits for the sandbox, and a tiny init (pid 1 inside) that
//! reaps zombies while the workload runs as pid 2; both count in the row's
//! `runtime` memory.
//!
//! Source: bwrap(1); <https://github.com/containers/bubblewrap>.

use super::tool::{EXE_IN_ROOTFS, FD_IN_CONTAINER};
use std::path::Path;
use std::process::Command as Proc;

/// The row's note on how bwrap is run.
pub(super) const NOTE: &str = "`--unshare-all` also tries user and cgroup namespaces, beyond container:full's five; `--dev /dev` mounts a small tmpfs with the standard device nodes. bwrap creates no cgroup.";

/// bwrap's arguments: the workload sandboxed in `rootfs`, its socket at fd 3.
pub(super) fn args(cmd: &mut Proc, rootfs: &Path) {
    cmd.args(["--unshare-all", "--die-with-parent", "--ro-bind"])
        .arg(rootfs)
        .args(["/", "--proc", "/proc", "--dev", "/dev"])
        .arg(EXE_IN_ROOTFS)
        .arg(FD_IN_CONTAINER.to_string());
}
