//! One VMM process per VM, shared by `vm-bare:process` and `vm-linux:process`.
//!
//! The launcher re-runs the `vmvc` binary in a hidden subcommand (`vmvc
//! __vmm-bare FD ...`, `vmvc __vmm-linux FD ...`) with one end of a socket
//! pair inherited as FD. The VMM process boots its guest
//! ([`bench_vm::process`]), writes its announcement on stdout (guest RAM's
//! address range, the Linux guest's memory report, when each launch phase
//! ended), says READY on the socket, and from then on is driven like a
//! native workload process. This module holds the launcher's side: start,
//! memory split, teardown, and making sure no VMM process outlives its
//! [`VmmProcess`].

use super::channel::Channel;
use super::child::ChildProc;
use super::kvm_mem;
use super::Instance;
use crate::measure::{Launch, MemPart};
use anyhow::{bail, Context};
use bench_vm::process::{Announcement, ANNOUNCE_END};
use std::io::{BufRead, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, Command as Proc, Stdio};
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message};

/// How a VM environment (`vm-bare`, `vm-linux`) runs its VMs.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The harness process is the VMM.
    InProcess,
    /// One VMM process per VM: `exe` (vmvc) re-run in the environment's
    /// hidden VMM subcommand.
    OwnProcess { exe: PathBuf },
}

/// The `vmvc` binary to re-run as a VMM: `given`, else this executable.
/// Only `vmvc` has the hidden VMM modes (a test or bench binary would take
/// the arguments for something else; those pass vmvc's path).
pub fn vmvc_exe(given: Option<&Path>, env_name: &str) -> anyhow::Result<PathBuf> {
    let exe = match given {
        Some(p) => p.to_owned(),
        None => {
            std::env::current_exe().context("finding the vmvc executable to re-run as a VMM")?
        }
    };
    if exe.file_name().and_then(|n| n.to_str()) != Some("vmvc") {
        bail!(
            "{env_name} re-runs the vmvc binary as a VMM, but this is {}",
            exe.display()
        );
    }
    Ok(exe)
}

/// The hidden subcommands' FD argument: an inherited socket, so >= 3.
pub fn parse_fd(arg: Option<&String>) -> Result<i32, String> {
    match arg.map(|a| a.parse::<i32>()) {
        Some(Ok(fd)) if fd >= 3 => Ok(fd),
        Some(Ok(_)) => Err("FD must be an inherited socket (>= 3)".into()),
        _ => Err("FD is missing or not a number".into()),
    }
}

/// When a VMM process's launch got where, on the launcher's clock.
pub struct Started {
    /// Just before the socket pair was created.
    pub t0: Instant,
    /// `CLOCK_MONOTONIC` ns at `t0`.
    t0_ns: u64,
    /// `spawn()` returned: the VMM process exists.
    pub spawned: Instant,
    /// READY received from the VMM.
    pub ready: Instant,
    /// What the VMM announced.
    pub announcement: Announcement,
}

impl Started {
    /// A `CLOCK_MONOTONIC` time the VMM announced, on the launcher's clock.
    pub fn at(&self, ns: u64) -> Instant {
        self.t0 + Duration::from_nanos(ns.saturating_sub(self.t0_ns))
    }

    /// The VMM's own phases, on the launcher's clock: (start of its
    /// launch, [(phase, end)]); `None` if it did not announce them.
    pub fn vmm_phases(&self) -> Option<(Instant, Vec<(&'static str, Instant)>)> {
        let a = &self.announcement;
        let start = self.at(a.t0_ns?);
        let marks = a
            .phases
            .iter()
            .map(|(n, ns)| (phase_name(n), self.at(*ns)))
            .collect();
        Some((start, marks))
    }
}

/// Phase names are `&'static str` in [`Launch`]; the VMM's are known ones.
fn phase_name(n: &str) -> &'static str {
    bench_vm::linux::PHASES
        .iter()
        .chain(bench_vm::PHASES.iter())
        .find(|k| **k == n)
        .copied()
        .unwrap_or("vmm_other")
}

/// A VM whose VMM is a process of its own, READY.
pub struct VmmProcess {
    proc: ChildProc,
    /// The guest-RAM mapping in the VMM's address space.
    guest_ram: Range<u64>,
    launch: Launch,
    sec_before: Option<u64>,
    /// Parts the environment adds (vm-linux: `guest_kernel`).
    extra: Vec<MemPart>,
    teardown_timeout: Duration,
    /// The VMM's stderr: where it says why it failed (read on failure only;
    /// a VMM writes there only when it gives up).
    stderr: Option<ChildStderr>,
}

impl VmmProcess {
    /// Runs `exe SUBCOMMAND FD ARGS...` and waits for its announcement and
    /// READY (at most `ready_timeout` for READY; the announcement comes
    /// first, and the VMM gives up booting by itself after its own boot
    /// timeout). `sec_before`: `SecPageTables` read before the launch.
    /// The launch phases are left empty: see [`VmmProcess::set_launch`].
    pub fn start(
        exe: &Path,
        subcommand: &str,
        args: &[String],
        ready_timeout: Duration,
        sec_before: Option<u64>,
    ) -> anyhow::Result<(VmmProcess, Started)> {
        let t0 = Instant::now();
        let t0_ns = bench_vm::process::monotonic_ns();
        let (chan, theirs) = Channel::pair()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&theirs);
        // From here on, an early return kills and reaps the child (Drop).
        let mut vmm = VmmProcess {
            proc: ChildProc::new(chan),
            guest_ram: 0..0,
            launch: Launch::from_marks(t0, &[]),
            sec_before,
            extra: Vec::new(),
            teardown_timeout: ready_timeout,
            stderr: None,
        };
        let spawned = vmm
            .proc
            .spawn(
                Proc::new(exe)
                    .arg(subcommand)
                    .arg(fd.to_string())
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped()),
                theirs,
            )
            .with_context(|| format!("starting the VMM process {}", exe.display()))?;
        let child = vmm.proc.child_mut().context("the VMM process")?;
        vmm.stderr = child.stderr.take();
        let stdout = child.stdout.take().context("the VMM's stdout")?;
        let announcement = match announce_and_ready(&mut vmm, stdout, ready_timeout) {
            Ok(a) => a,
            Err(e) => return Err(vmm.failure(e)),
        };
        let ready = Instant::now();
        vmm.guest_ram = announcement.guest_ram.clone();
        let started = Started {
            t0,
            t0_ns,
            spawned,
            ready,
            announcement,
        };
        Ok((vmm, started))
    }

    /// `e`, with what the VMM printed on its stderr before it ended: the
    /// real cause (e.g. "cannot open /dev/kvm: Permission denied ... add
    /// yourself to the group"), not only the FAULT it sent on the socket.
    fn failure(&mut self, e: anyhow::Error) -> anyhow::Error {
        let exited = self.proc.wait_within(Duration::from_secs(5)).ok().flatten();
        let mut said = String::new();
        if let (Some(_), Some(mut err)) = (exited, self.stderr.take()) {
            let _ = err.read_to_string(&mut said);
        }
        match said.trim() {
            "" => e,
            said => e.context(format!("the VMM process failed: {said}")),
        }
    }

    /// Sets the launch timings the environment built from [`Started`].
    pub fn set_launch(&mut self, launch: Launch) {
        self.launch = launch;
    }

    /// Adds a memory part of the environment's own.
    pub fn add_part(&mut self, part: MemPart) {
        self.extra.push(part);
    }

    /// How long teardown may wait for DONE (default: the READY timeout).
    pub fn set_teardown_timeout(&mut self, t: Duration) {
        self.teardown_timeout = t;
    }
}

/// Reads the VMM's announcement from its stdout, then waits for READY.
fn announce_and_ready(
    vmm: &mut VmmProcess,
    stdout: std::process::ChildStdout,
    ready_timeout: Duration,
) -> anyhow::Result<Announcement> {
    let mut text = String::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.context("reading the VMM's announcement")?;
        if line.trim() == ANNOUNCE_END {
            break;
        }
        text += &line;
        text.push('\n');
    }
    let Some(announcement) = Announcement::parse(&text) else {
        // Probably a launch failure: its FAULT is on the socket.
        vmm.proc.chan.wait_ready(ready_timeout)?;
        bail!("the VMM process did not say where guest RAM is (got {text:?})");
    };
    vmm.proc.chan.wait_ready(ready_timeout)?;
    Ok(announcement)
}

impl Instance for VmmProcess {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.proc.chan.request(cmd, timeout)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let pid = self.proc.pid().context("VMM process already reaped")?;
        let mut parts = kvm_mem::vmm_process_parts(pid, self.guest_ram.clone())?;
        parts.extend(kvm_mem::kvm_page_tables(self.sec_before));
        parts.extend(self.extra.iter().cloned());
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let status = self
            .proc
            .exit(self.teardown_timeout, "the VMM process", "the VM")?;
        match status {
            Some(s) if !s.success() => bail!("the VMM process ended with {s}"),
            _ => Ok(start.elapsed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fd_argument_must_be_an_inherited_socket() {
        assert_eq!(parse_fd(Some(&"5".to_string())), Ok(5));
        assert!(parse_fd(Some(&"2".to_string())).is_err());
        assert!(parse_fd(Some(&"five".to_string())).is_err());
        assert!(parse_fd(None).is_err());
    }

    #[test]
    fn only_vmvc_is_re_run_as_a_vmm() {
        let e = vmvc_exe(Some(Path::new("/usr/bin/true")), "vm-linux:process")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("vm-linux:process") && e.contains("/usr/bin/true"),
            "{e}"
        );
        assert_eq!(
            vmvc_exe(Some(Path::new("/x/vmvc")), "vm-bare:process").ok(),
            Some(PathBuf::from("/x/vmvc"))
        );
    }
}
