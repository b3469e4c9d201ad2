//! The figures of the report. Each one turns the runs into a chart, a
//! sentence saying what the chart shows and why it matters, and the table of
//! the numbers behind it (tables also hold what charts leave out); a figure
//! whose numbers were noisy says so beside its chart.

use super::chart::{Chart, LegendEntry, Mark, Panel, Row, Scale, Series, XyChart, XyPoint};
use super::format::{esc, mib, num, num_col, outliers, pct, rate, table, text_col, Col, TimeUnit};
use super::{Page, Run};
use crate::schema::{DensityPoint, EnvResult, Metric, Stats, NOISY_CV};

mod density;
mod distribution;
mod memory;
mod phases;
mod ready;
mod start_modes;
mod throughput;

pub use density::{density_memory, density_startup};
pub use distribution::distribution;
pub use memory::memory;
pub use phases::{phases, teardown};
pub use ready::ready;
pub use start_modes::{has_start_modes, start_modes};
pub use throughput::throughput;

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
                &["ready", "teardown"],
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
/// A row of one bar to the median with a p5–p95 whisker, in `unit`.
pub fn median_row(label: String, gap_before: bool, s: &Stats, unit: TimeUnit, color: usize) -> Row {
    Row {
        label,
        gap_before,
        marks: vec![
            Mark::Bar {
                from: 0.0,
                to: unit.of(s.median),
                color,
            },
            Mark::Whisker {
                lo: unit.of(s.p5),
                hi: unit.of(s.p95),
            },
        ],
    }
}

/// The colour of `name` in a chart whose parts have fixed names: its place
/// in `order`, else one of the three colours after those, chosen by a hash of
/// the name (FNV-1a). The same name gets the same colour in every report,
/// whichever parts a run happens to have.
pub fn stable_color(order: &[&str], name: &str) -> usize {
    order.iter().position(|p| *p == name).unwrap_or_else(|| {
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        order.len() + (hash % 3) as usize
    })
}

fn index_of(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    }
}
