//! Running the real `vmvc` binary: to the end (`run`, for the CLI and
//! bad-input tests), or in the background for the fault and concurrency
//! tests, with its owner tag, its output and its leftovers.
#![allow(dead_code)]

use bench_container::owner::{start_time, Owner};
use harness::leftovers::{census, Census, Scope};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The rows the fault tests run (those missing here are skipped by vmvc
/// itself, saying why): a container of each kind of ours, VMs in and out
/// of process, every peer.
pub const ENVS: &str =
    "container:full,container:chroot,vm-bare,vm-bare:process,peer:crun,peer:runc,peer:bwrap,peer:qemu";

/// Runs `vmvc args…` to the end and returns what it printed.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(args)
        .output()
        .expect("the vmvc binary built by cargo runs")
}

/// A finished run's stdout and stderr, one after the other.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Root is needed for containers' cgroups; `VMVC_REQUIRE_ROOT=1` makes a skip a failure.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("VMVC_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: not root, and VMVC_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("SKIPPED {test}: needs root (containers' cgroups, peers); run as root");
    false
}

/// A `vmvc` run in the background, its output going to files.
pub struct Bg {
    pub child: Child,
    pub owner: Owner,
    pub out: PathBuf,
    stderr: PathBuf,
    stdout: PathBuf,
}

impl Bg {
    /// Starts `vmvc args…`; `out` is where its files and logs go.
    pub fn start(args: &[&str], out: &Path) -> Bg {
        std::fs::create_dir_all(out).expect("out dir");
        let stderr = out.with_extension("stderr");
        let stdout = out.with_extension("stdout");
        let child = Command::new(env!("CARGO_BIN_EXE_vmvc"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("starting vmvc");
        let pid = child.id();
        let owner = Owner {
            pid,
            start: start_time(pid).expect("vmvc's start time"),
        };
        Bg {
            child,
            owner,
            out: out.to_owned(),
            stderr,
            stdout,
        }
    }

    /// `vmvc run --quick --env ENVS --out OUT`.
    pub fn run(envs: &str, out: &Path, extra: &[&str]) -> Bg {
        let o = out.to_string_lossy().into_owned();
        let mut args = vec!["run", "--quick", "--env", envs, "--out", &o];
        args.extend_from_slice(extra);
        Bg::start(&args, out)
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig);
    }

    /// Waits up to `limit` for the exit (a hang check, not a timing one).
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("waiting for vmvc") {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "vmvc (pid {}) did not exit within {limit:?}; stderr:\n{}",
                    self.owner.pid,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What this run owns on the host now.
    pub fn census(&self) -> Census {
        census(Scope::Run(self.owner))
    }

    pub fn results(&self) -> Option<reports::Results> {
        reports::load(&self.out.join("results.json")).ok()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        // A failing test must not leave a run going.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
