//! The announcement: what a VMM process tells its launcher before READY.
//!
//! A launcher sees a VMM process from outside: its pid, `/proc/PID/smaps`,
//! its stdout. What only the VMM knows it writes to stdout once, in a few
//! lines of text, before READY goes out on the socket:
//!
//! ```text
//! guest-ram 0x7f1234000000 0x18000000      where guest RAM lives in the VMM (hex start, length)
//! guest-meminfo 370000000 310000000 ...    Linux guests only: MemTotal MemFree MemAvailable (bytes)
//! phases 8123456789 kvm_open=8123460000 ...  CLOCK_MONOTONIC ns: launch start, then when each phase ended
//! end
//! ```
//!
//! The guest-RAM range lets the harness split `/proc/PID/smaps` into guest
//! RAM and the VMM's own memory ([`crate::hostmem::rss_split`]); the guest's
//! meminfo is what the guest kernel reported after READY (the launcher
//! never sees those INFO messages: the VMM consumed them); the phases use
//! `CLOCK_MONOTONIC`, one clock for every process on the host
//! ([`monotonic_ns`]), so the launcher can place them on its own timeline.
//! [`Announcement`] writes and parses this text: the format is the contract
//! between the VMM process and its launcher, and both ends use this one type.

use crate::linux::GuestMemInfo;
use crate::phases::Phases;
use std::ops::Range;
use std::time::Instant;

/// The announcement's first word.
pub const ANNOUNCE: &str = "guest-ram";
/// The announcement line with the Linux guest's memory report.
pub const ANNOUNCE_MEMINFO: &str = "guest-meminfo";
/// The announcement line with the launch phases.
pub const ANNOUNCE_PHASES: &str = "phases";
/// The announcement's last line.
pub const ANNOUNCE_END: &str = "end";

/// What the VMM process tells its launcher before READY.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    /// Guest RAM's address range in the VMM process.
    pub guest_ram: Range<u64>,
    /// The guest kernel's memory report (Linux guests).
    pub mem_info: Option<GuestMemInfo>,
    /// `CLOCK_MONOTONIC` nanoseconds when the launch started ([`Phases::t0`]).
    pub t0_ns: Option<u64>,
    /// Each launch phase and when it ended (`CLOCK_MONOTONIC` ns), in order.
    pub phases: Vec<(String, u64)>,
}

impl Announcement {
    /// The announcement text, `end` line included.
    pub fn to_text(&self) -> String {
        let r = &self.guest_ram;
        let mut s = format!("{ANNOUNCE} {:#x} {:#x}\n", r.start, r.end - r.start);
        if let Some(m) = self.mem_info {
            s += &format!(
                "{ANNOUNCE_MEMINFO} {} {} {}\n",
                m.mem_total, m.mem_free, m.mem_available
            );
        }
        if let Some(t0) = self.t0_ns {
            s += &format!("{ANNOUNCE_PHASES} {t0}");
            for (name, at) in &self.phases {
                s += &format!(" {name}={at}");
            }
            s.push('\n');
        }
        s + ANNOUNCE_END + "\n"
    }

    /// Parses announcement text (up to and without the `end` line). `None`
    /// when the guest-RAM line is missing or a line is malformed.
    pub fn parse(text: &str) -> Option<Announcement> {
        let mut a = Announcement::default();
        let mut have_ram = false;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some(ANNOUNCE) => {
                    a.guest_ram = parse_announcement(line)?;
                    have_ram = true;
                }
                Some(ANNOUNCE_MEMINFO) => {
                    let mut n = || words.next()?.parse::<u64>().ok();
                    a.mem_info = Some(GuestMemInfo {
                        mem_total: n()?,
                        mem_free: n()?,
                        mem_available: n()?,
                    });
                }
                Some(ANNOUNCE_PHASES) => {
                    a.t0_ns = Some(words.next()?.parse().ok()?);
                    for w in words {
                        let (name, at) = w.split_once('=')?;
                        a.phases.push((name.to_owned(), at.parse().ok()?));
                    }
                }
                Some(ANNOUNCE_END) | None => {}
                Some(_) => return None,
            }
        }
        have_ram.then_some(a)
    }
}

/// Parses the guest-RAM line (`guest-ram START LEN`, hex) into its range.
pub fn parse_announcement(line: &str) -> Option<Range<u64>> {
    let mut words = line.split_whitespace();
    if words.next()? != ANNOUNCE {
        return None;
    }
    let start = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    let len = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    Some(start..start.checked_add(len)?)
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock Rust's `Instant` reads
/// on Linux, shared by every process on the host.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail (and on failure `ts` stays 0).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// `t0` and the phase marks as `CLOCK_MONOTONIC` nanoseconds.
pub fn phases_ns(p: &Phases) -> (u64, Vec<(String, u64)>) {
    let (now, now_ns) = (Instant::now(), monotonic_ns());
    let ns = |at: Instant| now_ns.saturating_sub(now.duration_since(at).as_nanos() as u64);
    let marks = p.marks.iter().map(|(n, at)| ((*n).to_owned(), ns(*at)));
    (ns(p.t0), marks.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn announcement_round_trips() {
        let a = Announcement {
            guest_ram: 0x7f00_0000_0000..0x7f00_1800_0000,
            mem_info: Some(GuestMemInfo {
                mem_total: 370 << 20,
                mem_free: 310 << 20,
                mem_available: 300 << 20,
            }),
            t0_ns: Some(1000),
            phases: vec![("kvm_open".into(), 1500), ("kernel_boot".into(), 9000)],
        };
        let text = a.to_text();
        assert!(text.starts_with("guest-ram 0x7f0000000000 0x18000000\n"));
        assert!(text.ends_with("\nend\n"));
        assert_eq!(Announcement::parse(&text), Some(a));
        // The bare guest's: no meminfo.
        let bare = Announcement {
            guest_ram: 0x1000..0x3000,
            ..Announcement::default()
        };
        assert_eq!(Announcement::parse(&bare.to_text()), Some(bare));
    }

    #[test]
    fn bad_announcements_are_refused() {
        assert_eq!(Announcement::parse(""), None);
        assert_eq!(Announcement::parse("guest-meminfo 1 2 3\n"), None);
        assert_eq!(Announcement::parse("guest-ram 0x1000 zz\n"), None);
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nguest-meminfo 1 2\n"),
            None
        );
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nphases 5 kvm_open\n"),
            None
        );
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nsurprise\n"),
            None
        );
    }

    #[test]
    fn monotonic_clock_is_the_one_instant_uses() {
        // Two reads around an Instant: both advance together.
        let a = monotonic_ns();
        let i = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let d = i.elapsed().as_nanos() as u64;
        let b = monotonic_ns();
        assert!(b - a >= d, "{a} {b} {d}");
    }
}
