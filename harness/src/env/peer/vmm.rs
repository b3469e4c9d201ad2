//! One launch of a third-party VMM (QEMU, Firecracker, Cloud Hypervisor)
//! running the bare guest: spawn it, wait for READY on its serial port,
//! place the guest's own boot timings on our clock, split its memory, tear
//! it down.
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
//! **Memory.** The VMM process's smaps, split into guest RAM (the one
//! private anonymous mapping of exactly the guest's RAM size) and the rest,
//! as `vm-bare:process` and Firecracker's memory-overhead test split it.

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

/// A bare guest READY under a third-party VMM.
pub struct VmmInstance {
    proc: ChildProc,
    spec: VmmSpec,
    launch: Launch,
    sec_before: Option<u64>,
}

/// Starts the command `build_cmd` makes (it wires the guest's serial port
/// to the socket it is given: as an inherited fd, or as the VMM's stdio)
/// and waits for READY and the guest's boot timings.
pub(super) fn start(
    spec: VmmSpec,
    build_cmd: impl FnOnce(&OwnedFd) -> anyhow::Result<Proc>,
) -> anyhow::Result<VmmInstance> {
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
    };
    let t0 = Instant::now();
    let tsc0 = rdtsc();
    let spawned = spawn(&mut inst, cmd, theirs)?;
    let timeout = inst.spec.ready_timeout;
    if let Err(e) = inst.proc.chan.wait_ready(timeout) {
        return Err(inst.failed(e, "did not bring the guest to READY"));
    }
    let ready = Instant::now();
    let mut tsc = [0u64; 3];
    for (slot, key) in
        tsc.iter_mut()
            .zip([info::FIRST_INSTRUCTION_TSC, info::CPL3_TSC, info::READY_TSC])
    {
        match inst.proc.chan.recv(timeout) {
            Ok(Message::Info { key: k, value }) if k == key => *slot = value,
            Ok(other) => bail!("expected the guest's boot timings after READY, got {other:?}"),
            Err(e) => return Err(inst.failed(e, "stopped after READY")),
        }
    }
    let clock = GuestClock {
        tsc0,
        hz: inst.spec.tsc_hz,
    };
    inst.launch = Launch::from_marks(t0, &clock.marks(t0, spawned, ready, tsc));
    Ok(inst)
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

fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The guest's TSC readings, turned into instants on the launcher's clock.
struct GuestClock {
    /// The host's TSC at `t0`.
    tsc0: u64,
    hz: f64,
}

impl GuestClock {
    fn secs(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.hz)
    }

    /// The phase marks (see the module docs) from the guest's readings
    /// `[first instruction, CPL3, READY]`.
    fn marks(
        &self,
        t0: Instant,
        spawned: Instant,
        ready: Instant,
        [entry, cpl3, ready_tsc]: [u64; 3],
    ) -> Vec<(&'static str, Instant)> {
        let mut marks = vec![("spawn", spawned)];
        let host_now = self.tsc0 + ((ready - t0).as_secs_f64() * self.hz) as u64;
        if entry >= self.tsc0 && ready_tsc <= host_now && entry <= cpl3 {
            // One clock: the guest's readings are host TSC values.
            let at = |tsc: u64| t0 + self.secs(tsc - self.tsc0);
            marks.push(("vmm_start", at(entry)));
            marks.push(("entry_code", at(cpl3)));
        } else if entry <= cpl3 && cpl3 <= ready_tsc {
            // The VMM reset the guest's TSC: durations, placed back from READY.
            let at_cpl3 = ready.checked_sub(self.secs(ready_tsc - cpl3));
            let at_entry = at_cpl3.and_then(|c| c.checked_sub(self.secs(cpl3 - entry)));
            let at_reset = at_entry.and_then(|e| e.checked_sub(self.secs(entry)));
            if let (Some(reset), Some(e), Some(c)) = (at_reset, at_entry, at_cpl3) {
                if reset >= spawned {
                    marks.push(("vmm_start", reset));
                    marks.push(("firmware", e));
                } else {
                    marks.push(("vmm_start", e));
                }
                marks.push(("entry_code", c));
            }
        }
        marks.push(("guest_boot", ready));
        // Phases run back to back: no mark before the one it follows.
        for i in 1..marks.len() {
            marks[i].1 = marks[i].1.clamp(marks[i - 1].1, ready);
        }
        marks
    }
}

impl VmmInstance {
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

#[cfg(test)]
mod tests {
    use super::GuestClock;
    use std::time::{Duration, Instant};

    const MS: u64 = 1_000_000; // ticks of a 1 GHz TSC

    fn names(marks: &[(&'static str, Instant)]) -> Vec<&'static str> {
        marks.iter().map(|(n, _)| *n).collect()
    }

    /// A 1 GHz clock whose TSC read 7 s at `t0`; the VMM spawned at 1 ms,
    /// READY at 50 ms: (clock, t0, spawned, ready).
    fn setting() -> (GuestClock, Instant, Instant, Instant) {
        let clock = GuestClock {
            tsc0: 7_000 * MS,
            hz: 1e9,
        };
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        (clock, t0, t0 + ms(1), t0 + ms(50))
    }

    #[test]
    fn a_guest_on_the_host_clock_gives_instants() {
        let (clock, t0, spawned, ready) = setting();
        let tsc = [
            clock.tsc0 + 40 * MS,
            clock.tsc0 + 41 * MS,
            clock.tsc0 + 49 * MS,
        ];
        let m = clock.marks(t0, spawned, ready, tsc);
        assert_eq!(
            names(&m),
            ["spawn", "vmm_start", "entry_code", "guest_boot"]
        );
        assert_eq!(m[1].1 - t0, Duration::from_millis(40));
        assert_eq!(m[2].1 - t0, Duration::from_millis(41));
        assert_eq!(m[3].1, ready);
    }

    #[test]
    fn a_guest_tsc_reset_by_the_vmm_splits_out_the_firmware() {
        let (clock, t0, spawned, ready) = setting();
        // 5 ms of firmware after reset, 1 ms of entry code, 2 ms to READY.
        let m = clock.marks(t0, spawned, ready, [5 * MS, 6 * MS, 8 * MS]);
        assert_eq!(
            names(&m),
            ["spawn", "vmm_start", "firmware", "entry_code", "guest_boot"]
        );
        assert_eq!(ready - m[1].1, Duration::from_millis(8));
        assert_eq!(ready - m[2].1, Duration::from_millis(3));
        assert_eq!(ready - m[3].1, Duration::from_millis(2));
    }

    #[test]
    fn readings_out_of_order_give_no_inner_phases() {
        let (clock, t0, spawned, ready) = setting();
        let m = clock.marks(t0, spawned, ready, [9 * MS, 6 * MS, 8 * MS]);
        assert_eq!(names(&m), ["spawn", "guest_boot"]);
    }
}
