//! Throughput: the five workloads, the same code in every environment.
//!
//! One instance per environment runs `cpu`, `mem_bw`, `random_access`,
//! `syscall` and `boundary` (DESIGN.md, "Throughput"). The workload times
//! itself with the TSC, the same clock everywhere, and reports its
//! operations, cycles and a checksum of its result; the checksum must not
//! change between repetitions, or the environment is broken. Repetitions
//! are interleaved across environments, so that background load hits them
//! alike and the ratios to native, measured in the same loop, stay fair.

use super::{describe, Plan, RUN_TIMEOUT};
use crate::env::{Environment, Instance};
use crate::stats::metric;
use anyhow::{bail, Context};
use indicatif::ProgressBar;
use reports::Throughput;
use workload::protocol::{Command, Message, Workload};

/// A throughput repetition of a per-operation workload longer than this is
/// scaled down to about this long (see [`throughput`]).
pub const MAX_REP_SECONDS: f64 = 0.5;
/// Never fewer iterations than this in a scaled repetition.
const MIN_SCALED_ITERATIONS: u64 = 1000;

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
            Ok(mut i) => {
                i.pause();
                (Some(i), None)
            }
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
        if let Some(mut inst) = self.inst.take() {
            inst.resume();
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
/// discarded. It stops early, leaving the rest unmeasured, once SIGINT or
/// SIGTERM came ([`crate::interrupt`]); the caller checks for that.
pub fn throughput(contenders: &mut [Contender], plan: &Plan, tsc_hz: f64, bar: &ProgressBar) {
    for (wi, w) in Workload::ALL.into_iter().enumerate() {
        let (size, planned) = plan.params.get(w.name()).copied().unwrap_or((0, 1));
        for rep in 0..plan.throughput_warmup + plan.throughput_reps {
            for c in contenders.iter_mut() {
                if crate::interrupt::pending().is_some() {
                    return;
                }
                bar.inc(1);
                let Some(inst) = c.inst.as_mut().filter(|_| c.error.is_none()) else {
                    continue;
                };
                let iterations = c.iterations[wi].unwrap_or(planned);
                // Only the contender being measured may use the CPU.
                inst.resume();
                let outcome = run_once(inst.as_mut(), w, size, iterations);
                inst.pause();
                let (ops, cycles, checksum) = match outcome {
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

/// One repetition of `w`: (operations, TSC cycles, checksum).
pub fn run_once(
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
