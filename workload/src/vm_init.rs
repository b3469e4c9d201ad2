//! The workload as `/init` of a Linux VM (`vm-linux`).
//!
//! In `vm-linux` the guest kernel boots and runs our static executable as
//! PID 1 from the initramfs. There is no launcher process to share a socket
//! with: the launcher is the VMM, outside the guest. So the workload talks
//! to it exactly like the bare guest does (`crate::bare`): one byte per
//! `in`/`out` on the protocol ports, each a VM exit. A Linux process may use
//! I/O ports once it raised its I/O privilege level with `iopl(3)` (root
//! only; `iopl(2)`), which PID 1 is.
//!
//! Startup, in this order:
//! 1. `iopl(3)`, then READY on the port: the first thing `/init` does, so
//!    READY marks the end of the kernel's boot;
//! 2. mount `/proc` and report the guest kernel's view of memory (INFO
//!    MemTotal, MemFree, MemAvailable from `/proc/meminfo`, in bytes):
//!    "each VM carries its own kernel", measured from inside;
//! 3. the usual command loop ([`crate::command_loop`]).
//!
//! Everything else (scratch memory, the trivial system call) is the plain
//! Linux platform: the guest kernel serves those.
//!
//! **Under a VMM that is not ours** (`peer:qemu-linux`) nothing answers
//! the protocol ports, so `/init` talks through a 16550 UART instead
//! ([`crate::uart`]), chosen on the kernel command line: `vmvc_transport=uart`
//! (the kernel hands a `name=value` it does not know, without a dot, to
//! init as an environment variable: `Documentation/admin-guide/kernel-parameters.rst`,
//! and `init/main.c`, `unknown_bootoption`). It is COM2 (0x2f8), because
//! COM1 is the kernel's console, polled from PID 1 with `iopl(3)` exactly
//! as the bare guest polls COM1, rather than the kernel's `ttyS1` in raw
//! mode: the same two VM exits per byte as every UART row (so boundary
//! compares the VMM, not the guest's tty layer and its interrupts), and no
//! termios code in a program without libc. The command line also says
//! `8250.nr_uarts=1`, so the guest's serial driver never probes or owns COM2.
//! After READY it reports the TSC at READY and the guest kernel's clock,
//! from which the launcher tells the VMM's start and the firmware from the
//! kernel's boot (`harness`'s `env::peer::qemu_linux`).
//!
//! **Shell mode** (`vmvc_shell=1`, `vmvc shell vm`): no protocol at all;
//! `/init` starts busybox's `sh` on the console ([`crate::vm_shell`]).

use crate::bare::{inb, outl, Transport, PORT_EXIT, PORT_PING};
use crate::linux::{syscall3, syscall6, LinuxPlatform, SYS_CLOSE, SYS_MOUNT, SYS_OPEN};
use crate::platform::Platform;
use crate::protocol::{info, tag, Message};
use crate::uart::{self, COM2};

const SYS_GETPID: usize = 39;
const SYS_REBOOT: usize = 169;
const SYS_IOPL: usize = 172;
const SYS_CLOCK_GETTIME: usize = 228;
const CLOCK_BOOTTIME: usize = 7;

/// What the kernel command line asked of `/init` (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootFlags {
    pub transport: Transport,
    /// `vmvc_shell=1`: a shell on the console instead of the workload.
    pub shell: bool,
}

impl BootFlags {
    /// Reads `/init`'s environment entries (`NAME=VALUE`, as the kernel
    /// passed them); anything else in it is ignored.
    pub fn parse<'a>(env: impl Iterator<Item = &'a [u8]>) -> BootFlags {
        let mut f = BootFlags {
            transport: Transport::Ports,
            shell: false,
        };
        for e in env {
            match e {
                b"vmvc_transport=uart" => f.transport = Transport::Uart,
                b"vmvc_shell=1" => f.shell = true,
                _ => {}
            }
        }
        f
    }
}

/// True when this process is PID 1: the kernel started us as `/init`.
pub fn is_vm_init() -> bool {
    // SAFETY: getpid takes no arguments and touches no memory.
    unsafe { syscall3(SYS_GETPID, 0, 0, 0) == 1 }
}

/// Restarts the VM (with `reboot=k`, the kernel resets through the i8042,
/// which the VMM sees): the way out when the port protocol is unusable.
pub fn restart() -> ! {
    const MAGIC1: usize = 0xfee1_dead;
    const MAGIC2: usize = 672_274_793;
    const CMD_RESTART: usize = 0x0123_4567;
    loop {
        // SAFETY: reboot(2) with integer arguments only.
        unsafe { syscall3(SYS_REBOOT, MAGIC1, MAGIC2, CMD_RESTART) };
    }
}

/// The platform of the workload as `/init`: ports to the VMM, Linux for the rest.
pub struct VmInitPlatform {
    linux: LinuxPlatform,
    transport: Transport,
}

impl Platform for VmInitPlatform {
    fn send(&mut self, bytes: &[u8]) {
        match self.transport {
            Transport::Ports => crate::bare::port_send(bytes),
            Transport::Uart => uart::send(COM2, bytes),
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> bool {
        match self.transport {
            Transport::Ports => crate::bare::port_recv(buf),
            Transport::Uart => {
                uart::recv(COM2, buf);
                true
            }
        }
    }
    fn scratch(&mut self, bytes: usize) -> Option<*mut u8> {
        self.linux.scratch(bytes)
    }
    fn trivial_syscall(&mut self) -> u64 {
        self.linux.trivial_syscall()
    }
    fn round_trip(&mut self) -> bool {
        match self.transport {
            Transport::Ports => inb(PORT_PING) == tag::PONG,
            // As the bare guest does on its UART: PING out, PONG back.
            Transport::Uart => {
                let mut answer = [0u8; 1];
                uart::send(COM2, &[tag::PING]);
                uart::recv(COM2, &mut answer);
                answer[0] == tag::PONG
            }
        }
    }
    fn exit(&mut self, code: i32) -> ! {
        if self.transport == Transport::Uart {
            // The exit below may end the VM before the last bytes left.
            uart::flush(COM2);
        }
        // Our VMM stops the vCPU at this write (QEMU: its isa-debug-exit
        // device, when the launcher placed one there); PID 1 never returns.
        outl(PORT_EXIT, code as u32);
        restart()
    }
}

/// Parses the number of a `/proc/meminfo` line like `MemFree:   123 kB`, in bytes.
pub fn meminfo_field(text: &[u8], key: &[u8]) -> Option<u64> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(b":")?;
        let digits = rest
            .iter()
            .skip_while(|b| **b == b' ')
            .take_while(|b| b.is_ascii_digit());
        let mut v: u64 = 0;
        let mut any = false;
        for d in digits {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            any = true;
        }
        any.then(|| v.saturating_mul(1024))
    })
}

/// Reads `/proc/meminfo` (mounting `/proc` first) into `buf`; the bytes read.
fn read_meminfo(buf: &mut [u8]) -> usize {
    // SAFETY: NUL-terminated string constants; mount(2) reads them only.
    unsafe {
        syscall6(
            SYS_MOUNT,
            c"proc".as_ptr() as usize,
            c"/proc".as_ptr() as usize,
            c"proc".as_ptr() as usize,
            0,
            0,
            0,
        )
    };
    // SAFETY: a NUL-terminated path; O_RDONLY (0).
    let fd = unsafe { syscall3(SYS_OPEN, c"/proc/meminfo".as_ptr() as usize, 0, 0) };
    if fd < 0 {
        return 0;
    }
    let mut n = 0;
    while n < buf.len() {
        // SAFETY: reading into the unfilled part of our own buffer.
        let r = unsafe {
            syscall3(
                crate::linux::SYS_READ,
                fd as usize,
                buf[n..].as_mut_ptr() as usize,
                buf.len() - n,
            )
        };
        if r <= 0 {
            break;
        }
        n += r as usize;
    }
    // SAFETY: closing the fd we opened.
    unsafe { syscall3(SYS_CLOSE, fd as usize, 0, 0) };
    n
}

/// The guest kernel's `CLOCK_BOOTTIME`, nanoseconds (0 if unreadable).
fn kernel_clock_ns() -> u64 {
    let mut ts = [0i64; 2]; // struct timespec: tv_sec, tv_nsec
                            // SAFETY: clock_gettime writes one struct timespec into `ts`, ours.
    let r = unsafe {
        syscall3(
            SYS_CLOCK_GETTIME,
            CLOCK_BOOTTIME,
            ts.as_mut_ptr() as usize,
            0,
        )
    };
    if r != 0 {
        return 0;
    }
    (ts[0] as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts[1] as u64)
}

/// `/init`'s main (see the module docs); `flags` from its environment.
pub fn main(flags: BootFlags) -> ! {
    // SAFETY: iopl takes an integer; as PID 1 we are root and may raise it.
    if unsafe { syscall3(SYS_IOPL, 3, 0, 0) } != 0 {
        crate::linux::write_all(
            1,
            b"vmvc-workload: iopl(3) failed: cannot reach the VMM's ports\n",
        );
        restart();
    }
    if flags.shell {
        let code = crate::vm_shell::run();
        outl(PORT_EXIT, code as u32);
        restart()
    }
    let mut p = VmInitPlatform {
        linux: LinuxPlatform::new(-1),
        transport: flags.transport,
    };
    if flags.transport == Transport::Uart {
        uart::init(COM2);
        // SAFETY: RDTSC only reads a counter (allowed at CPL3 on Linux).
        let tsc = unsafe { core::arch::x86_64::_rdtsc() };
        let clock = kernel_clock_ns();
        crate::serve::send(&mut p, Message::Ready);
        for (key, value) in [(info::READY_TSC, tsc), (info::KERNEL_CLOCK_NS, clock)] {
            crate::serve::send(&mut p, Message::Info { key, value });
        }
    } else {
        crate::serve::send(&mut p, Message::Ready);
    }
    let mut buf = [0u8; 4096];
    let n = read_meminfo(&mut buf);
    let text = &buf[..n];
    for (key, name) in [
        (info::MEM_TOTAL, &b"MemTotal"[..]),
        (info::MEM_FREE, b"MemFree"),
        (info::MEM_AVAILABLE, b"MemAvailable"),
    ] {
        let value = meminfo_field(text, name).unwrap_or(0);
        crate::serve::send(&mut p, Message::Info { key, value });
    }
    crate::serve::command_loop(&mut p)
}

#[cfg(test)]
mod tests {
    use super::{meminfo_field, BootFlags, Transport};

    #[test]
    fn boot_flags_come_from_the_environment() {
        let f = |env: &[&[u8]]| BootFlags::parse(env.iter().copied());
        assert_eq!(f(&[b"HOME=/", b"TERM=linux"]).transport, Transport::Ports);
        let u = f(&[b"HOME=/", b"vmvc_transport=uart"]);
        assert_eq!((u.transport, u.shell), (Transport::Uart, false));
        assert!(f(&[b"vmvc_shell=1"]).shell);
        assert_eq!(f(&[b"vmvc_transport=uart2"]).transport, Transport::Ports);
    }

    #[test]
    fn parses_meminfo() {
        let t = b"MemTotal:         238492 kB\nMemFree:          221012 kB\nMemAvailable:     209876 kB\n";
        assert_eq!(meminfo_field(t, b"MemTotal"), Some(238_492 * 1024));
        assert_eq!(meminfo_field(t, b"MemAvailable"), Some(209_876 * 1024));
        assert_eq!(meminfo_field(t, b"Mem"), None);
        assert_eq!(meminfo_field(b"MemFree: x kB", b"MemFree"), None);
    }
}
