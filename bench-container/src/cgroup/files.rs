//! Reading and writing cgroup files, and removing cgroup directories.
//!
//! Every knob is a small text file: a number (`pids.max`), or `key value`
//! lines (`memory.stat`, `memory.events`). A cgroup directory is removed
//! with rmdir(2) once it has no members and no children; its files go with
//! it (cgroup-v2.rst, "Basic Operations").

use crate::error::{io, Error, Result};
use crate::owner::Owner;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for a cgroup to empty after SIGKILL.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// rmdir, retrying for a moment while the kernel finishes taking the last
/// exited members out (`EBUSY`).
pub(crate) fn rmdir_retry(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200))
            }
            Err(e) => return Err(io("removing cgroup", dir)(e)),
        }
    }
}

/// Kills the members of every cgroup under `dir` (depth first) and removes it.
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path())?;
            }
        }
    }
    let members = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in members.lines().filter_map(|l| l.trim().parse().ok()) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    rmdir_retry(dir)
}

/// Removes `parent/<owner>-<seq>` directories whose owner is dead; returns
/// what was removed. Entries that do not carry our tag are left alone.
pub(crate) fn remove_leftovers(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name.to_str().and_then(Owner::parse) else {
            continue;
        };
        if !owner.is_alive()
            && e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && remove_tree(&e.path()).is_ok()
        {
            removed.push(e.path());
        }
    }
    removed
}

pub(crate) fn mkdir(dir: &Path, exist_ok: bool) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if exist_ok && e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cgroup_error("creating", dir, e)),
    }
}

pub(crate) fn cgroup_error(step: &'static str, path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => Error::CgroupUnwritable {
            step,
            path: path.to_owned(),
            source: e,
        },
        _ => Error::Io {
            step,
            path: path.to_owned(),
            source: e,
        },
    }
}

pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    use std::io::Write;
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|e| cgroup_error("writing", path, e))
}

pub(crate) fn write_if_exists(path: &Path, value: &str) -> Result<()> {
    if path.exists() {
        write(path, value)
    } else {
        Ok(())
    }
}

pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let s = fs::read_to_string(path).map_err(io("reading", path))?;
    s.trim().parse().map_err(|_| Error::Io {
        step: "parsing",
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a number: {s:?}"),
        ),
    })
}

/// A `key value` per line file (`memory.stat`, `memory.events`, ...).
pub(crate) fn read_keyed(path: &Path) -> Result<Vec<(String, u64)>> {
    let s = fs::read_to_string(path).map_err(io("reading", path))?;
    Ok(s.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect())
}

/// One key of a keyed file, 0 when absent.
pub(crate) fn key_of(path: &Path, key: &str) -> u64 {
    read_keyed(path)
        .ok()
        .and_then(|v| v.into_iter().find(|(k, _)| k == key))
        .map_or(0, |(_, v)| v)
}
