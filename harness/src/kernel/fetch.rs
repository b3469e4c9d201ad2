//! `vmvc kernel fetch`: the distribution's own kernel, downloaded with apt
//! and unpacked into the cache, never installed.
//!
//! Debian and Ubuntu name their current kernel through a *meta package*
//! (`linux-image-amd64`, `linux-image-generic`) that depends on the
//! versioned image package (`linux-image-6.1.0-56-amd64`); `apt-cache
//! depends` names it and `apt-cache policy` its candidate version. `apt-get
//! download` fetches the `.deb` into the current directory with no root and
//! no install, and `dpkg-deb --fsys-tarfile` turns it into a tar stream from
//! which only `./boot/` is kept. The work happens in a scratch directory that
//! is renamed into place at the end, so the cache never holds half a kernel.
//!
//! Sources: apt-get(8), apt-cache(8), dpkg-deb(1); the Debian Linux Kernel
//! Handbook (<https://kernel-team.pages.debian.net/kernel-handbook/>).

use super::{cache_dir, cached, locate, GuestKernel, KernelError};
use std::path::Path;
use std::process::{Command, Stdio};

/// [`locate`], and when that finds nothing, [`fetch`] (saying so through `say`).
pub fn locate_or_fetch(
    given: Option<&Path>,
    say: &mut dyn FnMut(&str),
) -> Result<GuestKernel, KernelError> {
    match locate(given) {
        Err(KernelError::NotFound { .. }) => {
            say("no guest kernel yet: fetching the distribution's kernel package (once; it is cached)");
            fetch(say)
        }
        other => other,
    }
}

/// The meta package that points to the distribution's current kernel.
fn meta_package() -> Result<&'static str, KernelError> {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let (id, like) = (field("ID="), field("ID_LIKE="));
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let family = format!("{id} {like}");
    if !has_apt {
        let distro = if id.is_empty() {
            "unknown (no /etc/os-release)".into()
        } else {
            format!("{id} without apt-get")
        };
        return Err(KernelError::NotDebian { distro });
    }
    if family.contains("ubuntu") {
        Ok("linux-image-generic")
    } else if family.contains("debian") {
        Ok("linux-image-amd64")
    } else {
        Err(KernelError::NotDebian {
            distro: if id.is_empty() { "unknown".into() } else { id },
        })
    }
}

fn run(step: &str, cmd: &mut Command) -> Result<String, KernelError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| KernelError::Command {
            step: step.to_owned(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(KernelError::Command {
            step: step.to_owned(),
            detail: format!("{} ({})", err.trim(), out.status),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Downloads the distribution's current kernel image package with
/// `apt-get download` (no install, no root needed) and unpacks its `/boot`
/// into the cache. Returns the cached kernel if this version is there already.
pub fn fetch(say: &mut dyn FnMut(&str)) -> Result<GuestKernel, KernelError> {
    let meta = meta_package()?;
    let deps = run(
        "apt-cache depends",
        Command::new("apt-cache").args(["depends", meta]),
    )?;
    // "  Depends: linux-image-6.1.0-56-amd64" (the first versioned image package).
    let package = deps
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .map(str::trim)
        .find(|p| {
            p.starts_with("linux-image-") && p[12..].starts_with(|c: char| c.is_ascii_digit())
        })
        .map(str::to_owned)
        .ok_or_else(|| KernelError::NoMetaPackage {
            meta: meta.to_owned(),
        })?;
    let policy = run(
        "apt-cache policy",
        Command::new("apt-cache").args(["policy", &package]),
    )?;
    let version = policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate: "))
        .map(str::to_owned)
        .filter(|v| v != "(none)")
        .ok_or_else(|| KernelError::NoMetaPackage {
            meta: package.clone(),
        })?;
    let dest = cache_dir()
        .join("kernel")
        .join(format!("{package}_{version}"));
    if let Some(k) = cached().into_iter().find(|k| k.bzimage.starts_with(&dest)) {
        say(&format!(
            "guest kernel {package} {version} is already in {}",
            dest.display()
        ));
        return Ok(k);
    }
    let cache_err = |path: &Path| {
        let path = path.to_owned();
        move |source| KernelError::Cache { path, source }
    };
    let kernels = cache_dir().join("kernel");
    std::fs::create_dir_all(&kernels).map_err(cache_err(&kernels))?;
    let work = kernels.join(format!(".fetch.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(cache_err(&work))?;
    let result = (|| {
        say(&format!(
            "apt-get download {package} ({version}) into {}",
            kernels.display()
        ));
        run(
            "apt-get download",
            Command::new("apt-get")
                .args(["download", "-q", &package])
                .current_dir(&work),
        )?;
        let deb = std::fs::read_dir(&work)
            .map_err(cache_err(&work))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .ok_or_else(|| KernelError::Command {
                step: "apt-get download".into(),
                detail: "it reported success but left no .deb".into(),
            })?;
        let root = work.join("root");
        std::fs::create_dir_all(&root).map_err(cache_err(&root))?;
        say("unpacking /boot from the package (dpkg-deb; nothing is installed)");
        let script = "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" --wildcards --no-anchored './boot/*'";
        run(
            "dpkg-deb --fsys-tarfile | tar -x",
            Command::new("sh")
                .args(["-c", script, "sh"])
                .arg(&deb)
                .arg(&root),
        )?;
        let has_vmlinuz = std::fs::read_dir(root.join("boot"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
            })
            .unwrap_or(false);
        if !has_vmlinuz {
            return Err(KernelError::NoVmlinuz { deb });
        }
        if !dest.exists() {
            std::fs::rename(&root, &dest).map_err(cache_err(&dest))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    let kernel = cached()
        .into_iter()
        .find(|k| k.bzimage.starts_with(&dest))
        .ok_or_else(|| KernelError::NoVmlinuz { deb: dest.clone() })?;
    say(&format!(
        "guest kernel: {} ({} bytes) in {}",
        kernel.release.as_deref().unwrap_or("unknown release"),
        kernel.size,
        dest.display()
    ));
    Ok(kernel)
}
