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

/// The terms the figures use, explained once, near the top of the page.
pub(super) const GLOSSARY: &str = "<details class=\"glossary\" open>\n<summary>Terms used on this page</summary>\n<dl>\n\
<dt>t0, READY</dt><dd>t0 is taken just before the first environment-specific step (opening \
/dev/kvm, creating the cgroup, clone); READY is the first thing the workload's entry point says.</dd>\n\
<dt>median, p5, p95, CI</dt><dd>Half the samples are below the median; 5 % are below p5 and 5 % \
above p95. The CI is the range that holds the true median with the stated confidence.</dd>\n\
<dt>CV</dt><dd>Coefficient of variation: standard deviation ÷ mean. Above 10 % the figure is \
marked noisy.</dd>\n\
<dt>PSS</dt><dd>Proportional set size: a process's resident memory, with each page shared by N \
processes counted 1/N (proc(5), smaps_rollup).</dd>\n\
<dt>cgroup charge</dt><dd>The memory the kernel bills to a container's cgroup (memory.current or \
memory.usage_in_bytes): its processes' pages and the kernel memory it caused.</dd>\n\
<dt>guest RAM, KVM page tables (SecPageTables)</dt><dd>A VM's memory is ordinary memory of its VMM \
process lent to the guest; only pages the guest touched cost anything. KVM also keeps page tables \
that map guest to host addresses (shown as SecPageTables in /proc/meminfo).</dd>\n\
<dt>CPL0, CPL3</dt><dd>The x86 privilege levels: CPL0 is kernel mode, CPL3 user mode. The bare \
guest runs its workload at CPL3.</dd>\n\
<dt>VM exit</dt><dd>The CPU leaves the guest and returns to KVM and the VMM (here: on every I/O \
port access); the boundary workload times one round trip.</dd>\n\
<dt>nested paging</dt><dd>With a VM, every TLB miss walks two sets of page tables, the guest's and \
the host's for the guest; random_access shows its price.</dd>\n\
<dt>PVM</dt><dd>A software hypervisor behind /dev/kvm on hosts without hardware virtualization: \
guest CPL3 code runs natively, guest CPL0 code is emulated, so a VM's kernel work is far slower \
there than on VT-x or AMD-V.</dd>\n</dl>\n</details>\n";

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
table { border-collapse: collapse; margin: .4em 0 1.6em; font-size: .82em; width: 100%; }
caption { text-align: left; color: var(--muted); padding-bottom: .3em; }
th, td { padding: .25em .45em; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { border-bottom: 2px solid var(--rule); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { overflow-wrap: normal; }
dl.envs dt { font-weight: 600; margin-top: .5em; }
dl.envs dd { margin-left: 1.2em; }
ul.notes { margin: .2em 0; color: var(--muted); }
.verdict { display: inline-block; padding: 0 .5em; border-radius: 3px; font-weight: 600; white-space: nowrap; }
.verdict.true { background: #e3f4e1; color: #1e6b1a; }
.verdict.half { background: #fff1d6; color: #8a5a00; }
.verdict.false { background: #fbe1e1; color: #9b1c1c; }
.verdict.untested { background: #ececf0; color: #4a4a55; }
.claim { border-left: 3px solid var(--rule); padding-left: .9em; margin: 1.2em 0; }
.claim .ko { color: var(--muted); margin-top: -.3em; }
ul.evidence { margin: .2em 0 .6em; }
.glossary { margin: 1em 0; color: var(--muted); }
.glossary summary { cursor: pointer; font-weight: 600; color: var(--ink); }
.glossary dt { font-weight: 600; margin-top: .4em; color: var(--ink); }
.glossary dd { margin-left: 1.2em; }
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
