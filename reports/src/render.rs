//! Results -> one self-contained HTML page.
//!
//! The page is plain HTML with inline CSS and inline SVG: it opens offline,
//! can be mailed as one file, and prints. Layout of the code:
//! - this file: the page skeleton and the runs it shows ([`Page`]);
//! - [`summary`]: one line per environment, the figures asked first;
//! - [`claims`]: the blog post's claims with this run's verdicts;
//! - [`host`]: the host facts and the warnings before any figure;
//! - [`environments`]: what ran in each row, and what did not;
//! - [`figures`]: the charts, each with its sentence and its table;
//! - [`chart`]: the one chart model they share, drawn with plotters;
//! - [`format`]: escaping, numbers with units, tables;
//! - [`style`]: the fixed text and the inline style sheet.
//!
//! With several runs the page compares them: each chart gets one series per
//! run, labelled `run_id @ hostname`.

mod chart;
mod claims;
mod environments;
mod figures;
pub(crate) mod format;
mod host;
mod style;
mod summary;

use crate::schema::{EnvResult, Results, SCHEMA_VERSION};
use claims::claims_section;
use environments::environments_section;
use format::esc;
use host::{concurrent_warning, host_section, noisy_warning};
use style::{CSS, GLOSSARY, INTRO, START_MODES_INTRO, THROUGHPUT_INTRO};
use summary::summary_section;

/// Renders one page from one or more runs. Never panics on odd data:
/// missing figures become dashes in tables and sentences instead of charts.
pub fn render_html(runs: &[Results]) -> String {
    let page = Page::new(runs);
    let title = match page.runs.as_slice() {
        [] => "vmvc report".to_owned(),
        [run] => format!("vmvc report — {}", run.label()),
        many => format!("vmvc comparison of {} runs", many.len()),
    };

    let mut html = String::new();
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>{}</title>\n", esc(&title)));
    html.push_str(&format!("<style>{CSS}</style>\n</head>\n<body>\n<main>\n"));
    html.push_str(&format!("<h1>{}</h1>\n", esc(&title)));

    if page.runs.is_empty() {
        html.push_str("<p class=\"absent\">No results were given: run <code>vmvc run</code> first, then render its results.json.</p>\n");
    } else {
        let noisy = figures::noisy(&page);
        html.push_str(&noisy_warning(&noisy));
        html.push_str(&concurrent_warning(&page));
        html.push_str(INTRO);
        html.push_str(&summary_section(&page));
        html.push_str(&claims_section(&page));
        html.push_str(GLOSSARY);
        html.push_str(&host_section(&page, &noisy));
        html.push_str(&environments_section(&page));

        html.push_str("<section id=\"startup\">\n<h2>Startup</h2>\n");
        html.push_str(&figures::ready(&page).html(&noisy));
        html.push_str(&figures::phases(&page).html(&noisy));
        html.push_str(&figures::teardown(&page).html(&noisy));
        html.push_str(&figures::distribution(&page).html(&noisy));
        html.push_str("</section>\n");

        if figures::has_start_modes(&page) {
            html.push_str(START_MODES_INTRO);
            html.push_str(&figures::start_modes(&page).html(&noisy));
            html.push_str("</section>\n");
        }

        html.push_str("<section id=\"memory\">\n<h2>Memory per instance</h2>\n");
        html.push_str(&figures::memory(&page).html(&noisy));
        html.push_str("</section>\n");

        html.push_str("<section id=\"density\">\n<h2>Density: many instances at once</h2>\n");
        html.push_str(&figures::density_memory(&page).html(&noisy));
        html.push_str(&figures::density_startup(&page).html(&noisy));
        html.push_str("</section>\n");

        html.push_str("<section id=\"throughput\">\n<h2>Throughput</h2>\n");
        html.push_str(THROUGHPUT_INTRO);
        html.push_str(&figures::throughput(&page).html(&noisy));
        html.push_str("</section>\n");
    }

    html.push_str(&format!(
        "<footer>Rendered by the vmvc <code>reports</code> crate from results schema version {SCHEMA_VERSION}. \
         Every figure comes with its raw samples in results.json.</footer>\n"
    ));
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

/// One run as the page sees it: its results and its number on the page.
pub(crate) struct Run<'a> {
    /// 1-based position in the list given to [`render_html`].
    pub no: usize,
    pub res: &'a Results,
}

impl Run<'_> {
    /// How a run is named everywhere on the page.
    pub fn label(&self) -> String {
        format!("{} @ {}", self.res.run_id, self.res.host.hostname)
    }

    /// The colour of this run's series.
    pub fn color(&self) -> usize {
        self.no - 1
    }
}

/// The runs of the page and the conventions that depend on how many there are.
pub(crate) struct Page<'a> {
    pub runs: Vec<Run<'a>>,
}

impl<'a> Page<'a> {
    fn new(runs: &'a [Results]) -> Page<'a> {
        let runs = runs
            .iter()
            .enumerate()
            .map(|(i, res)| Run { no: i + 1, res })
            .collect();
        Page { runs }
    }

    pub fn comparing(&self) -> bool {
        self.runs.len() > 1
    }

    /// A chart row's label: the name alone for one run; with several runs a
    /// short tag ("run 2") that the legend maps to the full run label, so that
    /// rows stay short enough to read.
    pub fn row_label(&self, name: &str, run: &Run) -> String {
        if self.comparing() {
            format!("{name} (run {})", run.no)
        } else {
            name.to_owned()
        }
    }

    /// The run column of a table row, empty for one run: the short tag, which
    /// the host table and the environment headings spell out.
    pub fn run_cell(&self, run: &Run) -> Vec<String> {
        if self.comparing() {
            // A no-break space keeps "run 1" on one line in narrow columns.
            vec![format!("run\u{a0}{}", run.no)]
        } else {
            Vec::new()
        }
    }

    /// Legend entries for charts whose colours are the runs.
    pub fn run_legend(&self) -> Vec<chart::LegendEntry> {
        self.runs
            .iter()
            .map(|run| chart::LegendEntry::swatch(self.run_name(run), run.color()))
            .collect()
    }

    /// Text-only legend entries naming the runs, for charts whose colours are
    /// something else (phases, memory parts); empty for one run.
    pub fn run_key(&self) -> Vec<chart::LegendEntry> {
        if !self.comparing() {
            return Vec::new();
        }
        self.runs
            .iter()
            .map(|run| chart::LegendEntry::text(self.run_name(run)))
            .collect()
    }

    fn run_name(&self, run: &Run) -> String {
        if self.comparing() {
            format!("run {}: {}", run.no, run.label())
        } else {
            run.label()
        }
    }

    /// Names of the measured (not skipped) environments over all runs, in
    /// the order they first ran: the row order of every chart.
    pub fn env_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for run in &self.runs {
            for env in run.res.environments.iter().filter(|e| e.skipped.is_none()) {
                if !names.contains(&env.name.as_str()) {
                    names.push(&env.name);
                }
            }
        }
        names
    }

    /// Every measured environment called `name`, with its run, run by run.
    pub fn measured(&self, name: &str) -> Vec<(&Run<'a>, &'a EnvResult)> {
        self.runs
            .iter()
            .flat_map(|run| {
                run.res
                    .environments
                    .iter()
                    .filter(move |e| e.skipped.is_none() && e.name == name)
                    .map(move |e| (run, e))
            })
            .collect()
    }
}
