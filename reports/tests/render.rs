//! Renders realistic results and checks the page: every chart is there and
//! drawn, names reach the charts, file contents are escaped, skipped
//! environments explain themselves, several runs are compared, odd data does
//! not panic; and the schema reads back what it wrote.
//!
//! `VMVC_SAMPLE_REPORT=/tmp/vmvc-sample-report.html cargo test -p reports`
//! also writes the sample page there (and a two-run comparison next to it,
//! `…-comparison.html`), to look at in a browser.

use std::path::Path;

use reports::*;

// ---------------------------------------------------------------- fixtures

/// Statistics over samples, computed the simple way (the real ones live in
/// the harness; the report only displays them).
fn stats(samples: &[f64]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        let nan = f64::NAN;
        return Stats {
            n,
            median: nan,
            p5: nan,
            p95: nan,
            mean: nan,
            stddev: nan,
            cv: nan,
            outliers: Vec::new(),
            median_ci_low: nan,
            median_ci_high: nan,
            ci_level: nan,
        };
    }
    let quantile = |q: f64| {
        let pos = q * (n - 1) as f64;
        let (i, frac) = (pos.floor() as usize, pos.fract());
        let next = sorted[(i + 1).min(n - 1)];
        sorted[i] + (next - sorted[i]) * frac
    };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    // One sample has no spread to speak of (and NaN would not round-trip
    // as equal): call it zero.
    let var = if n > 1 {
        sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)
    } else {
        0.0
    };
    // Order statistics around the median: ranks n/2 ± 1.96·√n/2.
    let half = 0.98 * (n as f64).sqrt();
    let rank = |r: f64| sorted[(r.clamp(0.0, (n - 1) as f64)) as usize];
    Stats {
        n,
        median: quantile(0.5),
        p5: quantile(0.05),
        p95: quantile(0.95),
        mean,
        stddev: var.sqrt(),
        cv: var.sqrt() / mean,
        outliers: tukey_outliers(samples, quantile(0.25), quantile(0.75)),
        median_ci_low: rank(n as f64 / 2.0 - half),
        median_ci_high: rank(n as f64 / 2.0 + half),
        ci_level: 0.95,
    }
}

/// Indices of the samples outside Tukey's fences.
fn tukey_outliers(samples: &[f64], q1: f64, q3: f64) -> Vec<usize> {
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    samples
        .iter()
        .enumerate()
        .filter(|(_, v)| **v < lo || **v > hi)
        .map(|(i, _)| i)
        .collect()
}

/// `n` positive samples around `median`, skewed right like real latencies;
/// deterministic (a small LCG) so the pictures do not change between runs.
fn samples(median: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            // Mostly within ±15 %, with an occasional slow outlier.
            let spread = if u > 0.97 { 2.5 } else { 0.85 + 0.3 * u };
            median * spread
        })
        .collect()
}

fn metric(unit: &str, samples: Vec<f64>) -> Metric {
    Metric {
        unit: unit.to_owned(),
        stats: stats(&samples),
        samples,
    }
}

/// Startup whose phases (medians in seconds) add up to the teardown total.
fn startup(phases: &[(&str, f64)], seed: u64) -> Startup {
    let n = 60;
    let per_phase: Vec<Vec<f64>> = phases
        .iter()
        .enumerate()
        .map(|(i, (_, m))| samples(*m, n, seed * 31 + i as u64))
        .collect();
    let before_teardown = phases.len().saturating_sub(1);
    let ready: Vec<f64> = (0..n)
        .map(|k| per_phase[..before_teardown].iter().map(|p| p[k]).sum())
        .collect();
    let torn_down: Vec<f64> = (0..n)
        .map(|k| per_phase.iter().map(|p| p[k]).sum())
        .collect();
    Startup {
        ready: metric("s", ready),
        torn_down: metric("s", torn_down),
        phases: phases
            .iter()
            .zip(per_phase)
            .map(|((name, _), s)| Phase {
                name: (*name).to_owned(),
                time: metric("s", s),
            })
            .collect(),
    }
}

fn memory(parts: &[(&str, bool, f64)], native_total: Option<f64>, seed: u64) -> Memory {
    const MIB: f64 = 1024.0 * 1024.0;
    let components: Vec<MemComponent> = parts
        .iter()
        .enumerate()
        .map(|(i, (name, counts, mib))| MemComponent {
            name: (*name).to_owned(),
            description: format!("{name}, as measured"),
            counts_in_total: *counts,
            bytes: metric("bytes", samples(mib * MIB, 10, seed + i as u64)),
        })
        .collect();
    let total_mib: f64 = parts.iter().filter(|p| p.1).map(|p| p.2).sum();
    let total = metric("bytes", samples(total_mib * MIB, 10, seed + 99));
    Memory {
        working_set_bytes: 64 * 1024 * 1024,
        overhead_vs_native_bytes: native_total.map(|n| total.stats.median - n),
        components,
        total,
    }
}

/// Throughput for the five workloads: native rates times `ratios`.
fn throughput(ratios: [f64; 5], paths: [&str; 5], seed: u64) -> Vec<Throughput> {
    let base = [
        ("cpu", "ops/s", 2.1e9),
        ("mem_bw", "bytes/s", 11.5e9),
        ("random_access", "ops/s", 38e6),
        ("syscall", "ops/s", 9.5e6),
        ("boundary", "ops/s", 210e3),
    ];
    base.iter()
        .zip(ratios)
        .zip(paths)
        .enumerate()
        .map(|(i, (((name, unit, rate), ratio), path))| Throughput {
            workload: (*name).to_owned(),
            unit: (*unit).to_owned(),
            rate: metric(unit, samples(rate * ratio, 20, seed + i as u64)),
            ratio_to_native: Some(ratio),
            path: Some(path.to_owned()),
        })
        .collect()
}

/// Density at N = 1, 2, 4, …, 16: per-instance cost `mib` (MemAvailable
/// view) of which `accounted` is counted per instance, shared memory making
/// the per-instance figure fall a little with N; startup rising slowly.
fn density(mib: f64, accounted: f64, ready_s: f64, seed: u64) -> Vec<DensityPoint> {
    const MIB: f64 = 1024.0 * 1024.0;
    [1u32, 2, 4, 8, 16]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let shared = 1.5 / f64::from(n);
            DensityPoint {
                instances: n,
                mem_available_drop_per_instance: (mib + shared) * MIB,
                accounted_per_instance: accounted * MIB,
                ready: metric(
                    "s",
                    samples(
                        ready_s * (1.0 + 0.05 * i as f64),
                        n as usize,
                        seed + i as u64,
                    ),
                ),
            }
        })
        .collect()
}

fn env(name: &str, description: &str) -> EnvResult {
    EnvResult {
        name: name.to_owned(),
        description: description.to_owned(),
        rootless: false,
        skipped: None,
        startup: None,
        memory: None,
        throughput: Vec::new(),
        notes: Vec::new(),
        density: Vec::new(),
    }
}

const SKIP_REASON: &str = "a Linux guest cannot run on a PVM host: its kernel dies in the emulator";

/// One run of four environments on a PVM host, one of them skipped.
fn sample_run(run_id: &str, hostname: &str, scale: f64) -> Results {
    let native = EnvResult {
        startup: Some(startup(
            &[
                ("spawn", 95e-6 * scale),
                ("workload_start", 160e-6 * scale),
                ("teardown", 60e-6 * scale),
            ],
            1,
        )),
        memory: Some(memory(&[("workload", true, 64.4)], None, 10)),
        throughput: throughput([1.0; 5], ["CPU", "RAM", "RAM", "host kernel", "pipe"], 20),
        density: density(64.6, 64.4, 330e-6 * scale, 70),
        ..env("native", "a plain child process (fork/exec): the baseline")
    };
    let container = EnvResult {
        startup: Some(startup(
            &[
                ("cgroup_create", 180e-6 * scale),
                ("clone", 420e-6 * scale),
                ("rootfs_setup", 650e-6 * scale),
                ("exec", 120e-6 * scale),
                ("workload_start", 170e-6 * scale),
                ("teardown", 900e-6 * scale),
            ],
            2,
        )),
        memory: Some(memory(
            &[
                ("workload", true, 64.4),
                ("kernel_objects", true, 0.6),
                ("cgroup_charge", false, 64.9),
            ],
            Some(64.4 * 1024.0 * 1024.0),
            30,
        )),
        throughput: throughput(
            [0.998, 0.995, 0.99, 0.97, 0.96],
            ["CPU", "RAM", "RAM", "host kernel", "pipe"],
            40,
        ),
        notes: vec!["pivot_root + mount/pid/uts/ipc/net namespaces + cgroup v1 memory".to_owned()],
        density: density(66.2, 65.0, 1.6e-3 * scale, 80),
        ..env("container:full", "bench-container, full profile")
    };
    let vm_bare = EnvResult {
        startup: Some(startup(
            &[
                ("kvm_open", 15e-6 * scale),
                ("create_vm", 900e-6 * scale),
                ("guest_memory", 250e-6 * scale),
                ("load_image", 80e-6 * scale),
                ("vcpu_setup", 1.4e-3 * scale),
                ("guest_boot", 6.5e-3 * scale),
                ("teardown", 2.2e-3 * scale),
            ],
            3,
        )),
        memory: Some(memory(
            &[
                ("guest_ram_touched", true, 64.2),
                ("vmm_own", true, 2.8),
                ("kvm_kernel", true, 0.9),
                ("guest_stub", false, 0.05),
            ],
            Some(64.4 * 1024.0 * 1024.0),
            50,
        )),
        throughput: throughput(
            [1.0, 0.93, 0.71, 0.012, 0.004],
            [
                "CPU",
                "RAM",
                "RAM via nested paging",
                "guest stub (emulated)",
                "VM exit",
            ],
            60,
        ),
        notes: vec!["CPL0 stub emulated by PVM: syscall figures are emulation speed".to_owned()],
        density: density(69.5, 67.9, 9.5e-3 * scale, 90),
        ..env("vm-bare", "bench-vm with no guest OS")
    };
    let vm_linux = EnvResult {
        skipped: Some(SKIP_REASON.to_owned()),
        ..env("vm-linux", "bench-vm booting a Linux kernel")
    };
    Results {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_owned(),
        started_at: "2026-11-28T08:30:00Z".to_owned(),
        wall_time_s: 212.4,
        vmvc_version: "0.1.0".to_owned(),
        quick: false,
        pinned_cpus: None,
        host: Host {
            hostname: hostname.to_owned(),
            cpu_model: "AMD EPYC 7B13 64-Core Processor".to_owned(),
            cores: 8,
            memory_bytes: 32 * 1024 * 1024 * 1024,
            kernel: "6.1.0-pvm".to_owned(),
            root: true,
            cgroup: CgroupLayout::Hybrid,
            virtualization: Virtualization::Pvm,
            virtualization_detail: "kvm_pvm module loaded, no vmx/svm".to_owned(),
            inside_vm: true,
            tsc_hz: 2.45e9,
        },
        workload: WorkloadBuild {
            linux_binary_bytes: 18_432,
            linux_binary_fnv64: "9c1d2f3a4b5c6d7e".to_owned(),
            guest_image_bytes: Some(12_288),
            parameters: vec![Parameter {
                name: "mem_bw buffer".to_owned(),
                value: 256,
                unit: "MiB".to_owned(),
            }],
        },
        guest_kernel: Some(GuestKernel {
            version: "6.1.0-27-amd64".to_owned(),
            path: "/boot/vmlinuz-6.1.0-27-amd64".to_owned(),
            size_bytes: 8_123_456,
            cmdline: "console=ttyS0 reboot=k panic=1 pci=off".to_owned(),
        }),
        environments: vec![native, container, vm_bare, vm_linux],
    }
}

// ------------------------------------------------------- reading the page

/// One chart found on the page: its wrapper id and its `<svg>` element.
struct ChartSvg {
    id: String,
    svg: String,
}

impl ChartSvg {
    /// The texts drawn in the SVG (axis labels, legend, title), unescaped.
    fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.svg.as_str();
        while let Some(start) = rest.find("<text") {
            rest = &rest[start..];
            let Some(open_end) = rest.find('>') else {
                break;
            };
            let Some(close) = rest.find("</text>") else {
                break;
            };
            out.push(unescape(rest[open_end + 1..close].trim()));
            rest = &rest[close..];
        }
        out
    }

    fn has_text(&self, needle: &str) -> bool {
        self.texts().iter().any(|t| t.contains(needle))
    }

    /// Shapes drawn: bars, dots, lines.
    fn shapes(&self) -> usize {
        ["<rect", "<circle", "<polyline", "<line"]
            .iter()
            .map(|tag| self.svg.matches(tag).count())
            .sum()
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every `<figure class="chart" id="…">` of the page with the `<svg>` inside.
fn charts(html: &str) -> Vec<ChartSvg> {
    let marker = "<figure class=\"chart\" id=\"";
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let id_end = rest.find('"').expect("an id attribute is quoted");
        let id = rest[..id_end].to_owned();
        let end = rest.find("</figure>").expect("every figure is closed");
        let figure = &rest[..end];
        let svg_start = figure
            .find("<svg")
            .expect("every chart figure holds an svg");
        let svg_end = figure.find("</svg>").expect("every svg is closed");
        out.push(ChartSvg {
            id,
            svg: figure[svg_start..svg_end + "</svg>".len()].to_owned(),
        });
        rest = &rest[end..];
    }
    out
}

fn chart<'a>(charts: &'a [ChartSvg], id: &str) -> &'a ChartSvg {
    charts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("chart {id} is on the page"))
}

const CHART_IDS: [&str; 7] = [
    "chart-ready",
    "chart-phases",
    "chart-distribution",
    "chart-memory",
    "chart-density",
    "chart-density-startup",
    "chart-throughput",
];

// ------------------------------------------------------------------ tests

#[test]
fn one_run_gives_seven_drawn_charts_with_names_and_units() {
    let run = sample_run("2026-11-28T08-30-00Z", "pvm-host", 1.0);
    let html = render_html(std::slice::from_ref(&run));
    if let Ok(path) = std::env::var("VMVC_SAMPLE_REPORT") {
        std::fs::write(&path, &html).expect("the sample report path is writable");
    }

    let found = charts(&html);
    assert_eq!(
        html.matches("<svg").count(),
        CHART_IDS.len(),
        "one svg per chart, no other"
    );
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, CHART_IDS, "every chart, in page order");
    for id in CHART_IDS {
        let c = chart(&found, id);
        assert!(c.shapes() > 5, "{id} draws something");
        assert!(
            c.has_text("2026-11-28T08-30-00Z @ pvm-host")
                || [
                    "chart-phases",
                    "chart-memory",
                    "chart-density",
                    "chart-density-startup"
                ]
                .contains(&id),
            "{id} names the run in its legend"
        );
    }
    for id in [
        "chart-ready",
        "chart-phases",
        "chart-distribution",
        "chart-memory",
        "chart-density",
        "chart-density-startup",
    ] {
        for name in ["native", "container:full", "vm-bare"] {
            assert!(
                chart(&found, id).texts().contains(&name.to_owned()),
                "{id} has a row {name}"
            );
        }
    }
    let throughput = chart(&found, "chart-throughput");
    for label in [
        "cpu: vm-bare",
        "syscall: vm-bare",
        "boundary: container:full",
        "native = 1",
    ] {
        assert!(throughput.has_text(label), "throughput chart shows {label}");
    }
    // Native is the reference line, not a bar of its own.
    assert!(!throughput.has_text("cpu: native"));
    // Stacked charts: the legend names the parts.
    assert!(chart(&found, "chart-phases").has_text("guest_boot"));
    assert!(chart(&found, "chart-memory").has_text("vmm_own"));
    // The part that is not host cost is in the table, not in the stacked bars.
    assert!(!chart(&found, "chart-memory").has_text("guest_stub"));
    assert!(html.contains("guest_stub"));
    // Axis descriptions carry units (startup here is in ms: vm-bare is ~9 ms).
    assert!(chart(&found, "chart-ready").has_text("(ms, log scale)"));
    assert!(chart(&found, "chart-phases").has_text("(ms)"));
    assert!(chart(&found, "chart-memory").has_text("(MiB)"));
    // Absolute rates in the table, with units.
    assert!(
        html.contains("GiB/s"),
        "mem_bw rate is shown in bytes per second"
    );
    assert!(html.contains("M ops/s"));
}

#[test]
fn host_facts_and_pvm_are_explained() {
    let html = render_html(&[sample_run("r1", "pvm-host", 1.0)]);
    for fact in [
        "AMD EPYC 7B13 64-Core Processor",
        "6.1.0-pvm",
        "hybrid",
        "32 GiB",
        "212 s",
        "9c1d2f3a4b5c6d7e",
        "6.1.0-27-amd64",
        "console=ttyS0 reboot=k panic=1 pci=off",
        "kvm_pvm module loaded",
    ] {
        assert!(html.contains(fact), "host facts show {fact}");
    }
    assert!(html.contains("/dev/kvm here is PVM, a software hypervisor"));
    assert!(html.contains("VM figures on this host are not those of hardware KVM"));
    assert!(html.contains("itself a virtual machine"));
    // Environment notes reach the page.
    assert!(html.contains("CPL0 stub emulated by PVM"));
}

#[test]
fn page_is_self_contained_and_printable() {
    let html = render_html(&[sample_run("r1", "h", 1.0)]);
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("@media print"));
    assert!(html.contains("break-inside: avoid"));
    assert!(!html.contains("<script"), "no JavaScript");
    assert!(!html.contains("<link"), "no external style sheets");
    assert!(!html.contains("url("), "no external resources from CSS");
    assert!(!html.contains("src="), "no external images or scripts");
    // The only URL is the SVG namespace, which is a name, not a download.
    let urls = html.matches("http").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
}

#[test]
fn strings_from_the_file_are_escaped() {
    let mut run = sample_run("r1", "<b>host</b>", 1.0);
    run.environments[0].name = "<script>alert('x')</script>".to_owned();
    run.environments[1].notes.push("a & b <i>".to_owned());
    run.host.cpu_model = "\"><img onerror=x>".to_owned();
    let html = render_html(&[run]);
    assert!(!html.contains("<script"), "a name cannot inject a script");
    assert!(!html.contains("<b>host"), "a hostname cannot inject markup");
    assert!(!html.contains("<img"), "a CPU model cannot inject markup");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("a &amp; b &lt;i&gt;"));
    // In the SVG the name is escaped too, and still readable as text.
    let found = charts(&html);
    assert!(chart(&found, "chart-ready").has_text("<script>alert('x')</script>"));
}

#[test]
fn skipped_environment_is_listed_with_its_reason_not_charted() {
    let html = render_html(&[sample_run("r1", "h", 1.0)]);
    let listed = format!("<li><strong>vm-linux</strong>: {SKIP_REASON}");
    assert!(
        html.contains(&listed),
        "the not-measured list gives the reason"
    );
    for c in charts(&html) {
        assert!(
            !c.has_text("vm-linux"),
            "{} has no row for a skipped environment",
            c.id
        );
    }
}

#[test]
fn several_runs_give_one_comparison_page() {
    let a = sample_run("2026-11-28T08-30-00Z", "pvm-host", 1.0);
    let mut b = sample_run("2026-12-01T10-00-00Z", "laptop", 0.4);
    b.host.virtualization = Virtualization::Hardware;
    let html = render_html(&[a, b]);
    if let Ok(path) = std::env::var("VMVC_SAMPLE_REPORT") {
        let path = path.replace(".html", "-comparison.html");
        std::fs::write(&path, &html).expect("the sample report path is writable");
    }
    let found = charts(&html);
    assert_eq!(
        found.len(),
        CHART_IDS.len(),
        "the same charts, not one page per run"
    );
    for c in &found {
        assert!(
            c.has_text("2026-11-28T08-30-00Z @ pvm-host"),
            "{} names run 1",
            c.id
        );
        assert!(
            c.has_text("2026-12-01T10-00-00Z @ laptop"),
            "{} names run 2",
            c.id
        );
    }
    // Series of different runs have different colours.
    let ready = chart(&found, "chart-ready");
    let fills: std::collections::BTreeSet<&str> = ready
        .svg
        .split("fill=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|c| !["#FFFFFF", "#000000", "none"].contains(c))
        .collect();
    assert!(fills.len() >= 2, "two runs, two colours: {fills:?}");
    assert!(ready.has_text("vm-bare (run 1)") && ready.has_text("vm-bare (run 2)"));
    // Host facts for each run; the PVM explanation only for the PVM run.
    assert!(html.contains("pvm-host") && html.contains("laptop"));
    assert_eq!(html.matches("a software hypervisor").count(), 1);
}

#[test]
fn odd_data_never_panics_and_says_what_is_missing() {
    // No runs at all.
    let empty = render_html(&[]);
    assert!(empty.contains("No results were given"));

    // One environment with no startup, no memory, no throughput.
    let mut run = sample_run("r1", "h", 1.0);
    run.environments = vec![env("native", "bare")];
    let html = render_html(std::slice::from_ref(&run));
    assert_eq!(charts(&html).len(), 0);
    assert!(html.contains("data-chart=\"ready\""));
    assert!(html.contains("No environment has startup figures"));

    // Zero samples and NaN statistics; a throughput without a ratio.
    let mut odd = sample_run("r1", "h", 1.0);
    if let Some(s) = odd.environments[0].startup.as_mut() {
        s.ready.samples.clear();
        s.ready.stats = stats(&[]);
        s.phases[0].time.stats.median = f64::NAN;
    }
    if let Some(m) = odd.environments[1].memory.as_mut() {
        m.total.stats.median = f64::INFINITY;
        m.components[0].bytes.stats.median = f64::NAN;
    }
    odd.environments[2].throughput[0].ratio_to_native = None;
    odd.environments[2].throughput[1].ratio_to_native = Some(0.0);
    let html = render_html(&[odd]);
    assert!(
        !html.contains("NaN") && !html.contains(">inf"),
        "missing figures print as dashes"
    );
    assert!(html.contains("No startup samples for: native"));

    // Everything NaN: no chart can be drawn, and the page says so.
    let mut all_nan = sample_run("r1", "h", 1.0);
    for e in &mut all_nan.environments {
        if let Some(s) = e.startup.as_mut() {
            s.ready.stats = stats(&[]);
            s.ready.samples = vec![f64::NAN];
        }
    }
    let html = render_html(&[all_nan]);
    assert!(html.contains("This chart could not be drawn"));
}

#[test]
fn results_round_trip_through_json() {
    let run = sample_run("r1", "h", 1.0);
    let text = serde_json::to_string_pretty(&run).expect("results serialize");
    let back = parse(&text, Path::new("results.json")).expect("what we write we read");
    assert_eq!(back, run);
}

#[test]
fn foreign_json_and_other_versions_get_their_own_errors() {
    let path = Path::new("x.json");
    assert!(matches!(
        parse("{\"foo\":1}", path),
        Err(ReportError::NotResults { .. })
    ));
    assert!(matches!(
        parse("not json at all", path),
        Err(ReportError::NotResults { .. })
    ));

    let mut value = serde_json::to_value(sample_run("r1", "h", 1.0)).expect("results serialize");
    value["schema_version"] = 99.into();
    match parse(&value.to_string(), path) {
        Err(ReportError::Version {
            found: 99,
            expected,
            ..
        }) => assert_eq!(expected, SCHEMA_VERSION),
        other => panic!("expected a version error, got {other:?}"),
    }

    assert!(matches!(
        load(Path::new("/nonexistent/results.json")),
        Err(ReportError::Read { .. })
    ));
}

#[test]
fn density_charts_show_every_environment_both_measures_and_startup() {
    let html = render_html(&[sample_run("r1", "h", 1.0)]);
    let found = charts(&html);
    let memory = chart(&found, "chart-density");
    for name in ["native", "container:full", "vm-bare"] {
        assert!(
            memory.texts().contains(&name.to_owned()),
            "density legend names {name}"
        );
        assert!(chart(&found, "chart-density-startup")
            .texts()
            .contains(&name.to_owned()));
    }
    // Both memory figures, told apart by line style, and both panels.
    assert!(memory.has_text("MemAvailable drop"));
    assert!(memory.has_text("accounted (sum of parts)"));
    assert!(memory.has_text("per instance") && memory.has_text("total for N instances"));
    assert!(memory.has_text("log₂ scale"));
    // One solid and one dashed line per environment: solid lines are one
    // polyline each, dashes many short ones.
    assert!(memory.svg.matches("<polyline").count() >= 2 * 3 * 2);
    // x ticks at powers of two.
    for tick in ["1", "2", "4", "8", "16"] {
        assert!(memory.texts().contains(&tick.to_owned()), "tick {tick}");
    }
    assert!(chart(&found, "chart-density-startup").has_text("(ms, log scale)"));
    // Tables under the charts: totals are per-instance figures times N.
    assert!(html.contains("Density: memory with N instances running"));
    assert!(html.contains("Density: time to READY with N instances running"));
    assert!(html.contains("MemAvailable drop, total (MiB)"));

    // Without density figures the page says so instead of drawing.
    let mut run = sample_run("r1", "h", 1.0);
    for e in &mut run.environments {
        e.density.clear();
    }
    let html = render_html(&[run]);
    assert!(charts(&html)
        .iter()
        .all(|c| !c.id.starts_with("chart-density")));
    assert!(html.contains("data-chart=\"density\""));
    assert!(html.contains("These results have no density figures"));
}

/// Sets the CV of every startup and throughput metric (density included).
fn set_all_cv(run: &mut Results, cv: f64) {
    for e in &mut run.environments {
        if let Some(s) = e.startup.as_mut() {
            s.ready.stats.cv = cv;
            s.torn_down.stats.cv = cv;
        }
        for t in &mut e.throughput {
            t.rate.stats.cv = cv;
        }
        for d in &mut e.density {
            d.ready.stats.cv = cv;
        }
    }
}

#[test]
fn noisy_warning_appears_only_when_cv_is_above_ten_percent() {
    // Steady: no warning anywhere, and the host table says so.
    let mut steady = sample_run("r1", "h", 1.0);
    set_all_cv(&mut steady, 0.04);
    let html = render_html(&[steady.clone()]);
    assert!(!html.contains("This machine was noisy"));
    assert!(!html.contains("data-noisy-for"));
    assert!(html.contains("within 10 % CV"));

    // Exactly at the threshold is not noisy.
    let mut edge = steady.clone();
    if let Some(s) = edge.environments[1].startup.as_mut() {
        s.ready.stats.cv = NOISY_CV;
    }
    assert!(!render_html(&[edge]).contains("This machine was noisy"));

    // One noisy startup metric: the box at the top, and beside the charts
    // that show it (READY and its distribution), not beside the others.
    let mut noisy = steady.clone();
    if let Some(s) = noisy.environments[1].startup.as_mut() {
        s.ready.stats.cv = 0.23;
    }
    let html = render_html(&[noisy]);
    let top = html
        .find("This machine was noisy")
        .expect("a noisy run warns at the top");
    let host = html.find("<section id=\"host\"").expect("host section");
    assert!(top < host, "the warning comes before the host facts");
    assert!(html.contains("container:full: time to READY (CV 23 %)"));
    assert!(html.contains("data-noisy-for=\"chart-ready\""));
    assert!(html.contains("data-noisy-for=\"chart-distribution\""));
    assert!(!html.contains("data-noisy-for=\"chart-throughput\""));
    assert!(html.contains("23 (noisy)"), "the table marks the CV");
    // Beside the chart: the warning sits right before the chart it is about.
    let beside = html.find("data-noisy-for=\"chart-ready\"").unwrap_or(0);
    let figure = html
        .find("<figure class=\"chart\" id=\"chart-ready\"")
        .unwrap_or(0);
    assert!(
        beside < figure && html[beside..figure].matches("<figure").count() == 0,
        "warning at {beside}, chart at {figure}"
    );

    // A noisy throughput rate warns beside the throughput chart.
    let mut noisy = steady.clone();
    noisy.environments[2].throughput[3].rate.stats.cv = 0.4;
    let html = render_html(&[noisy]);
    assert!(html.contains("This machine was noisy"));
    assert!(html.contains("vm-bare: syscall rate (CV 40 %)"));
    assert!(html.contains("data-noisy-for=\"chart-throughput\""));
    assert!(!html.contains("data-noisy-for=\"chart-ready\""));

    // Too few samples give no meaningful CV: no warning from them.
    let mut few = steady;
    if let Some(s) = few.environments[0].startup.as_mut() {
        s.ready.stats.cv = 0.5;
        s.ready.stats.n = 2;
    }
    assert!(!render_html(&[few]).contains("This machine was noisy"));
}

#[test]
fn tables_show_cv_and_flagged_outliers_and_the_chart_rings_them() {
    let mut run = sample_run("r1", "h", 1.0);
    set_all_cv(&mut run, 0.042);
    if let Some(s) = run.environments[0].startup.as_mut() {
        s.ready.stats.outliers = vec![3, 17, 40];
    }
    if let Some(s) = run.environments[1].startup.as_mut() {
        s.ready.stats.outliers.clear();
    }
    let html = render_html(&[run]);
    assert!(html.contains("<th class=\"num\">CV (%)</th>"));
    assert!(html.contains("<td class=\"num\">4.2</td>"));
    assert!(html.contains("3 outliers flagged"));
    assert!(html.contains("<td>none</td>"));
    let found = charts(&html);
    let dist = chart(&found, "chart-distribution");
    assert!(dist.has_text("outlier by Tukey"));
    // The rings: circles stroked in the outlier colour, not filled.
    assert!(dist.svg.to_lowercase().contains("stroke=\"#c01c28\""));
}

#[test]
fn host_facts_give_pinning_and_wall_time() {
    let mut run = sample_run("r1", "h", 1.0);
    let html = render_html(&[run.clone()]);
    assert!(html.contains("pinned to CPUs"));
    assert!(html.contains("no (the scheduler placed every thread)"));
    run.pinned_cpus = Some(vec![2, 3]);
    let html = render_html(&[run]);
    assert!(html.contains("<td>2, 3</td>"));
    assert!(html.contains("run wall time") && html.contains("212 s"));
}

#[test]
fn rootless_rows_are_explained_and_the_flag_is_optional_in_json() {
    let mut run = sample_run("r1", "h", 1.0);
    let plain = render_html(std::slice::from_ref(&run));
    assert!(
        !plain.contains("class=\"rootless\""),
        "no note without rootless rows"
    );
    // A file written before the field existed reads as not rootless.
    let text = serde_json::to_string(&run).expect("serialize");
    assert!(!text.contains("\"rootless\""), "false is not written");
    let back = parse(&text, Path::new("results.json")).expect("read back");
    assert!(back.environments.iter().all(|e| !e.rootless));

    let c = run
        .environments
        .iter_mut()
        .find(|e| e.name == "container:full")
        .expect("a container row");
    c.name = "container:full (rootless)".into();
    c.rootless = true;
    let html = render_html(std::slice::from_ref(&run));
    assert!(html.contains("class=\"rootless\"") && html.contains("userns_map"));
    let text = serde_json::to_string(&run).expect("serialize");
    assert!(text.contains("\"rootless\":true"));
}
