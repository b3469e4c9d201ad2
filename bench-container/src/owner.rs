//! Who owns a leftover: the launcher process, named by pid **and** start time.
//!
//! Everything this crate leaves on the host between two steps (cgroup
//! directories, rootfs temp dirs) carries an owner tag `PID-STARTTIME`. A
//! later run removes a leftover only when that exact process is gone: the pid
//! alone is not enough, since pids are reused; the start time (field 22 of
//! `/proc/PID/stat`, in clock ticks since boot, see proc(5)) tells a reused pid
//! apart.

use std::sync::atomic::{AtomicU64, Ordering};

/// A process identified for good: pid plus start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        // /proc/self/stat is always readable by ourselves; 0 marks "unknown",
        // which never matches a live process, so the worst case is that a
        // later run also treats our leftovers as abandoned (they would be).
        Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// `PID-STARTTIME`.
    pub fn tag(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// Parses the start of `s` as a tag: `PID-STARTTIME` followed by nothing
    /// or by `-` and anything (the per-runtime sequence number).
    pub fn parse(s: &str) -> Option<Owner> {
        let mut parts = s.splitn(3, '-');
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        Some(Owner { pid, start })
    }

    /// Is this very process still running?
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// Field 22 (`starttime`) of `/proc/PID/stat`.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: split after the last ')'. Field 3 comes next.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// A number unique within this process, so that several runtimes or rootfs
/// in one process never share a directory.
pub fn next_seq() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_round_trip() {
        let me = Owner::current();
        assert!(me.start > 0);
        assert_eq!(Owner::parse(&me.tag()), Some(me));
        assert_eq!(Owner::parse(&format!("{}-7", me.tag())), Some(me));
        assert!(me.is_alive());
        assert!(!Owner {
            start: me.start + 1,
            ..me
        }
        .is_alive());
        assert_eq!(Owner::parse("x-1"), None);
        assert_eq!(Owner::parse("12"), None);
    }
}
