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
//! launcher cannot see from outside, in one write of a few lines
//! ([`Announcement`]):
//!
//! ```text
//! guest-ram 0x7f1234000000 0x18000000      where guest RAM lives in the VMM (hex start, length)
//! guest-meminfo 370000000 310000000 ...    Linux guests only: MemTotal MemFree MemAvailable (bytes)
//! phases 8123456789 kvm_open=8123460000 ...  CLOCK_MONOTONIC ns: launch start, then when each phase ended
//! end
//! ```
//!
//! The guest-RAM range lets the harness split `/proc/PID/smaps` into guest
//! RAM and the VMM's own memory ([`crate::hostmem::rss_split`]); the guest's
//! meminfo is what the guest kernel reported after READY (the launcher
//! never sees those INFO messages: the VMM consumed them); the phases use
//! `CLOCK_MONOTONIC`, one clock for every process on the host, so the
//! launcher can place them on its own timeline.

use crate::bare::{BareVm, Config, Phases};
use crate::error::{Error, GuestFault, Result};
use crate::linux::{self, GuestMemInfo, KernelImage, LinuxError, LinuxVm};
use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use workload::protocol::{self, fault, Command, Message};

/// The announcement's first word.
pub const ANNOUNCE: &str = "guest-ram";
/// The announcement line with the Linux guest's memory report.
pub const ANNOUNCE_MEMINFO: &str = "guest-meminfo";
/// The announcement line with the launch phases.
pub const ANNOUNCE_PHASES: &str = "phases";
/// The announcement's last line.
pub const ANNOUNCE_END: &str = "end";

/// How long one command may run in the guest (the harness has its own,
/// shorter timeouts and kills this process if they pass).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// What the VMM process tells its launcher before READY.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    /// Guest RAM's address range in the VMM process.
    pub guest_ram: Range<u64>,
    /// The guest kernel's memory report (Linux guests).
    pub mem_info: Option<GuestMemInfo>,
    /// `CLOCK_MONOTONIC` nanoseconds when the launch started ([`Phases::t0`]).
    pub t0_ns: Option<u64>,
    /// Each launch phase and when it ended (`CLOCK_MONOTONIC` ns), in order.
    pub phases: Vec<(String, u64)>,
}

impl Announcement {
    /// The announcement text, `end` line included.
    pub fn to_text(&self) -> String {
        let r = &self.guest_ram;
        let mut s = format!("{ANNOUNCE} {:#x} {:#x}\n", r.start, r.end - r.start);
        if let Some(m) = self.mem_info {
            s += &format!(
                "{ANNOUNCE_MEMINFO} {} {} {}\n",
                m.mem_total, m.mem_free, m.mem_available
            );
        }
        if let Some(t0) = self.t0_ns {
            s += &format!("{ANNOUNCE_PHASES} {t0}");
            for (name, at) in &self.phases {
                s += &format!(" {name}={at}");
            }
            s.push('\n');
        }
        s + ANNOUNCE_END + "\n"
    }

    /// Parses announcement text (up to and without the `end` line). `None`
    /// when the guest-RAM line is missing or a line is malformed.
    pub fn parse(text: &str) -> Option<Announcement> {
        let mut a = Announcement::default();
        let mut have_ram = false;
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some(ANNOUNCE) => {
                    a.guest_ram = parse_announcement(line)?;
                    have_ram = true;
                }
                Some(ANNOUNCE_MEMINFO) => {
                    let mut n = || words.next()?.parse::<u64>().ok();
                    a.mem_info = Some(GuestMemInfo {
                        mem_total: n()?,
                        mem_free: n()?,
                        mem_available: n()?,
                    });
                }
                Some(ANNOUNCE_PHASES) => {
                    a.t0_ns = Some(words.next()?.parse().ok()?);
                    for w in words {
                        let (name, at) = w.split_once('=')?;
                        a.phases.push((name.to_owned(), at.parse().ok()?));
                    }
                }
                Some(ANNOUNCE_END) | None => {}
                Some(_) => return None,
            }
        }
        have_ram.then_some(a)
    }
}

/// Parses the guest-RAM line (`guest-ram START LEN`, hex) into its range.
pub fn parse_announcement(line: &str) -> Option<Range<u64>> {
    let mut words = line.split_whitespace();
    if words.next()? != ANNOUNCE {
        return None;
    }
    let start = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    let len = u64::from_str_radix(words.next()?.trim_start_matches("0x"), 16).ok()?;
    Some(start..start.checked_add(len)?)
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the clock Rust's `Instant` reads
/// on Linux, shared by every process on the host.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail (and on failure `ts` stays 0).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// `t0` and the phase marks as `CLOCK_MONOTONIC` nanoseconds.
fn phases_ns(p: &Phases) -> (u64, Vec<(String, u64)>) {
    let (now, now_ns) = (Instant::now(), monotonic_ns());
    let ns = |at: Instant| now_ns.saturating_sub(now.duration_since(at).as_nanos() as u64);
    let marks = p.marks.iter().map(|(n, at)| ((*n).to_owned(), ns(*at)));
    (ns(p.t0), marks.collect())
}

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
            // Tell the launcher before giving up (it is waiting for READY).
            let _ = send(&mut sock, fault_message(G::fault_of(&e)));
            return Err(e);
        }
    };
    let (t0_ns, phases) = phases_ns(vm.phases());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_round_trips() {
        let a = Announcement {
            guest_ram: 0x7f00_0000_0000..0x7f00_1800_0000,
            mem_info: Some(GuestMemInfo {
                mem_total: 370 << 20,
                mem_free: 310 << 20,
                mem_available: 300 << 20,
            }),
            t0_ns: Some(1000),
            phases: vec![("kvm_open".into(), 1500), ("kernel_boot".into(), 9000)],
        };
        let text = a.to_text();
        assert!(text.starts_with("guest-ram 0x7f0000000000 0x18000000\n"));
        assert!(text.ends_with("\nend\n"));
        assert_eq!(Announcement::parse(&text), Some(a));
        // The bare guest's: no meminfo.
        let bare = Announcement {
            guest_ram: 0x1000..0x3000,
            ..Announcement::default()
        };
        assert_eq!(Announcement::parse(&bare.to_text()), Some(bare));
    }

    #[test]
    fn bad_announcements_are_refused() {
        assert_eq!(Announcement::parse(""), None);
        assert_eq!(Announcement::parse("guest-meminfo 1 2 3\n"), None);
        assert_eq!(Announcement::parse("guest-ram 0x1000 zz\n"), None);
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nguest-meminfo 1 2\n"),
            None
        );
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nphases 5 kvm_open\n"),
            None
        );
        assert_eq!(
            Announcement::parse("guest-ram 0x1000 0x1000\nsurprise\n"),
            None
        );
    }

    #[test]
    fn monotonic_clock_is_the_one_instant_uses() {
        // Two reads around an Instant: both advance together.
        let a = monotonic_ns();
        let i = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let d = i.elapsed().as_nanos() as u64;
        let b = monotonic_ns();
        assert!(b - a >= d, "{a} {b} {d}");
    }
}
