//! The host section: where and how the figures were measured (CPU, kernel,
//! cgroup layout, the kind of virtualization, the workload build), one column
//! per run, and the warnings a reader needs before any figure: a noisy
//! machine, a PVM host (guest kernel code emulated), a host that is itself a
//! VM. The facts come from `results.json`'s `host` record (DESIGN.md,
//! "Results and reports").

use super::format::{bytes, esc, num, table, text_col};
use super::{figures, Page};
use crate::schema::{Results, Virtualization, NOISY_CV};

/// The box at the top of the page when any startup or throughput figure
/// varied more than [`NOISY_CV`] between samples; empty otherwise.
pub(super) fn noisy_warning(noisy: &[figures::Noisy]) -> String {
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

/// The box at the top of the page when other vmvc runs measured at the same
/// time as one of these runs; empty otherwise.
pub(super) fn concurrent_warning(page: &Page) -> String {
    page.runs
        .iter()
        .filter(|r| !r.res.concurrent_runs.is_empty())
        .map(|r| {
            format!(
                "<div class=\"warning concurrent\" role=\"note\"><strong>Not alone:</strong> {}: \
                 {}.</div>\n",
                esc(&r.label()),
                esc(&crate::schema::concurrent_warning(&r.res.concurrent_runs))
            )
        })
        .collect()
}

/// One row of the host table: its name and how to read it from a run.
type Fact = (&'static str, fn(&Results) -> String);

/// Host and run facts, one column per run, then what the reader must know
/// about the host's virtualization before reading any VM figure.
pub(super) fn host_section(page: &Page, noisy: &[figures::Noisy]) -> String {
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
