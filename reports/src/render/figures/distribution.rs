//! Distribution: every READY sample of every environment, so a reader sees
//! the spread and the outliers the median hides.

use super::*;

/// Figure 5, distribution of startup samples: one dot per launch, median marked.
pub fn distribution(page: &Page) -> Figure {
    let unit = startup_unit(page);
    let u = unit.symbol();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    let mut any_outlier = false;
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(ready) = env.startup.as_ref().map(|s| &s.ready) else {
            without.push(label);
            return;
        };
        let samples: Vec<f64> = ready.samples.iter().map(|s| unit.of(*s)).collect();
        let finite = samples.iter().copied().filter(|v| v.is_finite());
        let min = finite.clone().fold(f64::INFINITY, f64::min);
        let max = finite.fold(f64::NEG_INFINITY, f64::max);
        let s = &ready.stats;
        any_outlier |= !s.outliers.is_empty();
        let mut row = name_cells(page, &env.name, run);
        row.extend([
            samples.len().to_string(),
            num(min),
            num(unit.of(s.p5)),
            num(unit.of(s.median)),
            num(unit.of(s.p95)),
            num(max),
            num(s.p95 / s.p5),
            cv_cell(s),
            outliers(&s.outliers),
        ]);
        cells.push(row);
        if samples.is_empty() {
            without.push(label);
            return;
        }
        rows.push(Row {
            label,
            gap_before: first && page.comparing(),
            marks: vec![
                Mark::Dots {
                    values: samples,
                    color: run.color(),
                    outliers: s.outliers.clone(),
                },
                Mark::Tick {
                    at: unit.of(s.median),
                },
            ],
        });
    });

    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col("samples"),
        num_col(format!("min ({u})")),
        num_col(format!("p5 ({u})")),
        num_col(format!("median ({u})")),
        num_col(format!("p95 ({u})")),
        num_col(format!("max ({u})")),
        num_col("p95 ÷ p5 (×)"),
        num_col("CV (%)"),
        text_col("outliers (kept)"),
    ]);
    let mut legend = page.run_legend();
    if any_outlier {
        legend.push(LegendEntry::text(
            "red ring: outlier by Tukey's fences (flagged, kept in every statistic)",
        ));
    }
    Figure {
        id: "distribution",
        sentence: "Every launch as one dot (time to READY, log axis), with a black tick at the \
                   median: a median alone hides outliers, warm and cold caches, and bimodal \
                   behaviour, which decide tail latency when instances start on demand."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Distribution of time to READY, one dot per launch".to_owned(),
            x_desc: format!("time from t0 to READY ({u}, log scale)"),
            scale: Scale::Log,
            rows,
            legend,
            reference: None,
            row_px: 36,
        })),
        absent: "No startup samples were recorded, so there is no distribution to draw.".to_owned(),
        table: table("Spread of the startup samples", &cols, &cells),
        after: missing("startup samples", &without),
    }
}
