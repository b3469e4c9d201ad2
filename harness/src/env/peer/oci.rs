//! crun and runc: OCI runtimes, driven the way a container engine drives them.
//!
//! The Open Container Initiative runtime specification defines a *bundle*: a
//! directory holding a `config.json` (which program to run, which namespaces
//! to create, what to mount, which cgroup to join) and a root filesystem. An
//! OCI runtime turns a bundle into a running container; Docker, containerd,
//! Podman and Kubernetes all end up calling one. `<runtime> run --bundle DIR
//! ID` does the whole life cycle in the foreground: *create* (namespaces,
//! mounts, cgroup), *start* (exec the program), wait for it to exit, *delete*
//! (remove the cgroup and the state kept under `/run/<runtime>/ID`).
//! `--preserve-fds 1` passes our socket, inherited as fd 3, through to the
//! container.
//!
//! - **crun** is written in C (by the containers project, Podman's default
//!   runtime). `crun run` forks the container process itself and stays, in
//!   the foreground, waiting for it.
//! - **runc** is the reference implementation, written in Go (Docker's and
//!   containerd's default). A Go program cannot safely fork and then change
//!   namespaces, so `runc run` re-executes itself as `runc init`, whose small
//!   C part (`nsexec`) enters the new namespaces before the Go runtime starts;
//!   `runc init` then execs the workload. `runc run` stays in the foreground.
//!
//! # crun on hybrid cgroup hosts
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
//! Sources: the OCI runtime specification
//! (<https://github.com/opencontainers/runtime-spec>: `bundle.md`,
//! `config.md`, `config-linux.md`, `runtime.md`); crun(1), runc-run(8),
//! runc-delete(8), runc-list(8); crun's `src/libcrun/cgroup.c` for the
//! hybrid check.

use super::tool::ToolCmd;
use super::{Tool, EXE_IN_ROOTFS, FD_IN_CONTAINER, READY_TIMEOUT};
use crate::env::child::wait_for;
use anyhow::{bail, Context};
use serde_json::json;
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};

/// The cgroup2 mount of a hybrid host, which crun 1.8 checks.
const UNIFIED: &CStr = c"/sys/fs/cgroup/unified";

/// The row's note on how the runtime is run.
pub(super) fn note(tool: &str) -> String {
    format!(
        "Run as a container engine would: `{tool} run --preserve-fds 1 --bundle DIR ID`; config.json is written before t0. /dev is a small tmpfs with the standard device nodes, as `runc spec` makes it (container:full leaves /dev empty). The cgroup charge is shown for information."
    )
}

/// The row's note when crun runs with the cgroup2 tree hidden.
pub(super) const HIDE_UNIFIED_NOTE: &str = "This host's cgroups are hybrid and its cgroup2 tree has controllers, which crun 1.8 refuses; vmvc starts crun in a private mount namespace with /sys/fs/cgroup/unified lazily unmounted, so crun sees cgroup v1. This is included in startup: it makes the spawn phase about 1 ms longer (the unmount waits for the kernel), while READY measured the same as with a variant without the unmount.";

/// Where an OCI runtime run by root keeps its per-container state.
pub(super) fn state_dir(kind: Tool, id: &str) -> Option<PathBuf> {
    kind.is_oci()
        .then(|| Path::new("/run").join(kind.name()).join(id))
}

/// One launch's OCI runtime configuration (config.json): the namespaces of
/// `container:full`, the rootfs read-only, /proc, a tmpfs /dev, and a cgroup
/// at `cgroups_path` (relative to each hierarchy's root).
pub(super) fn config(rootfs: &Path, cgroups_path: &str) -> anyhow::Result<serde_json::Value> {
    let root = rootfs
        .to_str()
        .with_context(|| format!("the rootfs path {} is not UTF-8", rootfs.display()))?;
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": [EXE_IN_ROOTFS, FD_IN_CONTAINER.to_string()],
            "env": [],
            "cwd": "/",
            // No capabilities: the workload needs none.
            "capabilities": { "bounding": [], "effective": [], "permitted": [] },
            "noNewPrivileges": true
        },
        "root": { "path": root, "readonly": true },
        "hostname": "vmvc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            // Without a /dev mount the runtimes create device nodes in the
            // rootfs itself, i.e. in the directory every launch shares.
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]
            }
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ]
        }
    }))
}

/// Writes `bundle/config.json` for a container in cgroup `cgroups_path`.
pub(super) fn write_config(bundle: &Path, rootfs: &Path, cgroups_path: &str) -> anyhow::Result<()> {
    let config = config(rootfs, cgroups_path)?;
    let bytes = serde_json::to_vec_pretty(&config).context("encoding config.json")?;
    std::fs::write(bundle.join("config.json"), bytes)
        .with_context(|| format!("writing config.json in {}", bundle.display()))
}

/// `<runtime> run --preserve-fds 1 --bundle BUNDLE ID`: the whole life
/// cycle in the foreground, our fd 3 passed through.
pub(super) fn run_args(cmd: &mut Proc, bundle: &Path, id: &str) {
    cmd.args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(bundle)
        .arg(id);
}

impl ToolCmd {
    /// `<tool> delete -f <id>`: kills the container if it still runs and
    /// removes its state and cgroup. Errors are the caller's to ignore.
    pub(super) fn delete(&self, id: &str) -> anyhow::Result<()> {
        let mut child = self
            .command(None)
            .args(["delete", "-f", id])
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} delete", self.kind.name()))?;
        match wait_for(&mut child, READY_TIMEOUT)? {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!("{} delete -f {id} failed ({s})", self.kind.name()),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{} delete -f {id} hung", self.kind.name())
            }
        }
    }

    /// `<tool> list -q`: the ids of the containers the tool knows.
    pub(super) fn list(&self) -> anyhow::Result<Vec<String>> {
        let out = self
            .command(None)
            .args(["list", "-q"])
            .stderr(Stdio::null())
            .output()
            .with_context(|| format!("running {} list", self.kind.name()))?;
        if !out.status.success() {
            bail!("{} list -q failed ({})", self.kind.name(), out.status);
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect())
    }
}

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
