//! Leaving nothing behind: what a peer launch creates is found and removed
//! by its owner, on every path, and after a crash by the next vmvc.
//!
//! Everything a launch creates carries the owner tag of this vmvc process
//! (`PID-STARTTIME`, see `bench_container::owner`): container ids
//! `vmvc-<tag>-<n>`, cgroups `/vmvc/<tag>-peer-<tool>-<n>` (we only ever
//! create cgroups under a `vmvc` parent), and the private temp dir
//! `vmvc-peer.<tag>-<seq>` that holds the bundles. On every path — teardown,
//! error, panic — a launch kills the processes it started (by the pids it
//! holds), runs `<tool> delete -f <id>` if the tool left state, and removes
//! its cgroup ([`super::instance`]). What a vmvc that crashed left is removed
//! here, by the first launch of the next one, and only when the tag's owner
//! process is gone: other vmvc runs on the same host keep theirs.
//!
//! A cgroup directory can be removed (`rmdir(2)`) only once it has no member
//! process left; its members are listed in `cgroup.procs` (kernel
//! `Documentation/admin-guide/cgroup-v2.rst`, "Removing cgroups"; the same
//! holds in v1).

use super::tool::{ToolCmd, READY_TIMEOUT};
use anyhow::Context;
use bench_container::owner::{self, Owner};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Prefix of our private temp dirs (bundles and logs).
pub(super) const DIR_PREFIX: &str = "vmvc-peer.";

/// Mount points of every cgroup hierarchy, v1 and v2 (from mountinfo, see proc(5)).
pub(super) fn cgroup_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            // "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts"
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount_point = left.split(' ').nth(4)?;
            matches!(fstype, "cgroup" | "cgroup2").then(|| PathBuf::from(mount_point))
        })
        .collect()
}

/// Kills what is still in cgroup `dir` and removes it; Ok if it is not there.
pub(crate) fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let members = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in members.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY: members are still exiting.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Removes what a vmvc that crashed left: containers the tool still lists
/// (`vmvc-<tag>-<n>`), cgroups (`vmvc/<tag>-peer-*`) and temp dirs
/// (`vmvc-peer.<tag>-<seq>`), each only when its owner process is gone.
pub(super) fn remove_leftovers(tool: &ToolCmd) {
    let dead = |s: &str| Owner::parse(s).is_some_and(|o| !o.is_alive());
    if tool.kind.is_oci() {
        for id in tool.list().unwrap_or_default() {
            if id.strip_prefix("vmvc-").is_some_and(dead) {
                let _ = tool.delete(&id);
            }
        }
        for mount in cgroup_mounts() {
            let parent = mount.join(bench_container::cgroup::PARENT);
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.contains("-peer-") && dead(&name) {
                    let _ = remove_cgroup(&e.path());
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.strip_prefix(DIR_PREFIX).is_some_and(dead) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Our private (0700) temp dir, removed on drop.
#[derive(Debug)]
pub(super) struct PrivateDir {
    pub(super) path: PathBuf,
}

impl PrivateDir {
    pub(super) fn new(tag: &str) -> anyhow::Result<PrivateDir> {
        let path = std::env::temp_dir().join(format!("{DIR_PREFIX}{tag}-{}", owner::next_seq()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(PrivateDir { path })
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Deletes the OCI state directory `state` (`<root>/<id>`, e.g.
/// `/run/crun/vmvc-<tag>-1`) the way the tool itself would, `<tool> [--root
/// ROOT] delete -f <id>`, which also removes the container's cgroup; the
/// directory is removed by hand if the tool is missing or fails. The tool is
/// told by the root's name: `crun`/`runc` (root) or `vmvc-crun…`/`vmvc-runc…`
/// (rootless, [`super::oci::rootless_state_root`]). For [`crate::leftovers`].
pub(crate) fn delete_oci_state(state: &Path) -> std::io::Result<()> {
    let (Some(root), Some(id)) = (state.parent(), state.file_name()) else {
        return Ok(());
    };
    let root_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = [super::tool::Tool::Crun, super::tool::Tool::Runc]
        .into_iter()
        .find(|k| root_name == k.name() || root_name.starts_with(&format!("vmvc-{}", k.name())));
    if let Some(kind) = kind {
        if let Some(path) = super::tool::find(kind.name()) {
            let tool = ToolCmd {
                kind,
                path,
                hide_unified: kind == super::tool::Tool::Crun
                    && super::hybrid::unified_has_controllers(),
                state_root: (root_name != kind.name()).then(|| root.to_owned()),
            };
            let _ = tool.delete(&id.to_string_lossy());
        }
    }
    match std::fs::remove_dir_all(state) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
