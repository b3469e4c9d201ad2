//! Phases: where the startup time goes, one bar per environment split into
//! the steps the launcher or the VMM timed (DESIGN.md, "Startup"), each as
//! its share of the time to READY; and teardown, which happens after READY,
//! in a chart of its own.
//!
//! Shares, not milliseconds: environments differ by orders of magnitude
//! (runc's tens of ms next to a container's hundreds of µs), so on one
//! linear axis every fast environment's phases would be slivers; the
//! absolute times are in the READY chart and in the table below.

use super::*;

/// Every phase name our environments report, in the order they happen. A
/// phase's colour is its place here, so it is the same in every report;
/// names not listed get one of the colours after these, by name.
const PHASE_ORDER: [&str; 33] = [
    "fork_exec",
    "spawn",
    "spawn_vmm",
    "vmm_start",
    "firmware",
    "cgroup_create",
    "clone",
    "userns_map",
    "rootfs_setup",
    "readonly_paths",
    "masked_paths",
    "pivot_root",
    "rootfs_readonly",
    "no_new_privs",
    "drop_caps",
    "seccomp",
    "exec",
    "zygote_fork",
    "kvm_open",
    "create_vm",
    "guest_memory",
    "map_snapshot",
    "load_image",
    "vcpu_setup",
    "vcpu_reset",
    "vcpu_restore",
    "vm_launch",
    "entry_code",
    "guest_boot",
    "kernel_boot",
    "resume",
    "workload_start",
    "teardown",
];

/// The phase after READY, drawn apart.
const TEARDOWN: &str = "teardown";

/// A phase's colour, the same in every report ([`stable_color`]).
pub fn phase_color(name: &str) -> usize {
    stable_color(&PHASE_ORDER, name)
}

/// Figure 2, startup phases: the median of each phase, stacked in order.
pub fn phases(page: &Page) -> Figure {
    let unit = startup_unit(page);
    let u = unit.symbol();
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(startup) = env.startup.as_ref().filter(|s| !s.phases.is_empty()) else {
            without.push(label);
            return;
        };
        let sum: f64 = startup
            .phases
            .iter()
            .map(|p| p.time.stats.median)
            .filter(|m| m.is_finite())
            .sum();
        let to_ready: f64 = startup
            .phases
            .iter()
            .filter(|p| p.name != TEARDOWN)
            .map(|p| p.time.stats.median)
            .filter(|m| m.is_finite() && *m >= 0.0)
            .sum();
        let mut marks = Vec::new();
        let mut at = 0.0;
        for phase in &startup.phases {
            let median = phase.time.stats.median;
            if !names.contains(&phase.name) {
                names.push(phase.name.clone());
            }
            if phase.name != TEARDOWN && median.is_finite() && median >= 0.0 && to_ready > 0.0 {
                let share = 100.0 * median / to_ready;
                marks.push(Mark::Bar {
                    from: at,
                    to: at + share,
                    color: phase_color(&phase.name),
                });
                at += share;
            }
            let mut row = name_cells(page, &env.name, run);
            row.extend([
                if phase.name == TEARDOWN {
                    "teardown (after READY)".to_owned()
                } else {
                    phase.name.clone()
                },
                num(unit.of(median)),
                pct(phase.time.stats.cv),
                num(unit.of(phase.time.stats.p5)),
                num(unit.of(phase.time.stats.p95)),
                num(100.0 * median / sum),
            ]);
            cells.push(row);
        }
        let mut total = name_cells(page, &env.name, run);
        let torn_down = &startup.torn_down.stats;
        total.extend([
            "torn down (whole launch)".to_owned(),
            num(unit.of(torn_down.median)),
            cv_cell(torn_down),
            num(unit.of(torn_down.p5)),
            num(unit.of(torn_down.p95)),
            String::new(),
        ]);
        cells.push(total);
        rows.push(Row {
            label,
            gap_before: first && page.comparing(),
            marks,
        });
    });

    let mut legend: Vec<LegendEntry> = names
        .iter()
        .filter(|n| *n != TEARDOWN)
        .map(|name| LegendEntry::swatch(name.clone(), phase_color(name)))
        .collect();
    legend.extend(page.run_key());
    let mut cols = name_cols(page, &["phase"]);
    cols.extend([
        num_col(format!("median ({u})")),
        num_col("CV (%)"),
        num_col(format!("p5 ({u})")),
        num_col(format!("p95 ({u})")),
        num_col("share of the sum of medians (%)"),
    ]);
    Figure {
        id: "phases",
        sentence: "Where the time to READY goes: each phase's median as its share of the sum \
                   of the phases before READY, in the order they happen; it shows which step \
                   dominates (and so what is worth optimising) in each environment, whatever its \
                   total. The READY chart gives the totals and the table the times; teardown, \
                   after READY, has its own chart below."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Startup phases: share of the time to READY".to_owned(),
            x_desc: "share of the time from t0 to READY (%)".to_owned(),
            scale: Scale::Linear,
            rows,
            legend,
            reference: None,
            row_px: 28,
        })),
        absent: "No environment reports startup phases, so there is no chart of them.".to_owned(),
        table: table("Startup phases, in the order they happen", &cols, &cells),
        after: missing("startup phases", &without),
    }
}

/// Teardown: from the request to stop to everything released (reaped,
/// unmounted, cgroup removed, VM closed), median with p5–p95 whiskers on a
/// log axis. It happens after READY, so it is not part of startup.
pub fn teardown(page: &Page) -> Figure {
    let mut medians = Vec::new();
    for_each_env(page, |_, env, _| {
        if let Some(p) = teardown_of(env) {
            medians.push(p.time.stats.p95);
        }
    });
    let unit = TimeUnit::pick(medians);
    let u = unit.symbol();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(phase) = teardown_of(env) else {
            without.push(label);
            return;
        };
        let s = &phase.time.stats;
        rows.push(median_row(
            label,
            first && page.comparing(),
            s,
            unit,
            phase_color(TEARDOWN),
        ));
        let mut row = name_cells(page, &env.name, run);
        row.extend([
            num(unit.of(s.median)),
            cv_cell(s),
            num(unit.of(s.p5)),
            num(unit.of(s.p95)),
        ]);
        cells.push(row);
    });
    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col(format!("median ({u})")),
        num_col("CV (%)"),
        num_col(format!("p5 ({u})")),
        num_col(format!("p95 ({u})")),
    ]);
    Figure {
        id: "teardown",
        sentence: "How long an instance takes to go away once asked: the workload stopped and \
                   reaped, mounts and cgroup removed, the VM's memory and file descriptors \
                   released. It comes after READY, so it is not part of startup, but a platform \
                   that starts many short-lived instances pays it every time."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Teardown per environment".to_owned(),
            x_desc: format!("time to tear down ({u}, log scale)"),
            scale: Scale::Log,
            rows,
            legend: page.run_key(),
            reference: None,
            row_px: 28,
        })),
        absent: "No environment reports a teardown phase, so there is no chart of it.".to_owned(),
        table: table("Teardown", &cols, &cells),
        after: missing("a teardown phase", &without),
    }
}

fn teardown_of(env: &EnvResult) -> Option<&crate::schema::Phase> {
    env.startup
        .as_ref()?
        .phases
        .iter()
        .find(|p| p.name == TEARDOWN && p.time.stats.median.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_has_its_own_colour_in_every_report() {
        let colours: Vec<usize> = PHASE_ORDER.iter().map(|p| phase_color(p)).collect();
        let mut distinct = colours.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            PHASE_ORDER.len(),
            "no two phases share a colour"
        );
        // The same name, the same colour, whatever else the run has.
        assert_eq!(phase_color("clone"), phase_color("clone"));
        assert_eq!(phase_color("a_new_phase"), phase_color("a_new_phase"));
        assert!(phase_color("a_new_phase") >= PHASE_ORDER.len());
        // And the palette has a colour for each, plus the three that names
        // not listed share (stable_color), with no two alike.
        let rgb = |i: usize| {
            let c = crate::render::chart::color(i);
            (c.0, c.1, c.2)
        };
        let mut all: Vec<_> = (0..PHASE_ORDER.len() + 3).map(rgb).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), PHASE_ORDER.len() + 3, "distinct RGB colours");
    }
}
