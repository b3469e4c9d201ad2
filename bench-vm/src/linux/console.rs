//! An interactive serial console on the Linux guest (`vmvc shell vm`).
//!
//! The guest's COM1 is a 16550 UART (`super::devices`): what the guest
//! writes to it already reaches the console log and its copy (the user's
//! stdout). For the other direction, bytes the user types are put in the
//! UART's receive FIFO with vm-superio's `Serial::enqueue_raw_bytes`, which
//! sets "data ready" and raises IRQ 4 through the irqfd, so the guest's
//! serial driver reads them as from a real terminal line (the 16550's
//! receive path; Linux `drivers/tty/serial/8250/8250_port.c`).
//!
//! Input is held until the guest shows `ready` on its console (the
//! shell's prompt): before the guest's serial driver opens the port it
//! drains and resets the UART, and bytes put there while the kernel boots
//! would be lost.
//!
//! The vCPU runs in slices of [`SLICE`]: an idle guest halts inside KVM
//! (the in-kernel interrupt controller wakes it), so `KVM_RUN` is stopped
//! at the end of each slice to look for input, then resumed. A key thus
//! waits at most one slice. The session ends when the guest's `/init`
//! writes its exit code to the exit port (its shell exited), when the guest
//! resets, or when the caller says stop (Ctrl-C on the host).

use super::error::{LinuxError, ERROR_LINES};
use super::vm::LinuxVm;
use crate::error::Error;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

/// How long the vCPU runs before input is looked for.
pub const SLICE: Duration = Duration::from_millis(20);

/// End of transmission (Ctrl-D): what a terminal sends for end of input.
const EOT: u8 = 0x04;

/// How a console session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleEnd {
    /// `/init` exited with this code (its shell's status).
    Exited(i32),
    /// The guest reset itself (a reboot, or a kernel panic with `panic=-1`).
    Reset,
    /// The caller asked to stop.
    Stopped,
}

impl LinuxVm {
    /// Runs a guest built with [`LinuxVm::boot`] as a terminal: bytes from
    /// `input` go to COM1 (when `input` ends, one Ctrl-D follows, so a
    /// shell reading it sees end of input and exits), the guest's output to
    /// the console log, input held until the console shows `ready`.
    /// Returns when the guest ends or `stop` is set.
    pub fn run_console(
        &mut self,
        input: &Receiver<Vec<u8>>,
        stop: &AtomicBool,
        ready: &str,
    ) -> Result<ConsoleEnd, LinuxError> {
        let mut pending: VecDeque<u8> = VecDeque::new();
        let mut input_open = true;
        let mut guest_ready = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(ConsoleEnd::Stopped);
            }
            while input_open {
                match input.try_recv() {
                    Ok(bytes) => pending.extend(bytes),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        input_open = false;
                        pending.push_back(EOT);
                    }
                }
            }
            guest_ready = guest_ready || self.console.text().contains(ready);
            let room = match guest_ready {
                true => self.ports.uart.fifo_capacity().min(pending.len()),
                false => 0,
            };
            if room > 0 {
                let chunk: Vec<u8> = pending.drain(..room).collect();
                // A failed IRQ trigger only delays the guest's driver; the
                // bytes are in the FIFO either way.
                let _ = self.ports.uart.enqueue_raw_bytes(&chunk);
            }
            match self.vcpu.run(&mut self.ports, Some(SLICE)) {
                Ok(()) if self.ports.i8042.reset_requested => return Ok(ConsoleEnd::Reset),
                Ok(()) => {
                    if let Err(code) = self.ports.protocol.take_message() {
                        return Ok(ConsoleEnd::Exited(code));
                    }
                    // A protocol message has no reader here: dropped.
                }
                Err(Error::Timeout { .. }) => {}
                Err(Error::Guest {
                    fault: crate::error::GuestFault::TripleFault,
                    ..
                }) => return Ok(ConsoleEnd::Reset),
                Err(error) => {
                    return Err(LinuxError::Vm {
                        error,
                        console: self.console.last_lines(ERROR_LINES),
                    })
                }
            }
        }
    }
}
