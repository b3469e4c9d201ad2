//! The launcher's end of a process workload's socket.
//!
//! Process-based environments (native, containers) give the workload one end
//! of a `socketpair(2)` and keep the other here. Messages are decoded with the
//! same [`Decoder`] a VMM uses, and boundary PINGs are answered with PONG, so
//! the `boundary` workload measures exactly one round trip through the host
//! kernel per operation.

use anyhow::{bail, Context};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use workload::protocol::{fault, Command, Decoder, Message};

pub struct Channel {
    sock: UnixStream,
    decoder: Decoder,
    buf: Vec<u8>,
    /// `buf[pos..have]`: bytes read but not decoded yet.
    pos: usize,
    have: usize,
}

impl Channel {
    /// A connected socket pair: (launcher end, workload end). Only the
    /// workload end is inheritable (no close-on-exec).
    pub fn pair() -> anyhow::Result<(Channel, std::os::fd::OwnedFd)> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::empty(),
        )
        .context("socketpair for the workload channel")?;
        let ours = UnixStream::from(ours);
        // Ours must not leak into the child: close-on-exec.
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&ours),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .context("set close-on-exec on the launcher's socket")?;
        Ok((Channel::new(ours), theirs))
    }

    pub fn new(sock: UnixStream) -> Channel {
        Channel {
            sock,
            decoder: Decoder::new(),
            buf: vec![0; 4096],
            pos: 0,
            have: 0,
        }
    }

    fn fill(&mut self, deadline: Instant) -> anyhow::Result<usize> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("timed out waiting for the workload");
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.sock.read(&mut self.buf) {
                Ok(0) => bail!("the workload closed its channel (it exited or was killed)"),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    bail!("timed out waiting for the workload")
                }
                Err(e) => return Err(e).context("reading from the workload"),
            }
        }
    }

    /// Next message, answering PINGs; fails at `timeout`. Bytes that came
    /// with it stay for the next call (a bare guest under a foreign VMM
    /// follows READY with INFO messages at once).
    pub fn recv(&mut self, timeout: Duration) -> anyhow::Result<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            while self.pos < self.have {
                let b = self.buf[self.pos];
                self.pos += 1;
                match self.decoder.push(b) {
                    Ok(None) => {}
                    Ok(Some(Message::Ping)) => self.send(Command::Pong)?,
                    Ok(Some(m)) => return Ok(m),
                    Err(e) => {
                        // The bytes around it tell garbage from a lost byte.
                        let from = self.pos.saturating_sub(16);
                        let to = self.have.min(self.pos + 16);
                        let around: Vec<String> = self.buf[from..to]
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        bail!(
                            "the workload broke the protocol: {e} (bytes around it: {})",
                            around.join(" ")
                        )
                    }
                }
            }
            self.have = self.fill(deadline)?;
            self.pos = 0;
        }
    }

    pub fn send(&mut self, cmd: Command) -> anyhow::Result<()> {
        self.sock
            .write_all(cmd.encode().as_bytes())
            .context("writing to the workload")
    }

    /// Sends `cmd` and waits for the answer.
    pub fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        self.send(cmd)?;
        let m = self.recv(timeout)?;
        // The protocol is strictly request/response: nothing follows an answer.
        if self.pos < self.have {
            bail!(
                "the workload sent {} bytes after {m:?}",
                self.have - self.pos
            );
        }
        Ok(m)
    }

    /// Waits for READY.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        match self.recv(timeout)? {
            Message::Ready => Ok(()),
            Message::Fault { code, detail } => bail!(
                "the workload faulted before READY: {} (code {code}, detail {detail})",
                fault::describe(code)
            ),
            other => bail!("expected READY from the workload, got {other:?}"),
        }
    }
}

/// The answer to EXIT must be DONE; `from` names who answered, for the error.
pub fn expect_done(reply: Message, from: &str) -> anyhow::Result<()> {
    match reply {
        Message::Done => Ok(()),
        other => bail!("expected DONE from {from}, got {other:?}"),
    }
}
