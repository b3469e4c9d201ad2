//! Density: N idle instances at once, the cross-check of [`super::memory`].
//!
//! Per-instance accounting can miss what nobody is charged for (kernel
//! memory outside any cgroup, pages freed to a per-CPU list). So N
//! instances, each holding the working set, are started side by side, and
//! the drop of what the host could still give out ([`available_memory`]:
//! `MemAvailable` from /proc/meminfo plus the per-CPU free lists of
//! /proc/zoneinfo, proc(5)) divided by N is set beside what the instances
//! account for themselves.

use super::{hold, Plan};
use crate::env::{Environment, Instance};
use crate::procfs::available_memory;
use crate::stats::metric;
use anyhow::Context;
use indicatif::ProgressBar;
use reports::{DensityPoint, SharedPages};

/// Density: N idle instances at once, each holding the working set, for
/// each N in the plan. The drop of the host's available memory (MemAvailable
/// plus the per-CPU free lists, see [`available_memory`]),
/// divided by N, cross-checks the per-instance accounting of [`memory`](fn@super::memory).
pub fn density(
    env: &mut dyn Environment,
    plan: &Plan,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<DensityPoint>> {
    let mut points = Vec::new();
    for &n in &plan.density {
        let before = available_memory().context("reading MemAvailable")?;
        let mut running: Vec<Box<dyn Instance>> = Vec::with_capacity(n as usize);
        let mut ready = Vec::with_capacity(n as usize);
        for _ in 0..n {
            crate::interrupt::check()?;
            let mut inst = env
                .launch()
                .with_context(|| format!("density: instance {} of {n}", running.len() + 1))?;
            ready.push(inst.launch().ready.as_secs_f64());
            hold(inst.as_mut(), plan.working_set)?;
            running.push(inst);
            bar.inc(1);
        }
        let after = available_memory().context("reading MemAvailable")?;
        let mut accounted = 0.0;
        let (mut shared_rss, mut shared_pss) = (None::<f64>, 0.0);
        for inst in running.iter_mut() {
            let parts = inst.memory()?;
            accounted += parts
                .iter()
                .filter(|p| p.counts_in_total)
                .map(|p| p.bytes as f64)
                .sum::<f64>();
            // Restored guests: the snapshot pages they share, whole and divided.
            for p in &parts {
                match p.name {
                    "snapshot_rss" => *shared_rss.get_or_insert(0.0) += p.bytes as f64,
                    "snapshot_pss" => shared_pss += p.bytes as f64,
                    _ => {}
                }
            }
        }
        for inst in running {
            inst.teardown()?;
        }
        points.push(DensityPoint {
            instances: n,
            mem_available_drop_per_instance: (before as f64 - after as f64) / f64::from(n),
            accounted_per_instance: accounted / f64::from(n),
            ready: metric("s", ready),
            shared_pages: shared_rss.map(|rss| SharedPages {
                rss_per_instance: rss / f64::from(n),
                pss_per_instance: shared_pss / f64::from(n),
            }),
        });
    }
    Ok(points)
}
