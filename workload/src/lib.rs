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
//! The modules, bottom up (each uses only those above it, named in brackets):
//!
//! ```text
//! protocol   what is said (message), its tag bytes (tag), the bytes (codec: message, tag)
//! platform   the Platform trait
//! run        the five throughput workloads          (protocol, platform)
//! serve      READY, then the command loop           (protocol, platform, run)
//!
//! linux      raw-syscall platform of the freestanding executable (protocol, platform)
//! port       in/out, the instructions a VMM traps
//! uart       a 16550 UART (COM1 0x3f8, COM2 0x2f8), polled     (port)
//! bare       port-I/O or UART platform of the bare KVM guest, the ports the VMM shares (protocol, platform, port, uart)
//! boot       how the bare guest was booted: boot kinds, RAM maps (bare)
//! vm_shell   shell mode of that /init: busybox sh on the console (linux)
//! vm_init    the workload as /init of a Linux VM    (linux, bare, uart, serve, protocol, platform, vm_shell)
//! ```
//!
//! - [`protocol`]: the messages ([`protocol::message`]), their tag bytes
//!   ([`protocol::tag`]) and their encoding ([`protocol::codec`]);
//! - [`Platform`] (`platform.rs`): what differs between environments;
//! - [`run`]: the five throughput workloads;
//! - [`serve()`] (`serve.rs`): the command loop every entry point calls after startup;
//! - [`linux`]: the raw-syscall platform of the freestanding Linux executable;
//! - [`bare`]: the port-I/O platform of the bare KVM guest, and its contract with the VMM;
//! - [`boot`]: which VMM booted the bare guest, how (our 64-bit entry, PVH,
//!   Linux's 64-bit protocol) and what RAM it got; [`uart`]: the 16550
//!   transport for VMMs that are not ours;
//! - [`vm_init`]: the workload as `/init` of a Linux VM (`vm-linux`), talking through the same ports
//!   (or COM2 under QEMU); [`vm_shell`]: its shell mode (`vmvc shell vm`);
//! - `rt` (freestanding builds only: entry, panic handler) and `build`
//!   (host-side, for build scripts) are outside this graph.
#![cfg_attr(not(test), no_std)]
// The host-side `build` helper uses std, for build scripts only.
#[cfg(feature = "build")]
extern crate std;

pub mod bare;
pub mod boot;
#[cfg(feature = "build")]
pub mod build;
pub mod linux;
pub mod port;
pub mod protocol;
#[cfg(feature = "freestanding")]
pub mod rt;
pub mod run;
pub mod uart;
pub mod vm_init;
pub mod vm_shell;

mod platform;
mod serve;

pub use platform::Platform;
pub use serve::{command_loop, recv_command, send, serve};
