//! The report read in a real browser at a laptop's width (issue 12): the
//! tables fit, the claims come first, the terms are explained, every phase
//! has a colour of its own. Needs Chromium (SKIP loudly without it, or fail
//! under VMVC_REQUIRE_BROWSER=1).

mod common;

use common::{chromium, chromium_run, file_url};
use std::path::Path;
use std::process::Command;

/// Measures the laid-out page in the browser and writes what it found into
/// `<body data-layout="…">`, for `--dump-dom` to bring back: tables wider
/// than their column, and the page wider than the window.
const LAYOUT_PROBE: &str = "<script>addEventListener('load', () => {
  const main = document.querySelector('main');
  const wide = [...document.querySelectorAll('table')]
    .filter(t => t.getBoundingClientRect().width > main.clientWidth + 1)
    .map(t => (t.querySelector('caption') || {}).textContent || 'a table');
  const page = document.documentElement.scrollWidth > window.innerWidth + 1;
  document.body.setAttribute('data-layout', JSON.stringify({wide, page}));
});</script>";

/// The reference run (every environment, the longest names and the widest
/// tables) read at a laptop's width: every table fits its column, nothing
/// scrolls sideways, the claims come first, the terms are explained, and
/// each startup phase has a colour of its own.
#[test]
fn the_reference_report_fits_the_page_and_explains_itself() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference/results.json");
    let page = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .arg("report")
        .arg(&reference)
        .arg("-o")
        .arg(&page)
        .output()
        .expect("vmvc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).expect("the page was written");

    // Layout, measured by the browser on a copy with a probe in it.
    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replacen("</body>", &format!("{LAYOUT_PROBE}</body>"), 1),
    )
    .expect("the probed copy is written");
    let args = [
        "--dump-dom".to_owned(),
        "--window-size=1000,800".to_owned(),
        "--virtual-time-budget=2000".to_owned(),
    ];
    let dom = chromium_run(&exe, &args, &file_url(&probed)).stdout;
    let layout = dom
        .split("data-layout=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|j| j.replace("&quot;", "\""))
        .expect("the probe ran and reported");
    assert_eq!(layout, r#"{"wide":[],"page":false}"#, "tables fit the page");

    // The summary comes first, the claims next, then the terms, then the host.
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} is on the page"))
    };
    assert!(at("<section id=\"summary\">") < at("<section id=\"claims\">"));
    assert!(at("<section id=\"claims\">") < at("class=\"glossary\""));
    assert!(at("class=\"glossary\"") < at("<section id=\"host\">"));
    let glossary = &html[at("class=\"glossary\"")..];
    let glossary = &glossary[..glossary.find("</details>").expect("the glossary is closed")];
    for term in [
        "PSS",
        "CV",
        "SecPageTables",
        "CPL3",
        "VM exit",
        "nested paging",
        "PVM",
    ] {
        assert!(glossary.contains(term), "the glossary explains {term}");
    }

    // The phase chart: one distinct colour per startup phase of the run
    // (teardown is in its own chart).
    let results = reports::load(&reference).expect("the reference results load");
    let mut names = std::collections::BTreeSet::new();
    for e in &results.environments {
        for p in e.startup.iter().flat_map(|s| &s.phases) {
            if p.name != "teardown" {
                names.insert(p.name.as_str());
            }
        }
    }
    let charts = reports::inspect::charts(&html);
    let phases = charts
        .iter()
        .find(|c| c.id == "chart-phases")
        .expect("a phases chart");
    assert!(!phases.has_text("teardown"));
    let fills: std::collections::BTreeSet<&str> = phases
        .svg
        .split("fill=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next())
        .filter(|f| f.starts_with('#') && !f.eq_ignore_ascii_case("#ffffff") && f.len() == 7)
        .collect();
    for name in &names {
        assert!(phases.has_text(name), "the legend names {name}");
    }
    assert!(
        fills.len() >= names.len(),
        "{} phases, {} colours: {fills:?}",
        names.len(),
        fills.len()
    );
}
