//! Memory: what one idle instance costs the host.
//!
//! The workload touches and holds a known working set (HOLD), then the
//! environment splits what the instance costs into named parts
//! ([`crate::measure::MemPart`]): for a process its PSS and page tables,
//! for a container its cgroup's charge, for a VM the guest RAM touched, the
//! VMM's own memory and KVM's page tables. The total counts only the parts
//! that are not inside another one; overhead against native is computed
//! later, when every row is in (DESIGN.md, "Memory overhead").

use super::{hold, Plan};
use crate::env::Environment;
use crate::measure::MemPart;
use crate::stats::metric;
use indicatif::ProgressBar;
use reports::{MemComponent, Memory};

/// Memory: an instance holding `plan.working_set`, measured while idle.
pub fn memory(env: &mut dyn Environment, plan: &Plan, bar: &ProgressBar) -> anyhow::Result<Memory> {
    let mut parts: Vec<(MemPart, Vec<f64>)> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..plan.memory_samples {
        crate::interrupt::check()?;
        let mut inst = env.launch()?;
        hold(inst.as_mut(), plan.working_set)?;
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
