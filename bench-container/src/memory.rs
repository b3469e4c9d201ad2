//! What an idle container costs the host in memory, split the way the
//! kernel reports it.
//!
//! Two views that overlap but are not the same:
//! - the cgroup's **charge** (`memory.current` / `memory.usage_in_bytes`):
//!   every page and kernel object allocated on behalf of a member, split by
//!   `memory.stat` into anonymous memory, page cache and kernel memory;
//! - the workload's **PSS** (proportional set size, from
//!   `/proc/PID/smaps_rollup`, see proc(5)): what it maps, shared pages
//!   divided among their users.
//!
//! A page is charged to the cgroup of whoever faulted it in first (cgroup-v2.rst,
//! "Memory Ownership"): the workload binary's page cache was read by the
//! launcher while assembling the rootfs, so the container maps it but its
//! cgroup is not charged for it. [`MemoryReport::uncharged`] is that part.

use crate::cgroup::ChargeSplit;
use crate::error::{io, Error, Result};

/// Totals from `/proc/PID/smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollup {
    pub rss: u64,
    pub pss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
}

/// Reads `/proc/PID/smaps_rollup` (kB in the file, bytes here).
pub fn smaps_rollup(pid: u32) -> Result<Rollup> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(io("reading", &path))?;
    let mut r = Rollup::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(kb)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok()))
        else {
            continue;
        };
        let slot = match key {
            "Rss:" => &mut r.rss,
            "Pss:" => &mut r.pss,
            "Pss_Anon:" => &mut r.pss_anon,
            "Pss_File:" => &mut r.pss_file,
            "Pss_Shmem:" => &mut r.pss_shmem,
            _ => continue,
        };
        *slot = kb * 1024;
    }
    if r.rss == 0 && r.pss == 0 {
        return Err(Error::Io {
            step: "parsing",
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no Rss/Pss lines"),
        });
    }
    Ok(r)
}

/// `MemAvailable` from `/proc/meminfo`, bytes: for density runs (start N
/// idle containers, divide the drop by N).
pub fn mem_available() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(io("reading", "/proc/meminfo"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error::Io {
            step: "parsing",
            path: "/proc/meminfo".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no MemAvailable line"),
        })
}

/// One idle container's memory, as the kernel reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryReport {
    /// The cgroup's whole charge, bytes (`None` for the `chroot` profile).
    pub cgroup_current: Option<u64>,
    /// That charge split (zeros without a cgroup).
    pub split: ChargeSplit,
    /// The workload process's own mappings.
    pub workload: Rollup,
    /// File-backed PSS of the workload that its cgroup does not hold
    /// (charged to the launcher, who read the files first); the whole PSS
    /// when there is no cgroup.
    pub uncharged: u64,
}

impl MemoryReport {
    pub(crate) fn new(cgroup: Option<(u64, ChargeSplit)>, workload: Rollup) -> MemoryReport {
        match cgroup {
            Some((current, split)) => MemoryReport {
                cgroup_current: Some(current),
                split,
                workload,
                uncharged: (workload.pss_file + workload.pss_shmem).saturating_sub(split.file),
            },
            None => MemoryReport {
                cgroup_current: None,
                split: ChargeSplit::default(),
                workload,
                uncharged: workload.pss,
            },
        }
    }

    /// What the container costs the host: the charge plus what it maps
    /// but is not charged for.
    pub fn total(&self) -> u64 {
        self.cgroup_current.unwrap_or(0) + self.uncharged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_rollup_and_meminfo() {
        let r = smaps_rollup(std::process::id()).expect("smaps_rollup of self");
        assert!(r.rss > 0 && r.pss > 0 && r.pss <= r.rss);
        assert!(mem_available().expect("meminfo") > 0);
    }

    #[test]
    fn uncharged_is_file_pss_outside_the_cgroup() {
        let w = Rollup {
            rss: 100,
            pss: 90,
            pss_anon: 60,
            pss_file: 30,
            pss_shmem: 0,
        };
        let split = ChargeSplit {
            anon: 60,
            file: 10,
            kernel: 5,
        };
        let m = MemoryReport::new(Some((75, split)), w);
        assert_eq!(m.uncharged, 20);
        assert_eq!(m.total(), 95);
        assert_eq!(MemoryReport::new(None, w).total(), 90);
    }
}
