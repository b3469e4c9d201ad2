//! The claims, checked: eight things a popular blog post ("Docker 시작하기
//! #1") teaches about containers and VMs, each with the experiment that
//! tests it, this run's figures and a verdict **computed from those figures
//! by a rule stated next to it**. No verdict is written down in advance: a
//! run on another machine, or of another runtime, may come out otherwise,
//! and a claim whose figures this run does not have is "not tested here",
//! with the reason.
//!
//! The figures are the run's own: throughput ratios to native with their
//! confidence intervals, startup medians, memory overhead, and the direct demonstrations
//! in `Results::identities` (what `uname -r`, the boot id, the hostname and
//! the pid are inside a container, and on the host).
//!
//! [`evaluate`] is a pure function of one [`Results`]; the report's claims
//! section and `vmvc run`'s summary both show what it returns.

mod rules;

use crate::render::format::{bytes, num, TimeUnit};
use crate::schema::{EnvResult, Identity, Results};

/// What the figures say of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    True,
    HalfTrue,
    False,
    /// This run has no figure that could decide it (e.g. no Linux guest ran).
    NotTested,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::True => "true",
            Verdict::HalfTrue => "half true",
            Verdict::False => "false",
            Verdict::NotTested => "not tested here",
        }
    }

    /// The verdict of a claim made of parts: true when every part holds,
    /// false when none does, half true in between; not tested when any part
    /// could not be tested (the others alone cannot decide the whole).
    pub fn of_parts(parts: &[Option<bool>]) -> Verdict {
        let Some(tested) = parts.iter().copied().collect::<Option<Vec<bool>>>() else {
            return Verdict::NotTested;
        };
        match (tested.iter().filter(|t| **t).count(), tested.len()) {
            (_, 0) => Verdict::NotTested,
            (held, n) if held == n => Verdict::True,
            (0, _) => Verdict::False,
            _ => Verdict::HalfTrue,
        }
    }
}

/// One claim of the blog post, checked against one run.
#[derive(Debug, Clone)]
pub struct Claim {
    pub no: usize,
    /// The claim as the post makes it, in Korean, and in English.
    pub korean: &'static str,
    pub english: &'static str,
    /// The experiment that tests it.
    pub experiment: &'static str,
    /// How the verdict follows from the figures.
    pub rule: &'static str,
    /// This run's figures behind the verdict, one sentence each.
    pub evidence: Vec<String>,
    pub verdict: Verdict,
}

/// Checks every claim against `run`.
pub fn evaluate(run: &Results) -> Vec<Claim> {
    let f = Figures { run };
    rules::ALL
        .iter()
        .enumerate()
        .map(|(i, rule)| rule(&f, i + 1))
        .collect()
}

/// The run's figures, looked up by what the rules ask.
pub(crate) struct Figures<'a> {
    run: &'a Results,
}

/// Ratios closer to 1 than this are "the same" whatever the interval: 5 %.
const MIN_DIFFERENCE: f64 = 0.05;

impl<'a> Figures<'a> {
    /// A measured (not skipped) row.
    fn env(&self, name: &str) -> Option<&'a EnvResult> {
        self.run
            .environments
            .iter()
            .find(|e| e.name == name && e.skipped.is_none())
    }

    /// Why a row was not measured, if it was asked for and skipped.
    fn skipped(&self, name: &str) -> Option<&'a str> {
        self.run
            .environments
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.skipped.as_deref())
    }

    /// The first measured row of `names`.
    fn first(&self, names: &[&str]) -> Option<&'a EnvResult> {
        names.iter().find_map(|n| self.env(n))
    }

    /// Measured rows whose name starts with `prefix`.
    fn rows(&self, prefix: &str) -> Vec<&'a EnvResult> {
        self.run
            .environments
            .iter()
            .filter(|e| e.skipped.is_none() && e.name.starts_with(prefix))
            .collect()
    }

    /// `workload`'s rate relative to native, with the interval the two
    /// medians' confidence intervals allow: from this row's lowest to
    /// native's highest, and the other way round.
    fn ratio(&self, env: &EnvResult, workload: &str) -> Option<(f64, f64, f64)> {
        let stats = |e: &'a EnvResult| {
            e.throughput
                .iter()
                .find(|t| t.workload == workload)
                .map(|t| &t.rate.stats)
        };
        let t = env.throughput.iter().find(|t| t.workload == workload)?;
        let ratio = t.ratio_to_native.filter(|r| r.is_finite())?;
        let own = &t.rate.stats;
        let (lo, hi) = match self.env("native").and_then(stats) {
            Some(n) if n.median_ci_low > 0.0 && own.median_ci_low > 0.0 => (
                own.median_ci_low / n.median_ci_high,
                own.median_ci_high / n.median_ci_low,
            ),
            _ => (ratio, ratio),
        };
        let ok = |v: f64| v.is_finite();
        Some(if ok(lo) && ok(hi) {
            (ratio, lo, hi)
        } else {
            (ratio, ratio, ratio)
        })
    }

    /// True when `workload` runs at native speed in `env`: the ratio is
    /// within 5 % of 1, or the run's confidence interval for it holds 1.
    fn native_speed(&self, env: &EnvResult, workload: &str) -> Option<bool> {
        self.ratio(env, workload)
            .map(|(r, lo, hi)| (r - 1.0).abs() <= MIN_DIFFERENCE || (lo <= 1.0 && 1.0 <= hi))
    }

    /// True when `workload` runs slower in `env` than natively: below 1 by
    /// more than 5 %, and the confidence interval is below 1 too (a row
    /// that came out *faster* than native is not slower).
    fn slower(&self, env: &EnvResult, workload: &str) -> Option<bool> {
        self.ratio(env, workload)
            .map(|(r, _, hi)| r < 1.0 - MIN_DIFFERENCE && hi < 1.0)
    }

    /// "container:full syscall: 1.02x native [0.97x – 1.08x], the same".
    fn ratio_text(&self, env: &EnvResult, workload: &str) -> String {
        match (self.ratio(env, workload), self.native_speed(env, workload)) {
            (Some((r, lo, hi)), Some(same)) => format!(
                "{} {}: {}x native [{}x – {}x], {}",
                env.name,
                workload,
                num(r),
                num(lo),
                num(hi),
                if same { "the same" } else { "not the same" },
            ),
            _ => format!("{} {}: not measured", env.name, workload),
        }
    }

    /// Median time to READY, seconds.
    fn ready(&self, env: &EnvResult) -> Option<f64> {
        env.startup
            .as_ref()
            .map(|s| s.ready.stats.median)
            .filter(|v| v.is_finite())
    }

    fn ready_text(&self, env: &EnvResult) -> String {
        match self.ready(env) {
            Some(s) => format!("{} READY {}", env.name, time(s)),
            None => format!("{} READY not measured", env.name),
        }
    }

    /// A phase's median, seconds.
    fn phase(&self, env: &EnvResult, name: &str) -> Option<f64> {
        env.startup
            .as_ref()?
            .phases
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.time.stats.median)
            .filter(|v| v.is_finite())
    }

    /// Memory overhead over native, bytes.
    fn overhead(&self, env: &EnvResult) -> Option<f64> {
        env.memory
            .as_ref()?
            .overhead_vs_native_bytes
            .filter(|v| v.is_finite())
    }

    /// A memory component's median, bytes.
    fn component(&self, env: &EnvResult, name: &str) -> Option<f64> {
        env.memory
            .as_ref()?
            .components
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.bytes.stats.median)
            .filter(|v| v.is_finite())
    }

    /// What a shell inside `env` answered, when it answered.
    fn identity(&self, env: &str) -> Option<&'a Identity> {
        self.run
            .identities
            .iter()
            .find(|i| i.env == env && i.error.is_none())
    }

    /// The host's own view: native's answer, else the recorded host kernel.
    fn host_kernel(&self) -> (&'a str, Option<&'a str>) {
        match self.identity("native") {
            Some(i) => (
                i.kernel_release.as_deref().unwrap_or(&self.run.host.kernel),
                i.boot_id.as_deref(),
            ),
            None => (&self.run.host.kernel, None),
        }
    }

    /// The container row the rules look at: ours with every namespace
    /// first, then any container, then a peer runtime.
    fn container(&self) -> Option<&'a EnvResult> {
        self.first(&[
            "container:full",
            "container:chroot+cgroup",
            "container:chroot",
        ])
        .or_else(|| self.first(&["peer:crun", "peer:runc", "peer:bwrap"]))
    }

    /// The VM rows, with a kernel (Linux guests) first.
    fn vms(&self) -> Vec<&'a EnvResult> {
        let mut v = self.rows("vm-linux");
        v.extend(self.rows("vm-bare"));
        v
    }
}

/// Seconds as text in a unit that fits.
fn time(s: f64) -> String {
    let unit = TimeUnit::pick([s]);
    format!("{} {}", num(unit.of(s)), unit.symbol())
}

/// Bytes as text, signed.
fn signed_bytes(b: f64) -> String {
    if b < 0.0 {
        format!("−{}", bytes(-b))
    } else {
        format!("+{}", bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn parts_make_verdicts() {
        assert_eq!(Verdict::of_parts(&[Some(true), Some(true)]), Verdict::True);
        assert_eq!(
            Verdict::of_parts(&[Some(true), Some(false)]),
            Verdict::HalfTrue
        );
        assert_eq!(
            Verdict::of_parts(&[Some(false), Some(false)]),
            Verdict::False
        );
        assert_eq!(Verdict::of_parts(&[None, None]), Verdict::NotTested);
        // One part untested: the tested one cannot decide the whole.
        assert_eq!(Verdict::of_parts(&[Some(true), None]), Verdict::NotTested);
        assert_eq!(Verdict::of_parts(&[Some(false), None]), Verdict::NotTested);
    }
}
