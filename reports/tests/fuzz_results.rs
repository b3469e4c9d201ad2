//! Fuzzing the results reader that `vmvc report` uses (issue 13): a
//! `results.json` may come from anywhere (another machine, another
//! version, a hand edit), so reading it must end in [`Results`] or a typed
//! [`ReportError`], never a panic; and whatever it accepts, the report must
//! render (NaN, zeros, negative and huge numbers, empty sample lists).
//!
//! Two kinds of input, both from a realistic run (`common::sample`):
//! the JSON text with bytes mutated (truncated, flipped, huge digits), and
//! the JSON tree with values replaced (a number by null -> NaN, 1e308, -1,
//! 0, 2^64; an array emptied; a field removed). `VMVC_FUZZ_CASES` sets the
//! cases per target (docs/fuzzing.md).

mod common;
#[path = "../../workload/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use common::sample::sample_run;
use fuzz_support::{fuzz, mutated, mutations};
use proptest::prelude::*;
use reports::{parse, render_html, ReportError, Results, SCHEMA_VERSION};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

fn valid_json() -> String {
    serde_json::to_string_pretty(&sample_run("r1", "h", 1.0)).unwrap_or_default()
}

fn read(text: &str) -> Result<Results, ReportError> {
    parse(text, Path::new("fuzz/results.json"))
}

#[test]
fn mutated_text_never_panics() {
    let valid = valid_json().into_bytes();
    fuzz("results_text", file!(), 400, mutations(8), |ms| {
        let bytes = mutated(valid.clone(), &ms);
        let text = String::from_utf8_lossy(&bytes);
        match read(&text) {
            Ok(r) => prop_assert_eq!(r.schema_version, SCHEMA_VERSION),
            // Every error names the file and says what it expected.
            Err(e) => prop_assert!(e.to_string().contains("fuzz/results.json"), "{}", e),
        }
        Ok(())
    });
}

/// A value a corrupt or hostile results file may hold where a number was.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(serde_json::json!(1e308)),
        Just(serde_json::json!(-1e308)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(0)),
        Just(serde_json::json!(0.0)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MIN)),
        Just(serde_json::json!(5e-324)),
        Just(serde_json::json!([])),
        Just(serde_json::json!("")),
    ]
}

/// What to do at the `n`-th node (in document order) of the tree.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    EmptyArray(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), replacement()).prop_map(|(n, v)| Edit::Replace(n, v)),
        1 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::EmptyArray),
    ]
}

/// Number of nodes below (and with) `v`.
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `e` to node `*n` (counting down in document order).
fn apply(v: &mut Value, n: &mut usize, e: &Edit) -> bool {
    if *n == 0 {
        match e {
            Edit::Replace(_, r) if v.is_number() || v.is_null() => *v = r.clone(),
            Edit::EmptyArray(_) if v.is_array() => *v = Value::Array(vec![]),
            _ => return false,
        }
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| apply(c, n, e)),
        Value::Object(o) => {
            if let Edit::Remove(_) = e {
                // Remove the child that `n` points at, when it is a direct one.
                let key = o.iter().find_map(|(k, c)| {
                    let size = count(c);
                    if *n < size {
                        Some((k.clone(), *n == 0))
                    } else {
                        *n -= size;
                        None
                    }
                });
                return match key {
                    Some((k, true)) => o.remove(&k).is_some(),
                    _ => false,
                };
            }
            o.values_mut().any(|c| apply(c, n, e))
        }
        _ => false,
    }
}

#[test]
fn edited_values_are_read_or_refused_and_what_is_read_renders() {
    let tree: Value = serde_json::from_str(&valid_json()).unwrap_or(Value::Null);
    let nodes = count(&tree);
    let input = proptest::collection::vec(edit(), 1..5);
    let rendered = AtomicU64::new(0);
    fuzz("results_values_render", file!(), 150, input, |edits| {
        let mut v = tree.clone();
        for e in &edits {
            let at = match e {
                Edit::Replace(n, _) | Edit::Remove(n) | Edit::EmptyArray(n) => n % nodes,
            };
            apply(&mut v, &mut { at }, e);
        }
        let text = serde_json::to_string(&v).unwrap_or_default();
        if let Ok(run) = read(&text) {
            // Whatever the reader accepts, the report renders.
            let html = render_html(std::slice::from_ref(&run));
            prop_assert!(html.contains("</html>"));
            rendered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    // How many edited files the reader accepted, and so were rendered.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "fuzz results_values_render: {} accepted and rendered",
        rendered.load(Ordering::Relaxed)
    );
}

#[test]
fn future_and_foreign_versions_are_refused_by_name() {
    let input = prop_oneof![Just(0u64), 2u64..u64::MAX];
    fuzz("results_version", file!(), 200, input, |version| {
        let mut v: Value = serde_json::from_str(&valid_json()).unwrap_or(Value::Null);
        v["schema_version"] = serde_json::json!(version);
        match read(&v.to_string()) {
            Err(ReportError::Version { found, .. }) => prop_assert_eq!(found, version),
            other => prop_assert!(false, "version {} gave {:?}", version, other.err()),
        }
        Ok(())
    });
}
