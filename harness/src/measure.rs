//! What one launch records: its timings ([`Launch`]) and what the idle
//! instance costs the host ([`MemPart`]).
//!
//! These are the raw observations every environment reports and every
//! experiment consumes, with the definitions of DESIGN.md ("What is
//! measured"): `t0` is taken just before the first environment-specific
//! step, a launch's phases run back to back from `t0` to READY, and an
//! instance's memory is a list of named parts, some of which are shown for
//! information only (already counted inside another part). They sit below
//! both [`crate::env`] (which produces them) and [`crate::procfs`] (which
//! reads some of them from /proc), so neither needs the other's types.

use std::time::{Duration, Instant};

/// Timings of one launch. `t0` is taken just before the first
/// environment-specific step (DESIGN.md, "Startup").
#[derive(Debug, Clone)]
pub struct Launch {
    pub t0: Instant,
    /// Phases from `t0` to READY, in order (their sum is `ready`).
    pub phases: Vec<(&'static str, Duration)>,
    /// `t0` to READY received by the launcher.
    pub ready: Duration,
}

impl Launch {
    /// Builds the phase list from instants taken in order after `t0`; the
    /// last mark is READY.
    pub fn from_marks(t0: Instant, marks: &[(&'static str, Instant)]) -> Launch {
        let mut prev = t0;
        let mut phases = Vec::with_capacity(marks.len());
        for (name, at) in marks {
            phases.push((*name, at.saturating_duration_since(prev)));
            prev = *at;
        }
        Launch {
            t0,
            phases,
            ready: prev.saturating_duration_since(t0),
        }
    }
}

/// One part of what an idle instance costs the host.
#[derive(Debug, Clone)]
pub struct MemPart {
    pub name: &'static str,
    pub description: &'static str,
    pub bytes: u64,
    /// False for figures shown for information only (already inside another part).
    pub counts_in_total: bool,
}
