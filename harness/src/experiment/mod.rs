//! The experiments (DESIGN.md, "What is measured"): what a [`Plan`] asks
//! for, and one file per experiment.
//!
//! - [`startup`]: launch to READY and tear down, with every phase;
//! - [`memory`]: what one idle instance holding a known working set costs;
//! - [`density`]: N such instances at once, against the drop of the host's
//!   available memory, to cross-check `memory`;
//! - [`throughput`]: the five workloads in every environment, interleaved.
//!
//! Each repeats its measurement, discards warm-up repetitions and keeps every
//! other raw sample (statistics come later, [`crate::stats`]). They only use
//! the [`crate::env::Environment`] and [`Instance`] traits, so an
//! environment added never touches them.

mod density;
mod memory;
mod startup;
mod throughput;

pub use density::density;
pub use memory::memory;
pub use startup::startup;
pub use throughput::{run_once, throughput, Contender, MAX_REP_SECONDS};

use crate::env::Instance;
use anyhow::bail;
use std::collections::BTreeMap;
use std::time::Duration;
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
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Asks the workload to touch and hold `bytes`, as the memory experiments
/// do before they measure, and checks that it did.
fn hold(inst: &mut dyn Instance, bytes: u64) -> anyhow::Result<()> {
    match inst.request(Command::Hold { bytes }, RUN_TIMEOUT)? {
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
