//! `vmvc run`: every experiment for every environment asked for, into one
//! `results.json` and one `report.html`.

use crate::env::{self, Environment};
use crate::experiment::{self, Plan};
use crate::interrupt;
use crate::leftovers::registry;
use crate::output::{prepare_out_dir, write_outputs};
use crate::workload_exe::WorkloadExe;
use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use reports::{EnvResult, Results, WorkloadBuild, SCHEMA_VERSION};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

/// What `vmvc run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Environment names (see `env::KNOWN`); empty means all.
    pub envs: Vec<String>,
    pub quick: bool,
    /// Output folder; `None` means `results/<run-id>/`.
    pub out: Option<PathBuf>,
    /// No progress bars.
    pub quiet: bool,
    /// Pin this process and every instance it starts to these CPUs.
    pub pin: Option<Vec<usize>>,
    /// `--kernel PATH`: the guest kernel for `vm-linux`.
    pub kernel: Option<PathBuf>,
    /// `--kernel-cmdline`: the Linux guest's command line instead of bench-vm's default.
    pub kernel_cmdline: Option<String>,
    /// `--force`: attempt environments this host is known not to support.
    pub force: bool,
    /// The `vmvc` binary for `vm-bare:process` and `vm-linux:process` when this process is not
    /// vmvc (the benchmark suite) [default: this executable].
    pub vmvc_exe: Option<PathBuf>,
    /// `--firecracker PATH`, `--cloud-hypervisor PATH`: VM peers' binaries
    /// [default: found on PATH].
    pub firecracker: Option<PathBuf>,
    pub cloud_hypervisor: Option<PathBuf>,
}

/// Where the run's files went.
pub struct RunOutput {
    pub results: Results,
    pub dir: PathBuf,
    pub json: PathBuf,
    pub html: PathBuf,
    /// Environments that failed while being measured (not those skipped as unavailable).
    pub failed: Vec<String>,
}

/// `2026-11-28T08-30-00Z`: an RFC 3339 time that is also a portable folder name.
pub fn run_id(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(':', "-")
}

/// Runs the suite. Fails early (before measuring) on bad names or an
/// unwritable output folder.
pub fn run(opts: &RunOptions) -> anyhow::Result<RunOutput> {
    let started = SystemTime::now();
    let wall = Instant::now();
    let id = run_id(started);
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&id));

    let names: Vec<String> = if opts.envs.is_empty() {
        env::KNOWN.iter().map(|s| s.to_string()).collect()
    } else {
        opts.envs.clone()
    };
    check_names(&names)?;
    // What SIGKILLed runs left: removed now, and said (live runs are not touched).
    for line in crate::leftovers::clean_dead().lines() {
        eprintln!("vmvc: {line}");
    }
    let exe = WorkloadExe::install()?;
    let quiet = opts.quiet;
    let say = move |m: &str| {
        if !quiet {
            eprintln!("vmvc: {m}");
        }
    };
    let cx = env::Context {
        exe: &exe,
        kernel: opts.kernel.clone(),
        kernel_cmdline: opts.kernel_cmdline.clone(),
        force: opts.force,
        say: &say,
        vmvc_exe: opts.vmvc_exe.clone(),
        firecracker: opts.firecracker.clone(),
        cloud_hypervisor: opts.cloud_hypervisor.clone(),
    };
    let explicit = !opts.envs.is_empty();
    let mut envs: Vec<Box<dyn Environment>> = Vec::new();
    for n in &names {
        envs.push(env::by_name(n, &cx, explicit)?);
    }
    if !names.iter().any(|n| n == "native") {
        // Every ratio is to native measured in the same run.
        envs.insert(0, env::by_name("native", &cx, true)?);
    }
    prepare_out_dir(&dir)?;
    let _registered = registry::Registration::new(&dir)?;

    if let Some(cpus) = &opts.pin {
        pin_to(cpus)?;
    }
    // Started after pinning, so that it shares the run's CPU.
    let watch = registry::Watch::start();
    let host = crate::host::detect();
    let plan = Plan::new(opts.quick);
    let multi = MultiProgress::with_draw_target(if opts.quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let style = ProgressStyle::with_template(
        "{prefix:>22} {msg:<11} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");

    let mut results = Vec::new();
    let mut failed = Vec::new();
    for env in envs.iter_mut() {
        interrupt::check()?;
        let name = labelled_name(env.as_ref());
        let mut r = EnvResult {
            name: name.clone(),
            description: env.description(),
            rootless: env.rootless(),
            skipped: None,
            startup: None,
            memory: None,
            throughput: Vec::new(),
            notes: env.notes(),
            density: Vec::new(),
        };
        if let Some(why) = env.unavailable(&host) {
            if !opts.quiet {
                eprintln!("{name:>22} skipped: {why}");
            }
            r.skipped = Some(why);
            results.push(r);
            continue;
        }
        let steps: u64 = experiment::steps(&plan).iter().sum();
        let bar = multi.add(ProgressBar::new(steps));
        bar.set_style(style.clone());
        bar.set_prefix(name.clone());
        let outcome = (|| -> anyhow::Result<()> {
            bar.set_message("startup");
            r.startup = Some(experiment::startup(env.as_mut(), &plan, &bar).context("startup")?);
            bar.set_message("memory");
            r.memory = Some(experiment::memory(env.as_mut(), &plan, &bar).context("memory")?);
            bar.set_message("density");
            r.density = experiment::density(env.as_mut(), &plan, &bar).context("density")?;
            Ok(())
        })();
        bar.finish_with_message(if outcome.is_ok() { "done" } else { "FAILED" });
        // A launch cut short by Ctrl-C is no failure of the environment.
        interrupt::check()?;
        if let Err(e) = outcome {
            let msg = format!("{e:#}");
            let _ = multi.println(format!("{name}: measurement failed: {msg}"));
            r.skipped = Some(format!("measurement failed: {msg}"));
            failed.push(name);
        }
        results.push(r);
    }

    // Throughput for every environment measured so far, interleaved.
    let measured: Vec<usize> = (0..results.len())
        .filter(|i| results[*i].skipped.is_none())
        .collect();
    if !measured.is_empty() {
        let bar = multi.add(ProgressBar::new(experiment::throughput_steps(
            &plan,
            measured.len(),
        )));
        bar.set_style(style.clone());
        bar.set_prefix("all, interleaved");
        bar.set_message("throughput");
        let mut contenders: Vec<experiment::Contender> = measured
            .iter()
            .map(|i| experiment::Contender::launch(envs[*i].as_mut()))
            .collect();
        experiment::throughput(&mut contenders, &plan, host.tsc_hz, &bar);
        interrupt::check()?;
        bar.finish_with_message("done");
        for (i, c) in measured.into_iter().zip(contenders) {
            let name = c.name.clone();
            results[i]
                .notes
                .extend(c.scaled.iter().map(|m| format!("Throughput: {m}.")));
            match c.finish() {
                Ok(t) => results[i].throughput = t,
                Err(e) => {
                    let msg = format!("throughput failed: {e:#}");
                    let _ = multi.println(format!("{name}: {msg}"));
                    results[i].notes.push(msg);
                    failed.push(name);
                }
            }
        }
    }
    relate_to_native(&mut results);
    say("asking inside each environment which kernel it runs on (the report's claims)");
    let identities = ask_identities(&results);
    interrupt::check()?;
    let concurrent_runs = concurrent(watch.finish());

    let results = Results {
        schema_version: SCHEMA_VERSION,
        run_id: id,
        started_at: humantime::format_rfc3339_seconds(started).to_string(),
        wall_time_s: wall.elapsed().as_secs_f64(),
        vmvc_version: env!("CARGO_PKG_VERSION").into(),
        quick: opts.quick,
        pinned_cpus: opts.pin.clone(),
        host,
        workload: WorkloadBuild {
            linux_binary_bytes: exe.size,
            linux_binary_fnv64: format!("{:016x}", exe.fnv64),
            guest_image_bytes: None,
            parameters: plan.parameters(),
        },
        guest_kernel: envs.iter().find_map(|e| e.guest_kernel()),
        environments: results,
        identities,
        concurrent_runs,
    };
    let (json, html) = write_outputs(&results, &dir)?;
    Ok(RunOutput {
        results,
        dir,
        json,
        html,
        failed,
    })
}

/// Other runs seen during this one, for the results.
fn concurrent(seen: Vec<registry::OtherRun>) -> Vec<reports::ConcurrentRun> {
    seen.into_iter()
        .map(|o| reports::ConcurrentRun {
            pid: o.pid,
            out: (!o.out.is_empty()).then_some(o.out),
        })
        .collect()
}

/// The direct demonstrations of the claims section: for every measured
/// row that a shell can be started in (native, our containers), what
/// `uname -r`, the boot id, the hostname and the pid are inside; for a bare
/// VM, that nothing in it can answer.
fn ask_identities(results: &[EnvResult]) -> Vec<reports::Identity> {
    results
        .iter()
        .filter(|r| r.skipped.is_none())
        .filter_map(|r| {
            let name = r.name.as_str();
            if name == "native" {
                Some(crate::identity::native())
            } else if let Some(p) = name.strip_prefix("container:") {
                bench_container::Profile::from_name(p).map(crate::identity::container)
            } else if name.starts_with("vm-bare")
                || ["peer:qemu", "peer:firecracker", "peer:cloud-hypervisor"].contains(&name)
            {
                // The bare guest, under our VMM or another one.
                Some(crate::identity::bare_vm(name))
            } else {
                None
            }
        })
        .collect()
}

/// The row's name: the environment's, with ` (rootless)` when it runs in
/// user namespaces, so that no reader takes it for the root row.
pub fn labelled_name(env: &dyn Environment) -> String {
    match env.rootless() {
        true => format!("{} (rootless)", env.name()),
        false => env.name(),
    }
}

/// Fills in ratios and overheads relative to `native` from the same run.
pub fn relate_to_native(envs: &mut [EnvResult]) {
    let Some(native) = envs.iter().find(|e| e.name == "native").cloned() else {
        return;
    };
    let native_mem = native.memory.as_ref().map(|m| m.total.stats.median);
    for e in envs.iter_mut() {
        for t in e.throughput.iter_mut() {
            let base = native
                .throughput
                .iter()
                .find(|n| n.workload == t.workload)
                .map(|n| n.rate.stats.median);
            if let Some(base) = base.filter(|b| *b > 0.0) {
                t.ratio_to_native = Some(t.rate.stats.median / base);
            }
        }
        if e.name != "native" {
            if let (Some(m), Some(base)) = (e.memory.as_mut(), native_mem) {
                m.overhead_vs_native_bytes = Some(m.total.stats.median - base);
            }
        }
    }
}

/// Refuses an `--env` list with duplicates.
pub fn check_names(names: &[String]) -> anyhow::Result<()> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            bail!("environment {n:?} given twice");
        }
    }
    Ok(())
}

/// Restricts this process (and so every child and vCPU thread it creates
/// later) to `cpus`: less migration noise, at the price of sharing cores.
pub fn pin_to(cpus: &[usize]) -> anyhow::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c)
            .with_context(|| format!("CPU {c} is beyond what this system supports"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("pinning to CPUs {cpus:?} (are they online?)"))
}

/// The default pinning: the last CPU this process may run on. With the
/// launcher and the workload on one core, a `boundary` round trip costs two
/// context switches in every environment; unpinned, it depends on where the
/// scheduler happened to put each process (measured on the project's
/// machine: 11 µs or 45 µs for the same socket round trip).
pub fn default_pin() -> Option<Vec<usize>> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    (0..nix::sched::CpuSet::count())
        .rev()
        .find(|c| set.is_set(*c).unwrap_or(false))
        .map(|c| vec![c])
}

/// CPUs a `cpu_set_t` holds (`CPU_SETSIZE`, sched_setaffinity(2)).
const MAX_CPUS: usize = 1024;

/// Parses a CPU list like `0`, `0,2` or `0-3`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.starts_with('-') {
            return Err(format!("{part:?}: CPU numbers are 0 or more"));
        }
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("{t:?} is not a CPU number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                // Bounded before the range is expanded (a huge range once
                // made vmvc try to allocate 800 GB): no kernel has more.
                if b >= MAX_CPUS {
                    return Err(format!(
                        "CPU {b} is beyond the {MAX_CPUS} CPUs a CPU set holds"
                    ));
                }
                if a > b {
                    return Err(format!("empty CPU range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => match num(part)? {
                c if c >= MAX_CPUS => {
                    return Err(format!(
                        "CPU {c} is beyond the {MAX_CPUS} CPUs a CPU set holds"
                    ))
                }
                c => out.push(c),
            },
        }
    }
    if out.is_empty() {
        return Err("no CPU given".into());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Ok(vec![0]));
        assert_eq!(parse_cpu_list("2,0-1,1"), Ok(vec![0, 1, 2]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("0-99999999999").is_err());
        assert!(parse_cpu_list("1024").is_err());
    }

    #[test]
    fn run_ids_are_folder_names() {
        let id = run_id(std::time::UNIX_EPOCH);
        assert_eq!(id, "1970-01-01T00-00-00Z");
    }
}
