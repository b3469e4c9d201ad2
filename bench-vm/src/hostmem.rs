//! What a VM costs the host in memory, split the way Firecracker's
//! memory-overhead test splits it.
//!
//! - **Guest RAM touched**: pages of the guest-RAM mapping that are backed
//!   by host memory (the mapping is lazily allocated, so untouched RAM costs
//!   nothing). Counted with `mincore(2)` in-process, or from the VMM
//!   process's `/proc/PID/smaps` entry for the mapping.
//! - **The VMM's own memory**: every other mapping of the VMM process (its
//!   code, heap, stacks, the `kvm_run` page): `Rss` of all other entries in
//!   `/proc/PID/smaps`.
//! - **KVM kernel-side**: page tables KVM builds for the guest (shadow or
//!   EPT/NPT tables) are counted host-wide as `SecPageTables` in
//!   `/proc/meminfo` (Linux 6.0+); the difference before and after a launch
//!   is this VM's share (other VMs starting meanwhile blur it). PVM's shadow
//!   page tables are not counted there: on a PVM host this part reads 0.

use crate::error::{Error, Result};
use std::ops::Range;

/// One field of `/proc/meminfo`, in bytes (`None` if the kernel lacks it).
pub fn meminfo(field: &str) -> Result<Option<u64>> {
    let text =
        std::fs::read_to_string("/proc/meminfo").map_err(Error::os("reading /proc/meminfo"))?;
    Ok(parse_meminfo(&text, field))
}

/// Parses `Field:   N kB` out of meminfo-formatted text.
pub fn parse_meminfo(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// KVM's secondary page tables host-wide (`SecPageTables`), bytes.
pub fn sec_page_tables() -> Result<Option<u64>> {
    meminfo("SecPageTables")
}

/// Memory of a process split into (inside `guest`, everything else).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RssSplit {
    /// The field summed over the mappings that overlap the guest-RAM range.
    pub guest_ram: u64,
    /// The field summed over all other mappings: the VMM's own memory.
    pub vmm_own: u64,
}

/// Splits field `field` (`"Rss"`, or `"Pss"` to share pages such as the
/// VMM's code fairly among the processes mapping them) of process `pid` (or
/// `self`) by the guest-RAM range.
pub fn rss_split(pid: Option<u32>, guest: Range<u64>, field: &str) -> Result<RssSplit> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/smaps"),
        None => "/proc/self/smaps".into(),
    };
    let text = std::fs::read_to_string(&path).map_err(Error::os("reading /proc/PID/smaps"))?;
    Ok(parse_smaps(&text, guest, field))
}

/// Parses smaps text (see `proc(5)`): a header line `start-end perms ...`
/// per mapping, followed by `Key: value kB` lines (`Rss`, `Pss`, ...).
pub fn parse_smaps(text: &str, guest: Range<u64>, field: &str) -> RssSplit {
    let mut split = RssSplit::default();
    let mut in_guest = false;
    for line in text.lines() {
        if let Some(kb) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let bytes = kb
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
            if in_guest {
                split.guest_ram += bytes;
            } else {
                split.vmm_own += bytes;
            }
        } else if let Some(range) = line.split_whitespace().next().and_then(parse_range) {
            in_guest = range.start < guest.end && guest.start < range.end;
        }
    }
    split
}

/// `7f00-7f80` (hex) as a range; `None` for any other line.
fn parse_range(s: &str) -> Option<Range<u64>> {
    let (a, b) = s.split_once('-')?;
    Some(u64::from_str_radix(a, 16).ok()?..u64::from_str_radix(b, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_is_split_by_range() {
        let text = "\
00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/vmvc
Size:                328 kB
Rss:                 300 kB
7f0000000000-7f0040000000 rw-p 00000000 00:00 0
Size:            1048576 kB
Rss:                2048 kB
7fff00000000-7fff00021000 rw-p 00000000 00:00 0 [stack]
Rss:                  12 kB
";
        let s = parse_smaps(text, 0x7f00_0000_0000..0x7f00_4000_0000, "Rss");
        assert_eq!(s.guest_ram, 2048 * 1024);
        assert_eq!(s.vmm_own, 312 * 1024);
    }

    #[test]
    fn meminfo_fields() {
        let text = "MemTotal:       24000000 kB\nSecPageTables:      1234 kB\n";
        assert_eq!(parse_meminfo(text, "SecPageTables"), Some(1234 * 1024));
        assert_eq!(parse_meminfo(text, "Mem"), None);
        assert_eq!(parse_meminfo(text, "Nope"), None);
    }
}
