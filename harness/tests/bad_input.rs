//! Bad input, tried on the real `vmvc` binary (issue 13; the table in
//! docs/bad-input.md lists the same cases). Each one must end with a clear
//! error that names the input and says what to do, a non-zero exit code,
//! no panic, and nothing written half: no output folder, no report, no
//! temporary file left where the output would have gone. A few inputs are
//! odd but valid (NaN as `null`, 1e308 in a results file): those must be
//! accepted and rendered whole.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vmvc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(args)
        .output()
        .expect("the vmvc binary built by cargo runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A scratch folder with the bad files every case needs.
struct Files {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = dir.path().to_owned();
        let w = |name: &str, bytes: &[u8]| {
            std::fs::write(root.join(name), bytes).expect("writing a test file")
        };
        w("a-file", b"x");
        w("empty", b"");
        w("random", &pseudo_random(64 << 10));
        w("truncated-bzimage", &truncated_bzimage());
        w("not-json.json", b"results: maybe\n");
        w(
            "wrong-schema.json",
            br#"{"schema_version": 1, "hello": "world"}"#,
        );
        w(
            "future.json",
            br#"{"schema_version": 999, "from": "the future"}"#,
        );
        w("binary.json", &[0xff, 0xfe, 0x00, 0x80, 0x81]);
        let reference = reference_json();
        w(
            "nan-literal.json",
            with_number(&reference, SAMPLE, "NaN").as_bytes(),
        );
        w(
            "huge-literal.json",
            with_number(&reference, SAMPLE, "1e999").as_bytes(),
        );
        w(
            "nan-null.json",
            with_number(&reference, "\"median_ci_low\": ", "null").as_bytes(),
        );
        w(
            "huge-valid.json",
            with_number(&reference, SAMPLE, "1e308").as_bytes(),
        );
        w("script-not-exec", b"#!/bin/sh\nexit 0\n");
        w("text-exec", b"I am not a program\n");
        use std::os::unix::fs::PermissionsExt;
        let exec = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(root.join("text-exec"), exec).expect("chmod");
        std::fs::create_dir(root.join("a-dir")).expect("mkdir");
        Files { _dir: dir, root }
    }

    fn path(&self, name: &str) -> String {
        self.root.join(name).to_string_lossy().into_owned()
    }
}

/// Deterministic noise (xorshift), so a failure can be reproduced.
fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A bzImage header (boot.rst) whose payload runs past the end of the file.
fn truncated_bzimage() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    b[0x1f1] = 1;
    b[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x236..0x238].copy_from_slice(&0x7fu16.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(8u32 << 20).to_le_bytes());
    b
}

const SAMPLE: &str = "\"samples\": [";

fn reference_json() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/reference/results.json");
    std::fs::read_to_string(&p).expect("the committed reference results")
}

/// The reference results with the first number after `key` (the first
/// READY sample for `"samples": [`) replaced by `literal`.
fn with_number(json: &str, key: &str, literal: &str) -> String {
    let at = json.find(key).expect("the key is in the reference results") + key.len();
    let rest = &json[at..];
    let end = rest.find([',', ']']).expect("a number ends");
    format!("{}{}{}", &json[..at], literal.trim(), &rest[end..])
}

/// What one bad input must get.
struct Case {
    what: &'static str,
    args: Vec<String>,
    code: i32,
    /// Each of these must be in the output (the input named, the fix).
    says: Vec<&'static str>,
    /// Paths that must not exist afterwards (nothing written half).
    absent: Vec<String>,
}

fn case(what: &'static str, args: &[&str], code: i32, says: &[&'static str]) -> Case {
    Case {
        what,
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        says: says.to_vec(),
        absent: Vec::new(),
    }
}

impl Case {
    fn leaves_no(mut self, path: String) -> Case {
        self.absent.push(path);
        self
    }
}

/// `vmvc run ... --out OUT` with the bad `extra` arguments.
fn run(f: &Files, extra: &[&str]) -> Vec<String> {
    let mut a = vec!["run", "--env", "native", "--quick", "--quiet"];
    a.extend_from_slice(extra);
    if !extra.contains(&"--out") {
        a.extend_from_slice(&["--out", "OUT"]);
    }
    a.iter().map(|s| s.replace("OUT", &f.path("out"))).collect()
}

fn cases(f: &Files) -> Vec<Case> {
    let p = |n: &str| f.path(n);
    let out = p("out");
    let long_cmdline = "x".repeat(3000);
    let mut v = vec![
        case(
            "unknown environment",
            &["run", "--env", "nosuch"],
            1,
            &["\"nosuch\"", "known environments"],
        ),
        case(
            "empty environment name",
            &["run", "--env", ""],
            1,
            &["\"\"", "known environments"],
        ),
        case(
            "environment given twice",
            &["run", "--env", "native,native"],
            1,
            &["\"native\" given twice"],
        ),
        case(
            "unknown flag",
            &["run", "--bogus"],
            2,
            &["unexpected argument '--bogus'", "--help"],
        ),
        case(
            "unknown subcommand",
            &["frobnicate"],
            2,
            &["unrecognized subcommand 'frobnicate'"],
        ),
        case(
            "--pin and --no-pin together",
            &["run", "--pin", "0", "--no-pin"],
            2,
            &["cannot be used with"],
        ),
        case(
            "--pin not a number",
            &["run", "--pin", "abc"],
            2,
            &["--pin", "\"abc\" is not a CPU number"],
        ),
        case(
            "--pin empty",
            &["run", "--pin", ""],
            2,
            &["--pin", "no CPU given"],
        ),
        case(
            "--pin reversed range",
            &["run", "--pin", "3-1"],
            2,
            &["--pin", "empty CPU range"],
        ),
        case(
            "--pin huge range",
            &["run", "--pin", "0-99999999999"],
            2,
            &["--pin", "beyond the 1024 CPUs"],
        ),
        case(
            "--pin negative",
            &["run", "--pin", "-1"],
            2,
            &["--pin", "\"-1\": CPU numbers are 0 or more"],
        ),
    ];
    let runs: Vec<(&'static str, Vec<&str>, Vec<&'static str>)> = vec![
        (
            "--out is a file",
            vec!["--out", "FILE"],
            vec!["is a file, not a folder", "give --out a folder"],
        ),
        (
            "--out below a file",
            vec!["--out", "FILE/sub"],
            vec!["is a file, not a folder"],
        ),
        (
            "--out cannot be created",
            vec!["--out", "/proc/vmvc-bad-input/out"],
            vec![
                "cannot create output folder /proc/vmvc-bad-input/out",
                "give --out a folder you can write",
            ],
        ),
        (
            "--pin CPU not present",
            vec!["--pin", "1023"],
            vec!["CPU 1023 is not one this process may run on", "--no-pin"],
        ),
        (
            "--kernel missing",
            vec!["--kernel", "MISSING"],
            vec!["--kernel", "cannot read it", "vmvc kernel fetch"],
        ),
        (
            "--kernel zero-length",
            vec!["--kernel", "EMPTY"],
            vec!["--kernel", "only 0 bytes", "give --kernel"],
        ),
        (
            "--kernel random bytes",
            vec!["--kernel", "RANDOM"],
            vec!["--kernel", "not a Linux kernel", "give --kernel"],
        ),
        (
            "--kernel truncated",
            vec!["--kernel", "TRUNC"],
            vec!["--kernel", "truncated", "give --kernel"],
        ),
        (
            "--kernel a directory",
            vec!["--kernel", "DIR"],
            vec!["--kernel", "is a directory", "give --kernel"],
        ),
        (
            "--kernel a device",
            vec!["--kernel", "/dev/zero"],
            vec!["--kernel /dev/zero", "not a regular file"],
        ),
        (
            "--kernel-cmdline too long",
            vec!["--kernel-cmdline", "LONG"],
            vec!["--kernel-cmdline is 3000 bytes", "at most 2047"],
        ),
        (
            "--kernel-cmdline with a newline",
            vec!["--kernel-cmdline", "quiet\ninit=/x"],
            vec!["--kernel-cmdline", "control character"],
        ),
        (
            "--firecracker missing",
            vec!["--firecracker", "MISSING"],
            vec!["--firecracker", "cannot find it"],
        ),
        (
            "--firecracker a directory",
            vec!["--firecracker", "DIR"],
            vec!["--firecracker", "is not a file"],
        ),
        (
            "--firecracker not executable",
            vec!["--firecracker", "SCRIPT"],
            vec!["--firecracker", "not executable"],
        ),
        (
            "--cloud-hypervisor not a program",
            vec!["--cloud-hypervisor", "TEXT"],
            vec!["--cloud-hypervisor", "not a program"],
        ),
    ];
    for (what, extra, says) in runs {
        let extra: Vec<String> = extra
            .iter()
            .map(|a| match *a {
                "FILE" => p("a-file"),
                "FILE/sub" => format!("{}/sub", p("a-file")),
                "MISSING" => p("missing"),
                "EMPTY" => p("empty"),
                "RANDOM" => p("random"),
                "TRUNC" => p("truncated-bzimage"),
                "DIR" => p("a-dir"),
                "SCRIPT" => p("script-not-exec"),
                "TEXT" => p("text-exec"),
                "LONG" => long_cmdline.clone(),
                other => other.to_owned(),
            })
            .collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        v.push(Case {
            what,
            args: run(f, &extra),
            code: 1,
            says,
            absent: vec![out.clone(), "/proc/vmvc-bad-input".into()],
        });
    }
    let report = |what, file: &str, says: &[&'static str]| {
        case(what, &["report", &p(file)], 1, says).leaves_no(p("report.html"))
    };
    v.extend([
        report(
            "results file missing",
            "missing.json",
            &["cannot read results file", "missing.json", "vmvc run"],
        ),
        report(
            "results file not JSON",
            "not-json.json",
            &[
                "not-json.json is not a vmvc results file",
                "expected the JSON written by `vmvc run`",
            ],
        ),
        report(
            "results file of another schema",
            "wrong-schema.json",
            &[
                "wrong-schema.json is not a vmvc results file",
                "missing field",
            ],
        ),
        report(
            "results file from a future version",
            "future.json",
            &["future.json has schema_version 999", "re-run `vmvc run`"],
        ),
        report(
            "results file zero-length",
            "empty",
            &["is not a vmvc results file", "EOF"],
        ),
        report(
            "results file binary",
            "binary.json",
            &["binary.json is not a vmvc results file", "not text"],
        ),
        report(
            "results file a directory",
            "a-dir",
            &["a-dir is not a vmvc results file", "directory"],
        ),
        report(
            "results file with a NaN literal",
            "nan-literal.json",
            &["nan-literal.json is not a vmvc results file"],
        ),
        report(
            "results file with 1e999",
            "huge-literal.json",
            &[
                "huge-literal.json is not a vmvc results file",
                "out of range",
            ],
        ),
        case(
            "results file a device",
            &["report", "/dev/zero", "-o", &p("dev.html")],
            1,
            &["/dev/zero is not a vmvc results file", "device"],
        )
        .leaves_no(p("dev.html")),
        case(
            "report -o a directory",
            &["report", &p("huge-valid.json"), "-o", &p("a-dir")],
            1,
            &["cannot write the report", "a-dir", "give -o a file path"],
        ),
        case(
            "report -o in a missing folder",
            &["report", &p("huge-valid.json"), "-o", &p("nowhere/r.html")],
            1,
            &["cannot write the report", "nowhere/r.html"],
        )
        .leaves_no(p("nowhere")),
        case(
            "shell --pids 0",
            &["shell", "container", "--pids", "0", "--", "true"],
            1,
            &["--pids 0", "at least one process"],
        ),
        case(
            "shell --cpus 0",
            &["shell", "container", "--cpus", "0", "--", "true"],
            1,
            &["--cpus 0", "above 0"],
        ),
        case(
            "shell --cpus NaN",
            &["shell", "container", "--cpus", "NaN", "--", "true"],
            1,
            &["--cpus NaN", "above 0"],
        ),
        case(
            "shell --memory not a size",
            &["shell", "container", "--memory", "lots", "--", "true"],
            1,
            &["--memory \"lots\"", "like 64M"],
        ),
        case(
            "shell unknown profile",
            &["shell", "container", "--profile", "bogus", "--", "true"],
            1,
            &["unknown container profile \"bogus\"", "full"],
        ),
        case(
            "shell unknown kind",
            &["shell", "bogus"],
            2,
            &["invalid value 'bogus'", "container"],
        ),
        case(
            "trace unknown environment",
            &["trace", "nosuch"],
            1,
            &["\"nosuch\"", "known environments"],
        ),
        case(
            "kernel show random bytes",
            &["kernel", "show", "--kernel", &p("random")],
            1,
            &["random is not a usable kernel", "not a Linux kernel"],
        ),
    ]);
    v
}

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
