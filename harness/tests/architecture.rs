//! Keeps docs/architecture.md true: every source file of every crate is named
//! there, every file it names exists, and no two modules of a crate import
//! each other, directly or around a loop.
//!
//! The module graph is read from the source text: an edge A -> B for every
//! `crate::`, `super::` or `self::` path in A (outside comments and
//! `#[cfg(test)] mod tests`) that names module B. That is what a reader
//! follows, and what `cargo` itself does not check: the compiler accepts
//! cycles between modules of one crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = [
    "workload",
    "bench-vm",
    "bench-container",
    "reports",
    "harness",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness lives in the workspace")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {dir:?}: {e}"));
    for e in entries {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src`: `env/peer/mod.rs` -> `env::peer`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("below src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The source a reader follows: without comments and without the unit tests.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts with `crate`, `super` or `self`, with brace groups
/// (`use super::{a, b::c}`) expanded one level.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        if starts_word
            && (rest.starts_with("crate::")
                || rest.starts_with("super::")
                || rest.starts_with("self::"))
        {
            let mut j = i;
            let mut segs = Vec::new();
            let mut cur = String::new();
            while j < bytes.len() {
                let c = bytes[j];
                if c.is_alphanumeric() || c == '_' {
                    cur.push(c);
                    j += 1;
                } else if c == ':' && bytes.get(j + 1) == Some(&':') {
                    segs.push(std::mem::take(&mut cur));
                    j += 2;
                } else {
                    break;
                }
            }
            if !cur.is_empty() {
                segs.push(cur);
            }
            if bytes.get(j) == Some(&'{') {
                let close = bytes[j..].iter().position(|&c| c == '}').map(|k| j + k);
                if let Some(close) = close {
                    let group: String = bytes[j + 1..close].iter().collect();
                    for item in group.split(',') {
                        let first = item.trim().split("::").next().unwrap_or("").trim();
                        let first = first.split_whitespace().next().unwrap_or("");
                        if !first.is_empty() && first != "self" {
                            let mut s = segs.clone();
                            s.push(first.to_string());
                            out.push(s);
                        }
                    }
                    out.push(segs);
                    i = close;
                    continue;
                }
            }
            out.push(segs);
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// The longest module named by `path`, seen from module `from`.
fn resolve(modules: &BTreeSet<String>, from: &str, path: &[String]) -> Option<String> {
    let mut base: Vec<String> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").map(String::from).collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => base.clear(),
        Some("self") => {}
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            return longest(modules, base, rest);
        }
        _ => return None,
    }
    longest(modules, base, &rest[1..])
}

fn longest(modules: &BTreeSet<String>, base: Vec<String>, rest: &[String]) -> Option<String> {
    let mut best = None;
    for i in 0..=rest.len() {
        let mut m = base.clone();
        m.extend(rest[..i].iter().cloned());
        let m = m.join("::");
        if modules.contains(&m) {
            best = Some(m);
        }
    }
    best
}

/// The import graph of one crate: module -> modules it uses (not its own
/// ancestors or descendants, which are the module tree itself).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = BTreeMap::new();
    for f in &files {
        let m = module_of(src, f);
        let mut to = BTreeSet::new();
        if !m.ends_with("tests") && !f.starts_with(src.join("bin")) {
            let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("reading {f:?}: {e}"));
            for p in paths_in(&code_of(&text)) {
                if let Some(t) = resolve(&modules, &m, &p) {
                    let related = t.is_empty()
                        || t == m
                        || m.starts_with(&format!("{t}::"))
                        || t.starts_with(&format!("{m}::"));
                    if !related {
                        to.insert(t);
                    }
                }
            }
        }
        edges.insert(m, to);
    }
    edges
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_from(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(edges, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(edges, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let root = workspace();
    let mut cycles = Vec::new();
    for c in CRATES {
        let edges = graph(&root.join(c).join("src"));
        for m in edges.keys() {
            if let Some(cycle) = cycle_from(&edges, m) {
                cycles.push(format!("{c}: {}", cycle.join(" -> ")));
                break; // one per crate is enough to act on
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules (the lower module must not use the upper one):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn architecture_md_names_every_source_file_and_only_real_ones() {
    let root = workspace();
    let doc_path = root.join("docs/architecture.md");
    let doc = std::fs::read_to_string(&doc_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", doc_path.display()));
    let mut missing = Vec::new();
    for c in CRATES {
        let mut files = Vec::new();
        rust_files(&root.join(c).join("src"), &mut files);
        for f in files {
            let rel = f.strip_prefix(&root).expect("in the workspace");
            let rel = rel.to_string_lossy();
            if !doc.contains(rel.as_ref()) {
                missing.push(rel.into_owned());
            }
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "docs/architecture.md does not name these source files (add each, with what it holds):\n{}",
        missing.join("\n")
    );
    let stale: Vec<&str> = doc
        .split(|c: char| c.is_whitespace() || "`()[]|,".contains(c))
        .filter(|w| w.ends_with(".rs") && w.contains("/src/"))
        .filter(|w| !root.join(w).is_file())
        .collect();
    assert!(
        stale.is_empty(),
        "docs/architecture.md names files that do not exist: {stale:?}"
    );
}

#[test]
fn architecture_md_uses_columns_match_the_code() {
    let root = workspace();
    let doc = std::fs::read_to_string(root.join("docs/architecture.md"))
        .unwrap_or_else(|e| panic!("reading docs/architecture.md: {e}"));
    let graphs: BTreeMap<&str, _> = CRATES
        .iter()
        .map(|c| (*c, graph(&root.join(c).join("src"))))
        .collect();
    let mut wrong = Vec::new();
    for row in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let (Some(file), Some(uses)) = (cells.first(), cells.last()) else {
            continue;
        };
        let file = file.trim_start_matches("| ").trim_matches('`');
        let Some((krate, _)) = file.split_once("/src/") else {
            continue;
        };
        let Some(edges) = graphs.get(krate) else {
            continue;
        };
        let src = root.join(krate).join("src");
        let module = module_of(&src, &root.join(file));
        let written: BTreeSet<String> = uses
            .trim_end_matches(" |")
            .split(", ")
            .map(|u| u.trim().trim_matches('`').to_string())
            .filter(|u| !u.is_empty() && u != "–")
            .collect();
        let real = edges.get(&module).cloned().unwrap_or_default();
        if written != real {
            wrong.push(format!("{file}: docs say {written:?}, code uses {real:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/architecture.md's \"uses\" column is out of date:\n{}",
        wrong.join("\n")
    );
}
