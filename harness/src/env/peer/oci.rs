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
//! Sources: the OCI runtime specification
//! (<https://github.com/opencontainers/runtime-spec>: `bundle.md`,
//! `config.md`, `config-linux.md`, `runtime.md`); crun(1), runc-run(8),
//! runc-delete(8), runc-list(8).

use super::tool::{Tool, ToolCmd, EXE_IN_ROOTFS, FD_IN_CONTAINER, READY_TIMEOUT};
use crate::env::child::wait_for;
use anyhow::{bail, Context};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};

/// The row's note on how the runtime is run.
pub(super) fn note(tool: &str) -> String {
    format!(
        "Run as a container engine would: `{tool} run --preserve-fds 1 --bundle DIR ID`; config.json is written before t0. /dev is a small tmpfs with the standard device nodes, as `runc spec` makes it (container:full leaves /dev empty). The cgroup charge is shown for information."
    )
}

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
