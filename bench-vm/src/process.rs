//! A VM in its own process: for honest memory figures and density.
//!
//! Measured inside the harness process, a VM's "own" memory would be mixed
//! with the harness's. Like Firecracker (one VMM process per microVM), the
//! harness can instead start a small VMM process per VM — the `vmvc`
//! binary re-executed in a hidden mode that calls [`serve`]. That process
//! speaks the same socket protocol as the native workload process, so the
//! harness drives both alike: it sends commands, the VMM forwards them to
//! the guest through the protocol port and writes back the answers.
//!
//! Before READY, the VMM announces on `announce` (its stdout) where guest RAM
//! lives in its address space, one line: `guest-ram START LEN` (hex, bytes),
//! so the harness can split `/proc/PID/smaps` into guest RAM and the VMM's
//! own memory ([`crate::hostmem::rss_split`]).

use crate::bare::{BareVm, Config};
use crate::error::{Error, GuestFault, Result};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use workload::protocol::{self, fault, Command, Message};

/// The announcement line's first word.
pub const ANNOUNCE: &str = "guest-ram";

/// How long one command may run in the guest (the harness has its own,
/// shorter timeouts and kills this process if they pass).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// Parses an announcement line into the guest-RAM address range.
pub fn parse_announcement(line: &str) -> Option<std::ops::Range<u64>> {
    let mut words = line.split_whitespace();
    if words.next()? != ANNOUNCE {
        return None;
    }
    let start = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    let len = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    Some(start..start.checked_add(len)?)
}

/// Reads one command from the socket; `Ok(None)` when the peer closed it.
fn read_command(sock: &mut UnixStream) -> std::io::Result<Option<Result<Command, u8>>> {
    let mut tag = [0u8; 1];
    match sock.read_exact(&mut tag) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some(len) = protocol::payload_len(tag[0]) else {
        return Ok(Some(Err(tag[0])));
    };
    let mut payload = [0u8; protocol::MAX_LEN];
    sock.read_exact(&mut payload[..len])?;
    Ok(Some(
        Command::decode(tag[0], &payload[..len]).map_err(|_| tag[0]),
    ))
}

fn send(sock: &mut UnixStream, m: Message) -> Result<()> {
    sock.write_all(m.encode().as_bytes())
        .map_err(Error::os("writing to the launcher's socket"))
}

/// Boots the bare guest, then serves the launcher on `sock` until EXIT or
/// until the socket closes. Returns the guest's exit code.
pub fn serve(sock: OwnedFd, config: &Config, announce: &mut dyn Write) -> Result<i32> {
    let mut sock = UnixStream::from(sock);
    let mut vm = match BareVm::launch(config) {
        Ok(vm) => vm,
        Err(e) => {
            // Tell the launcher before giving up (it is waiting for READY).
            let _ = send(&mut sock, fault_message(&e));
            return Err(e);
        }
    };
    let ram = vm.ram().host_range();
    writeln!(
        announce,
        "{ANNOUNCE} {:#x} {:#x}",
        ram.start,
        ram.end - ram.start
    )
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
                let _ = send(&mut sock, fault_message(&e));
                return Err(e);
            }
        }
    }
}

/// A FAULT for the launcher that summarises `e`.
fn fault_message(e: &Error) -> Message {
    match e.fault() {
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
