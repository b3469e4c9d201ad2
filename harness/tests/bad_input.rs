//! Bad input, tried on the real `vmvc` binary (issue 13; the table in
//! docs/bad-input.md lists the same cases). Each one must end with a clear
//! error that names the input and says what to do, a non-zero exit code,
//! no panic, and nothing written half: no output folder, no report, no
//! temporary file left where the output would have gone. A few inputs are
//! odd but valid (NaN as `null`, 1e308 in a results file): those must be
//! accepted and rendered whole.

#[path = "bad_input/cases.rs"]
mod cases;
#[path = "bad_input/files.rs"]
mod files;

use cases::cases;
use files::Files;
use std::path::Path;

#[path = "common/vmvc.rs"]
mod bin;
use bin::{run as vmvc, text};

#[test]
fn every_bad_input_gets_a_clear_error_and_leaves_nothing() {
    let f = Files::new();
    let all = cases(&f);
    assert!(all.len() >= 20, "the table has at least 20 kinds");
    let mut failures = Vec::new();
    for c in &all {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let o = vmvc(&args);
        let t = text(&o);
        let mut why = Vec::new();
        if o.status.code() != Some(c.code) {
            why.push(format!(
                "exit code {:?}, expected {}",
                o.status.code(),
                c.code
            ));
        }
        for s in &c.says {
            if !t.contains(s) {
                why.push(format!("does not say {s:?}"));
            }
        }
        if t.contains("panicked at") {
            why.push("panicked".into());
        }
        for a in &c.absent {
            if Path::new(a).exists() {
                why.push(format!("left {a} behind"));
            }
        }
        let leftovers: Vec<String> = std::fs::read_dir(&f.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".vmvc-") || n == "out")
            .collect();
        if !leftovers.is_empty() {
            why.push(format!("left {leftovers:?} behind"));
        }
        if std::fs::read(f.root.join("a-file")).ok().as_deref() != Some(b"x") {
            why.push("changed the file given as --out".into());
        }
        // Straight to stderr: the table of what each input got, for the docs.
        use std::io::Write;
        let first = t.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let _ = writeln!(
            std::io::stderr(),
            "bad input | {} | exit {:?} | {}",
            c.what,
            o.status.code(),
            first.chars().take(160).collect::<String>()
        );
        if !why.is_empty() {
            failures.push(format!("{}: {}\n  output: {t}", c.what, why.join("; ")));
        }
    }
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("bad input: {} kinds tried\n", all.len()),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn odd_but_valid_results_are_rendered_whole() {
    let f = Files::new();
    for (name, says) in [("nan-null.json", "report:"), ("huge-valid.json", "report:")] {
        let html = f.path(&format!("{name}.html"));
        let o = vmvc(&["report", &f.path(name), "-o", &html]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {t}");
        assert!(
            t.contains(says) && !t.contains("panicked at"),
            "{name}: {t}"
        );
        let page = std::fs::read_to_string(&html).expect("the report was written");
        assert!(page.trim_end().ends_with("</html>"), "{name}: a whole page");
        // Renamed into place from a temporary file, readable by all as before.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&html).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o644), "{name}: the report's mode");
    }
}
