//! Where snapshot files live: a private directory, removed when dropped.
//!
//! A snapshot's memory file is what restored VMs map, so it should be in
//! memory, not on a disk: `/dev/shm` (tmpfs) where there is one, else the
//! temp dir. Each directory is named after its owner, `vmvc-snapshot-PID-
//! START-N` (START: the process's start time in clock ticks, field 22 of
//! /proc/PID/stat, proc(5), so that a reused PID is not mistaken for the
//! owner). [`SnapshotDir::create`] first removes the directories of owners
//! that are gone: what a crashed run left behind.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const PREFIX: &str = "vmvc-snapshot-";

/// A directory for one snapshot, removed (with its files) on drop.
#[derive(Debug)]
pub struct SnapshotDir {
    path: PathBuf,
}

impl SnapshotDir {
    /// Makes a new, empty directory under [`parent`], after removing the
    /// leftovers of processes that no longer run.
    pub fn create() -> Result<SnapshotDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = parent();
        remove_leftovers(&base);
        let me = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let start = start_time(me).unwrap_or(0);
        let path = base.join(format!("{PREFIX}{me}-{start}-{n}"));
        std::fs::create_dir(&path).map_err(|e| Error::Snapshot {
            step: "creating the snapshot directory",
            reason: format!("{}: {e}", path.display()),
        })?;
        Ok(SnapshotDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SnapshotDir {
    fn drop(&mut self) {
        // Nothing to report to: a failure leaves a leftover that the next
        // run removes.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `/dev/shm` if it is a directory, else the temp dir.
pub fn parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// Removes `vmvc-snapshot-PID-START-N` directories in `base` whose owner
/// is gone; returns what it removed.
pub fn remove_leftovers(base: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let mut fields = owner.split('-').map(|f| f.parse::<u64>().ok());
        let (Some(Some(pid)), Some(Some(start))) = (fields.next(), fields.next()) else {
            continue;
        };
        let alive = u32::try_from(pid)
            .ok()
            .and_then(start_time)
            .is_some_and(|s| s == start);
        if !alive && std::fs::remove_dir_all(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// The start time of process `pid` (field 22 of /proc/PID/stat), if it runs.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_dead_owners_go_and_ours_stay() {
        let base = std::env::temp_dir().join(format!("vmvc-snapdir-test-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("test dir");
        let me = std::process::id();
        let mine = base.join(format!(
            "{PREFIX}{me}-{}-0",
            start_time(me).expect("own stat")
        ));
        // PID 1 runs, but did not start at that time: a reused PID, a leftover.
        let dead = base.join(format!("{PREFIX}1-999999999999-0"));
        let other = base.join("something-else");
        for d in [&mine, &dead, &other] {
            std::fs::create_dir_all(d).expect("dir");
        }
        let removed = remove_leftovers(&base);
        assert_eq!(removed, vec![dead.clone()]);
        assert!(mine.exists() && other.exists() && !dead.exists());
        std::fs::remove_dir_all(&base).expect("cleanup");
    }

    #[test]
    fn the_directory_goes_with_its_owner() {
        let d = SnapshotDir::create().expect("snapshot dir");
        let p = d.path().to_owned();
        std::fs::write(p.join("memory"), b"x").expect("file");
        drop(d);
        assert!(!p.exists());
    }
}
