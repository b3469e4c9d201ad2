//! Where a run's files go: the output folder (made and proved writable
//! before minutes of measuring), `results.json` and `report.html`, owned by
//! the user who ran vmvc also under sudo.

use anyhow::Context;
use reports::Results;
use std::path::{Path, PathBuf};

/// Creates `dir` and proves it writable now, not after minutes of measuring.
pub fn prepare_out_dir(dir: &Path) -> anyhow::Result<()> {
    // The folders this creates, outermost first, to hand to the sudo user.
    let new: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create output folder {}; give --out a folder you can write",
            dir.display()
        )
    })?;
    for d in new.iter().rev() {
        give_to_sudo_user(d)?;
    }
    let probe = dir.join(".vmvc-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("output folder {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// Writes `results.json` and `report.html` into `dir`.
pub fn write_outputs(results: &Results, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let json = dir.join("results.json");
    let html = dir.join("report.html");
    let text = serde_json::to_string_pretty(results).context("serializing results")?;
    write_atomic(&json, text.as_bytes()).with_context(|| format!("writing {}", json.display()))?;
    let page = reports::render_html(std::slice::from_ref(results));
    write_atomic(&html, page.as_bytes()).with_context(|| format!("writing {}", html.display()))?;
    give_to_sudo_user(&json)?;
    give_to_sudo_user(&html)?;
    Ok((json, html))
}

/// Writes `path` whole or not at all: into a temporary file beside it,
/// then renamed over it (rename(2) is atomic within a file system), so a
/// crash, a full disk or a bad path never leaves half a file behind; the
/// temporary file is removed on error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".vmvc-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // tempfile makes its files 0600; results are for everyone to read, as
    // a file written in place (0666 less the usual umask 022) would be.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Under `sudo vmvc ...`, files we create belong to the user who ran sudo
/// (`SUDO_UID`/`SUDO_GID`, sudo(8)), not to root: their results are theirs
/// to move and delete. Nothing to do otherwise.
fn give_to_sudo_user(path: &Path) -> anyhow::Result<()> {
    let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) else {
        return Ok(());
    };
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .with_context(|| format!("giving {} to the sudo user (uid {uid})", path.display()))
}
