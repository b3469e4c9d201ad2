//! What a cgroup reads back: the memory charged, OOM kills, processes, CPU.
//!
//! The memory controller charges each page to the cgroup of the process
//! that first touched it, and splits the charge in `memory.stat` (v1 names
//! the parts `rss` and `cache`, v2 `anon`, `file` and `kernel`). Source:
//! the kernel's Documentation/admin-guide/cgroup-v1/memory.rst and
//! cgroup-v2.rst ("Memory").

use std::time::Duration;

/// Usage read back from a cgroup.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// What the memory controller charges now (`memory.usage_in_bytes` / `memory.current`).
    pub memory_current: u64,
    /// Highest charge seen, where the kernel keeps it.
    pub memory_peak: Option<u64>,
    /// Every line of `memory.stat`, as the kernel wrote it (bytes or counts).
    pub memory_stat: Vec<(String, u64)>,
    /// Members killed by the OOM killer.
    pub oom_kills: u64,
    /// Processes/threads now.
    pub pids_current: u64,
    /// Times `fork`/`clone` failed on `pids.max`.
    pub pids_max_hits: u64,
    /// CPU time used, where readable.
    pub cpu_usage: Option<Duration>,
}

/// The memory charge split three ways, named the same on v1 and v2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargeSplit {
    /// Anonymous memory: heap, stacks, the touched working set.
    pub anon: u64,
    /// Page cache (files, tmpfs/shmem) charged to this cgroup.
    pub file: u64,
    /// Kernel memory charged to the cgroup (page tables, kernel stacks,
    /// slab objects, ...): what is left of the charge.
    pub kernel: u64,
}

impl Usage {
    /// A `memory.stat` value by key.
    pub fn stat(&self, key: &str) -> Option<u64> {
        self.memory_stat
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The charge split: v2 names `anon` and `file`; v1 names them `rss` and
    /// `cache`. Kernel memory is the rest of the charge.
    pub fn charge_split(&self) -> ChargeSplit {
        let anon = self.stat("anon").or_else(|| self.stat("rss")).unwrap_or(0);
        let file = self
            .stat("file")
            .or_else(|| self.stat("cache"))
            .unwrap_or(0);
        let kernel = self
            .stat("kernel")
            .unwrap_or_else(|| self.memory_current.saturating_sub(anon + file));
        ChargeSplit { anon, file, kernel }
    }
}
