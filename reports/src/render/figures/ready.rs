//! READY: how long from t0 until the workload says it is ready, per environment,
//! with the median, the p5–p95 spread and the raw samples (DESIGN.md, "Startup").

use super::*;

/// Figure 1, time to READY: median bars with p5–p95 whiskers on a log axis.
pub fn ready(page: &Page) -> Figure {
    let unit = startup_unit(page);
    let u = unit.symbol();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(startup) = &env.startup else {
            without.push(label);
            return;
        };
        let s = &startup.ready.stats;
        rows.push(median_row(
            label,
            first && page.comparing(),
            s,
            unit,
            run.color(),
        ));
        let mut row = name_cells(page, &env.name, run);
        row.extend([
            s.n.to_string(),
            num(unit.of(s.median)),
            cv_cell(s),
            num(unit.of(s.p5)),
            num(unit.of(s.p95)),
            ci(s, |v| num(unit.of(v))),
            format!("{} ± {}", num(unit.of(s.mean)), num(unit.of(s.stddev))),
            outliers(&s.outliers),
            num(unit.of(startup.torn_down.stats.median)),
        ]);
        cells.push(row);
    });

    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col("launches"),
        num_col(format!("median ({u})")),
        num_col("CV (%)"),
        num_col(format!("p5 ({u})")),
        num_col(format!("p95 ({u})")),
        num_col(format!("median CI ({u})")),
        num_col(format!("mean ± stddev ({u})")),
        text_col("outliers (kept)"),
        num_col(format!("torn down, median ({u})")),
    ]);
    Figure {
        id: "ready",
        sentence: "How long a fresh instance takes until the workload inside can work: the median \
                   time from t0 to READY, with whiskers from the 5th to the 95th percentile, on a \
                   log axis because environments differ by orders of magnitude; this is the wait \
                   before every cold start."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Time to READY per environment".to_owned(),
            x_desc: format!("time from t0 to READY ({u}, log scale)"),
            scale: Scale::Log,
            rows,
            legend: page.run_legend(),
            reference: None,
            row_px: 28,
        })),
        absent: "No environment has startup figures, so there is no chart of time to READY."
            .to_owned(),
        table: table("Time to READY and to fully torn down", &cols, &cells),
        after: missing("startup figures", &without),
    }
}
