//! `vmvc trace ENV`: one launch narrated, system call by system call.
//!
//! The startup phases of the report say how long each step took; this says
//! what the steps *are*. vmvc re-runs itself under strace(1) in a hidden
//! mode ([`target`]) that makes one launch of ENV, and prints every call that
//! builds, enters or tears down the environment, with its time since t0, the
//! time spent in it, and one line on what it does with where to read more
//! ([`explain`]): `clone3(CLONE_NEWNET…)` for a container, each KVM ioctl and
//! each VM exit (`KVM_RUN` and its exit reason) for a VM. The idea is
//! LWN's "Using the KVM API" and kvm-hello-world, but measured.
//!
//! strace stops the traced process at every system call, so the gaps between
//! calls are far longer than in `vmvc run`; the time *inside* each call
//! (strace's `-T`) is the kernel's own work and is what to compare.

pub mod explain;
pub mod strace;
pub mod target;

use anyhow::{bail, Context};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use strace::Call;

/// strace on PATH, or how to get it.
fn strace_exe() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())
        .context("`vmvc trace` needs strace: install it (Debian/Ubuntu: apt-get install strace; scripts/setup.sh does)")
}

/// Traces one launch of `env` and returns the narration.
pub fn narrate(env: &str) -> anyhow::Result<String> {
    let strace = strace_exe()?;
    let me = std::env::current_exe().context("finding the vmvc executable to trace")?;
    let dir = tempfile::tempdir().context("a temporary directory for strace's log")?;
    let log = dir.path().join("strace.log");
    let out = Command::new(&strace)
        .args(["-f", "-tt", "-T", "-y", "-qq", "--kvm=vcpu", "-o"])
        .arg(&log)
        .arg("--")
        .arg(&me)
        .args([target::SUBCOMMAND, env])
        .output()
        .with_context(|| format!("starting {}", strace.display()))?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let why: Vec<&str> = said
            .lines()
            .filter(|l| !l.starts_with("vmvc-trace:"))
            .collect();
        bail!("tracing one launch of {env} failed: {}", why.join("; "));
    }
    let text = std::fs::read_to_string(&log).context("reading strace's log")?;
    let calls = strace::parse(&text);
    render(env, &calls)
}

/// The index of the call that wrote `marker` to stderr.
fn find_marker(calls: &[Call], marker: &str) -> Option<usize> {
    calls
        .iter()
        .position(|c| c.name == "write" && c.args.contains(marker))
}

/// The narration of the calls between the t0 and the end markers.
fn render(env: &str, calls: &[Call]) -> anyhow::Result<String> {
    let (Some(t0), Some(end)) = (
        find_marker(calls, target::T0),
        find_marker(calls, target::END),
    ) else {
        bail!("strace's log has no launch markers: the traced launch did not run");
    };
    let ready = find_marker(calls, target::READY);
    let start = calls[t0].at;
    let launcher = calls[t0].pid;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vmvc trace {env}: one launch, the system calls that make it (under strace: the time inside each call is the kernel's; the gaps between calls are stretched by tracing)\n"
    );
    let _ = writeln!(
        out,
        "{:>11} {:>10}  call, and what it does",
        "since t0", "in call"
    );
    let mut others = 0usize;
    let mut narrated = 0usize;
    let mut skip_to = 0;
    for (i, c) in calls.iter().enumerate().take(end).skip(t0 + 1) {
        if i < skip_to {
            continue;
        }
        if Some(i) == ready {
            flush_others(&mut out, &mut others);
            let _ = writeln!(
                out,
                "{:>11} {:>10}  ── READY: the workload said it is running",
                ms(c.at - start),
                ""
            );
            continue;
        }
        let Some(step) = explain::explain(c) else {
            others += 1;
            continue;
        };
        flush_others(&mut out, &mut others);
        narrated += 1;
        let who = if c.pid == launcher {
            String::new()
        } else {
            format!("[pid {}] ", c.pid)
        };
        // A streak stops at the READY marker, to keep it in its place.
        let stop = ready.filter(|r| *r > i).unwrap_or(end);
        let streak = kvm_run_streak(calls, i, stop);
        if streak.len() >= STREAK {
            // A Linux guest's boot is hundreds of exits alike: one line.
            skip_to = i + streak.len();
            narrated += streak.len() - 1;
            let inside: f64 = streak.iter().filter_map(|c| c.took).sum();
            let longest = streak.iter().filter_map(|c| c.took).fold(0.0, f64::max);
            let _ = writeln!(
                out,
                "{:>11} {:>10}  {who}{} × {} in a row (longest {})\n{:>23}{}; the guest's own work runs inside these calls ({})",
                ms(c.at - start),
                ms_plain(inside),
                short(c),
                streak.len(),
                ms_plain(longest),
                "",
                step.what,
                step.source
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{:>11} {:>10}  {who}{}\n{:>23}{} ({})",
            ms(c.at - start),
            c.took.map_or("—".to_owned(), ms_plain),
            short(c),
            "",
            step.what,
            step.source
        );
    }
    flush_others(&mut out, &mut others);
    let _ = writeln!(
        out,
        "{:>11} {:>10}  ── torn down: everything the launch made is gone\n\n{narrated} calls narrated, from t0 to torn down.",
        ms(calls[end].at - start),
        ""
    );
    Ok(out)
}

/// How many KVM_RUN calls alike (one after another, same thread, same exit
/// reason) are folded into one line.
const STREAK: usize = 6;

/// The KVM_RUN calls alike starting at `i` (before `stop`): empty unless
/// `calls[i]` is one.
fn kvm_run_streak(calls: &[Call], i: usize, stop: usize) -> &[Call] {
    let first = &calls[i];
    if first.name != "ioctl" || !first.args.contains("KVM_RUN") {
        return &[];
    }
    let n = calls[i..stop.max(i)]
        .iter()
        .take_while(|c| {
            c.pid == first.pid
                && c.name == "ioctl"
                && c.args.contains("KVM_RUN")
                && c.result == first.result
        })
        .count();
    &calls[i..i + n]
}

fn flush_others(out: &mut String, others: &mut usize) {
    if *others > 0 {
        let _ = writeln!(
            out,
            "{:>23}… {} other call(s): memory, vmvc's own files and bookkeeping",
            "", others
        );
        *others = 0;
    }
}

/// `+1.234 ms`
fn ms(s: f64) -> String {
    format!("+{:.3} ms", s * 1e3)
}

/// `0.219 ms`
fn ms_plain(s: f64) -> String {
    format!("{:.3} ms", s * 1e3)
}

/// The call, short: `ioctl(KVM_CREATE_VM)`, `mkdir(/sys/fs/cgroup/…)`, `clone3(CLONE_NEWNS|…)`.
fn short(c: &Call) -> String {
    let arg = |n: usize| c.args.split(", ").nth(n).unwrap_or("").to_owned();
    let body = match c.name.as_str() {
        "ioctl" => arg(1),
        "mount" | "openat" => arg(1),
        "clone3" => c
            .args
            .split("flags=")
            .nth(1)
            .and_then(|f| f.split(',').next())
            .unwrap_or("")
            .to_owned(),
        _ => arg(0),
    };
    let body: String = body.chars().take(90).collect();
    let result = match c.result.as_str() {
        r if r.starts_with("-1") => format!(" = {r}"),
        _ => String::new(),
    };
    format!("{}({body}){result}", c.name)
}
