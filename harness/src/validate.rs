//! Checking what the user typed, before anything runs.
//!
//! `vmvc run`'s paths, CPUs and kernel arguments are refused up front, each
//! with the input named and the fix: not minutes later, not never (a
//! `--kernel` for an environment this host skips was never read), and not
//! after the output folder was made (which a failed run then left empty).
//! docs/bad-input.md lists every kind of bad input and what it gets;
//! `harness/tests/bad_input.rs` tries each on the real binary.

use anyhow::{bail, Context};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The longest kernel command line the x86 boot protocol carries on the
/// kernels we boot (`COMMAND_LINE_SIZE`, 2048 with its NUL; boot.rst,
/// "cmdline_size"). A kernel's own header may say less; the launch checks that.
pub const MAX_CMDLINE: usize = 2047;

/// A guest kernel larger than this is not one (Debian's vmlinux is ~63 MiB).
const MAX_KERNEL_FILE: u64 = 1 << 30;

/// What `vmvc run` was given that can be checked before it starts.
pub struct RunInputs<'a> {
    pub kernel: Option<&'a Path>,
    pub kernel_cmdline: Option<&'a str>,
    pub pin: Option<&'a [usize]>,
    pub out: Option<&'a Path>,
    pub peers: &'a [(&'a str, Option<&'a Path>)],
}

/// Checks every input of `vmvc run` that can be checked without running.
pub fn run_inputs(i: &RunInputs<'_>) -> anyhow::Result<()> {
    if let Some(path) = i.kernel {
        kernel(path)?;
    }
    if let Some(c) = i.kernel_cmdline {
        kernel_cmdline(c)?;
    }
    if let Some(cpus) = i.pin {
        pin(cpus)?;
    }
    if let Some(out) = i.out {
        out_dir(out)?;
    }
    for (flag, path) in i.peers {
        if let Some(p) = path {
            peer_binary(flag, p)?;
        }
    }
    Ok(())
}

/// `--kernel PATH`: a regular file of a sane size that is a bzImage or an
/// x86-64 ELF vmlinux (read and recognised as `vmvc kernel show` does).
pub fn kernel(path: &Path) -> anyhow::Result<()> {
    let fix = "give --kernel an x86-64 Linux bzImage or vmlinux \
               (e.g. /boot/vmlinuz-$(uname -r)), or leave it out to use the one \
               `vmvc kernel fetch` put in the cache";
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--kernel {}: cannot read it; {fix}", path.display()))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, a pipe or a socket)"
        };
        bail!("--kernel {} is {what}; {fix}", path.display());
    }
    if meta.len() > MAX_KERNEL_FILE {
        bail!(
            "--kernel {} is {} bytes, larger than any kernel; {fix}",
            path.display(),
            meta.len()
        );
    }
    match crate::kernel::locate(Some(path)) {
        Ok(_) => Ok(()),
        // One sentence: what is wrong with the file, then the fix.
        Err(e) => bail!("--kernel: {e}; {fix}"),
    }
}

/// `--kernel-cmdline ARGS`: fits the boot protocol's command line.
pub fn kernel_cmdline(c: &str) -> anyhow::Result<()> {
    if c.len() > MAX_CMDLINE {
        bail!(
            "--kernel-cmdline is {} bytes; the x86 boot protocol carries at most {MAX_CMDLINE}: \
             shorten it (leave it out for the default, bench-vm's DEFAULT_CMDLINE)",
            c.len()
        );
    }
    if let Some(bad) = c.chars().find(|ch| ch.is_control() && *ch != '\t') {
        bail!(
            "--kernel-cmdline holds the control character {bad:?}; \
             give space-separated kernel parameters on one line"
        );
    }
    Ok(())
}

/// `--pin CPUS`: every CPU is one this process may run on.
pub fn pin(cpus: &[usize]) -> anyhow::Result<()> {
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .context("reading which CPUs this process may use (sched_getaffinity)")?;
    let ok: Vec<usize> = (0..nix::sched::CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false))
        .collect();
    for &c in cpus {
        if !ok.contains(&c) {
            bail!(
                "--pin: CPU {c} is not one this process may run on (offline, absent or \
                 outside its affinity); pick from {ok:?}, or pass --no-pin"
            );
        }
    }
    Ok(())
}

/// `--out DIR`: a folder, or a path where one can be made.
pub fn out_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "--out {} is a file, not a folder; give --out a folder (it is created if missing)",
            dir.display()
        );
    }
    // The nearest ancestor that exists must be a folder (else create_dir_all
    // fails half way, after making part of the path).
    if let Some(a) = dir.ancestors().skip(1).find(|a| a.exists()) {
        if !a.is_dir() {
            bail!(
                "--out {}: {} is a file, not a folder; give --out a path under a folder",
                dir.display(),
                a.display()
            );
        }
    }
    Ok(())
}

/// `--firecracker PATH`, `--cloud-hypervisor PATH`: an executable program
/// (an ELF file or a `#!` script) that vmvc may start.
pub fn peer_binary(flag: &str, path: &Path) -> anyhow::Result<()> {
    let fix = format!("give {flag} the path of the program (its release binary)");
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{flag} {}: cannot find it; {fix}", path.display()))?;
    if !meta.is_file() {
        bail!("{flag} {} is not a file; {fix}", path.display());
    }
    if meta.permissions().mode() & 0o111 == 0 {
        bail!(
            "{flag} {} is not executable; chmod +x it, or {fix}",
            path.display()
        );
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .with_context(|| format!("{flag} {}: cannot read it", path.display()))?;
    if !(head[..n].starts_with(b"\x7fELF") || head[..n].starts_with(b"#!")) {
        bail!(
            "{flag} {} is not a program (neither an ELF executable nor a #! script); {fix}",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_limits() {
        assert!(kernel_cmdline("console=ttyS0 quiet").is_ok());
        assert!(kernel_cmdline(&"x".repeat(MAX_CMDLINE)).is_ok());
        assert!(kernel_cmdline(&"x".repeat(MAX_CMDLINE + 1)).is_err());
        assert!(kernel_cmdline("a\nb").is_err());
    }

    #[test]
    fn out_dir_must_be_a_folder() {
        assert!(out_dir(Path::new("/etc/hostname")).is_err());
        assert!(out_dir(Path::new("/etc/hostname/sub")).is_err());
        assert!(out_dir(Path::new("/tmp/vmvc-validate-test-not-made")).is_ok());
    }
}
