//! The figures that summarise a run beyond the startup charts: density,
//! the noisy-machine warning, CV and outliers in the tables, and the host
//! facts on pinning and wall time.

mod common;

use common::sample::*;
use common::svg::*;
use reports::*;

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
fn cold_warm_restored_section_pairs_each_mode_with_its_cold_row() {
    // Without warm or restored rows, no such section.
    let plain = render_html(&[sample_run("r1", "h", 1.0)]);
    assert!(!plain.contains("id=\"start-modes\""));

    let mut run = sample_run("r1", "h", 1.0);
    let warm = EnvResult {
        startup: Some(startup(
            &[
                ("reset_memory", 30e-6),
                ("guest_boot", 110e-6),
                ("teardown", 150e-6),
            ],
            3,
        )),
        memory: Some(memory(
            &[("guest_ram", true, 16.0), ("pool_idle_vm", false, 0.5)],
            None,
            4,
        )),
        ..env("vm-bare:warm", "a pooled VM")
    };
    let restored = EnvResult {
        startup: Some(startup(
            &[
                ("map_snapshot", 40e-6),
                ("resume", 100e-6),
                ("teardown", 170e-6),
            ],
            5,
        )),
        memory: Some(memory(
            &[
                ("guest_ram_own", true, 16.0),
                ("snapshot_pss", true, 0.01),
                ("snapshot_rss", false, 0.04),
            ],
            None,
            6,
        )),
        density: density(16.1, 16.0, 700e-6, 7)
            .into_iter()
            .map(|mut d| {
                d.shared_pages = Some(SharedPages {
                    rss_per_instance: 40960.0,
                    pss_per_instance: 40960.0 / f64::from(d.instances),
                });
                d
            })
            .collect(),
        ..env("vm-bare:restored", "a restored VM")
    };
    run.environments.extend([warm, restored]);
    let html = render_html(&[run]);
    assert!(html.contains("<h2>Cold, warm, restored</h2>"));
    let found = charts(&html);
    let c = chart(&found, "chart-start-modes");
    for label in ["vm-bare", "vm-bare:warm", "vm-bare:restored"] {
        assert!(c.texts().contains(&label.to_owned()), "row {label}");
    }
    // The table names each mode, its cold row and what the mode keeps.
    for text in [
        "warm",
        "restored",
        "pool, per idle VM (MiB)",
        "shared pages, PSS (MiB)",
    ] {
        assert!(html.contains(text), "{text}");
    }
    // The density section shows the restored guests' shared pages by N.
    assert!(html.contains("Density: snapshot pages shared by N restored guests"));
    assert!(!plain.contains("snapshot pages shared"));
}
