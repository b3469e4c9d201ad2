//! The fixed text of the page: its introductions and its inline style
//! sheet (no external fonts or files, so the page works offline and prints).

pub(super) const INTRO: &str =
    "<p class=\"lead\">The same workload binary, started natively, in containers \
and in virtual machines on the same host. Startup times run from <em>t0</em>, just before the \
first environment-specific step, to the workload's READY signal; each figure keeps its raw \
samples, and the tables give median, p5, p95 and a confidence interval for the median.</p>\n";

pub(super) const THROUGHPUT_INTRO: &str =
    "<p>The same code runs in every environment, so pure computation \
(<code>cpu</code>) should cost the same everywhere; memory workloads (<code>mem_bw</code>, \
<code>random_access</code>) show the price of nested paging and the TLB. <code>syscall</code> \
makes a trivial system call: for a process or a container it is served by the <em>host</em> \
kernel (a container is just processes), in a VM by the <em>guest</em> kernel without leaving \
the VM. <code>boundary</code> is a round trip from the workload to whoever launched it: through \
a pipe or socket and the host kernel for a process, through a VM exit (guest to KVM to the VMM \
and back) for a VM.</p>\n";

/// Inline style: readable on screen, compact on paper, no external fonts.
pub(super) const CSS: &str = r#"
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

/// The opening of the "cold, warm, restored" section (shown only when a run
/// has warm or restored rows).
pub(super) const START_MODES_INTRO: &str =
    "<section id=\"start-modes\">\n<h2>Cold, warm, restored</h2>\n\
<p>Every other startup figure is a cold start: nothing exists before t0. Platforms that must \
answer fast do not start cold. A <strong>warm</strong> start takes a VM from a pool made in \
advance (VM, memory slots, vCPU: what AWS Lambda and Hyperlight keep ready; its RAM made fresh \
when the last guest left) and only loads and boots it. A <strong>restored</strong> start maps a snapshot of a guest taken at READY \
copy-on-write into a VM and sets its saved registers (Firecracker's snapshots); its READY is \
its first request for a command, since it said READY before it was saved. A warm container is \
forked from a zygote already in its namespaces, root and cgroup (SOCK). Restored guests share \
the snapshot's pages: RSS counts them in every guest, PSS divides them among the guests \
mapping them.</p>\n";
