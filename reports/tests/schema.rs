//! The results schema reads back what it wrote, and tells a foreign or
//! newer file apart from a results file it can read.

mod common;

use std::path::Path;

use common::sample::*;
use reports::*;

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
fn concurrent_runs_are_optional_and_shown_as_a_warning() {
    let alone = sample_run("r1", "h", 1.0);
    let text = serde_json::to_string(&alone).expect("serialize");
    assert!(!text.contains("concurrent_runs"), "absent when alone");
    assert!(!render_html(std::slice::from_ref(&alone)).contains("Not alone"));
    let mut shared = alone;
    shared.concurrent_runs = vec![ConcurrentRun {
        pid: 4321,
        out: Some("results/other".into()),
    }];
    let text = serde_json::to_string(&shared).expect("serialize");
    let back = parse(&text, Path::new("results.json")).expect("read back");
    assert_eq!(back.concurrent_runs, shared.concurrent_runs);
    let html = render_html(&[back]);
    assert!(html.contains("Not alone"), "the report warns");
    assert!(html.contains("pid 4321 writing results/other"));
}
