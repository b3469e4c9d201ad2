//! "Which kernel are you on?", asked inside an environment: the direct
//! demonstrations behind the report's claims section.
//!
//! A shell started inside the environment prints what it sees: `uname -r`
//! (the running kernel's release, uname(2)), the boot id
//! (`/proc/sys/kernel/random/boot_id`, a random UUID each kernel draws once
//! at boot: two views with the same boot id are one kernel), the hostname
//! (per UTS namespace) and its own pid (per pid namespace). The harness then
//! looks the same process up in the host's `/proc`: its `NSpid` line
//! (proc(5)) lists the pid in every pid namespace it is in, which shows that
//! a container's process is a host process with a second number.
//!
//! A bare VM has no kernel to ask: nothing in it can answer uname(2). A
//! Linux VM has its own kernel, with its own release and boot id.

use crate::inside::{busybox, BusyboxBox};
use anyhow::Context;
use bench_container::Profile;
use reports::Identity;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

/// What the shell prints, one `key=value` a line, then `end`; it then stays
/// alive (as `sleep`) so that the host can look it up in `/proc`.
const SCRIPT: &str = "echo \"release=$(uname -r)\"; \
     echo \"boot_id=$(cat /proc/sys/kernel/random/boot_id 2>&1)\"; \
     echo \"hostname=$(hostname)\"; echo \"pid=$$\"; echo end; exec sleep 30";

/// How long the shell may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The host's own view: a shell started as a plain child process.
pub fn native() -> Identity {
    let how = "busybox sh started as a plain child process: the host's own view";
    let answer = (|| -> anyhow::Result<Identity> {
        let mut child = std::process::Command::new(busybox()?)
            .args(["sh", "-c", SCRIPT])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting busybox sh")?;
        let out = child.stdout.take().context("the shell's stdout")?;
        let answer = read_answer(out, child.id(), "native", how);
        let _ = child.kill();
        let _ = child.wait();
        answer
    })();
    answer.unwrap_or_else(|e| failed("native", how, e))
}

/// The view from inside a container of `profile` (busybox in a rootfs of
/// its own, started like the measured row).
pub fn container(profile: Profile) -> Identity {
    let env = format!("container:{}", profile.name());
    let how = format!(
        "busybox sh started by bench-container with the {} profile, in a rootfs that holds only busybox",
        profile.name()
    );
    let answer = (|| -> anyhow::Result<Identity> {
        let bb = BusyboxBox::new(profile)?;
        let (reader, writer) = std::io::pipe().context("a pipe for the shell's output")?;
        let c = bb.spawn("identity", &["sh", "-c", SCRIPT], Some(writer.as_raw_fd()))?;
        drop(writer);
        let answer = read_answer(reader, c.pid(), &env, &how);
        // Killing the shell ends it (and, with a pid namespace, all in it).
        c.kill();
        c.teardown(Duration::ZERO)
            .context("tearing down the busybox container")?;
        answer
    })();
    answer.unwrap_or_else(|e| failed(&env, &how, e))
}

/// A bare VM: the workload is the only code on the vCPU.
pub fn bare_vm(env: &str) -> Identity {
    blank(
        env,
        "nothing to ask: the bare guest has no kernel, so no code in it can answer uname(2); \
         its workload is the only program on the vCPU",
    )
}

/// An answer with nothing in it yet.
fn blank(env: &str, how: &str) -> Identity {
    Identity {
        env: env.into(),
        how: how.into(),
        kernel_release: None,
        boot_id: None,
        hostname: None,
        pid_inside: None,
        pid_on_host: None,
        error: None,
    }
}

fn failed(env: &str, how: &str, e: anyhow::Error) -> Identity {
    Identity {
        error: Some(format!("{e:#}")),
        ..blank(env, how)
    }
}

/// Reads the shell's answer from `out` (on a thread, so that a shell that
/// never answers costs [`ANSWER_TIMEOUT`], not forever), and looks its
/// process up in the host's `/proc` while it is still alive.
fn read_answer(
    out: impl Read + Send + 'static,
    host_pid: u32,
    env: &str,
    how: &str,
) -> anyhow::Result<Identity> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let end = line == "end";
            if tx.send(line).is_err() || end {
                break;
            }
        }
    });
    let mut id = blank(env, how);
    loop {
        let line = rx
            .recv_timeout(ANSWER_TIMEOUT)
            .map_err(|_| anyhow::anyhow!("the shell did not answer within {ANSWER_TIMEOUT:?}"))?;
        if line == "end" {
            break;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key {
            "release" if !value.is_empty() => id.kernel_release = Some(value),
            "boot_id" if is_uuid(&value) => id.boot_id = Some(value),
            "hostname" if !value.is_empty() => id.hostname = Some(value),
            "pid" => id.pid_inside = value.parse().ok(),
            _ => {}
        }
    }
    // The host's view of the same process: its pid in every namespace.
    if let Some(nspid) = nspid(host_pid) {
        id.pid_on_host = nspid.first().copied();
    }
    Ok(id)
}

/// The `NSpid` line of `/proc/<pid>/status`: the pid in the host's pid
/// namespace first, then in each nested one (proc(5)).
pub fn nspid(pid: u32) -> Option<Vec<u32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    line.split_whitespace().map(|p| p.parse().ok()).collect()
}

/// A boot id looks like `8-4-4-4-12` hex digits; anything else (an error
/// message from `cat` where `/proc` is not mounted) is no boot id.
fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_ids_are_recognised() {
        assert!(is_uuid("0f1c2d3e-4a5b-6c7d-8e9f-a0b1c2d3e4f5"));
        assert!(!is_uuid(
            "cat: can't open '/proc/sys/kernel/random/boot_id'"
        ));
        assert!(!is_uuid(""));
    }

    #[test]
    fn the_host_lists_this_process_with_its_pid() {
        let me = std::process::id();
        assert_eq!(nspid(me).and_then(|p| p.first().copied()), Some(me));
    }

    /// True when root and busybox are here; else a loud SKIP, or a failure
    /// under VMVC_REQUIRE_ROOT=1 (CI, where setup.sh installs busybox).
    fn can_ask(test: &str) -> bool {
        let why = if !nix::unistd::geteuid().is_root() {
            "needs root (containers from scratch)".to_owned()
        } else if let Err(e) = busybox() {
            format!("{e:#}")
        } else {
            return true;
        };
        if std::env::var("VMVC_REQUIRE_ROOT").as_deref() == Ok("1") {
            panic!("{test}: {why}; VMVC_REQUIRE_ROOT=1 forbids skipping");
        }
        eprintln!("\n*** SKIP {test}: {why} ***\n");
        false
    }

    fn host_release() -> String {
        nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn host_boot_id() -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_owned())
    }

    #[test]
    fn native_sees_the_host_kernel_and_is_a_host_process() {
        if !can_ask("native_sees_the_host_kernel_and_is_a_host_process") {
            return;
        }
        let id = native();
        assert_eq!(id.error, None);
        assert_eq!(id.kernel_release.as_deref(), Some(host_release().as_str()));
        assert_eq!(id.boot_id, host_boot_id());
        assert!(id.pid_inside.is_some());
        assert_eq!(id.pid_inside, id.pid_on_host, "one pid namespace");
    }

    #[test]
    fn a_full_container_runs_on_the_host_kernel_with_pid_1_and_its_own_hostname() {
        if !can_ask("a_full_container_runs_on_the_host_kernel_with_pid_1_and_its_own_hostname") {
            return;
        }
        let id = container(Profile::Full);
        assert_eq!(id.error, None, "{id:?}");
        // The same kernel: the same release and the same boot.
        assert_eq!(id.kernel_release.as_deref(), Some(host_release().as_str()));
        assert_eq!(id.boot_id, host_boot_id());
        // Its own pid namespace and UTS namespace, yet a host process.
        assert_eq!(id.pid_inside, Some(1));
        assert!(id.pid_on_host.is_some_and(|p| p > 1), "{id:?}");
        assert_eq!(id.hostname.as_deref(), Some("vmvc-full"));
    }

    #[test]
    fn a_chroot_shares_pids_and_hostname_with_the_host() {
        if !can_ask("a_chroot_shares_pids_and_hostname_with_the_host") {
            return;
        }
        let id = container(Profile::Chroot);
        assert_eq!(id.error, None, "{id:?}");
        assert_eq!(id.kernel_release.as_deref(), Some(host_release().as_str()));
        assert!(id.pid_inside.is_some());
        assert_eq!(id.pid_inside, id.pid_on_host, "no pid namespace");
        let host = nix::unistd::gethostname()
            .ok()
            .map(|h| h.to_string_lossy().into_owned());
        assert_eq!(id.hostname, host, "no UTS namespace");
        // No /proc in a chroot's rootfs: no boot id to read.
        assert_eq!(id.boot_id, None);
    }
}
