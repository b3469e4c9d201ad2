//! A VM in its own process: for honest memory figures and density.
//!
//! Measured inside the harness process, a VM's "own" memory would be mixed
//! with the harness's. Like Firecracker (one VMM process per microVM), the
//! harness can instead start a small VMM process per VM — the `vmvc`
//! binary re-executed in a hidden mode that calls [`serve`] (the bare guest)
//! or [`serve_linux`] (a Linux guest). That process speaks the same socket
//! protocol as the native workload process, so the harness drives both
//! alike: it sends commands, the VMM forwards them to the guest through the
//! protocol port and writes back the answers.
//!
//! Both guests are served by one loop, [`serve_guest`]; what it needs of a
//! guest (run a command, shut down, where its RAM is, how it started) is the
//! small trait [`Guest`], implemented by [`BareVm`] and [`LinuxVm`].
//!
//! Before READY, the VMM announces on `announce` (its stdout) what the
//! launcher cannot see from outside, in one write of a few lines: where
//! guest RAM is, a Linux guest's memory report, when each launch phase
//! ended ([`Announcement`], in `announce.rs`, which this module uses and
//! which uses nothing of it).

pub mod announce;

pub use announce::{
    monotonic_ns, parse_announcement, Announcement, ANNOUNCE, ANNOUNCE_END, ANNOUNCE_MEMINFO,
    ANNOUNCE_PHASES,
};

use crate::bare::{BareVm, Config};
use crate::error::{Error, GuestFault, Result};
use crate::linux::{self, GuestMemInfo, KernelImage, LinuxError, LinuxVm};
use crate::phases::Phases;
use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use workload::protocol::{fault, Command, Message};

/// How long one command may run in the guest (the harness has its own,
/// shorter timeouts and kills this process if they pass).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// What the serving loop needs of a guest.
pub trait Guest {
    /// The guest's errors; socket errors become one of them.
    type Error: From<Error>;
    /// Runs one command and returns the workload's answer.
    fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message, Self::Error>;
    /// EXIT, DONE, then the workload's exit code.
    fn shutdown(&mut self, timeout: Duration) -> Result<i32, Self::Error>;
    /// Guest RAM's address range in this process.
    fn guest_ram(&self) -> Result<Range<u64>, Self::Error>;
    /// When each launch phase ended.
    fn phases(&self) -> &Phases;
    /// The guest kernel's memory report, if the guest has a kernel.
    fn mem_info(&self) -> Option<GuestMemInfo> {
        None
    }
    /// The guest fault behind `e`, if any (for the FAULT sent to the launcher).
    fn fault_of(e: &Self::Error) -> Option<&GuestFault>;
}

impl Guest for BareVm {
    type Error = Error;
    fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message> {
        BareVm::request(self, cmd, timeout)
    }
    fn shutdown(&mut self, timeout: Duration) -> Result<i32> {
        BareVm::shutdown(self, timeout)
    }
    fn guest_ram(&self) -> Result<Range<u64>> {
        Ok(self.ram().host_range())
    }
    fn phases(&self) -> &Phases {
        BareVm::phases(self)
    }
    fn fault_of(e: &Error) -> Option<&GuestFault> {
        e.fault()
    }
}

impl Guest for LinuxVm {
    type Error = LinuxError;
    fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message, LinuxError> {
        LinuxVm::request(self, cmd, timeout)
    }
    fn shutdown(&mut self, timeout: Duration) -> Result<i32, LinuxError> {
        LinuxVm::shutdown(self, timeout)
    }
    fn guest_ram(&self) -> Result<Range<u64>, LinuxError> {
        Ok(self.ram()?.host_range())
    }
    fn phases(&self) -> &Phases {
        LinuxVm::phases(self)
    }
    fn mem_info(&self) -> Option<GuestMemInfo> {
        Some(LinuxVm::mem_info(self))
    }
    fn fault_of(e: &LinuxError) -> Option<&GuestFault> {
        match e {
            LinuxError::Vm { error, .. } => error.fault(),
            _ => None,
        }
    }
}

/// Reads one command from the socket; `Ok(None)` when the peer closed it.
fn read_command(sock: &mut UnixStream) -> std::io::Result<Option<Result<Command, u8>>> {
    let mut tag = [0u8; 1];
    match sock.read_exact(&mut tag) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    Command::read(tag[0], |payload| sock.read_exact(payload)).map(Some)
}

fn send(sock: &mut UnixStream, m: Message) -> Result<()> {
    sock.write_all(m.encode().as_bytes())
        .map_err(Error::os("writing to the launcher's socket"))
}

/// Boots the bare guest, then serves the launcher on `sock` until EXIT or
/// until the socket closes. Returns the guest's exit code.
pub fn serve(sock: OwnedFd, config: &Config, announce: &mut dyn Write) -> Result<i32> {
    serve_guest(sock, || BareVm::launch(config), announce)
}

/// Boots a Linux guest (`kernel` with `initramfs`), then serves the
/// launcher on `sock` like [`serve`]. Returns the workload's exit code.
///
/// The kernel and initramfs are taken by value and freed once they are
/// copied into guest RAM: a 60 MiB kernel image kept for the VM's life
/// would be most of the VMM's own memory.
pub fn serve_linux(
    sock: OwnedFd,
    kernel: KernelImage,
    initramfs: Vec<u8>,
    config: &linux::Config,
    announce: &mut dyn Write,
) -> Result<i32, LinuxError> {
    let launch = move || {
        let vm = LinuxVm::launch(&kernel, &initramfs, config);
        drop((kernel, initramfs));
        vm
    };
    serve_guest(sock, launch, announce)
}

/// The VMM process's life for any [`Guest`]: launch it with `launch`,
/// announce, READY, then forward commands until EXIT or until the socket
/// closes. Returns the guest's exit code.
pub fn serve_guest<G: Guest>(
    sock: OwnedFd,
    launch: impl FnOnce() -> Result<G, G::Error>,
    announce: &mut dyn Write,
) -> Result<i32, G::Error> {
    let mut sock = UnixStream::from(sock);
    let mut vm = match launch() {
        Ok(vm) => vm,
        Err(e) => {
            // Tell the launcher before giving up (it is waiting for READY):
            // a guest fault as such, anything else (opening /dev/kvm,
            // memory) as a launch failure whose cause our caller prints.
            let m = match G::fault_of(&e) {
                Some(f) => fault_message(Some(f)),
                None => Message::Fault {
                    code: fault::LAUNCH,
                    detail: 0,
                },
            };
            let _ = send(&mut sock, m);
            return Err(e);
        }
    };
    let (t0_ns, phases) = announce::phases_ns(vm.phases());
    let a = Announcement {
        guest_ram: vm.guest_ram()?,
        mem_info: vm.mem_info(),
        t0_ns: Some(t0_ns),
        phases,
    };
    // One write: the launcher may stop reading at `end`.
    announce
        .write_all(a.to_text().as_bytes())
        .and_then(|()| announce.flush())
        .map_err(Error::os("announcing the guest RAM range"))?;
    send(&mut sock, Message::Ready)?;
    loop {
        let cmd = match read_command(&mut sock)
            .map_err(Error::os("reading from the launcher's socket"))?
        {
            None => return vm.shutdown(Duration::from_secs(5)),
            Some(Err(tag)) => {
                send(
                    &mut sock,
                    Message::Fault {
                        code: fault::BAD_COMMAND,
                        detail: u64::from(tag),
                    },
                )?;
                continue;
            }
            Some(Ok(c)) => c,
        };
        if cmd == Command::Exit {
            let code = vm.shutdown(COMMAND_TIMEOUT)?;
            send(&mut sock, Message::Done)?;
            return Ok(code);
        }
        match vm.request(cmd, COMMAND_TIMEOUT) {
            Ok(m) => send(&mut sock, m)?,
            Err(e) => {
                let _ = send(&mut sock, fault_message(G::fault_of(&e)));
                return Err(e);
            }
        }
    }
}

/// A FAULT for the launcher that summarises a failure.
fn fault_message(fault: Option<&GuestFault>) -> Message {
    match fault {
        Some(GuestFault::Exception { vector, .. }) => Message::Fault {
            code: fault::EXCEPTION,
            detail: u64::from(*vector),
        },
        _ => Message::Fault {
            code: fault::PANIC,
            detail: 0,
        },
    }
}
