//! The short table `vmvc run` prints.

use reports::{EnvResult, Results};
use std::fmt::Write;

/// Seconds in a readable unit.
pub fn fmt_time(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// Bytes in MiB (signed, for overheads).
pub fn fmt_mib(b: f64) -> String {
    if b.is_finite() {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else {
        "-".into()
    }
}

fn ready(e: &EnvResult) -> String {
    match &e.startup {
        Some(s) => format!(
            "{} [{} – {}]",
            fmt_time(s.ready.stats.median),
            fmt_time(s.ready.stats.p5),
            fmt_time(s.ready.stats.p95)
        ),
        None => "-".into(),
    }
}

fn ratio(e: &EnvResult, w: &str) -> String {
    e.throughput
        .iter()
        .find(|t| t.workload == w)
        .and_then(|t| t.ratio_to_native)
        .map_or("-".into(), |r| {
            // Two significant digits below 0.1: a VM's emulated syscall at
            // 0.003x must not print as 0.00x.
            if r > 0.0 && r < 0.1 {
                let decimals = (-r.log10()).ceil() as usize + 1;
                format!("{r:.decimals$}x")
            } else {
                format!("{r:.2}x")
            }
        })
}

/// One line per environment: time to READY (median [p5 – p95]), memory per
/// instance and its overhead over native, throughput relative to native.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let workloads = ["cpu", "mem_bw", "random_access", "syscall", "boundary"];
    // As wide as the longest measured name (rootless rows are long).
    let w = r
        .environments
        .iter()
        .filter(|e| e.skipped.is_none())
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(22);
    let _ = writeln!(
        out,
        "{:<w$} {:>30} {:>11} {:>11} {}",
        "environment",
        "READY median [p5 – p95]",
        "memory",
        "overhead",
        workloads.map(|w| format!("{w:>15}")).join("")
    );
    for e in &r.environments {
        if let Some(why) = &e.skipped {
            let _ = writeln!(out, "{:<w$} not measured: {why}", e.name);
            continue;
        }
        let (mem, over) = match &e.memory {
            Some(m) => (
                fmt_mib(m.total.stats.median),
                m.overhead_vs_native_bytes
                    .map_or("-".into(), |o| format!("{:+.2}", o / 1048576.0)),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            out,
            "{:<w$} {:>30} {:>11} {:>11} {}",
            e.name,
            ready(e),
            mem,
            over,
            workloads.map(|w| format!("{:>15}", ratio(e, w))).join("")
        );
    }
    let _ = writeln!(
        out,
        "throughput columns: median rate relative to native in this run (1.00x = same speed); overhead in MiB"
    );
    if !r.concurrent_runs.is_empty() {
        let _ = writeln!(
            out,
            "warning: {}",
            reports::concurrent_warning(&r.concurrent_runs)
        );
    }
    let claims = reports::claims::evaluate(r);
    if !claims.is_empty() {
        let _ = writeln!(
            out,
            "\nthe claims, checked against this run (why: the report's first section)"
        );
        for c in claims {
            let _ = writeln!(out, "{:>3}. {:<16} {}", c.no, c.verdict.as_str(), c.english);
        }
    }
    out
}
