//! cgroup v1: one hierarchy per controller, one directory in each.
//!
//! A container's cgroup is a directory in the pids hierarchy, one in the
//! memory hierarchy and, when a cpu limit is asked for, one in the cpu
//! hierarchy; the process joins each by writing its pid to that directory's
//! `cgroup.procs`. Files: `memory.limit_in_bytes` (and the memory+swap
//! `memory.memsw.limit_in_bytes`), `pids.max`, `cpu.cfs_quota_us` over
//! `cpu.cfs_period_us`; usage in `memory.usage_in_bytes`, OOM kills in
//! `memory.oom_control`, CPU time in `cpuacct.usage`. Source: the kernel's
//! Documentation/admin-guide/cgroup-v1/ (memory.rst, pids.rst) and
//! Documentation/scheduler/sched-bwc.rst.

use super::files::{read_u64, write, write_if_exists};
use super::{Limits, MemoryFiles, Version};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The order of a container's directories on v1, as [`super::Layout`]
/// lists the hierarchies: pids (it lists the members), memory, then cpu.
const PIDS: usize = 0;
const MEMORY: usize = 1;
const CPU: usize = 2;

#[derive(Debug)]
pub(crate) struct V1;

impl Version for V1 {
    fn unified(&self) -> bool {
        false
    }

    fn wants_dir(&self, index: usize, limits: &Limits) -> bool {
        // The cpu hierarchy is joined only for a cpu limit: one directory
        // less on the hot path.
        index != CPU || limits.cpu.is_some()
    }

    fn pids_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path {
        &dirs[PIDS]
    }

    fn memory_dir<'a>(&self, dirs: &'a [PathBuf]) -> &'a Path {
        &dirs[MEMORY]
    }

    fn apply(&self, dirs: &[PathBuf], limits: &Limits) -> Result<()> {
        if let Some(bytes) = limits.memory_bytes {
            let mem = &dirs[MEMORY];
            write(&mem.join("memory.limit_in_bytes"), &bytes.to_string())?;
            // memsw (memory+swap) must be >= the memory limit: set after it.
            write_if_exists(&mem.join("memory.memsw.limit_in_bytes"), &bytes.to_string())?;
        }
        if let Some(max) = limits.pids_max {
            write(&dirs[PIDS].join("pids.max"), &max.to_string())?;
        }
        if let Some(q) = limits.cpu {
            let dir = dirs.get(CPU).ok_or(Error::NoCgroups(
                "a cpu limit was asked for but no cpu controller is mounted".into(),
            ))?;
            write(&dir.join("cpu.cfs_period_us"), &q.period_us.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &q.quota_us.to_string())?;
        }
        Ok(())
    }

    fn memory_files(&self) -> MemoryFiles {
        MemoryFiles {
            current: "memory.usage_in_bytes",
            peak: "memory.max_usage_in_bytes",
            events: "memory.oom_control",
        }
    }

    fn cpu_usage(&self, dirs: &[PathBuf]) -> Option<Duration> {
        let dir = dirs.get(CPU)?;
        read_u64(&dir.join("cpuacct.usage"))
            .ok()
            .map(Duration::from_nanos)
    }

    fn clone_into_dir<'a>(&self, _dirs: &'a [PathBuf]) -> Option<&'a Path> {
        // CLONE_INTO_CGROUP takes a v2 directory only (clone(2)).
        None
    }

    fn kill_file(&self, _dirs: &[PathBuf]) -> Option<PathBuf> {
        None
    }

    fn delegate_controllers(&self, _dir: &Path) -> Result<()> {
        // v1 controllers are per hierarchy: every child has them already.
        Ok(())
    }
}
