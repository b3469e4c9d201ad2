//! `vmvc shell`: look around inside an environment with your own commands.
//!
//! `vmvc shell container` starts busybox's `sh` in a container built exactly
//! like a measured row (the `full` profile unless `--profile` says
//! otherwise), on your terminal. Inside, `ps`, `hostname`, `mount`,
//! `uname -r` and `cat /proc/self/cgroup` show what the container's
//! namespaces and cgroup change, and what they do not (the kernel). When the
//! shell exits, the container, its cgroup and its rootfs are removed.
//!
//! `vmvc shell vm` boots the Linux guest of `vm-linux` with busybox in its
//! initramfs and gives you its serial console (`crate::shell_vm`). It needs
//! a host where Linux guests run (hardware KVM, the rig); on others it says
//! why not.

use crate::inside::BusyboxBox;
use anyhow::{bail, Context};
use bench_container::{CpuQuota, Exit, Limits, Profile};
use nix::sys::signal::{signal, SigHandler, Signal};
use std::time::Duration;

/// What a student may try first, printed before the prompt.
const TRY: &str = "try: ps, hostname, mount, uname -r, cat /proc/self/cgroup, ls /; exit to leave";

/// Limits asked for on the command line, as the user wrote them.
#[derive(Debug, Clone, Default)]
pub struct LimitArgs {
    /// `64M`, `1G`, `1048576`.
    pub memory: Option<String>,
    pub pids: Option<u64>,
    /// CPUs' worth of time per period, e.g. `0.5`.
    pub cpus: Option<f64>,
}

impl LimitArgs {
    /// The cgroup limits, or why the input is not one.
    pub fn limits(&self) -> anyhow::Result<Limits> {
        let memory_bytes = self.memory.as_deref().map(parse_bytes).transpose()?;
        if let Some(p) = self.pids.filter(|p| *p == 0) {
            bail!("--pids {p}: a container needs at least one process (its shell)");
        }
        let cpu = match self.cpus {
            None => None,
            Some(c) if c.is_finite() && c > 0.0 && c <= 1024.0 => Some(CpuQuota {
                // The kernel's default period, 100 ms (sched-bwc.rst).
                quota_us: ((c * 100_000.0).round() as u64).max(1_000),
                period_us: 100_000,
            }),
            Some(c) => bail!("--cpus {c}: give a number of CPUs above 0, e.g. 0.5"),
        };
        Ok(Limits {
            memory_bytes,
            pids_max: self.pids,
            cpu,
        })
    }
}

/// `64M`, `1G`, `512K`, `1048576` (bytes) -> bytes; binary prefixes.
pub fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("--memory {text:?}: a size like 64M, 1G or 1048576 (bytes)"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .with_context(|| format!("--memory {text:?} is too large"))?;
    if bytes < (1 << 20) {
        bail!("--memory {text:?}: under 1 MiB even a shell cannot start; give at least 1M");
    }
    Ok(bytes)
}

/// Runs `sh` (or `sh -c COMMAND…`) in a container of `profile`, held to
/// `limits`; returns the shell's exit code.
pub fn container(
    profile: &str,
    limits: &LimitArgs,
    command: &[String],
    quiet: bool,
) -> anyhow::Result<i32> {
    let row = profile;
    let (profile, secure) = crate::env::container::parse_profile(row)?;
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "a container from scratch needs root here (namespaces, mounts, chroot, cgroups): \
             run `sudo vmvc shell container` (or as root)"
        );
    }
    let limits = limits.limits()?;
    let mut bb = BusyboxBox::new(profile)?;
    bb.set_limits(limits)?;
    bb.set_secure(secure);
    let script = command.join(" ");
    let args: Vec<&str> = if command.is_empty() {
        vec!["sh"]
    } else {
        vec!["sh", "-c", &script]
    };
    if !quiet {
        // Before the shell starts, so that its prompt comes last.
        eprintln!(
            "vmvc: busybox sh in container:{row} ({}{}); {}",
            if profile.namespaces().is_empty() {
                "no namespaces: the host's pids, hostname and network"
            } else {
                "its own mount, pid, uts, ipc and net namespaces"
            },
            match (profile, secure) {
                (Profile::Full, true) => ", runc's security defaults",
                (Profile::Full, false) => ", without the security defaults",
                _ => "",
            },
            if command.is_empty() {
                TRY
            } else {
                "running your command"
            }
        );
    }
    let c = bb.spawn("shell", &args, None)?;
    // Like any shell with a job in the foreground: Ctrl-C and Ctrl-\ are
    // for the program in the container (the terminal sends them to both),
    // not for us, so that we live to remove the container after it.
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler code; nothing else in this
        // process relies on these signals while the shell runs.
        unsafe { signal(sig, SigHandler::SigIgn) }
            .context("ignoring Ctrl-C while the shell runs")?;
    }
    let mut c = c;
    let exit = c.wait().context("waiting for the shell");
    let torn = c.teardown(Duration::ZERO).context("removing the container");
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: as above; back to the default action.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    torn?;
    if !quiet {
        eprintln!(
            "vmvc: the container{} and its rootfs are gone",
            if profile.uses_cgroup() {
                ", its cgroup"
            } else {
                ""
            }
        );
    }
    Ok(match exit? {
        Exit::Code(code) => code,
        Exit::Signal(s) => 128 + s as i32,
        Exit::OomKilled => 128 + Signal::SIGKILL as i32,
    })
}

/// `vmvc shell vm`: a shell on the Linux guest's console, commands from
/// stdin (where a Linux guest cannot run, why not).
pub fn vm(command: &[String], quiet: bool) -> anyhow::Result<i32> {
    if !command.is_empty() {
        bail!(
            "`vmvc shell vm` reads its commands from stdin: \
             echo 'uname -r; exit' | vmvc shell vm"
        );
    }
    crate::shell_vm::vm(quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits_parse_or_say_why_not() {
        assert_eq!(parse_bytes("64M").ok(), Some(64 << 20));
        assert_eq!(parse_bytes("1g").ok(), Some(1 << 30));
        assert_eq!(parse_bytes("2097152").ok(), Some(2 << 20));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("4K").is_err(), "too small for a shell");
        assert!(parse_bytes("99999999999G").is_err());
        let cpu = LimitArgs {
            cpus: Some(0.5),
            ..LimitArgs::default()
        };
        let quota = cpu.limits().ok().and_then(|l| l.cpu);
        assert_eq!(
            quota.map(|q| (q.quota_us, q.period_us)),
            Some((50_000, 100_000))
        );
        assert!(LimitArgs {
            cpus: Some(-1.0),
            ..LimitArgs::default()
        }
        .limits()
        .is_err());
        assert!(LimitArgs {
            pids: Some(0),
            ..LimitArgs::default()
        }
        .limits()
        .is_err());
    }
}
