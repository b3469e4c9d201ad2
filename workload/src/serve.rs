//! The command loop: what every workload program does after it started.
//!
//! READY, then read a command, obey it, answer, until EXIT (answered DONE)
//! or until the launcher goes away. Commands the workload cannot read are
//! answered with a FAULT, never with a crash: the launcher may be buggy, the
//! workload must stay predictable. See `crate::protocol` for the messages.

use crate::platform::Platform;
use crate::protocol::{fault, tag, Command, Message};
use crate::run;

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
    let payload = |buf: &mut [u8]| if p.recv(buf) { Ok(()) } else { Err(()) };
    Command::read(tag[0], payload).ok()
}

/// The command loop: READY, then obey commands until EXIT or the launcher
/// goes away. Every entry point (Linux process, bare guest) ends here.
pub fn serve<P: Platform + ?Sized>(p: &mut P) -> ! {
    send(p, Message::Ready);
    command_loop(p)
}

/// The command loop alone, for entry points that send READY (and more)
/// themselves first, like `/init` of a Linux VM ([`crate::vm_init`]).
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
                    detail: u64::from(tag::PONG),
                },
            ),
        }
    }
}
