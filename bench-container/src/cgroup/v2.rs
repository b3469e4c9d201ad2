//! cgroup v2: one unified tree, one directory per container.
//!
//! A controller works in a child only if its parent lists it in
//! `cgroup.subtree_control`, so each level from the root down enables
//! memory, pids and cpu for the next one (the "no internal processes" rule
//! keeps members only in the leaves). Files: `memory.max` (and
//! `memory.swap.max`), `pids.max`, `cpu.max` as "quota period"; usage in
//! `memory.current`, OOM kills in `memory.events`, CPU time in `cpu.stat`.
//! `cgroup.kill` kills every member at once, and clone3(2) can start a child
//! directly inside (`CLONE_INTO_CGROUP`). Source: the kernel's
//! Documentation/admin-guide/cgroup-v2.rst.

use super::files::{read_keyed, write, write_if_exists};
use super::{Limits, MemoryFiles, Version};
use crate::error::Result;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct V2;

impl Version for V2 {
    fn unified(&self) -> bool {
        true
    }

    fn wants_dir(&self, _index: usize, _limits: &Limits) -> bool {
        true
    }

    fn pids_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path {
        &dirs[0]
    }

    fn memory_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path {
        &dirs[0]
    }

    fn apply(&self, dirs: &[PathBuf], limits: &Limits) -> Result<()> {
        let dir = &dirs[0];
        if let Some(bytes) = limits.memory_bytes {
            write(&dir.join("memory.max"), &bytes.to_string())?;
            // Without swap the limit is a real one: the OOM killer, not
            // swapping, answers an overrun.
            write_if_exists(&dir.join("memory.swap.max"), "0")?;
        }
        if let Some(max) = limits.pids_max {
            write(&dir.join("pids.max"), &max.to_string())?;
        }
        if let Some(q) = limits.cpu {
            write(
                &dir.join("cpu.max"),
                &format!("{} {}", q.quota_us, q.period_us),
            )?;
        }
        Ok(())
    }

    fn memory_files(&self) -> MemoryFiles {
        MemoryFiles {
            current: "memory.current",
            peak: "memory.peak",
            events: "memory.events",
        }
    }

    fn cpu_usage(&self, dirs: &[PathBuf]) -> Option<Duration> {
        read_keyed(&dirs[0].join("cpu.stat"))
            .ok()
            .and_then(|s| s.into_iter().find(|(k, _)| k == "usage_usec"))
            .map(|(_, v)| Duration::from_micros(v))
    }

    fn clone_into_dir<'a>(&self, dirs: &'a [PathBuf]) -> Option<&'a Path> {
        Some(&dirs[0])
    }

    fn kill_file(&self, dirs: &[PathBuf]) -> Option<PathBuf> {
        // cgroup.kill exists since Linux 5.14.
        Some(dirs[0].join("cgroup.kill")).filter(|f| f.exists())
    }

    /// Lets children of `dir` use every controller we want that `dir` has.
    fn delegate_controllers(&self, dir: &Path) -> Result<()> {
        let have = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        for c in ["memory", "pids", "cpu"] {
            let listed = |s: &str| s.split_whitespace().any(|x| x == c);
            if listed(&have) && !listed(&enabled) {
                let r = write(&dir.join("cgroup.subtree_control"), &format!("+{c}"));
                // cpu can be refused (e.g. realtime threads in the tree): then
                // cpu limits are unavailable, the rest still works.
                if c != "cpu" {
                    r?;
                }
            }
        }
        Ok(())
    }
}
