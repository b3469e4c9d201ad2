//! Results -> one self-contained HTML page.
//!
//! The page is plain HTML with inline CSS and inline SVG: it opens offline,
//! can be mailed as one file, and prints. Layout of the code:
//! - this file: the page skeleton, the host facts and the environment lists;
//! - [`figures`]: the charts, each with its sentence and its table;
//! - [`chart`]: the one chart model they share, drawn with plotters;
//! - [`format`]: escaping, numbers with units, tables.
//!
//! With several runs the page compares them: each chart gets one series per
//! run, labelled `run_id @ hostname`.

mod chart;
mod figures;
mod format;

use crate::schema::{EnvResult, Results, Virtualization, NOISY_CV, SCHEMA_VERSION};
use format::{bytes, esc, num, table, text_col};

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
        html.push_str(INTRO);
        html.push_str(&host_section(&page, &noisy));
        html.push_str(&environments_section(&page));

        html.push_str("<section id=\"startup\">\n<h2>Startup</h2>\n");
        html.push_str(&figures::ready(&page).html(&noisy));
        html.push_str(&figures::phases(&page).html(&noisy));
        html.push_str(&figures::distribution(&page).html(&noisy));
        html.push_str("</section>\n");

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

/// The box at the top of the page when any startup or throughput figure
/// varied more than [`NOISY_CV`] between samples; empty otherwise.
fn noisy_warning(noisy: &[figures::Noisy]) -> String {
    if noisy.is_empty() {
        return String::new();
    }
    let all: Vec<&figures::Noisy> = noisy.iter().collect();
    format!(
        "<div class=\"warning noisy\" id=\"noisy-warning\" role=\"note\"><strong>This machine was \
         noisy:</strong> {} of the startup and throughput figures varied by more than {} % between \
         samples (coefficient of variation, stddev ÷ mean): {}. Medians are robust to a few slow \
         samples, but differences between environments smaller than this spread are not \
         meaningful. For steadier figures, re-run on an otherwise idle machine, pin the run to \
         CPUs (<code>--pin</code>) and take more samples (no <code>--quick</code>); the affected \
         charts are marked below.</div>\n",
        noisy.len(),
        num(NOISY_CV * 100.0),
        esc(&figures::Noisy::list(&all, 8))
    )
}

/// One row of the host table: its name and how to read it from a run.
type Fact = (&'static str, fn(&Results) -> String);

/// Host and run facts, one column per run, then what the reader must know
/// about the host's virtualization before reading any VM figure.
fn host_section(page: &Page, noisy: &[figures::Noisy]) -> String {
    let mut html = String::from("<section id=\"host\">\n<h2>Host and run</h2>\n");

    let facts: &[Fact] = &[
        ("run id", |r| r.run_id.clone()),
        ("started (UTC)", |r| r.started_at.clone()),
        ("run wall time", |r| format!("{} s", num(r.wall_time_s))),
        ("quick run", |r| {
            if r.quick {
                "yes: fewer samples, noisier figures".to_owned()
            } else {
                "no".to_owned()
            }
        }),
        ("pinned to CPUs", |r| match &r.pinned_cpus {
            Some(cpus) if !cpus.is_empty() => {
                let list: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
                list.join(", ")
            }
            _ => "no (the scheduler placed every thread)".to_owned(),
        }),
        ("vmvc version", |r| r.vmvc_version.clone()),
        ("hostname", |r| r.host.hostname.clone()),
        ("CPU", |r| r.host.cpu_model.clone()),
        ("logical CPUs", |r| r.host.cores.to_string()),
        ("memory", |r| bytes(r.host.memory_bytes as f64)),
        ("host kernel", |r| r.host.kernel.clone()),
        ("running as root", |r| yes_no(r.host.root)),
        ("cgroup layout", |r| r.host.cgroup.as_str().to_owned()),
        ("virtualization", |r| {
            format!(
                "{}: {}",
                r.host.virtualization.as_str(),
                r.host.virtualization_detail
            )
        }),
        ("host is itself a VM", |r| yes_no(r.host.inside_vm)),
        ("TSC rate", |r| format!("{} GHz", num(r.host.tsc_hz / 1e9))),
        ("workload binary", |r| {
            format!(
                "{}, FNV-1a {}",
                bytes(r.workload.linux_binary_bytes as f64),
                r.workload.linux_binary_fnv64
            )
        }),
        ("bare-guest image", |r| {
            r.workload
                .guest_image_bytes
                .map_or_else(|| "none".to_owned(), |b| bytes(b as f64))
        }),
        ("workload parameters", |r| {
            let params: Vec<String> = r
                .workload
                .parameters
                .iter()
                .map(|p| format!("{} = {} {}", p.name, p.value, p.unit))
                .collect();
            if params.is_empty() {
                "none".to_owned()
            } else {
                params.join(", ")
            }
        }),
        ("guest kernel", |r| {
            r.guest_kernel.as_ref().map_or_else(
                || "none".to_owned(),
                |k| format!("{}, {}", k.version, bytes(k.size_bytes as f64)),
            )
        }),
        ("guest kernel file", |r| {
            r.guest_kernel
                .as_ref()
                .map_or_else(|| "—".to_owned(), |k| k.path.clone())
        }),
        ("guest kernel command line", |r| {
            r.guest_kernel
                .as_ref()
                .map_or_else(|| "—".to_owned(), |k| k.cmdline.clone())
        }),
        ("environments asked for", |r| {
            r.environments.len().to_string()
        }),
    ];

    // One column per run; the fact names are the first column.
    let mut cols = vec![text_col("")];
    cols.extend(page.runs.iter().map(|run| {
        text_col(if page.comparing() {
            format!("run {}", run.no)
        } else {
            "this run".to_owned()
        })
    }));
    let rows: Vec<Vec<String>> = facts
        .iter()
        .map(|(name, fact)| {
            std::iter::once((*name).to_owned())
                .chain(page.runs.iter().map(|run| fact(run.res)))
                .collect()
        })
        .collect();
    let mut rows = rows;
    rows.insert(4, noisiest_row(page, noisy));
    html.push_str(&table(
        "Where and how each figure was measured",
        &cols,
        &rows,
    ));

    for run in &page.runs {
        let host = &run.res.host;
        let on = if page.comparing() {
            format!("run {} ({}): ", run.no, esc(&run.label()))
        } else {
            String::new()
        };
        if host.virtualization == Virtualization::Pvm {
            html.push_str(&format!(
                "<p class=\"callout\"><strong>{on}/dev/kvm here is PVM, a software hypervisor</strong>: \
                 guest kernel-mode code is emulated instruction by instruction, guest user-mode code \
                 runs natively; VM figures on this host are not those of hardware KVM. Startup of a \
                 VM and anything its guest kernel does (system calls, page faults, exits) are much \
                 slower here than on a machine with VT-x or AMD-V.</p>\n"
            ));
        }
        if host.virtualization == Virtualization::None {
            html.push_str(&format!(
                "<p class=\"callout\">{on}this host has no usable /dev/kvm, so no virtual machine \
                 could run; only processes and containers were measured.</p>\n"
            ));
        }
        if host.inside_vm {
            html.push_str(&format!(
                "<p class=\"callout\">{on}this host is itself a virtual machine (the CPU reports \
                 the hypervisor flag): every VM measured here is nested, and even native figures \
                 include the outer hypervisor's costs.</p>\n"
            ));
        }
        if run.res.quick {
            html.push_str(&format!(
                "<p class=\"callout\">{on}a quick run: fewer samples per figure, so medians are \
                 less certain (see the confidence intervals in the tables).</p>\n"
            ));
        }
    }

    let builds: Vec<&str> = page
        .runs
        .iter()
        .map(|r| r.res.workload.linux_binary_fnv64.as_str())
        .collect();
    if builds.windows(2).any(|w| w[0] != w[1]) {
        html.push_str(
            "<p class=\"callout\">The runs used different builds of the workload (their hashes \
             differ): differences between runs mix machine and code.</p>\n",
        );
    }
    html.push_str("</section>\n");
    html
}

/// The host-table row naming each run's noisiest startup or throughput figure.
fn noisiest_row(page: &Page, noisy: &[figures::Noisy]) -> Vec<String> {
    let mut row = vec!["steadiness".to_owned()];
    for run in &page.runs {
        let mine: Vec<&figures::Noisy> = noisy.iter().filter(|n| n.run == run.no).collect();
        row.push(match mine.first() {
            None => format!(
                "every startup and throughput figure within {} % CV",
                num(NOISY_CV * 100.0)
            ),
            Some(worst) => format!(
                "noisy: {} figure(s) above {} % CV, worst {} ({} %)",
                mine.len(),
                num(NOISY_CV * 100.0),
                worst.what,
                num(worst.cv * 100.0)
            ),
        });
    }
    row
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Said once per run that has rootless rows.
const ROOTLESS_NOTE: &str = "<p class=\"rootless\">Rows marked <em>(rootless)</em> ran without \
root: each container had a user namespace of its own, in which root is the user who ran vmvc \
and nobody else exists on the host's side. Their startup includes creating that namespace (in \
<code>clone</code>) and writing its id map (<code>userns_map</code>, or inside the tool for the \
peers). A rootless container is not the same thing as a root one: compare with a run as root.</p>\n";

/// What ran where, the notes a reader needs, and what was not measured and why.
fn environments_section(page: &Page) -> String {
    let mut html = String::from("<section id=\"environments\">\n<h2>Environments</h2>\n");
    for run in &page.runs {
        if page.comparing() {
            html.push_str(&format!("<h3>Run {}: {}</h3>\n", run.no, esc(&run.label())));
        }
        let (skipped, measured): (Vec<&EnvResult>, Vec<&EnvResult>) = run
            .res
            .environments
            .iter()
            .partition(|e| e.skipped.is_some());

        if run.res.environments.iter().any(|e| e.rootless) {
            html.push_str(ROOTLESS_NOTE);
        }
        if measured.is_empty() {
            html.push_str("<p class=\"absent\">No environment was measured in this run.</p>\n");
        } else {
            html.push_str("<dl class=\"envs\">\n");
            for env in measured {
                html.push_str(&format!(
                    "<dt>{}</dt>\n<dd>{}{}</dd>\n",
                    esc(&env.name),
                    esc(&env.description),
                    notes(&env.notes)
                ));
            }
            html.push_str("</dl>\n");
        }

        if !skipped.is_empty() {
            html.push_str("<h4>Not measured</h4>\n<ul class=\"skipped\">\n");
            for env in skipped {
                let reason = env.skipped.as_deref().unwrap_or_default();
                html.push_str(&format!(
                    "<li><strong>{}</strong>: {}{}</li>\n",
                    esc(&env.name),
                    esc(reason),
                    notes(&env.notes)
                ));
            }
            html.push_str("</ul>\n");
        }
    }
    html.push_str("</section>\n");
    html
}

fn notes(notes: &[String]) -> String {
    if notes.is_empty() {
        return String::new();
    }
    let items: String = notes
        .iter()
        .map(|n| format!("<li>{}</li>", esc(n)))
        .collect();
    format!("<ul class=\"notes\">{items}</ul>")
}

const INTRO: &str = "<p class=\"lead\">The same workload binary, started natively, in containers \
and in virtual machines on the same host. Startup times run from <em>t0</em>, just before the \
first environment-specific step, to the workload's READY signal; each figure keeps its raw \
samples, and the tables give median, p5, p95 and a confidence interval for the median.</p>\n";

const THROUGHPUT_INTRO: &str = "<p>The same code runs in every environment, so pure computation \
(<code>cpu</code>) should cost the same everywhere; memory workloads (<code>mem_bw</code>, \
<code>random_access</code>) show the price of nested paging and the TLB. <code>syscall</code> \
makes a trivial system call: for a process or a container it is served by the <em>host</em> \
kernel (a container is just processes), in a VM by the <em>guest</em> kernel without leaving \
the VM. <code>boundary</code> is a round trip from the workload to whoever launched it: through \
a pipe or socket and the host kernel for a process, through a VM exit (guest to KVM to the VMM \
and back) for a VM.</p>\n";

/// Inline style: readable on screen, compact on paper, no external fonts.
const CSS: &str = r#"
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #d9d9de; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.7em; margin: 0 0 .4em; }
h2 { font-size: 1.35em; margin: 1.8em 0 .6em; padding-bottom: .2em; border-bottom: 2px solid var(--rule); }
h3 { font-size: 1.1em; margin: 1.2em 0 .4em; }
h4 { font-size: 1em; margin: 1em 0 .3em; }
.lead { color: var(--muted); }
code { font: .92em ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.callout { border-left: 4px solid #e15759; background: #fdf3f3; padding: .6em .9em; }
.warning { border: 2px solid #d97706; border-left-width: 6px; background: #fff7e6; padding: .6em .9em; margin: 1em 0; }
.absent { color: var(--muted); font-style: italic; }
figure.chart { margin: 1.4em 0 .6em; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figure.chart figcaption { margin: 0 0 .4em; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: .4em 0 1.6em; font-size: .88em; }
caption { text-align: left; color: var(--muted); padding-bottom: .3em; }
th, td { padding: .25em .7em; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { border-bottom: 2px solid var(--rule); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
dl.envs dt { font-weight: 600; margin-top: .5em; }
dl.envs dd { margin-left: 1.2em; }
ul.notes { margin: .2em 0; color: var(--muted); }
footer { margin-top: 3em; color: var(--muted); font-size: .85em; }
@page { size: A4; margin: 14mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure.chart, .callout, .warning, tr { break-inside: avoid; page-break-inside: avoid; }
  figure.chart svg { width: 100%; }
  .table-wrap { overflow: visible; }
}
"#;
