//! One launch of a third-party VMM (QEMU, Firecracker, Cloud Hypervisor)
//! running the bare guest: spawn it, wait for READY on its serial port,
//! place the guest's own boot timings on our clock, split its memory, tear
//! it down. (The Linux guest under QEMU, `peer:qemu-linux`, uses the same
//! launch with its own readings after READY: `super::qemu_linux`.)
//!
//! The VMM's 16550 UART is wired to one end of a `socketpair(2)` that the
//! VMM inherits (QEMU: `-chardev socket,fd=N`), so the launcher's side is
//! the same [`Channel`] a native workload uses: bytes in, bytes out, PINGs
//! answered. `t0` is taken just before the VMM is spawned.
//!
//! **Phases.** From outside, a VMM is a black box between `exec` and the
//! READY byte. The guest fills it in: it reads the TSC at its first
//! instruction, when it reaches CPL3 and just before READY, and reports
//! the three readings in INFO messages after READY (`workload::boot`).
//! Where the guest's TSC is the host's (PVM; KVM with a zero TSC offset),
//! those are instants on our clock. Where the VMM reset the guest's TSC
//! with the vCPU (QEMU on hardware KVM), they are durations since that
//! reset: the first one is then the firmware's time, and the instants are
//! placed back from READY. The phases:
//!
//! | phase | from → to |
//! |---|---|
//! | `spawn` | `t0` → `execve` of the VMM returned |
//! | `vmm_start` | → the vCPU's reset (or the guest's first instruction): the VMM's own start, device model, guest RAM, loading the image (and firmware, where not split out) |
//! | `firmware` | reset → the guest's first instruction (only where the TSC was reset) |
//! | `entry_code` | first instruction → CPL3: the guest's CPL0 set-up (PVH: long mode), emulated on PVM |
//! | `guest_boot` | CPL3 → READY received by vmvc |
//!
//! The readings become instants in `super::guest_clock`.
//!
//! **Memory.** The VMM process's smaps, split into guest RAM (the one
//! private anonymous mapping of exactly the guest's RAM size) and the rest,
//! as `vm-bare:process` and Firecracker's memory-overhead test split it.

use super::guest_clock::{rdtsc, GuestClock};
use crate::env::channel::{self, Channel};
use crate::env::child::ChildProc;
use crate::env::kvm_mem;
use crate::env::Instance;
use crate::measure::{Launch, MemPart};
use anyhow::{bail, Context};
use std::io::Read;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command as Proc, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use workload::protocol::{info, Command, Message};

/// What a launch needs from the tool that runs it.
pub(super) struct VmmSpec {
    /// The tool's name, for messages.
    pub(super) name: &'static str,
    /// Guest RAM, bytes, as the VMM was told.
    pub(super) ram_bytes: u64,
    pub(super) ready_timeout: Duration,
    /// Whether the VMM's exit status means the guest exited cleanly.
    pub(super) clean_exit: fn(ExitStatus) -> bool,
    /// The host's TSC rate (measured once per environment).
    pub(super) tsc_hz: f64,
}

/// A guest READY under a third-party VMM.
pub struct VmmInstance {
    proc: ChildProc,
    spec: VmmSpec,
    launch: Launch,
    sec_before: Option<u64>,
    /// Memory parts the guest reported (shown, not measured here).
    reported: Vec<MemPart>,
}

/// When a launch reached READY, on the launcher's clock.
pub(super) struct Started {
    pub(super) t0: Instant,
    pub(super) spawned: Instant,
    pub(super) ready: Instant,
    /// The TSC's rate and reading at `t0`, for the guest's readings.
    pub(super) clock: GuestClock,
}

/// Starts the command `build_cmd` makes (it wires the guest's serial port
/// to the socket it is given: as an inherited fd, or as the VMM's stdio)
/// and waits for READY and the bare guest's boot timings.
pub(super) fn start(
    spec: VmmSpec,
    build_cmd: impl FnOnce(&OwnedFd) -> anyhow::Result<Proc>,
) -> anyhow::Result<VmmInstance> {
    let (mut inst, s) = start_to_ready(spec, build_cmd)?;
    let mut tsc = [0u64; 3];
    for (slot, key) in
        tsc.iter_mut()
            .zip([info::FIRST_INSTRUCTION_TSC, info::CPL3_TSC, info::READY_TSC])
    {
        *slot = inst.recv_info(key)?;
    }
    let marks = s.clock.marks(s.t0, s.spawned, s.ready, tsc);
    inst.launch = Launch::from_marks(s.t0, &marks);
    Ok(inst)
}

/// Starts the VMM as [`start`] does and waits for READY only: what the
/// guest reports next is for the caller to read ([`VmmInstance::recv_info`]).
pub(super) fn start_to_ready(
    spec: VmmSpec,
    build_cmd: impl FnOnce(&OwnedFd) -> anyhow::Result<Proc>,
) -> anyhow::Result<(VmmInstance, Started)> {
    let sec_before = kvm_mem::sec_page_tables();
    let (chan, theirs) = Channel::pair()?;
    let mut cmd = build_cmd(&theirs)?;
    cmd.stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec and makes one raw system
    // call on constants (async-signal-safe, as pre_exec requires).
    unsafe {
        cmd.pre_exec(die_with_parent);
    }
    // From here on, dropping `inst` kills and reaps the VMM.
    let mut inst = VmmInstance {
        proc: ChildProc::new(chan),
        spec,
        launch: Launch::from_marks(Instant::now(), &[]),
        sec_before,
        reported: Vec::new(),
    };
    let t0 = Instant::now();
    let tsc0 = rdtsc();
    let spawned = spawn(&mut inst, cmd, theirs)?;
    let timeout = inst.spec.ready_timeout;
    if let Err(e) = inst.proc.chan.wait_ready(timeout) {
        return Err(inst.failed(e, "did not bring the guest to READY"));
    }
    let ready = Instant::now();
    let clock = GuestClock {
        tsc0,
        hz: inst.spec.tsc_hz,
    };
    let started = Started {
        t0,
        spawned,
        ready,
        clock,
    };
    Ok((inst, started))
}

/// Spawns `cmd`; dropping it then closes our copies of the socket it may
/// hold as the VMM's stdio, so that a VMM that dies closes the channel.
fn spawn(inst: &mut VmmInstance, mut cmd: Proc, theirs: OwnedFd) -> anyhow::Result<Instant> {
    let name = inst.spec.name;
    inst.proc
        .spawn(&mut cmd, theirs)
        .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))
}

/// A VMM must not outlive vmvc: should vmvc die without running Drop (a
/// SIGKILL, an abort), the kernel kills the VMM too (prctl(2),
/// PR_SET_PDEATHSIG; it fires when the spawning *thread* ends, and vmvc
/// keeps each instance on the thread that launched it). Otherwise an
/// orphaned guest would poll its UART, and burn a CPU, forever.
fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl VmmInstance {
    /// The next message, which must be INFO `key`: its value.
    pub(super) fn recv_info(&mut self, key: u8) -> anyhow::Result<u64> {
        match self.proc.chan.recv(self.spec.ready_timeout) {
            Ok(Message::Info { key: k, value }) if k == key => Ok(value),
            Ok(other) => bail!("expected the guest's INFO {key} after READY, got {other:?}"),
            Err(e) => Err(self.failed(e, "stopped after READY")),
        }
    }

    /// Sets the launch's phases (a caller of [`start_to_ready`]).
    pub(super) fn set_launch(&mut self, launch: Launch) {
        self.launch = launch;
    }

    /// Adds a memory part the guest reported about itself.
    pub(super) fn add_reported(&mut self, part: MemPart) {
        self.reported.push(part);
    }

    /// An error of this launch, with what the VMM said on stderr; the VMM
    /// is killed and reaped first (so that its stderr ends).
    fn failed(&mut self, e: anyhow::Error, what: &str) -> anyhow::Error {
        let stderr = self.proc.child_mut().and_then(|c| c.stderr.take());
        self.proc.kill();
        let mut text = String::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_string(&mut text);
        }
        let said: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let from = said.len().saturating_sub(5);
        let tail = if said.is_empty() {
            String::new()
        } else {
            format!("; it said: {}", said[from..].join(" / "))
        };
        e.context(format!("{} {what}{tail}", self.spec.name))
    }

    /// Guest RAM in the VMM's address space: the one private anonymous
    /// mapping of exactly the guest's RAM size (proc(5), /proc/PID/maps).
    fn guest_ram(&self, pid: u32) -> anyhow::Result<Range<u64>> {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .with_context(|| format!("reading /proc/{pid}/maps"))?;
        let found = guest_ram_mappings(&maps, self.spec.ram_bytes);
        match found.as_slice() {
            [one] => Ok(one.clone()),
            _ => bail!(
                "cannot tell {}'s guest RAM apart: {} anonymous mappings of {} bytes",
                self.spec.name,
                found.len(),
                self.spec.ram_bytes
            ),
        }
    }
}

/// The `rw-p` anonymous mappings of exactly `size` bytes in maps text.
pub(super) fn guest_ram_mappings(maps: &str, size: u64) -> Vec<Range<u64>> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            // offset, device, inode; a path (or [heap], ...) would follow.
            if perms != "rw-p" || f.nth(3).is_some() {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            let r = u64::from_str_radix(a, 16).ok()?..u64::from_str_radix(b, 16).ok()?;
            (r.end - r.start == size).then_some(r)
        })
        .collect()
}

impl VmmInstance {
    /// Sends `sig` to the VMM process (ours: the pid is our child's, not reaped yet).
    fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.proc.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
        }
    }
}

impl Instance for VmmInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        match self.proc.chan.request(cmd, timeout) {
            Ok(m) => Ok(m),
            Err(e) => Err(self.failed(e, "lost the guest")),
        }
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let pid = self.proc.pid().context("the VMM was already torn down")?;
        let mut parts = kvm_mem::vmm_process_parts(pid, self.guest_ram(pid)?)?;
        parts.extend(self.reported.iter().cloned());
        parts.extend(kvm_mem::kvm_page_tables(self.sec_before));
        Ok(parts)
    }

    /// SIGSTOP: the VMM and its vCPU thread stop where they are; the guest's
    /// clock reads (TSC) are not affected, and bytes sent meanwhile wait in
    /// the socket (signal(7), "SIGSTOP").
    fn pause(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    fn resume(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    /// EXIT, DONE, then the guest's exit ends the VMM (see
    /// `workload::bare::exit`); a VMM still running after the timeout is
    /// killed (Drop) and the teardown reported failed.
    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        self.resume();
        let start = Instant::now();
        let (name, timeout) = (self.spec.name, self.spec.ready_timeout);
        let reply = self.proc.chan.request(Command::Exit, timeout);
        if reply.is_err() {
            self.proc.kill();
        }
        let status = self.proc.wait_within(timeout)?;
        let took = start.elapsed();
        channel::expect_done(reply?, "the guest")?;
        match status {
            None => bail!("{name} did not exit within {timeout:?} after the guest's DONE"),
            Some(s) if !(self.spec.clean_exit)(s) => {
                bail!("{name} ended with {s} after the guest's DONE")
            }
            Some(_) => Ok(took),
        }
    }
}
