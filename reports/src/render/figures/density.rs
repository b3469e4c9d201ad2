//! Density: N idle instances at once, memory and startup as N grows, the
//! cross-check of the one-instance memory figure (DESIGN.md, "Density").

use super::*;

/// The density series of the page: one per measured environment (and run)
/// with density points, each with its colour, in chart row order.
fn density_series<'p>(page: &'p Page) -> Vec<(&'p Run<'p>, &'p EnvResult, String, usize)> {
    let mut out = Vec::new();
    for_each_env(page, |run, env, _| {
        if !env.density.is_empty() {
            let color = out.len();
            out.push((run, env, page.row_label(&env.name, run), color));
        }
    });
    out
}

/// The legend of the density charts: a colour per series, and what solid and
/// dashed lines mean when `styles` is set.
fn density_legend(
    page: &Page,
    series: &[(&Run, &EnvResult, String, usize)],
    styles: bool,
) -> Vec<LegendEntry> {
    let mut legend: Vec<LegendEntry> = series
        .iter()
        .map(|(_, _, label, color)| LegendEntry::swatch(label.clone(), *color))
        .collect();
    if styles {
        legend.push(LegendEntry::line("MemAvailable drop", None, false));
        legend.push(LegendEntry::line("accounted (sum of parts)", None, true));
    }
    legend.extend(page.run_key());
    legend
}

/// Figure 6, density memory: per instance and in total, against the number
/// of instances running at once; the host's view (MemAvailable) solid, the
/// per-instance accounting dashed.
pub fn density_memory(page: &Page) -> Figure {
    let series = density_series(page);
    let mut per_instance = Vec::new();
    let mut total = Vec::new();
    let mut cells = Vec::new();
    for (run, env, _, color) in &series {
        let line = |per: fn(&DensityPoint) -> f64, times_n: bool| -> Vec<XyPoint> {
            env.density
                .iter()
                .map(|d| {
                    let n = f64::from(d.instances);
                    XyPoint {
                        x: n,
                        y: mib(per(d)) * if times_n { n } else { 1.0 },
                        span: None,
                    }
                })
                .collect()
        };
        let drop: fn(&DensityPoint) -> f64 = |d| d.mem_available_drop_per_instance;
        let accounted: fn(&DensityPoint) -> f64 = |d| d.accounted_per_instance;
        for (dashed, per) in [(false, drop), (true, accounted)] {
            per_instance.push(Series {
                color: *color,
                dashed,
                points: line(per, false),
            });
            total.push(Series {
                color: *color,
                dashed,
                points: line(per, true),
            });
        }
        for d in &env.density {
            let n = f64::from(d.instances);
            let mut row = name_cells(page, &env.name, run);
            row.extend([
                d.instances.to_string(),
                num(mib(d.mem_available_drop_per_instance)),
                num(mib(d.accounted_per_instance)),
                num(mib(
                    d.mem_available_drop_per_instance - d.accounted_per_instance
                )),
                num(mib(d.mem_available_drop_per_instance * n)),
                num(mib(d.accounted_per_instance * n)),
            ]);
            cells.push(row);
        }
    }
    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col("instances"),
        num_col("MemAvailable drop ÷ N (MiB)"),
        num_col("accounted ÷ N (MiB)"),
        num_col("not accounted ÷ N (MiB)"),
        num_col("MemAvailable drop, total (MiB)"),
        num_col("accounted, total (MiB)"),
    ]);
    let x_desc = "instances running at once (N, log₂ scale)".to_owned();
    let chart = (!series.is_empty()).then(|| {
        Drawing::Xy(XyChart {
            title: "Density: memory as the number of instances grows".to_owned(),
            legend: density_legend(page, &series, true),
            panels: vec![
                Panel {
                    title: "per instance".to_owned(),
                    x_desc: x_desc.clone(),
                    y_desc: "MiB per instance".to_owned(),
                    x_scale: Scale::Log2,
                    y_scale: Scale::Linear,
                    series: per_instance,
                },
                Panel {
                    title: "total for N instances".to_owned(),
                    x_desc,
                    y_desc: "MiB in total".to_owned(),
                    x_scale: Scale::Log2,
                    y_scale: Scale::Linear,
                    series: total,
                },
            ],
        })
    });
    Figure {
        id: "density",
        sentence: "N idle instances holding the same working set at once: on the left what each \
                   costs, on the right what all of them cost together. Solid lines are the drop \
                   of the host's MemAvailable divided by N (everything the host lost, including \
                   kernel memory no per-instance figure counts); dashed lines add up the parts \
                   measured per instance. A gap between them is memory nobody accounts for; a \
                   per-instance cost that falls as N grows is memory the instances share (the \
                   same binary's page cache), and the total decides how many fit on a machine."
            .to_owned(),
        chart,
        absent: "These results have no density figures (N instances at once), so there is no \
                 density chart."
            .to_owned(),
        table: if cells.is_empty() {
            String::new()
        } else {
            table("Density: memory with N instances running", &cols, &cells)
        },
        after: shared_pages_table(page),
    }
}

/// Rows whose instances share a file's pages (restored guests): per
/// instance, those pages counted whole (RSS) and divided (PSS), by N.
fn shared_pages_table(page: &Page) -> String {
    let mut cells = Vec::new();
    for_each_env(page, |run, env, _| {
        for d in &env.density {
            if let Some(s) = &d.shared_pages {
                let mut row = name_cells(page, &env.name, run);
                row.extend([
                    d.instances.to_string(),
                    num(mib(s.rss_per_instance)),
                    num(mib(s.pss_per_instance)),
                ]);
                cells.push(row);
            }
        }
    });
    if cells.is_empty() {
        return String::new();
    }
    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col("N"),
        num_col("snapshot pages, RSS per instance (MiB)"),
        num_col("shared pages, PSS per instance (MiB)"),
    ]);
    format!(
        "<p>Restored guests map one snapshot's pages: RSS counts them whole in every guest, PSS \
         divides each page among the guests mapping it, so PSS per instance falls as 1/N while \
         RSS stays.</p>\n{}",
        table(
            "Density: snapshot pages shared by N restored guests",
            &cols,
            &cells
        )
    )
}

/// Figure 7, density startup: median time to READY (p5–p95 whiskers) of a
/// launch while N − 1 others are already running.
pub fn density_startup(page: &Page) -> Figure {
    let series = density_series(page);
    let unit = TimeUnit::pick(
        series
            .iter()
            .flat_map(|(_, env, _, _)| env.density.iter())
            .flat_map(|d| [d.ready.stats.median, d.ready.stats.p95]),
    );
    let u = unit.symbol();
    let mut lines = Vec::new();
    let mut cells = Vec::new();
    for (run, env, _, color) in &series {
        lines.push(Series {
            color: *color,
            dashed: false,
            points: env
                .density
                .iter()
                .map(|d| XyPoint {
                    x: f64::from(d.instances),
                    y: unit.of(d.ready.stats.median),
                    span: Some((unit.of(d.ready.stats.p5), unit.of(d.ready.stats.p95))),
                })
                .collect(),
        });
        for d in &env.density {
            let s = &d.ready.stats;
            let mut row = name_cells(page, &env.name, run);
            row.extend([
                d.instances.to_string(),
                s.n.to_string(),
                num(unit.of(s.median)),
                cv_cell(s),
                num(unit.of(s.p5)),
                num(unit.of(s.p95)),
                outliers(&s.outliers),
            ]);
            cells.push(row);
        }
    }
    let mut cols = name_cols(page, &[]);
    cols.extend([
        num_col("instances"),
        num_col("launches"),
        num_col(format!("median READY ({u})")),
        num_col("CV (%)"),
        num_col(format!("p5 ({u})")),
        num_col(format!("p95 ({u})")),
        text_col("outliers (kept)"),
    ]);
    let chart = (!series.is_empty()).then(|| {
        Drawing::Xy(XyChart {
            title: "Density: time to READY as the number of instances grows".to_owned(),
            legend: density_legend(page, &series, false),
            panels: vec![Panel {
                title: String::new(),
                x_desc: "instances running at once (N, log₂ scale)".to_owned(),
                y_desc: format!("time to READY ({u}, log scale)"),
                x_scale: Scale::Log2,
                y_scale: Scale::Log,
                series: lines,
            }],
        })
    });
    Figure {
        id: "density-startup",
        sentence: "The median time to READY of the launches made while the others were already \
                   running, with p5–p95 whiskers: a flat line means instances start independently; \
                   a rising one shows contention for something they share (memory, a lock in the \
                   kernel, the host's CPUs)."
            .to_owned(),
        chart,
        absent: "These results have no density figures, so there is no chart of startup against \
                 the number of instances."
            .to_owned(),
        table: if cells.is_empty() {
            String::new()
        } else {
            table(
                "Density: time to READY with N instances running",
                &cols,
                &cells,
            )
        },
        after: String::new(),
    }
}
