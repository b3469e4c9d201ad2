//! Renders realistic results and checks the page: every chart is there and
//! drawn, names reach the charts, file contents are escaped, skipped
//! environments explain themselves, several runs are compared, odd data does
//! not panic. (The schema's round trip is in `schema.rs`, the summary figures
//! in `figures.rs`.)
//!
//! `VMVC_SAMPLE_REPORT=/tmp/vmvc-sample-report.html cargo test -p reports`
//! also writes the sample page there (and a two-run comparison next to it,
//! `…-comparison.html`), to look at in a browser.

mod common;

use common::sample::*;
use common::svg::*;
use reports::*;

#[test]
fn one_run_gives_eight_drawn_charts_with_names_and_units() {
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
                    "chart-teardown",
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
        "chart-teardown",
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
    // Phases are shares of the time to READY; teardown is apart from them.
    assert!(chart(&found, "chart-phases").has_text("(%)"));
    assert!(!chart(&found, "chart-phases").has_text("teardown"));
    assert!(chart(&found, "chart-teardown").has_text("log scale"));
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
    let back = parse(&text, std::path::Path::new("results.json")).expect("read back");
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
