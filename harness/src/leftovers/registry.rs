//! The run registry: which `vmvc run`s are live on this host, so that each
//! can say in its results whether another one shared the machine while it
//! measured (two runs on two cores disturb each other's timings).
//!
//! Each run writes a file `run.<owner tag>` (its output folder inside) into
//! `/run/vmvc` (root; /run is a tmpfs, emptied at boot, FHS 3.0 §3.15) or,
//! for a normal user, `$XDG_RUNTIME_DIR/vmvc` or `$TMPDIR/vmvc-runs-<uid>`,
//! and removes it when it ends ([`Registration`]'s `Drop`). A SIGKILLed run
//! leaves its file; the owner tag tells a dead run apart (its process is
//! gone), and the next run removes the file with the rest of the leftovers.
//! A [`Watch`] thread looks at the registry every [`WATCH_EVERY`] while the
//! run measures and keeps every other live run it saw.

use bench_container::owner::Owner;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Prefix of the registry's files; the owner tag follows.
pub const PREFIX: &str = "run.";

/// How often a [`Watch`] looks: often enough to see a `--quick` run
/// (seconds), rarely enough to cost nothing measurable (one readdir).
pub const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The registry's directory, if one can be had (see the module docs).
pub fn dir() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some("/run/vmvc".into());
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => Some(PathBuf::from(d).join("vmvc")),
        None => {
            Some(std::env::temp_dir().join(format!("vmvc-runs-{}", nix::unistd::getuid().as_raw())))
        }
    }
}

/// This run, registered until dropped.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
}

impl Registration {
    /// Registers this process as a live run writing to `out`.
    pub fn new(out: &Path) -> anyhow::Result<Registration> {
        use anyhow::Context;
        use std::io::Write;
        use std::os::unix::fs::DirBuilderExt;
        use std::os::unix::fs::MetadataExt;
        let dir = dir().context("no directory for the run registry")?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .with_context(|| format!("creating the run registry {}", dir.display()))?;
        // In a shared /tmp someone else could have made it first: it must
        // be a real directory of ours, not a symlink or another user's.
        let meta = std::fs::symlink_metadata(&dir)
            .with_context(|| format!("the run registry {}", dir.display()))?;
        let uid = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != uid {
            anyhow::bail!(
                "the run registry {} is not a directory of this user (uid {uid}); remove it and retry",
                dir.display()
            );
        }
        let path = dir.join(format!("{PREFIX}{}", Owner::current().tag()));
        // create_new (O_CREAT|O_EXCL) never follows a planted symlink.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| f.write_all(out.display().to_string().as_bytes()))
            .with_context(|| format!("registering this run in {}", path.display()))?;
        Ok(Registration { path })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Another live run: its process and the output folder it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherRun {
    pub pid: u32,
    pub out: String,
}

/// The live runs other than this process, now.
pub fn others() -> Vec<OtherRun> {
    let me = std::process::id();
    let Some(dir) = dir() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let owner = name.strip_prefix(PREFIX).and_then(Owner::parse)?;
            (owner.pid != me && owner.is_alive()).then(|| OtherRun {
                pid: owner.pid,
                out: std::fs::read_to_string(e.path()).unwrap_or_default(),
            })
        })
        .collect()
}

/// A thread noting every other live run while this one measures.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<BTreeMap<u32, OtherRun>>>,
}

impl Watch {
    pub fn start() -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vmvc-watch".into())
            .spawn(move || {
                let mut seen = BTreeMap::new();
                loop {
                    for o in others() {
                        seen.insert(o.pid, o);
                    }
                    if flag.load(Ordering::Relaxed) {
                        return seen;
                    }
                    std::thread::sleep(WATCH_EVERY);
                }
            })
            .ok();
        Watch { stop, thread }
    }

    /// Stops watching; every other run seen, by pid.
    pub fn finish(mut self) -> Vec<OtherRun> {
        self.stop.store(true, Ordering::Relaxed);
        let seen = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        // A run that started and ended between two looks is missed; a last
        // look now catches one still going.
        let mut seen = seen;
        for o in others() {
            seen.insert(o.pid, o);
        }
        seen.into_values().collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
