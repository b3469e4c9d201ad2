//! `vmvc stress`: many launches across every environment this host can
//! run, with faults mixed in, and the leftovers counted.
//!
//! Launch *i* goes to environment *i mod E* (round robin). A fraction of
//! launches get a fault ([`fault`]): the instance's processes or its VMM
//! SIGKILLed at a random point, or an OOM in a memory-limited container.
//! A clean launch runs one small workload and is torn down. Every
//! `check_every` launches, and at the end, every environment is dropped (so
//! that what they share, like a runtime's cgroup or a rootfs, is released
//! too) and the [`crate::leftovers`] census of this process is taken: every
//! kind must be 0. Then the environments are built again.
//!
//! This is the "1,000 launches with faults mixed in": `vmvc stress
//! --launches 1000` (as root, on a host with KVM, for every row).

pub mod fault;

use crate::env::{self, Environment};
use crate::leftovers::{self, Census, Scope};
use anyhow::Context;
use bench_container::owner::Owner;
use fault::{Fault, Killer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// The rows a stress run uses when available (in-process, process, container
/// and peer kinds, warm and restored starts).
pub const DEFAULT_ENVS: &[&str] = &[
    "native",
    "container:chroot",
    "container:chroot+cgroup",
    "container:full",
    "container:warm",
    "vm-bare",
    "vm-bare:process",
    "vm-bare:warm",
    "vm-bare:restored",
    "peer:crun",
    "peer:runc",
    "peer:bwrap",
    "peer:qemu",
];

/// The OOM fault's row in the counts.
const OOM_ROW: &str = "container:full (32 MiB limit, OOM)";

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What `vmvc stress` was asked to do.
#[derive(Debug, Clone)]
pub struct StressOptions {
    pub launches: usize,
    /// Share of launches that get a fault, 0.0–1.0.
    pub fault_rate: f64,
    /// Take the leftover census (with every environment dropped) this often.
    pub check_every: usize,
    /// The random seed (printed, to replay a run).
    pub seed: u64,
    /// Environments; empty means [`DEFAULT_ENVS`] where available.
    pub envs: Vec<String>,
}

/// What a stress run did and found.
#[derive(Debug, Default)]
pub struct StressReport {
    pub seed: u64,
    pub launches: BTreeMap<String, usize>,
    pub faults: BTreeMap<&'static str, usize>,
    /// Faults that surfaced as an error of the launch, a request or the
    /// teardown (the rest landed when nothing was left to break).
    pub fault_errors: usize,
    /// OOM faults whose error named the OOM killer.
    pub oom_named: usize,
    /// Processes the kill faults SIGKILLed.
    pub killed: usize,
    /// Kill faults that made the launch itself fail (landed before READY).
    pub mid_launch: usize,
    /// Clean launches that failed: must be 0.
    pub unexpected: Vec<String>,
    /// Leftovers over every census, by kind.
    pub leftovers: Census,
    pub censuses: usize,
    pub skipped: Vec<String>,
    pub wall: Duration,
}

impl StressReport {
    pub fn total_launches(&self) -> usize {
        self.launches.values().sum()
    }

    /// The summary `vmvc stress` prints.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} launches in {:.1} s (seed {})\n",
            self.total_launches(),
            self.wall.as_secs_f64(),
            self.seed
        );
        s += "launches per environment:\n";
        for (e, n) in &self.launches {
            s += &format!("  {e:<24} {n}\n");
        }
        for why in &self.skipped {
            s += &format!("  skipped: {why}\n");
        }
        let faults: usize = self.faults.values().sum();
        s += &format!("faults injected: {faults}");
        for (k, n) in &self.faults {
            s += &format!(", {k} {n}");
        }
        s += &format!(
            "\n  processes SIGKILLed: {}; launches that failed because of it (killed before READY): {}\n  \
             faults that surfaced as an error (launch, request or teardown): {}; OOM named by the error: {} of {}\n",
            self.killed,
            self.mid_launch,
            self.fault_errors,
            self.oom_named,
            self.faults.get("oom").copied().unwrap_or(0)
        );
        s += &format!("clean launches that failed: {}\n", self.unexpected.len());
        for e in self.unexpected.iter().take(10) {
            s += &format!("  {e}\n");
        }
        s += &format!(
            "leftovers over {} censuses: {}\n",
            self.censuses,
            self.leftovers.all_kinds()
        );
        for f in self.leftovers.found.iter().take(20) {
            s += &format!("  {f}\n");
        }
        s
    }
}

/// Builds the environments that can run here.
fn build(
    names: &[String],
    cx: &env::Context,
    host: &reports::Host,
    skipped: &mut Vec<String>,
) -> anyhow::Result<Vec<Box<dyn Environment>>> {
    let mut out = Vec::new();
    for n in names {
        let e = env::by_name(n, cx, true)?;
        match e.unavailable(host) {
            Some(why) => {
                if !skipped.iter().any(|s| s.starts_with(n.as_str())) {
                    skipped.push(format!("{n}: {why}"));
                }
            }
            None => out.push(e),
        }
    }
    Ok(out)
}

/// The OOM fault's environment: `container:full` held to [`fault::OOM_LIMIT`].
fn oom_env(cx: &env::Context, host: &reports::Host) -> Option<env::container::ContainerEnv> {
    let e = env::container::ContainerEnv::new("full", cx.exe.path().to_owned()).ok()?;
    e.unavailable(host)
        .is_none()
        .then(|| e.with_memory_limit(fault::OOM_LIMIT))
}

/// `vmvc stress`: checks the options, runs, prints the counts; exit code 1
/// if anything was left or a clean launch failed. Seed 0: from the clock.
pub fn cli(mut opts: StressOptions) -> anyhow::Result<i32> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.fault_rate),
        "--fault-rate {} is not between 0 and 1",
        opts.fault_rate
    );
    if opts.seed == 0 {
        opts.seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    let r = run(&opts, &|m| eprintln!("vmvc: {m}"))?;
    print!("{}", r.render());
    Ok(i32::from(
        r.leftovers.total() > 0 || !r.unexpected.is_empty(),
    ))
}

/// Runs the stress test (see the module docs).
pub fn run(opts: &StressOptions, say: &dyn Fn(&str)) -> anyhow::Result<StressReport> {
    let wall = Instant::now();
    let me = Owner::current();
    let exe = crate::workload_exe::WorkloadExe::install()?;
    let cx = env::Context::plain(&exe);
    let host = crate::host::detect();
    let names: Vec<String> = match opts.envs.is_empty() {
        true => DEFAULT_ENVS.iter().map(|s| s.to_string()).collect(),
        false => opts.envs.clone(),
    };
    let mut report = StressReport {
        seed: opts.seed,
        ..StressReport::default()
    };
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut envs = build(&names, &cx, &host, &mut report.skipped)?;
    anyhow::ensure!(!envs.is_empty(), "no environment can run here");
    let mut oom = oom_env(&cx, &host);
    // A typical launch time per environment, for where to aim the kills.
    let mut typical: BTreeMap<String, Duration> = BTreeMap::new();
    for i in 0..opts.launches {
        crate::interrupt::check()?;
        let n_envs = envs.len();
        let e = &mut envs[i % n_envs];
        let name = e.name();
        let want_fault = rng.f64() < opts.fault_rate;
        let fault = match (want_fault, Fault::kill_for(&name)) {
            (false, _) => None,
            (true, kill) if name.starts_with("container:") && oom.is_some() && rng.bool() => {
                kill.map(|_| Fault::Oom)
            }
            (true, kill) => kill,
        };
        let row = match fault {
            Some(Fault::Oom) => OOM_ROW.to_owned(),
            _ => name.clone(),
        };
        *report.launches.entry(row).or_default() += 1;
        match fault {
            None => {
                let t = Instant::now();
                if let Err(err) = clean_launch(e.as_mut()) {
                    report.unexpected.push(format!("{name}: {err:#}"));
                }
                typical.entry(name).or_insert(t.elapsed());
            }
            Some(f) => {
                *report.faults.entry(f.name()).or_default() += 1;
                let outcome = match (f, oom.as_mut()) {
                    (Fault::Oom, Some(oom)) => oom_launch(oom),
                    _ => {
                        let aim = typical
                            .get(&name)
                            .copied()
                            .unwrap_or(Duration::from_millis(5));
                        let delay = aim.mul_f64(rng.f64() * 1.5);
                        killed_launch(e.as_mut(), delay, &mut report)
                    }
                };
                if let Err(err) = outcome {
                    report.fault_errors += 1;
                    if f == Fault::Oom && format!("{err:#}").contains("OOM killer") {
                        report.oom_named += 1;
                    }
                }
            }
        }
        let last = i + 1 == opts.launches;
        if last || (i + 1) % opts.check_every.max(1) == 0 {
            // Everything dropped: what is left now is a leak.
            envs.clear();
            oom = None;
            let c = leftovers::census(Scope::Run(me));
            report.censuses += 1;
            if c.total() > 0 {
                say(&format!("after launch {}: leftovers: {c}", i + 1));
            }
            report.leftovers.merge(&c);
            if !last {
                envs = build(&names, &cx, &host, &mut report.skipped)?;
                oom = oom_env(&cx, &host);
                say(&format!(
                    "{} launches, leftovers so far: {}",
                    i + 1,
                    report.leftovers
                ));
            }
        }
    }
    report.wall = wall.elapsed();
    Ok(report)
}

/// A clean launch: READY, one small workload, teardown.
fn clean_launch(e: &mut dyn Environment) -> anyhow::Result<()> {
    let mut inst = e.launch().context("launch")?;
    let cmd = Command::Run {
        workload: Workload::Cpu as u8,
        size: 0,
        iterations: 10_000,
    };
    match inst.request(cmd, REQUEST_TIMEOUT)? {
        Message::Result { .. } => {}
        other => anyhow::bail!("{}", crate::experiment::describe(other)),
    }
    inst.teardown().context("teardown")?;
    Ok(())
}

/// A launch whose processes a [`Killer`] SIGKILLs after `delay`; the error
/// it met, if any (expected).
fn killed_launch(
    e: &mut dyn Environment,
    delay: Duration,
    report: &mut StressReport,
) -> anyhow::Result<()> {
    let killer = Killer::arm(delay);
    let launched = e.launch();
    let mut inst = match launched {
        Ok(inst) => inst,
        Err(err) => {
            report.killed += killer.join();
            report.mid_launch += 1;
            return Err(err.context("launch (killed mid-launch)"));
        }
    };
    report.killed += killer.join();
    let cmd = Command::Run {
        workload: Workload::Cpu as u8,
        size: 0,
        iterations: 1_000,
    };
    let reply = inst.request(cmd, REQUEST_TIMEOUT);
    let down = inst.teardown();
    reply?;
    down.map(|_| ())
}

/// The OOM fault: the workload asked to hold more than its container may.
fn oom_launch(e: &mut dyn Environment) -> anyhow::Result<()> {
    let mut inst = e.launch().context("launch")?;
    let reply = inst.request(
        Command::Hold {
            bytes: fault::OOM_ASK,
        },
        REQUEST_TIMEOUT,
    );
    let down = inst.teardown();
    match reply? {
        // Not killed (no error to report): the census still checks the rest.
        Message::Held { .. } => down.map(|_| ()),
        other => anyhow::bail!("{}", crate::experiment::describe(other)),
    }
}
