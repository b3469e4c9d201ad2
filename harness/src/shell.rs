//! `vmvc shell`: look around inside an environment with your own commands.
//!
//! `vmvc shell container` starts busybox's `sh` in a container built exactly
//! like a measured row (the `full` profile unless `--profile` says
//! otherwise), on your terminal. Inside, `ps`, `hostname`, `mount`,
//! `uname -r` and `cat /proc/self/cgroup` show what the container's
//! namespaces and cgroup change, and what they do not (the kernel). When the
//! shell exits, the container, its cgroup and its rootfs are removed.
//!
//! `vmvc shell vm` would boot the Linux guest with a busybox initramfs on its
//! serial console. It needs a host where Linux guests run; on others it says
//! why not.

use crate::inside::BusyboxBox;
use anyhow::{bail, Context};
use bench_container::{Exit, Profile};
use nix::sys::signal::{signal, SigHandler, Signal};
use std::time::Duration;

/// What a student may try first, printed before the prompt.
const TRY: &str = "try: ps, hostname, mount, uname -r, cat /proc/self/cgroup, ls /; exit to leave";

/// Runs `sh` (or `sh -c COMMAND…`) in a container of `profile`; returns
/// the shell's exit code.
pub fn container(profile: &str, command: &[String], quiet: bool) -> anyhow::Result<i32> {
    let profile = Profile::from_name(profile).with_context(|| {
        format!("unknown container profile {profile:?}; profiles: chroot, chroot+cgroup, full")
    })?;
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "a container from scratch needs root here (namespaces, mounts, chroot, cgroups): \
             run `sudo vmvc shell container` (or as root)"
        );
    }
    let bb = BusyboxBox::new(profile)?;
    let script = command.join(" ");
    let args: Vec<&str> = if command.is_empty() {
        vec!["sh"]
    } else {
        vec!["sh", "-c", &script]
    };
    if !quiet {
        // Before the shell starts, so that its prompt comes last.
        eprintln!(
            "vmvc: busybox sh in container:{} ({}); {}",
            profile.name(),
            if profile.namespaces().is_empty() {
                "no namespaces: the host's pids, hostname and network"
            } else {
                "its own mount, pid, uts, ipc and net namespaces"
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
        eprintln!("vmvc: the container, its cgroup and its rootfs are gone");
    }
    Ok(match exit? {
        Exit::Code(code) => code,
        Exit::Signal(s) => 128 + s as i32,
        Exit::OomKilled => 128 + Signal::SIGKILL as i32,
    })
}

/// `vmvc shell vm`: where a Linux guest cannot run, why; elsewhere, that
/// this vmvc does not have the interactive guest console yet.
pub fn vm() -> anyhow::Result<i32> {
    if !std::path::Path::new("/dev/kvm").exists() {
        bail!("no shell in a VM on this host: there is no /dev/kvm (KVM with VT-x or AMD-V is needed)");
    }
    if let Some(why) = crate::env::vm_linux::not_supported_here() {
        bail!("no shell in a VM on this host: {why}");
    }
    bail!(
        "`vmvc shell vm` needs an interactive serial console in bench-vm's Linux guest, \
         which this vmvc does not have yet; `vmvc run --env vm-linux` boots the same guest \
         and reports what its kernel says of itself"
    )
}
