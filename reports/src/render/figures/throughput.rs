//! Throughput: the five workloads' rates relative to native in the same run
//! (DESIGN.md, "Throughput"); 1.00x is native speed.

use super::*;

/// Figure 4, throughput relative to native: one bar per workload and
/// environment, from the native line at 1 to the measured ratio.
pub fn throughput(page: &Page) -> Figure {
    // Workloads in the order they first appear.
    let mut workloads: Vec<String> = Vec::new();
    for_each_env(page, |_, env, _| {
        for t in &env.throughput {
            index_of(&mut workloads, &t.workload);
        }
    });

    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for workload in &workloads {
        let mut first = true;
        for_each_env(page, |run, env, _| {
            for t in env.throughput.iter().filter(|t| &t.workload == workload) {
                let ratio = t.ratio_to_native.unwrap_or(f64::NAN);
                let mut row = vec![workload.clone()];
                row.extend(name_cells(page, &env.name, run));
                row.extend([
                    t.path.clone().unwrap_or_default(),
                    rate(t.rate.stats.median, &t.unit),
                    cv_cell(&t.rate.stats),
                    rate(t.rate.stats.p5, &t.unit),
                    rate(t.rate.stats.p95, &t.unit),
                    outliers(&t.rate.stats.outliers),
                    num(ratio),
                ]);
                cells.push(row);
                // A ratio that is missing or not positive has no place on a
                // log axis; the table still shows the rates. Native itself is
                // the dashed line, so it gets no bar.
                if ratio.is_finite() && ratio > 0.0 && env.name != "native" {
                    rows.push(Row {
                        label: page.row_label(&format!("{workload}: {}", env.name), run),
                        gap_before: first,
                        marks: vec![
                            Mark::Bar {
                                from: 1.0,
                                to: ratio,
                                color: run.color(),
                            },
                            Mark::Point {
                                at: ratio,
                                color: run.color(),
                            },
                        ],
                    });
                    first = false;
                }
            }
        });
    }

    let mut legend = page.run_legend();
    legend.push(LegendEntry::text("dashed line: native = 1"));
    let mut cols = vec![text_col("workload")];
    cols.extend(name_cols(page, &["crosses"]));
    cols.extend([
        num_col("median rate"),
        num_col("CV (%)"),
        num_col("p5"),
        num_col("p95"),
        text_col("outliers (kept)"),
        num_col("ratio to native (×)"),
    ]);
    Figure {
        id: "throughput",
        sentence: "Each workload's median rate divided by native's median in the same run, on a \
                   log axis with native at the dashed line (right of it is faster, left slower): \
                   it shows which kinds of work isolation leaves at native speed and which pay \
                   for crossing a boundary."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Throughput relative to native".to_owned(),
            x_desc: "median rate ÷ native median rate (×, log scale)".to_owned(),
            scale: Scale::Log,
            rows,
            legend,
            reference: Some(1.0),
            row_px: 24,
        })),
        absent: "No throughput ratio to native was measured, so there is no throughput chart."
            .to_owned(),
        table: table(
            "Throughput: absolute rates and ratio to native",
            &cols,
            &cells,
        ),
        after: String::new(),
    }
}
