//! The figures of the report. Each one turns the runs into a chart, a
//! sentence saying what the chart shows and why it matters, and the table of
//! the numbers behind it (tables also hold what charts leave out); a figure
//! whose numbers were noisy says so beside its chart.

use super::chart::{Chart, LegendEntry, Mark, Panel, Row, Scale, Series, XyChart, XyPoint};
use super::format::{esc, mib, num, num_col, outliers, pct, rate, table, text_col, Col, TimeUnit};
use super::{Page, Run};
use crate::schema::{DensityPoint, EnvResult, Metric, Stats, NOISY_CV};

/// What a figure draws: rows of bars and marks, or lines over a numeric axis.
pub enum Drawing {
    Rows(Chart),
    Xy(XyChart),
}

impl Drawing {
    fn title(&self) -> &str {
        match self {
            Drawing::Rows(c) => &c.title,
            Drawing::Xy(c) => &c.title,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Drawing::Rows(c) => c.rows.is_empty(),
            Drawing::Xy(c) => c.panels.iter().all(|p| p.series.is_empty()),
        }
    }

    fn to_svg(&self) -> Result<String, String> {
        match self {
            Drawing::Rows(c) => c.to_svg(),
            Drawing::Xy(c) => c.to_svg(),
        }
    }
}

/// A chart with its sentence and table, ready to be put on the page.
pub struct Figure {
    /// Short name; the chart's wrapper gets `id="chart-<id>"`.
    id: &'static str,
    /// What the chart shows and why it matters, one sentence.
    sentence: String,
    /// `None` when there is nothing to draw.
    chart: Option<Drawing>,
    /// Said instead of the chart when there is none.
    absent: String,
    /// The numbers, as HTML (already escaped).
    table: String,
    /// Remarks after the table, as HTML (already escaped).
    after: String,
}

impl Figure {
    /// The figure as HTML; `noisy` are the page's noisy metrics, of which
    /// those shown in this figure get a warning beside the chart.
    pub fn html(&self, noisy: &[Noisy]) -> String {
        let mut html = String::new();
        let mine: Vec<&Noisy> = noisy
            .iter()
            .filter(|n| n.figures.contains(&self.id))
            .collect();
        if !mine.is_empty() {
            html.push_str(&format!(
                "<div class=\"warning noisy\" data-noisy-for=\"chart-{}\"><strong>Noisy figures \
                 in this chart:</strong> {}. Differences smaller than this spread are not \
                 meaningful.</div>\n",
                self.id,
                esc(&Noisy::list(&mine, 6))
            ));
        }
        let drawn = self
            .chart
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| (c, c.to_svg()));
        match drawn {
            Some((chart, Ok(svg))) => {
                // role/aria-label let screen readers announce the chart by its title.
                let svg = svg.replacen(
                    "<svg ",
                    &format!("<svg role=\"img\" aria-label=\"{}\" ", esc(chart.title())),
                    1,
                );
                html.push_str(&format!(
                    "<figure class=\"chart\" id=\"chart-{}\">\n<figcaption>{}</figcaption>\n{}</figure>\n",
                    self.id,
                    esc(&self.sentence),
                    svg
                ));
            }
            Some((_, Err(why))) => html.push_str(&format!(
                "<p class=\"absent\" data-chart=\"{}\">This chart could not be drawn: {}.</p>\n",
                self.id,
                esc(&why)
            )),
            None => html.push_str(&format!(
                "<p class=\"absent\" data-chart=\"{}\">{}</p>\n",
                self.id,
                esc(&self.absent)
            )),
        }
        html.push_str(&self.table);
        html.push_str(&self.after);
        html
    }
}

/// A startup or throughput metric whose coefficient of variation is above
/// [`NOISY_CV`]: the machine (or the environment) was noisy while measuring it.
pub struct Noisy {
    /// The run's number on the page.
    pub run: usize,
    /// `"native: time to READY"`, with the run tag when comparing.
    pub what: String,
    pub cv: f64,
    /// Ids of the figures that show this metric.
    pub figures: &'static [&'static str],
}

impl Noisy {
    /// `"native: time to READY (CV 14 %), …"`, at most `max` entries.
    pub fn list(noisy: &[&Noisy], max: usize) -> String {
        let mut items: Vec<String> = noisy
            .iter()
            .take(max)
            .map(|n| format!("{} (CV {} %)", n.what, pct(n.cv)))
            .collect();
        if noisy.len() > max {
            items.push(format!("and {} more", noisy.len() - max));
        }
        items.join(", ")
    }
}

/// Fewer samples than this give no meaningful coefficient of variation.
const MIN_SAMPLES_FOR_CV: usize = 3;

/// Is this metric noisy (CV above [`NOISY_CV`] over enough samples)?
pub fn is_noisy(stats: &Stats) -> bool {
    stats.n >= MIN_SAMPLES_FOR_CV && stats.cv.is_finite() && stats.cv > NOISY_CV
}

/// Every noisy startup and throughput metric of the page, noisiest first.
pub fn noisy(page: &Page) -> Vec<Noisy> {
    let mut out = Vec::new();
    for_each_env(page, |run, env, _| {
        let name = page.row_label(&env.name, run);
        let mut check = |what: String, m: &Metric, figures: &'static [&'static str]| {
            if is_noisy(&m.stats) {
                out.push(Noisy {
                    run: run.no,
                    what,
                    cv: m.stats.cv,
                    figures,
                });
            }
        };
        if let Some(s) = &env.startup {
            check(
                format!("{name}: time to READY"),
                &s.ready,
                &["ready", "distribution"],
            );
            check(
                format!("{name}: time to torn down"),
                &s.torn_down,
                &["ready", "phases"],
            );
        }
        for t in &env.throughput {
            check(
                format!("{name}: {} rate", t.workload),
                &t.rate,
                &["throughput"],
            );
        }
        for d in &env.density {
            check(
                format!("{name}: time to READY with {} instances", d.instances),
                &d.ready,
                &["density-startup"],
            );
        }
    });
    out.sort_by(|a, b| b.cv.total_cmp(&a.cv));
    out
}

/// The CV cell of a table: a percentage, marked when noisy.
fn cv_cell(stats: &Stats) -> String {
    if is_noisy(stats) {
        format!("{} (noisy)", pct(stats.cv))
    } else {
        pct(stats.cv)
    }
}

/// The leading table columns naming a row: environment, and the run when
/// the page compares several.
fn name_cols(page: &Page, extra: &[&str]) -> Vec<Col> {
    let mut cols = vec![text_col("environment")];
    if page.comparing() {
        cols.push(text_col("run"));
    }
    cols.extend(extra.iter().map(|t| text_col(*t)));
    cols
}

fn name_cells(page: &Page, env: &str, run: &Run) -> Vec<String> {
    let mut cells = vec![env.to_owned()];
    cells.extend(page.run_cell(run));
    cells
}

/// `"0.41 – 0.44 ms (95 %)"`: the confidence interval of a median.
fn ci(stats: &Stats, fmt: impl Fn(f64) -> String) -> String {
    format!(
        "{} – {} ({} %)",
        fmt(stats.median_ci_low),
        fmt(stats.median_ci_high),
        num(stats.ci_level * 100.0)
    )
}

/// A sentence listing rows that have no figure for a chart, or nothing.
fn missing(what: &str, rows: &[String]) -> String {
    if rows.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"absent\">No {} for: {}.</p>\n",
            esc(what),
            esc(&rows.join(", "))
        )
    }
}

/// The unit of every startup figure on the page, from the slowest p95 to READY.
fn startup_unit(page: &Page) -> TimeUnit {
    let values = page.env_names().into_iter().flat_map(|name| {
        page.measured(name)
            .into_iter()
            .filter_map(|(_, env)| env.startup.as_ref())
            .flat_map(|s| [s.ready.stats.median, s.ready.stats.p95])
            .collect::<Vec<_>>()
    });
    TimeUnit::pick(values)
}

/// Calls `f(run, env, first_in_group)` for every measured environment, in
/// chart row order: environments in the order they ran, runs within them.
fn for_each_env<'p>(page: &'p Page, mut f: impl FnMut(&'p Run<'p>, &'p EnvResult, bool)) {
    for name in page.env_names() {
        for (i, (run, env)) in page.measured(name).into_iter().enumerate() {
            f(run, env, i == 0);
        }
    }
}

/// Index of `name` in `names`, adding it at the end when new: gives phases
/// and memory parts the same colour in every row.
fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    }
}

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
        rows.push(Row {
            label,
            gap_before: first && page.comparing(),
            marks: vec![
                Mark::Bar {
                    from: 0.0,
                    to: unit.of(s.median),
                    color: run.color(),
                },
                Mark::Whisker {
                    lo: unit.of(s.p5),
                    hi: unit.of(s.p95),
                },
            ],
        });
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

/// Figure 3, memory per instance: the host-cost components, stacked, in MiB.
pub fn memory(page: &Page) -> Figure {
    let mut part_names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    let mut without = Vec::new();
    let stats_cells = |m: &Metric| {
        [
            num(mib(m.stats.median)),
            pct(m.stats.cv),
            num(mib(m.stats.p5)),
            num(mib(m.stats.p95)),
        ]
    };
    for_each_env(page, |run, env, first| {
        let label = page.row_label(&env.name, run);
        let Some(memory) = &env.memory else {
            without.push(label);
            return;
        };
        let mut marks = Vec::new();
        let mut at = 0.0;
        for part in &memory.components {
            let mut row = name_cells(page, &env.name, run);
            row.push(part.name.clone());
            row.push(if part.counts_in_total {
                "yes".to_owned()
            } else {
                "no (shown for information)".to_owned()
            });
            row.extend(stats_cells(&part.bytes));
            row.push(part.description.clone());
            cells.push(row);

            // Only host cost is stacked: the others (e.g. what the guest
            // kernel uses, already inside guest RAM) would count twice.
            let median = mib(part.bytes.stats.median);
            if part.counts_in_total && median.is_finite() && median >= 0.0 {
                marks.push(Mark::Bar {
                    from: at,
                    to: at + median,
                    color: index_of(&mut part_names, &part.name),
                });
                at += median;
            }
        }
        let mut total = name_cells(page, &env.name, run);
        total.extend(["total host cost".to_owned(), "sum".to_owned()]);
        total.extend(stats_cells(&memory.total));
        total.push(match memory.overhead_vs_native_bytes {
            Some(o) => format!("{} MiB more than native", num(mib(o))),
            None => String::new(),
        });
        cells.push(total);
        let mut working_set = name_cells(page, &env.name, run);
        working_set.extend([
            "working set".to_owned(),
            "inside the above".to_owned(),
            num(mib(memory.working_set_bytes as f64)),
            String::new(),
            String::new(),
            String::new(),
            "memory the workload touched before the measurement".to_owned(),
        ]);
        cells.push(working_set);
        rows.push(Row {
            label,
            gap_before: first && page.comparing(),
            marks,
        });
    });

    let mut legend: Vec<LegendEntry> = part_names
        .iter()
        .enumerate()
        .map(|(i, name)| LegendEntry::swatch(name.clone(), i))
        .collect();
    legend.extend(page.run_key());
    let mut cols = name_cols(page, &["part", "host cost"]);
    cols.extend([
        num_col("median (MiB)"),
        num_col("CV (%)"),
        num_col("p5 (MiB)"),
        num_col("p95 (MiB)"),
        text_col("what it is"),
    ]);
    Figure {
        id: "memory",
        sentence: "What one idle instance holding the same working set costs the host, split into \
                   its parts (medians): the difference with native is the price of isolation, \
                   paid again by every instance, so it decides how many fit on one machine."
            .to_owned(),
        chart: Some(Drawing::Rows(Chart {
            title: "Memory per instance, by component".to_owned(),
            x_desc: "host memory per idle instance (MiB)".to_owned(),
            scale: Scale::Linear,
            rows,
            legend,
            reference: None,
            row_px: 28,
        })),
        absent: "No environment has memory figures, so there is no memory chart.".to_owned(),
        table: table("Memory per instance, every component", &cols, &cells),
        after: missing("memory figures", &without),
    }
}

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
        after: String::new(),
    }
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
