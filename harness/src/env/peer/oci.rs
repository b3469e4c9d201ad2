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
use bench_container::container::security;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command as Proc, Stdio};

/// The row's note on how the runtime is run.
pub(super) fn note(tool: &str) -> String {
    format!(
        "Run as a container engine would: `{tool} run --preserve-fds 1 --bundle DIR ID`; config.json is written before t0. /dev is a small tmpfs with the standard device nodes, as `runc spec` makes it (container:full leaves /dev empty). The cgroup charge is shown for information."
    )
}

/// The row's note when the runtime runs rootless.
pub(super) fn rootless_note(tool: &str) -> String {
    format!(
        "Rootless: config.json adds a user namespace in which root is your uid (one id, uidMappings/gidMappings, which {tool} writes itself) and names no cgroup (none is delegated to vmvc); {tool} keeps its state in a private directory of yours (--root)."
    )
}

/// Where an OCI runtime keeps its per-container state: `/run/<tool>` when
/// run by root (the tools' default), a private directory of the user's when
/// rootless (passed with `--root`, see [`rootless_state_root`]).
pub(super) fn state_dir(tool: &ToolCmd, id: &str) -> Option<PathBuf> {
    tool.kind.is_oci().then(|| match &tool.state_root {
        Some(root) => root.join(id),
        None => Path::new("/run").join(tool.kind.name()).join(id),
    })
}

/// The rootless state directory of `kind`: `$XDG_RUNTIME_DIR/vmvc-<tool>`
/// (what runc and crun themselves default to, under their own names), else
/// `/tmp/vmvc-<tool>-<uid>`; created mode 0700, and refused if someone else
/// made it first.
pub(super) fn rootless_state_root(kind: Tool) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = nix::unistd::Uid::current().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join(format!("vmvc-{}", kind.name())),
        _ => std::env::temp_dir().join(format!("vmvc-{}-{uid}", kind.name())),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).with_context(|| format!("{}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        bail!(
            "{} is not a private directory of this user (uid {uid}); remove it and retry",
            dir.display()
        );
    }
    Ok(dir)
}

/// The rootless part of a config.json: a user namespace in which id 0 is
/// the user (`uid`, `gid`; one id, the map an unprivileged runtime may
/// write itself), and no cgroup.
pub(super) struct RootlessIds {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// One launch's OCI runtime configuration (config.json): the namespaces and
/// security defaults of `container:full` (its masked and read-only paths,
/// capabilities, no_new_privs and seccomp filter), the rootfs read-only,
/// /proc, a tmpfs /dev, and a cgroup
/// at `cgroups_path` (relative to each hierarchy's root); rootless, a user
/// namespace instead of the cgroup.
pub(super) fn config(
    rootfs: &Path,
    cgroups_path: Option<&str>,
    rootless: Option<&RootlessIds>,
) -> anyhow::Result<serde_json::Value> {
    let root = rootfs
        .to_str()
        .with_context(|| format!("the rootfs path {} is not UTF-8", rootfs.display()))?;
    let caps: Vec<String> = security::caps::DEFAULT
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut c = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": [EXE_IN_ROOTFS, FD_IN_CONTAINER.to_string()],
            "env": [],
            "cwd": "/",
            // The security defaults of container:full, so that the rows
            // compare like with like (bench-container's container::security).
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
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
            "maskedPaths": security::paths::MASKED,
            "readonlyPaths": security::paths::READONLY,
            "seccomp": seccomp_profile(),
            "namespaces": [
                { "type": "pid" },
                { "type": "network" },
                { "type": "ipc" },
                { "type": "uts" },
                { "type": "mount" }
            ]
        }
    });
    if let Some(path) = cgroups_path {
        c["linux"]["cgroupsPath"] = json!(path);
    }
    if let Some(ids) = rootless {
        let linux = &mut c["linux"];
        if let Some(ns) = linux["namespaces"].as_array_mut() {
            ns.push(json!({ "type": "user" }));
        }
        linux["uidMappings"] = json!([{ "containerID": 0, "hostID": ids.uid, "size": 1 }]);
        linux["gidMappings"] = json!([{ "containerID": 0, "hostID": ids.gid, "size": 1 }]);
    }
    Ok(c)
}

/// container:full's seccomp filter in the OCI runtime spec's words
/// (config-linux.md, "Seccomp"), which runc and crun hand to libseccomp:
/// allow by default; the denied calls EPERM; clone with a `CLONE_NEW*` flag
/// EPERM; clone3 ENOSYS.
fn seccomp_profile() -> serde_json::Value {
    let denied: Vec<&str> = security::seccomp::DENIED.iter().map(|d| d.1).collect();
    let mut rules = vec![json!({ "names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1 })];
    for flag in security::seccomp::CLONE_NEW {
        rules.push(json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [{ "index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ" }]
        }));
    }
    rules.push(json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }));
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules
    })
}

/// Writes `bundle/config.json` (see [`config`]).
pub(super) fn write_config(
    bundle: &Path,
    rootfs: &Path,
    cgroups_path: Option<&str>,
    rootless: Option<&RootlessIds>,
) -> anyhow::Result<()> {
    let config = config(rootfs, cgroups_path, rootless)?;
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
