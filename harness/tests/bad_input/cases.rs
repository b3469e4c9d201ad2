//! The table of bad inputs: each with the arguments, the exit code, the
//! words its message must hold and the paths it must not leave behind
//! (docs/bad-input.md shows the same table with what vmvc printed).

use super::files::Files;

/// What one bad input must get.
pub struct Case {
    pub what: &'static str,
    pub args: Vec<String>,
    pub code: i32,
    /// Each of these must be in the output (the input named, the fix).
    pub says: Vec<&'static str>,
    /// Paths that must not exist afterwards (nothing written half).
    pub absent: Vec<String>,
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

pub fn cases(f: &Files) -> Vec<Case> {
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
