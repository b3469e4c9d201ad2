//! Startup: how long from `t0` to READY, and where the time goes.
//!
//! Each launch is torn down at once, so every launch starts from the same
//! state; the first `startup_warmup` launches (cold caches, first-time
//! set-up such as assembling a rootfs) are discarded. Every launch must
//! report the same phases, in the same order; their durations add up to
//! READY (DESIGN.md, "Startup"). `torn_down` is `t0` to the end of teardown.

use super::Plan;
use crate::env::Environment;
use crate::stats::metric;
use anyhow::{bail, Context};
use indicatif::ProgressBar;
use reports::{Phase, Startup};
use std::time::Instant;

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
        crate::interrupt::check()?;
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
