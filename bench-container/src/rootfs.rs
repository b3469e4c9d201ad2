//! The root filesystem: what the container sees as `/`.
//!
//! A container image is, at bottom, a directory tree. Ours is minimal: the
//! workload binary (static, so no libraries or loader are needed) and the
//! empty directories that mounts land on (`/proc`; `/dev` and `/tmp` stay
//! empty). It is assembled in a private (mode 0700) temporary directory
//! named `vmvc-rootfs.<owner>-<seq>`, with a marker file `vmvc-owner` beside
//! the tree. It can be used by many launches at once (the `full` profile
//! bind-mounts it read-only in each container) and is removed when the last
//! user drops it. A run that crashed leaves the directory behind; the next
//! [`Rootfs`] built removes it after checking the marker and that the owner
//! is dead (see [`crate::owner`]), and first kills any process still
//! chrooted inside it (found by `/proc/PID/root`).
//!
//! ```text
//! $TMPDIR/vmvc-rootfs.1234-5678-0/
//! |-- vmvc-owner          "1234-5678": who made this
//! `-- root/               what the container sees as /
//!     |-- proc/  dev/  tmp/
//!     `-- vmvc-workload   (and any other file added)
//! ```

use crate::error::{io, Error, Result};
use crate::owner::{self, Owner};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::RwLock;

/// Held for writing while files are copied into a rootfs, and for reading
/// around each container's clone (`crate::container`). A child cloned while
/// another thread has a copied program open for writing inherits that
/// descriptor and keeps it until its own execve, and that can be long (a
/// rootless child first waits for its id maps); meanwhile every execve of
/// the program fails with ETXTBSY. With the lock, no clone sees such a
/// descriptor.
pub(crate) static COPY_VS_CLONE: RwLock<()> = RwLock::new(());

/// Prefix of our temp dirs.
pub const PREFIX: &str = "vmvc-rootfs.";
/// Marker file (beside `root/`) holding the owner tag.
pub const MARKER: &str = "vmvc-owner";

/// Mount points every rootfs has.
const DIRS: [&str; 3] = ["proc", "dev", "tmp"];

/// A root filesystem on disk. Share it with `Arc<Rootfs>` between
/// containers; an assembled one is removed on drop.
#[derive(Debug)]
pub struct Rootfs {
    /// The tree the container sees as `/`.
    root: PathBuf,
    /// Our temp dir to remove on drop (`None` for a directory we were given).
    owned: Option<PathBuf>,
}

impl Rootfs {
    /// Uses an existing directory as the rootfs; it is never modified or removed.
    pub fn existing(root: impl Into<PathBuf>) -> Result<Rootfs> {
        let root = root.into();
        if !root.is_dir() {
            return Err(Error::MissingRootfs { path: root });
        }
        let root = root.canonicalize().map_err(io("resolving", &root))?;
        Ok(Rootfs { root, owned: None })
    }

    /// The tree the container sees as `/` (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Host path of `inner`, a path as the container sees it.
    pub fn host_path(&self, inner: &Path) -> PathBuf {
        self.root.join(inner.strip_prefix("/").unwrap_or(inner))
    }

    /// Checks that `exe` (a path inside the rootfs) is an executable regular file.
    pub fn check_executable(&self, exe: &Path) -> Result<()> {
        if !self.root.is_dir() {
            return Err(Error::MissingRootfs {
                path: self.root.clone(),
            });
        }
        check_executable(&self.host_path(exe))
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Assembles a [`Rootfs`] in a fresh temp dir.
#[derive(Debug, Clone)]
pub struct RootfsBuilder {
    parent: PathBuf,
    files: Vec<(PathBuf, PathBuf)>,
}

impl Default for RootfsBuilder {
    fn default() -> Self {
        RootfsBuilder::new()
    }
}

impl RootfsBuilder {
    /// A rootfs in `$TMPDIR` (or `/tmp`).
    pub fn new() -> RootfsBuilder {
        RootfsBuilder {
            parent: std::env::temp_dir(),
            files: Vec::new(),
        }
    }

    /// Puts the temp dir in `parent` instead.
    pub fn in_dir(mut self, parent: impl Into<PathBuf>) -> RootfsBuilder {
        self.parent = parent.into();
        self
    }

    /// Copies the host file `src` to `dest` (a path inside the rootfs,
    /// e.g. `/vmvc-workload`), keeping its mode.
    pub fn file(mut self, src: impl Into<PathBuf>, dest: impl Into<PathBuf>) -> RootfsBuilder {
        self.files.push((src.into(), dest.into()));
        self
    }

    /// Creates the tree. On error nothing is left behind.
    pub fn build(self) -> Result<Rootfs> {
        remove_leftovers(&self.parent);
        // Check inputs before creating anything.
        for (src, dest) in &self.files {
            if !src.exists() {
                return Err(Error::MissingFile {
                    path: src.clone(),
                    hint: "build the workload first (cargo build) or fix the path",
                });
            }
            let ok = dest.is_absolute()
                && dest
                    .components()
                    .skip(1)
                    .all(|c| matches!(c, Component::Normal(_)));
            if !ok {
                return Err(Error::InvalidName {
                    name: dest.display().to_string(),
                    why: "a rootfs path must be absolute, without `..`",
                });
            }
        }
        let owner = Owner::current();
        let dir = self
            .parent
            .join(format!("{PREFIX}{}-{}", owner.tag(), owner::next_seq()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io("creating rootfs dir", &dir))?;
        // From here on, Drop removes the dir on every path.
        let mut rootfs = Rootfs {
            root: dir.join("root"),
            owned: Some(dir.clone()),
        };
        fs::write(dir.join(MARKER), owner.tag()).map_err(io("writing", dir.join(MARKER)))?;
        fs::create_dir(&rootfs.root).map_err(io("creating", &rootfs.root))?;
        for d in DIRS {
            let p = rootfs.root.join(d);
            fs::create_dir(&p).map_err(io("creating", &p))?;
        }
        // A poisoned lock guards no data: go on.
        let copying = COPY_VS_CLONE.write().unwrap_or_else(|e| e.into_inner());
        for (src, dest) in &self.files {
            let to = rootfs.host_path(dest);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            fs::copy(src, &to).map_err(io("copying into the rootfs", src))?;
        }
        drop(copying);
        rootfs.root = rootfs
            .root
            .canonicalize()
            .map_err(io("resolving", &rootfs.root))?;
        Ok(rootfs)
    }
}

fn check_executable(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(|_| Error::MissingFile {
        path: path.to_owned(),
        hint: "the workload binary must be inside the rootfs",
    })?;
    let mode = meta.permissions().mode();
    if !meta.is_file() || mode & 0o111 == 0 {
        return Err(Error::NotExecutable {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Removes our rootfs temp dirs in `parent` whose owner is dead: prefix,
/// marker content and owner tag must all agree, or the entry is not ours.
pub fn remove_leftovers(parent: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(parent) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(tag) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let dir = e.path();
        let Some(owner) = Owner::parse(tag) else {
            continue;
        };
        let marker = fs::read_to_string(dir.join(MARKER)).unwrap_or_default();
        if marker != owner.tag() || owner.is_alive() {
            continue;
        }
        kill_chrooted_in(&dir);
        if fs::remove_dir_all(&dir).is_ok() {
            removed.push(dir);
        }
    }
    removed
}

/// SIGKILLs processes whose root directory is inside `dir`: chroot
/// containers of a crashed run (those with a cgroup are also found there).
/// Processes in other mount namespaces show their root as `/` and are not
/// matched; those of the `full` profile die with their cgroup.
fn kill_chrooted_in(dir: &Path) {
    let Ok(procs) = fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(root) = fs::read_link(p.path().join("root")) {
            if root.starts_with(dir) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}
