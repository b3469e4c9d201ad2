//! A vCPU and its exit loop.
//!
//! `KVM_RUN` (api.rst) runs guest code on the calling thread until the
//! guest does something the hypervisor hands to userspace; the ioctl then
//! returns and `kvm_run.exit_reason` says why (api.rst, "The kvm_run
//! structure"). A VMM is, at heart, this loop:
//!
//! ```text
//! loop {
//!     ioctl(vcpu, KVM_RUN)
//!     match exit_reason {
//!         KVM_EXIT_IO       => emulate the port access, continue
//!         KVM_EXIT_HLT      => the guest stopped
//!         KVM_EXIT_SHUTDOWN => triple fault (x86: the CPU would reset)
//!         ...               => the guest did something we don't emulate
//!     }
//! }
//! ```
//!
//! Port accesses go to a [`PortIo`] handler supplied by the caller, so the
//! same loop serves the bare guest's protocol ports and, later, a serial
//! console of a Linux guest.
//!
//! **Timeouts.** A guest that spins never exits, so `KVM_RUN` never returns
//! on its own. The documented way out (api.rst, `immediate_exit`) is a
//! signal to the vCPU thread: the signal interrupts `KVM_RUN`, which returns
//! `EINTR`. A signal that lands just *before* the thread enters `KVM_RUN`
//! would be missed, so the handler also sets `kvm_run.immediate_exit`, which
//! makes the next `KVM_RUN` return `EINTR` at once. [`Watchdog`] arms a
//! POSIX timer that delivers that signal to this very thread at the deadline.

use crate::error::{Error, GuestFault, GuestRegs, Result};
use crate::vm::{Kvm, Vm};
use crate::x86;
use kvm_ioctls::{VcpuExit, VcpuFd};
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What a port handler wants the loop to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Resume the guest.
    Continue,
    /// Return from [`Vcpu::run`]; the guest resumes at the next `run`.
    Pause,
}

/// Emulates the I/O ports of a guest.
pub trait PortIo {
    /// The guest wrote `data` (1, 2 or 4 bytes) to `port`.
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault>;
    /// The guest reads `data.len()` bytes from `port`; fill `data`.
    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault>;
}

/// How many VM exits of each kind a vCPU took: the cost of a VM is largely
/// its exits, so they are counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitCounts {
    pub io_out: u64,
    pub io_in: u64,
    pub hlt: u64,
    pub shutdown: u64,
    pub mmio: u64,
    /// `KVM_RUN` interrupted by a signal (timeout or otherwise).
    pub interrupted: u64,
    pub other: u64,
}

impl ExitCounts {
    /// (reason, count) pairs, for reports.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("io_out", self.io_out),
            ("io_in", self.io_in),
            ("hlt", self.hlt),
            ("shutdown", self.shutdown),
            ("mmio", self.mmio),
            ("interrupted", self.interrupted),
            ("other", self.other),
        ]
        .into_iter()
    }

    /// All exits together.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }
}

/// Initial register state for a guest entered in 64-bit long mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongModeEntry {
    pub rip: u64,
    pub rsp: u64,
    pub rdi: u64,
    pub rsi: u64,
    /// The bare guest reads who booted it here (`workload::boot`).
    pub r8: u64,
}

/// One vCPU.
pub struct Vcpu {
    fd: VcpuFd,
    exits: ExitCounts,
}

/// What one exit turned into (taken out of the borrowed `VcpuExit`).
enum Step {
    Continue,
    Pause,
    Interrupted,
    Fault(GuestFault),
}

impl Step {
    /// What a port handler's answer means for the loop.
    fn port(r: Result<Flow, GuestFault>) -> Step {
        match r {
            Ok(Flow::Continue) => Step::Continue,
            Ok(Flow::Pause) => Step::Pause,
            Err(f) => Step::Fault(f),
        }
    }
}

impl Vcpu {
    /// `KVM_CREATE_VCPU` (id 0) and `KVM_SET_CPUID2` with what the host supports.
    pub fn create(kvm: &Kvm, vm: &Vm, id: u64) -> Result<Vcpu> {
        let fd = vm
            .fd
            .create_vcpu(id)
            .map_err(Error::kvm("KVM_CREATE_VCPU"))?;
        fd.set_cpuid2(kvm.supported_cpuid()?)
            .map_err(Error::kvm("KVM_SET_CPUID2"))?;
        Ok(Vcpu {
            fd,
            exits: ExitCounts::default(),
        })
    }

    /// Puts the vCPU in 64-bit long mode at CPL0 (`KVM_SET_SREGS`) and sets
    /// its general registers (`KVM_SET_REGS`). The page tables must already
    /// be in guest memory ([`x86::write_boot_tables`]).
    pub fn enter_long_mode(&self, entry: &LongModeEntry) -> Result<()> {
        let mut sregs = self.fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?;
        x86::long_mode_sregs(&mut sregs);
        self.fd
            .set_sregs(&sregs)
            .map_err(Error::kvm("KVM_SET_SREGS"))?;
        let regs = kvm_bindings::kvm_regs {
            rip: entry.rip,
            rsp: entry.rsp,
            rdi: entry.rdi,
            rsi: entry.rsi,
            r8: entry.r8,
            rflags: 0x2, // bit 1 is always set; interrupts off
            ..Default::default()
        };
        self.fd.set_regs(&regs).map_err(Error::kvm("KVM_SET_REGS"))
    }

    /// Exit counts so far.
    pub fn exits(&self) -> &ExitCounts {
        &self.exits
    }

    /// The rust-vmm handle, for what this wrapper does not cover.
    pub fn inner(&self) -> &VcpuFd {
        &self.fd
    }

    /// The handle, mutable (`KVM_RUN` and `immediate_exit` need it), for
    /// the warm pool and snapshots (`crate::vcpu_state`).
    pub(crate) fn inner_mut(&mut self) -> &mut VcpuFd {
        &mut self.fd
    }

    /// Starts counting exits from zero (a pooled vCPU serves a new guest).
    pub(crate) fn reset_exits(&mut self) {
        self.exits = ExitCounts::default();
    }

    /// A snapshot of the registers, for error reports. Never fails: if KVM
    /// cannot give them, the snapshot says so.
    pub fn snapshot(&self) -> GuestRegs {
        match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(regs), Ok(s)) => GuestRegs {
                regs,
                cr0: s.cr0,
                cr2: s.cr2,
                cr3: s.cr3,
                cr4: s.cr4,
                efer: s.efer,
                cs_selector: s.cs.selector,
                valid: true,
            },
            _ => GuestRegs::default(),
        }
    }

    fn guest_error(&self, fault: GuestFault) -> Error {
        Error::Guest {
            fault,
            regs: Box::new(self.snapshot()),
        }
    }

    /// Runs the guest until `io` asks to pause (Ok), the guest faults, or
    /// `timeout` passes (then the guest is stopped and `Error::Timeout`).
    pub fn run(&mut self, io: &mut dyn PortIo, timeout: Option<Duration>) -> Result<()> {
        let deadline = timeout.map(|t| (Instant::now() + t, t));
        let _watchdog = match timeout {
            Some(t) => Some(Watchdog::arm(&mut self.fd, t)?),
            None => None,
        };
        loop {
            let step = match self.fd.run() {
                Ok(VcpuExit::IoOut(port, data)) => {
                    self.exits.io_out += 1;
                    Step::port(io.write(port, data))
                }
                Ok(VcpuExit::IoIn(port, data)) => {
                    self.exits.io_in += 1;
                    Step::port(io.read(port, data))
                }
                Ok(VcpuExit::Hlt) => {
                    self.exits.hlt += 1;
                    Step::Fault(GuestFault::Halted)
                }
                Ok(VcpuExit::Shutdown) => {
                    self.exits.shutdown += 1;
                    Step::Fault(GuestFault::TripleFault)
                }
                Ok(VcpuExit::MmioRead(addr, data)) => {
                    self.exits.mmio += 1;
                    Step::Fault(GuestFault::UnexpectedExit(format!(
                        "MMIO read of {} bytes at guest physical {addr:#x} (no RAM or device there)",
                        data.len()
                    )))
                }
                Ok(VcpuExit::MmioWrite(addr, data)) => {
                    self.exits.mmio += 1;
                    Step::Fault(GuestFault::UnexpectedExit(format!(
                        "MMIO write of {} bytes at guest physical {addr:#x} (no RAM or device there)",
                        data.len()
                    )))
                }
                Ok(VcpuExit::Intr) => {
                    self.exits.interrupted += 1;
                    Step::Interrupted
                }
                Ok(other) => {
                    self.exits.other += 1;
                    Step::Fault(GuestFault::UnexpectedExit(format!("{other:?}")))
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                    self.exits.interrupted += 1;
                    Step::Interrupted
                }
                Err(e) => {
                    return Err(Error::Kvm {
                        step: "KVM_RUN",
                        source: e,
                    })
                }
            };
            match step {
                Step::Continue => {}
                Step::Pause => return Ok(()),
                Step::Fault(f) => return Err(self.guest_error(f)),
                Step::Interrupted => {
                    self.fd.set_kvm_immediate_exit(0);
                    if let Some((at, after)) = deadline {
                        if Instant::now() >= at {
                            return Err(Error::Timeout {
                                after,
                                regs: Box::new(self.snapshot()),
                            });
                        }
                    }
                    // Some other signal: just go on.
                }
            }
        }
    }
}

/// The signal that stops a vCPU at a deadline (a real-time signal, so it
/// does not collide with the usual ones; Firecracker uses SIGRTMIN too).
fn kick_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

thread_local! {
    /// The `immediate_exit` byte of the vCPU this thread is running, or null.
    /// `const`-initialised and without destructor: reading it from a signal
    /// handler is a plain thread-local load.
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn on_kick(_: libc::c_int) {
    let p = IMMEDIATE_EXIT.with(Cell::get);
    if !p.is_null() {
        // SAFETY: the pointer is set by `Watchdog::arm` to the immediate_exit
        // field of this thread's mmapped kvm_run, and cleared (in Drop)
        // before that vCPU can go away; the signal is delivered to this
        // thread only (SIGEV_THREAD_ID).
        unsafe { std::ptr::write_volatile(p, 1) };
    }
}

/// A POSIX timer that signals this thread at a deadline; disarmed on drop.
struct Watchdog {
    timer: libc::timer_t,
}

impl Watchdog {
    fn arm(fd: &mut VcpuFd, after: Duration) -> Result<Watchdog> {
        // Installed once per process; the outcome is remembered.
        static HANDLER: OnceLock<Result<(), String>> = OnceLock::new();
        let installed = HANDLER.get_or_init(|| {
            // SAFETY: a zeroed sigaction is valid; we set a handler that only
            // does a thread-local load and a volatile store (async-signal
            // safe), without SA_RESTART so KVM_RUN returns EINTR.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                if libc::sigaction(kick_signal(), &sa, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error().to_string());
                }
            }
            Ok(())
        });
        if let Err(e) = installed {
            return Err(Error::os("installing the vCPU timeout signal handler")(
                std::io::Error::other(e.clone()),
            ));
        }
        let ptr = std::ptr::addr_of_mut!(fd.get_kvm_run().immediate_exit);
        IMMEDIATE_EXIT.with(|c| c.set(ptr));

        // SAFETY: a zeroed sigevent is valid (plain integers and a union).
        let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
        ev.sigev_notify = libc::SIGEV_THREAD_ID;
        ev.sigev_signo = kick_signal();
        // SAFETY: gettid has no memory effects.
        ev.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: ev and timer are valid for the call.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut timer) } != 0 {
            IMMEDIATE_EXIT.with(|c| c.set(std::ptr::null_mut()));
            return Err(Error::os("timer_create for the vCPU timeout")(
                std::io::Error::last_os_error(),
            ));
        }
        let dog = Watchdog { timer };
        let spec = libc::itimerspec {
            // Re-fire every 10 ms after the deadline, in case a signal is
            // ever lost: the loop checks the clock each time.
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 10_000_000,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(after.subsec_nanos()).max(1),
            },
        };
        // SAFETY: the timer was just created; spec is valid.
        if unsafe { libc::timer_settime(dog.timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(Error::os("timer_settime for the vCPU timeout")(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(dog)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SAFETY: deleting our own timer; no signal is queued by it afterwards.
        unsafe { libc::timer_delete(self.timer) };
        IMMEDIATE_EXIT.with(|c| c.set(std::ptr::null_mut()));
    }
}
