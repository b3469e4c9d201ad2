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

use crate::bare::{inb, outl, PORT_EXIT, PORT_PING};
use crate::linux::{syscall3, syscall6, LinuxPlatform};
use crate::platform::Platform;
use crate::protocol::{info, tag, Message};

const SYS_OPEN: usize = 2;
const SYS_CLOSE: usize = 3;
const SYS_GETPID: usize = 39;
const SYS_MOUNT: usize = 165;
const SYS_REBOOT: usize = 169;
const SYS_IOPL: usize = 172;

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
}

impl Platform for VmInitPlatform {
    fn send(&mut self, bytes: &[u8]) {
        crate::bare::port_send(bytes)
    }
    fn recv(&mut self, buf: &mut [u8]) -> bool {
        crate::bare::port_recv(buf)
    }
    fn scratch(&mut self, bytes: usize) -> Option<*mut u8> {
        self.linux.scratch(bytes)
    }
    fn trivial_syscall(&mut self) -> u64 {
        self.linux.trivial_syscall()
    }
    fn round_trip(&mut self) -> bool {
        inb(PORT_PING) == tag::PONG
    }
    fn exit(&mut self, code: i32) -> ! {
        // The VMM stops the vCPU at this write; PID 1 never returns.
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

/// `/init`'s main: see the module docs.
pub fn main() -> ! {
    // SAFETY: iopl takes an integer; as PID 1 we are root and may raise it.
    if unsafe { syscall3(SYS_IOPL, 3, 0, 0) } != 0 {
        crate::linux::write_all(
            1,
            b"vmvc-workload: iopl(3) failed: cannot reach the VMM's ports\n",
        );
        restart();
    }
    let mut p = VmInitPlatform {
        linux: LinuxPlatform::new(-1),
    };
    crate::serve::send(&mut p, Message::Ready);
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
    use super::meminfo_field;

    #[test]
    fn parses_meminfo() {
        let t = b"MemTotal:         238492 kB\nMemFree:          221012 kB\nMemAvailable:     209876 kB\n";
        assert_eq!(meminfo_field(t, b"MemTotal"), Some(238_492 * 1024));
        assert_eq!(meminfo_field(t, b"MemAvailable"), Some(209_876 * 1024));
        assert_eq!(meminfo_field(t, b"Mem"), None);
        assert_eq!(meminfo_field(b"MemFree: x kB", b"MemFree"), None);
    }
}
