//! The report in a real browser (issue 6, item 6): a real `vmvc run` writes
//! report.html, headless Chromium opens it, and the test checks
//! - a screenshot: a PNG of the requested size with real content in it;
//! - the DOM as the browser built it (`--dump-dom`): every chart is an
//!   `<svg>` that draws shapes and names the expected series;
//! - the console: no message at all (the page has no script, so anything
//!   Chromium logs there is an error, e.g. an SVG attribute it could not parse).
//!
//! Needs Debian's `chromium` package (`/usr/bin/chromium`, or the binary named
//! by `VMVC_CHROMIUM`). Without it the test says SKIP loudly and passes,
//! unless `VMVC_REQUIRE_BROWSER=1`, which makes a missing browser a failure.
//! Nothing here uses the network: the browser runs with every background
//! service off and a fresh profile per launch.
//!
//! `VMVC_BROWSER_ARTIFACTS=<dir>` keeps results.json, report.html, the
//! screenshot and the dumped DOM there, to look at.

mod common;

use common::{chromium, chromium_run, dump_dom, file_url};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Viewport of the screenshot.
const SHOT_WIDTH: u32 = 1280;
const SHOT_HEIGHT: u32 = 4000;

/// A PNG of a blank 1280×4000 page compresses to about 10 KB; the top of a
/// report (text, tables, two or three charts) is well above 100 KB.
const MIN_SCREENSHOT_BYTES: u64 = 60_000;

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if png.len() < 24 || &png[..8] != SIGNATURE || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

/// Which charts the results must give, each with the series names it must
/// show: the measured environments that have the figure.
fn expected_charts(results: &reports::Results) -> Vec<(&'static str, Vec<String>)> {
    let measured: Vec<&reports::EnvResult> = results
        .environments
        .iter()
        .filter(|e| e.skipped.is_none())
        .collect();
    let names = |keep: &dyn Fn(&reports::EnvResult) -> bool| -> Vec<String> {
        measured
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.name.clone())
            .collect()
    };
    let startup = names(&|e| e.startup.is_some());
    let phases = names(&|e| e.startup.as_ref().is_some_and(|s| !s.phases.is_empty()));
    let teardown = names(&|e| {
        e.startup
            .as_ref()
            .is_some_and(|s| s.phases.iter().any(|p| p.name == "teardown"))
    });
    let memory = names(&|e| e.memory.is_some());
    let density = names(&|e| !e.density.is_empty());
    // Native is the reference line of the throughput chart, not a bar.
    let throughput: Vec<String> = measured
        .iter()
        .filter(|e| e.name != "native")
        .flat_map(|e| {
            e.throughput
                .iter()
                .filter(|t| t.ratio_to_native.is_some_and(|r| r > 0.0))
                .map(|t| format!("{}: {}", t.workload, e.name))
        })
        .collect();
    let mut out = Vec::new();
    for (id, series) in [
        ("chart-ready", startup.clone()),
        ("chart-phases", phases),
        ("chart-teardown", teardown),
        ("chart-distribution", startup),
        ("chart-memory", memory),
        ("chart-density", density.clone()),
        ("chart-density-startup", density),
        ("chart-throughput", throughput),
    ] {
        if !series.is_empty() {
            out.push((id, series));
        }
    }
    out
}

fn keep_artifact(from: &Path, name: &str) {
    if let Some(dir) = std::env::var_os("VMVC_BROWSER_ARTIFACTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("VMVC_BROWSER_ARTIFACTS is a writable directory");
        std::fs::copy(from, dir.join(name)).expect("artifact copied");
        eprintln!("kept {}", dir.join(name).display());
    }
}

#[test]
fn report_of_a_real_run_renders_in_chromium() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("run");

    // A real run, the way a user makes one.
    let run = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["run", "--env", "native", "--quick", "--out"])
        .arg(&out)
        .output()
        .expect("the vmvc binary built by cargo runs");
    assert!(
        run.status.success(),
        "vmvc run failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let report = out.join("report.html");
    let results = reports::load(&out.join("results.json")).expect("the run wrote its results");
    let html = std::fs::read_to_string(&report).expect("the run wrote report.html");
    keep_artifact(&report, "report.html");
    keep_artifact(&out.join("results.json"), "results.json");
    let url = file_url(&report);

    // The page as the browser built it, and what it logged while loading.
    let page = dump_dom(&exe, &url);
    let dom = &page.stdout;
    if let Some(dir) = std::env::var_os("VMVC_BROWSER_ARTIFACTS") {
        let path = PathBuf::from(dir).join("report.dom.html");
        let _ = std::fs::write(&path, dom);
    }
    assert!(
        dom.contains("<main>") && dom.contains("</main>"),
        "the browser rendered the page; stdout was:\n{dom}"
    );
    let console = page.console_messages();
    assert!(
        console.is_empty(),
        "the report logged to the browser console:\n{}",
        console.join("\n")
    );

    // Every SVG of the file made it into the DOM, inside a chart figure.
    let charts = reports::inspect::charts(dom);
    assert_eq!(
        dom.matches("<svg").count(),
        html.matches("<svg").count(),
        "the browser kept every <svg> of the file"
    );
    assert_eq!(charts.len(), html.matches("<svg").count());
    assert!(
        !dom.contains("This chart could not be drawn"),
        "a chart failed to draw"
    );
    for chart in &charts {
        assert!(!chart.svg.is_empty(), "{} holds an <svg>", chart.id);
        assert!(
            chart.shapes() > 5,
            "{} draws shapes: {} found",
            chart.id,
            chart.shapes()
        );
        assert!(!chart.texts().is_empty(), "{} has text", chart.id);
    }
    let expected = expected_charts(&results);
    assert!(
        expected.iter().any(|(id, _)| *id == "chart-ready"),
        "a native run has startup figures"
    );
    for (id, series) in &expected {
        let chart = charts
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("{id} is on the page: the results have its figures"));
        let texts = chart.texts();
        for name in series {
            assert!(
                texts.iter().any(|t| t == name),
                "{id} names the series {name}; its texts are {texts:?}"
            );
        }
    }

    // A screenshot: a PNG of the viewport's size with real content in it.
    let shot = dir.path().join("report.png");
    let args = [
        format!("--screenshot={}", shot.display()),
        format!("--window-size={SHOT_WIDTH},{SHOT_HEIGHT}"),
    ];
    chromium_run(&exe, &args, &url);
    let png = std::fs::read(&shot).expect("Chromium wrote the screenshot");
    keep_artifact(&shot, "report.png");
    assert_eq!(
        png_size(&png),
        Some((SHOT_WIDTH, SHOT_HEIGHT)),
        "the screenshot is a PNG of the window's size"
    );
    assert!(
        png.len() as u64 > MIN_SCREENSHOT_BYTES,
        "the screenshot is nearly blank ({} bytes)",
        png.len()
    );
}

/// The console check above only means something if the scan finds messages
/// when there are some: a page with a script error, a logged error and an
/// SVG attribute Chromium cannot parse must give three messages.
#[test]
fn console_messages_are_caught() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let page = dir.path().join("canary.html");
    std::fs::write(
        &page,
        "<!doctype html><html><body><main><p>canary</p>\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">\
         <rect width=\"not-a-length\" height=\"5\"/></svg>\
         <script>console.error(\"canary error\"); no_such_function();</script>\
         </main></body></html>",
    )
    .expect("the canary page is written");
    let launch = dump_dom(&exe, &file_url(&page));
    let console = launch.console_messages();
    let has = |needle: &str| console.iter().any(|m| m.contains(needle));
    assert!(has("canary error"), "console.error caught: {console:?}");
    assert!(
        has("no_such_function"),
        "uncaught exception caught: {console:?}"
    );
    assert!(has("not-a-length"), "SVG parse error caught: {console:?}");
}
