//! The vmvc workloads: one piece of code that every environment runs.
//!
//! A workload program starts, says READY to whoever launched it, then obeys
//! commands (RUN a throughput workload, HOLD a working set, EXIT) until told
//! to stop. Only a thin [`Platform`] differs between environments: how bytes
//! reach the launcher (a socket for a process, an I/O port for a VM), how to
//! get memory and how to exit. Everything here uses `core` only, so the very
//! same code runs as a Linux process without libc and as a bare VM guest
//! without any operating system.
//!
//! - [`protocol`]: the messages and their encoding;
//! - [`run`]: the five throughput workloads;
//! - [`serve`]: the command loop every entry point calls after startup;
//! - [`linux`]: the raw-syscall platform of the freestanding Linux executable;
//! - [`bare`]: the port-I/O platform of the bare KVM guest, and its contract with the VMM;
//! - [`vm_init`]: the workload as `/init` of a Linux VM (`vm-linux`), talking through the same ports.
#![cfg_attr(not(test), no_std)]
// The host-side `build` helper uses std, for build scripts only.
#[cfg(feature = "build")]
extern crate std;

pub mod bare;
#[cfg(feature = "build")]
pub mod build;
pub mod linux;
pub mod protocol;
#[cfg(feature = "freestanding")]
pub mod rt;
pub mod run;
pub mod vm_init;

use protocol::{fault, Command, Message};

/// What a workload needs from the environment it runs in.
pub trait Platform {
    /// Sends bytes to the launcher; a failure ends the program.
    fn send(&mut self, bytes: &[u8]);
    /// Fills `buf` with bytes from the launcher; false when the launcher is gone.
    fn recv(&mut self, buf: &mut [u8]) -> bool;
    /// Reads the time-stamp counter. The launcher converts ticks to seconds
    /// with the host's TSC rate, so every environment is timed by one clock.
    fn cycles(&mut self) -> u64 {
        // SAFETY: RDTSC has no memory effects; CR4.TSD is clear on Linux and in
        // the bare guest, so it is allowed at any privilege level.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    /// Memory the workload may use: at least `bytes`, writable, owned by the
    /// workload alone and valid until the next call. `None` if unavailable.
    fn scratch(&mut self, bytes: usize) -> Option<*mut u8>;
    /// One trivial system call into whatever kernel is underneath; returns its result.
    fn trivial_syscall(&mut self) -> u64;
    /// One round trip to the launcher and back; false if it failed.
    fn round_trip(&mut self) -> bool;
    /// Ends the program.
    fn exit(&mut self, code: i32) -> !;
}

/// Sends one message.
pub fn send<P: Platform + ?Sized>(p: &mut P, m: Message) {
    p.send(m.encode().as_bytes());
}

/// Reads one command; `None` when the launcher is gone, `Err(tag)` for garbage.
pub fn recv_command<P: Platform + ?Sized>(p: &mut P) -> Option<Result<Command, u8>> {
    let mut tag = [0u8; 1];
    if !p.recv(&mut tag) {
        return None;
    }
    let Some(len) = protocol::payload_len(tag[0]) else {
        return Some(Err(tag[0]));
    };
    let mut payload = [0u8; protocol::MAX_LEN];
    if !p.recv(&mut payload[..len]) {
        return None;
    }
    Some(Command::decode(tag[0], &payload[..len]).map_err(|_| tag[0]))
}

/// The command loop: READY, then obey commands until EXIT or the launcher
/// goes away. Every entry point (Linux process, bare guest) ends here.
pub fn serve<P: Platform + ?Sized>(p: &mut P) -> ! {
    send(p, Message::Ready);
    command_loop(p)
}

/// The command loop alone, for entry points that send READY (and more)
/// themselves first, like `/init` of a Linux VM ([`vm_init`]).
pub fn command_loop<P: Platform + ?Sized>(p: &mut P) -> ! {
    loop {
        match recv_command(p) {
            None => p.exit(3),
            Some(Err(tag)) => send(
                p,
                Message::Fault {
                    code: fault::BAD_COMMAND,
                    detail: u64::from(tag),
                },
            ),
            Some(Ok(Command::Exit)) => {
                send(p, Message::Done);
                p.exit(0)
            }
            Some(Ok(Command::Hold { bytes })) => match run::hold(p, bytes) {
                Ok(()) => send(p, Message::Held { bytes }),
                Err(f) => send(p, f),
            },
            Some(Ok(Command::Run {
                workload,
                size,
                iterations,
            })) => {
                let m = run::run(p, workload, size, iterations).unwrap_or_else(|f| f);
                send(p, m)
            }
            // A PONG outside a boundary run is out of place.
            Some(Ok(Command::Pong)) => send(
                p,
                Message::Fault {
                    code: fault::BAD_COMMAND,
                    detail: u64::from(protocol::tag::PONG),
                },
            ),
        }
    }
}
