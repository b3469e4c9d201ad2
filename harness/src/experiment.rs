//! The three experiments (DESIGN.md, "What is measured"), for one environment.
//!
//! Each repeats its measurement, discards warm-up repetitions and keeps every
//! other raw sample. They only use the [`Environment`]/[`Instance`] traits.

use crate::env::{Environment, Instance};
use crate::stats::metric;
use anyhow::{bail, Context};
use indicatif::ProgressBar;
use reports::{DensityPoint, MemComponent, Memory, Phase, Startup, Throughput};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use workload::protocol::{fault, Command, Message, Workload};

/// How much to measure.
#[derive(Debug, Clone)]
pub struct Plan {
    pub startup_warmup: usize,
    pub startup_samples: usize,
    pub memory_samples: usize,
    /// Working set the workload touches before the memory measurement.
    pub working_set: u64,
    pub throughput_warmup: usize,
    pub throughput_reps: usize,
    /// Per workload: (buffer size in bytes, iterations).
    pub params: BTreeMap<&'static str, (u64, u64)>,
    /// Instance counts for the density experiment.
    pub density: Vec<u32>,
}

impl Plan {
    /// The default plan: minutes in all; `quick` trades precision for seconds.
    pub fn new(quick: bool) -> Plan {
        let mut params = BTreeMap::new();
        let q = |full: u64, quick_v: u64| if quick { quick_v } else { full };
        params.insert(Workload::Cpu.name(), (0, q(100_000_000, 20_000_000)));
        params.insert(Workload::MemBw.name(), (64 << 20, q(20, 4)));
        params.insert(
            Workload::RandomAccess.name(),
            (q(64 << 20, 32 << 20), q(1_000_000, 200_000)),
        );
        params.insert(Workload::Syscall.name(), (0, q(200_000, 50_000)));
        params.insert(Workload::Boundary.name(), (0, q(20_000, 5_000)));
        Plan {
            startup_warmup: q(5, 3) as usize,
            startup_samples: q(100, 20) as usize,
            memory_samples: q(5, 3) as usize,
            working_set: 16 << 20,
            throughput_warmup: 1,
            throughput_reps: q(10, 3) as usize,
            params,
            density: if quick {
                vec![1, 2, 4]
            } else {
                vec![1, 2, 4, 8, 16]
            },
        }
    }

    pub fn parameters(&self) -> Vec<reports::Parameter> {
        let mut v = vec![reports::Parameter {
            name: "memory.working_set".into(),
            value: self.working_set,
            unit: "bytes".into(),
        }];
        for (w, (size, iters)) in &self.params {
            if *size > 0 {
                v.push(reports::Parameter {
                    name: format!("{w}.buffer"),
                    value: *size,
                    unit: "bytes".into(),
                });
            }
            v.push(reports::Parameter {
                name: format!("{w}.iterations"),
                value: *iters,
                unit: "count".into(),
            });
        }
        v
    }
}

/// Time a RUN may take before the instance is called hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// A throughput repetition of a per-operation workload longer than this is
/// scaled down to about this long (see [`throughput`]).
pub const MAX_REP_SECONDS: f64 = 0.5;
/// Never fewer iterations than this in a scaled repetition.
const MIN_SCALED_ITERATIONS: u64 = 1000;

/// Startup: launch to READY, then tear down at once; `warmup + samples` times.
pub fn startup(
    env: &mut dyn Environment,
    plan: &Plan,
    bar: &ProgressBar,
) -> anyhow::Result<Startup> {
    let mut ready = Vec::new();
    let mut torn_down = Vec::new();
    let mut phases: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for i in 0..plan.startup_warmup + plan.startup_samples {
        let inst = env.launch().with_context(|| format!("launch {}", i + 1))?;
        let launch = inst.launch().clone();
        let teardown = inst
            .teardown()
            .with_context(|| format!("teardown {}", i + 1))?;
        let end = Instant::now();
        bar.inc(1);
        if i < plan.startup_warmup {
            continue;
        }
        if phases.is_empty() {
            phases = launch
                .phases
                .iter()
                .map(|(n, _)| (*n, Vec::new()))
                .collect();
            phases.push(("teardown", Vec::new()));
        }
        let names_match = launch.phases.len() + 1 == phases.len()
            && launch
                .phases
                .iter()
                .zip(&phases)
                .all(|((a, _), (b, _))| a == b);
        if !names_match {
            bail!(
                "environment {} reported different phases between launches",
                env.name()
            );
        }
        for ((_, d), (_, v)) in launch.phases.iter().zip(phases.iter_mut()) {
            v.push(d.as_secs_f64());
        }
        if let Some((_, v)) = phases.last_mut() {
            v.push(teardown.as_secs_f64());
        }
        ready.push(launch.ready.as_secs_f64());
        torn_down.push(end.duration_since(launch.t0).as_secs_f64());
    }
    Ok(Startup {
        ready: metric("s", ready),
        torn_down: metric("s", torn_down),
        phases: phases
            .into_iter()
            .map(|(name, v)| Phase {
                name: name.into(),
                time: metric("s", v),
            })
            .collect(),
    })
}

/// Memory: an instance holding `plan.working_set`, measured while idle.
pub fn memory(env: &mut dyn Environment, plan: &Plan, bar: &ProgressBar) -> anyhow::Result<Memory> {
    let mut parts: Vec<(crate::measure::MemPart, Vec<f64>)> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..plan.memory_samples {
        let mut inst = env.launch()?;
        expect_held(inst.request(
            Command::Hold {
                bytes: plan.working_set,
            },
            RUN_TIMEOUT,
        )?)?;
        let sample = inst.memory()?;
        inst.teardown()?;
        bar.inc(1);
        totals.push(
            sample
                .iter()
                .filter(|p| p.counts_in_total)
                .map(|p| p.bytes as f64)
                .sum(),
        );
        for p in sample {
            match parts.iter_mut().find(|(q, _)| q.name == p.name) {
                Some((_, v)) => v.push(p.bytes as f64),
                None => {
                    let b = p.bytes as f64;
                    parts.push((p, vec![b]));
                }
            }
        }
    }
    Ok(Memory {
        working_set_bytes: plan.working_set,
        components: parts
            .into_iter()
            .map(|(p, v)| MemComponent {
                name: p.name.into(),
                description: p.description.into(),
                counts_in_total: p.counts_in_total,
                bytes: metric("bytes", v),
            })
            .collect(),
        total: metric("bytes", totals),
        overhead_vs_native_bytes: None,
    })
}

fn expect_held(m: Message) -> anyhow::Result<()> {
    match m {
        Message::Held { .. } => Ok(()),
        other => bail!("expected HELD, got {}", describe(other)),
    }
}

/// A message in words, for errors.
pub fn describe(m: Message) -> String {
    match m {
        Message::Fault { code, detail } => {
            format!(
                "FAULT: {} (code {code}, detail {detail})",
                fault::describe(code)
            )
        }
        other => format!("{other:?}"),
    }
}

/// One environment's instance in the throughput experiment.
pub struct Contender {
    pub name: String,
    inst: Option<Box<dyn Instance>>,
    paths: Vec<Option<String>>,
    rates: Vec<Vec<f64>>,
    checksums: Vec<Option<u64>>,
    /// Iterations per repetition where the plan's count would take too long
    /// here (see [`MAX_REP_SECONDS`]); `None`: the plan's.
    iterations: Vec<Option<u64>>,
    /// What was scaled down, in words, for the environment's notes.
    pub scaled: Vec<String>,
    /// Set when this contender failed; it then sits out the rest.
    pub error: Option<anyhow::Error>,
}

impl Contender {
    /// Launches `env`'s instance for the throughput experiment.
    pub fn launch(env: &mut dyn Environment) -> Contender {
        let n = Workload::ALL.len();
        let (inst, error) = match env.launch() {
            Ok(i) => (Some(i), None),
            Err(e) => (None, Some(e.context("launch for throughput"))),
        };
        Contender {
            name: env.name(),
            inst,
            paths: Workload::ALL.iter().map(|w| env.path_of(*w)).collect(),
            rates: vec![Vec::new(); n],
            checksums: vec![None; n],
            iterations: vec![None; n],
            scaled: Vec::new(),
            error,
        }
    }

    /// The measured workloads (when it did not fail); tears the instance down.
    pub fn finish(mut self) -> anyhow::Result<Vec<Throughput>> {
        if let Some(inst) = self.inst.take() {
            inst.teardown().context("teardown after throughput")?;
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(Workload::ALL
            .iter()
            .zip(self.rates)
            .zip(self.paths)
            .map(|((w, rates), path)| {
                let unit = if *w == Workload::MemBw {
                    "bytes/s"
                } else {
                    "ops/s"
                };
                Throughput {
                    workload: w.name().into(),
                    unit: unit.into(),
                    rate: metric(unit, rates),
                    ratio_to_native: None,
                    path,
                }
            })
            .collect())
    }
}

/// Throughput of every workload in every contender, interleaved: repetition
/// r of workload w runs in each environment in turn before r+1 starts, so
/// a burst of background load hits all environments alike and the ratios to
/// native (measured in the same loop) stay fair. Warm-up repetitions are
/// discarded.
pub fn throughput(contenders: &mut [Contender], plan: &Plan, tsc_hz: f64, bar: &ProgressBar) {
    for (wi, w) in Workload::ALL.into_iter().enumerate() {
        let (size, planned) = plan.params.get(w.name()).copied().unwrap_or((0, 1));
        for rep in 0..plan.throughput_warmup + plan.throughput_reps {
            for c in contenders.iter_mut() {
                bar.inc(1);
                let Some(inst) = c.inst.as_mut().filter(|_| c.error.is_none()) else {
                    continue;
                };
                let iterations = c.iterations[wi].unwrap_or(planned);
                let (ops, cycles, checksum) = match run_once(inst.as_mut(), w, size, iterations) {
                    Ok(r) => r,
                    Err(e) => {
                        c.error = Some(e.context(format!("throughput {}", w.name())));
                        continue;
                    }
                };
                // The same code on the same input computes the same answer
                // in every repetition; anything else means a broken environment.
                if w != Workload::Syscall && *c.checksums[wi].get_or_insert(checksum) != checksum {
                    c.error = Some(anyhow::anyhow!(
                        "{}: checksum changed between repetitions",
                        w.name()
                    ));
                    continue;
                }
                if rep >= plan.throughput_warmup && cycles > 0 {
                    c.rates[wi].push(ops as f64 / (cycles as f64 / tsc_hz));
                }
                // After the first warm-up: a per-operation workload that is
                // far slower here (syscall and boundary in a VM on PVM take
                // 40 µs and 60 µs an operation, 8 s a repetition) runs fewer
                // iterations, so the run keeps its time budget. Its rate is
                // per operation, so the figure does not change.
                let seconds = cycles as f64 / tsc_hz;
                if rep == 0
                    && plan.throughput_warmup > 0
                    && matches!(w, Workload::Syscall | Workload::Boundary)
                    && seconds > MAX_REP_SECONDS
                {
                    let fewer = ((iterations as f64 * MAX_REP_SECONDS / seconds) as u64)
                        .max(MIN_SCALED_ITERATIONS)
                        .min(iterations);
                    c.iterations[wi] = Some(fewer);
                    c.checksums[wi] = None;
                    c.scaled.push(format!(
                        "{}: {fewer} iterations per repetition instead of {planned} (one took {seconds:.1} s here)",
                        w.name()
                    ));
                }
            }
        }
    }
}

fn run_once(
    inst: &mut dyn Instance,
    w: Workload,
    size: u64,
    iterations: u64,
) -> anyhow::Result<(u64, u64, u64)> {
    let cmd = Command::Run {
        workload: w as u8,
        size,
        iterations,
    };
    match inst.request(cmd, RUN_TIMEOUT)? {
        Message::Result {
            workload,
            ops,
            cycles,
            checksum,
        } if workload == w as u8 => Ok((ops, cycles, checksum)),
        other => bail!("{}: expected its RESULT, got {}", w.name(), describe(other)),
    }
}

/// Density: N idle instances at once, each holding the working set, for
/// each N in the plan. The drop of the host's available memory (MemAvailable
/// plus the per-CPU free lists, see [`crate::procfs::available_memory`]),
/// divided by N, cross-checks the per-instance accounting of [`memory`].
pub fn density(
    env: &mut dyn Environment,
    plan: &Plan,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<DensityPoint>> {
    let mut points = Vec::new();
    for &n in &plan.density {
        let before = crate::procfs::available_memory().context("reading MemAvailable")?;
        let mut running: Vec<Box<dyn Instance>> = Vec::with_capacity(n as usize);
        let mut ready = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut inst = env
                .launch()
                .with_context(|| format!("density: instance {} of {n}", running.len() + 1))?;
            ready.push(inst.launch().ready.as_secs_f64());
            expect_held(inst.request(
                Command::Hold {
                    bytes: plan.working_set,
                },
                RUN_TIMEOUT,
            )?)?;
            running.push(inst);
            bar.inc(1);
        }
        let after = crate::procfs::available_memory().context("reading MemAvailable")?;
        let mut accounted = 0.0;
        for inst in running.iter_mut() {
            accounted += inst
                .memory()?
                .iter()
                .filter(|p| p.counts_in_total)
                .map(|p| p.bytes as f64)
                .sum::<f64>();
        }
        for inst in running {
            inst.teardown()?;
        }
        points.push(DensityPoint {
            instances: n,
            mem_available_drop_per_instance: (before as f64 - after as f64) / f64::from(n),
            accounted_per_instance: accounted / f64::from(n),
            ready: metric("s", ready),
        });
    }
    Ok(points)
}

/// Progress steps of startup, memory and density for one environment under
/// `plan` (throughput runs for all environments at once; see [`throughput_steps`]).
pub fn steps(plan: &Plan) -> [u64; 3] {
    [
        (plan.startup_warmup + plan.startup_samples) as u64,
        plan.memory_samples as u64,
        plan.density.iter().map(|n| u64::from(*n)).sum(),
    ]
}

/// Progress steps of the interleaved throughput experiment for `n` environments.
pub fn throughput_steps(plan: &Plan, n: usize) -> u64 {
    ((plan.throughput_warmup + plan.throughput_reps) * Workload::ALL.len() * n) as u64
}
