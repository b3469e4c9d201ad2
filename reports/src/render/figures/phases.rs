//! Phases: where the startup time goes, one stacked bar per environment,
//! each segment a step the launcher or the VMM timed (DESIGN.md, "Startup").

use super::*;

/// Figure 2, startup phases: the median of each phase, stacked in order.
pub fn phases(page: &Page) -> Figure {
    let unit = startup_unit(page);
    let u = unit.symbol();
    let mut phase_names: Vec<String> = Vec::new();
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
        let mut marks = Vec::new();
        let mut at = 0.0;
        for phase in &startup.phases {
            let median = phase.time.stats.median;
            let color = index_of(&mut phase_names, &phase.name);
            if median.is_finite() && median >= 0.0 {
                marks.push(Mark::Bar {
                    from: unit.of(at),
                    to: unit.of(at + median),
                    color,
                });
                at += median;
            }
            let mut row = name_cells(page, &env.name, run);
            row.extend([
                phase.name.clone(),
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

    let mut legend: Vec<LegendEntry> = phase_names
        .iter()
        .enumerate()
        .map(|(i, name)| LegendEntry::swatch(name.clone(), i))
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
        sentence: "Where startup time goes: the median of each phase, stacked in the order the \
                   phases happen, from t0 to fully torn down; it shows which step dominates (and \
                   so what is worth optimising) in each environment. Medians of parts do not add \
                   up exactly to the median of the whole, which the table gives too."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Startup phases per environment (medians, stacked)".to_owned(),
            x_desc: format!("time since t0 ({u})"),
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
