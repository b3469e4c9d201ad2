//! vmvc's per-user cache (`$VMVC_CACHE`, else `$XDG_CACHE_HOME/vmvc`, else
//! `~/.cache/vmvc`): the workload executable written out of the `vmvc`
//! binary, guest kernels fetched and their extracted `vmlinux`.
//!
//! Files land there with [`write_atomic`], so that a vmvc running at the same
//! time (or another thread of this one) never reads or executes half a file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The cache directory (see the module docs); a per-user directory under
/// the temp dir when there is no home.
pub fn dir() -> PathBuf {
    if let Some(d) = std::env::var_os("VMVC_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("vmvc");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache").join("vmvc"),
        None => std::env::temp_dir().join(format!("vmvc-cache-{}", nix::unistd::geteuid())),
    }
}

/// Writes `bytes` to `path` (file mode `mode`) through a temporary file in
/// the same directory and a rename, which replaces `path` in one step.
/// The temporary name is unique per call, not only per process: two threads
/// writing the same file must not take each other's temporary away.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}-{seq}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_of_one_file_all_succeed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        let threads: Vec<_> = (0..8u8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || write_atomic(&path, &[i; 4096], 0o644))
            })
            .collect();
        for t in threads {
            t.join().expect("thread").expect("write");
        }
        let got = std::fs::read(&path).expect("read back");
        assert!(got.len() == 4096 && got.iter().all(|b| *b == got[0]));
        // Nothing but the file itself is left.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["f"]);
    }
}
