//! Headless Chromium for the report's browser tests: finding it (or
//! skipping loudly), one launch with a fresh profile and a deadline, the
//! DOM it built and what the page logged to its console.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium launch may take before the test gives up on it.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// Flags for a headless Chromium on a machine without network or display.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
];

/// The Chromium binary to use, or `None` (after saying why) when there is none.
pub fn chromium() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("VMVC_CHROMIUM") {
        Some(path) => vec![PathBuf::from(path)],
        None => {
            let mut c = vec![PathBuf::from("/usr/bin/chromium")];
            if let Some(path) = std::env::var_os("PATH") {
                for dir in std::env::split_paths(&path) {
                    c.push(dir.join("chromium"));
                    c.push(dir.join("chromium-browser"));
                }
            }
            c
        }
    };
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    let why = "no Chromium found (looked for $VMVC_CHROMIUM, /usr/bin/chromium, chromium and \
               chromium-browser on PATH); install Debian's package: apt-get install -y chromium";
    if std::env::var("VMVC_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("VMVC_REQUIRE_BROWSER=1 but {why}");
    }
    eprintln!();
    eprintln!("==================================================================");
    eprintln!("SKIP: the report was NOT tested in a browser: {why}.");
    eprintln!("      Set VMVC_REQUIRE_BROWSER=1 to make this a failure.");
    eprintln!("==================================================================");
    eprintln!();
    None
}

/// What one Chromium launch left behind.
pub struct Launch {
    pub stdout: String,
    pub stderr: String,
}

impl Launch {
    /// Messages the page logged to the console. Chromium writes each one to
    /// stderr (with `--enable-logging=stderr`) as
    /// `[pid:tid:time:INFO:CONSOLE:1] "message", source: file:///… (1)`
    /// (older versions: `…:INFO:CONSOLE(1)] "message", …`), whatever its level.
    pub fn console_messages(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE:") || l.contains(":CONSOLE("))
            .map(str::to_owned)
            .collect()
    }
}

/// Runs Chromium once on `url` with `args` added, with a fresh profile and a
/// deadline; stdout and stderr go to files (a pipe could fill up and block it).
pub fn chromium_run(exe: &Path, args: &[String], url: &str) -> Launch {
    let scratch = tempfile::tempdir().expect("a temporary directory for the browser");
    let profile = scratch.path().join("profile");
    let out_path = scratch.path().join("stdout");
    let err_path = scratch.path().join("stderr");
    let out = std::fs::File::create(&out_path).expect("browser stdout file");
    let err = std::fs::File::create(&err_path).expect("browser stderr file");
    let mut child = Command::new(exe)
        .args(FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        // Keep the browser from finding a desktop session or a proxy.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", scratch.path())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for the browser") {
            Some(status) => break status,
            None if started.elapsed() > BROWSER_TIMEOUT => {
                // The child we started, by its handle: nothing else is killed.
                let _ = child.kill();
                let _ = child.wait();
                let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
                panic!(
                    "{} did not finish within {BROWSER_TIMEOUT:?} on {url}; stderr:\n{stderr}",
                    exe.display()
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let launch = Launch {
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(
        status.success(),
        "{} failed ({status}) on {url}; stderr:\n{}",
        exe.display(),
        launch.stderr
    );
    launch
}

/// The rendered DOM, with the console messages of that same page load.
pub fn dump_dom(exe: &Path, url: &str) -> Launch {
    let args = [
        "--enable-logging=stderr".to_owned(),
        "--v=0".to_owned(),
        "--dump-dom".to_owned(),
    ];
    chromium_run(exe, &args, url)
}

pub fn file_url(path: &Path) -> String {
    let abs = std::fs::canonicalize(path).expect("the page exists");
    // Temporary paths hold no characters that need percent-encoding.
    format!("file://{}", abs.display())
}
