//! The Linux platform: raw system calls, no libc.
//!
//! The freestanding executable (`src/bin/linux.rs`) runs on any x86-64 Linux
//! kernel with nothing else present: no dynamic loader, no libc, no files. It
//! talks to its launcher over one inherited socket whose number it gets on
//! its command line. System call numbers and the calling convention (number
//! in rax, arguments in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered)
//! are from the kernel's `arch/x86/entry/syscalls/syscall_64.tbl` and
//! `syscall(2)`.

use crate::platform::Platform;
use crate::protocol::tag;
use core::arch::asm;

pub const SYS_READ: usize = 0;
pub const SYS_WRITE: usize = 1;
pub const SYS_OPEN: usize = 2;
pub const SYS_CLOSE: usize = 3;
pub const SYS_MMAP: usize = 9;
pub const SYS_MUNMAP: usize = 11;
pub const SYS_GETPPID: usize = 110;
pub const SYS_MOUNT: usize = 165;
pub const SYS_EXIT_GROUP: usize = 231;

/// Raw three-argument system call.
///
/// # Safety
/// The caller must pass arguments valid for system call `n` (pointers to
/// memory it owns, of the lengths it claims).
#[inline(always)]
pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller upholds the system call's contract; the kernel
    // clobbers only rcx and r11, declared here.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Raw six-argument system call (for mmap).
///
/// # Safety
/// As for [`syscall3`].
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a: usize,
    b: usize,
    c: usize,
    d: usize,
    e: usize,
    f: usize,
) -> isize {
    let ret: isize;
    // SAFETY: as in syscall3.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
             in("rdx") c, in("r10") d, in("r8") e, in("r9") f,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Writes all of `buf` to `fd`; false on error.
pub fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of buf.len() bytes.
        let n = unsafe { syscall3(SYS_WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) };
        if n == -4 {
            continue; // EINTR
        }
        if n <= 0 {
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

/// Fills all of `buf` from `fd`; false on end of file or error.
pub fn read_exact(fd: i32, mut buf: &mut [u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: buf is a valid writable slice of buf.len() bytes.
        let n = unsafe { syscall3(SYS_READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) };
        if n == -4 {
            continue; // EINTR
        }
        if n <= 0 {
            return false;
        }
        buf = &mut core::mem::take(&mut buf)[n as usize..];
    }
    true
}

/// Exits the whole process.
pub fn exit_group(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes a plain integer and does not return.
        unsafe { syscall3(SYS_EXIT_GROUP, code as usize, 0, 0) };
    }
}

/// A workload running as a Linux process, talking over socket `fd`.
pub struct LinuxPlatform {
    pub fd: i32,
    map: *mut u8,
    map_len: usize,
}

impl LinuxPlatform {
    pub fn new(fd: i32) -> LinuxPlatform {
        LinuxPlatform {
            fd,
            map: core::ptr::null_mut(),
            map_len: 0,
        }
    }
}

impl Platform for LinuxPlatform {
    fn send(&mut self, bytes: &[u8]) {
        if !write_all(self.fd, bytes) {
            exit_group(4);
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> bool {
        read_exact(self.fd, buf)
    }

    fn scratch(&mut self, bytes: usize) -> Option<*mut u8> {
        if bytes <= self.map_len {
            return Some(self.map);
        }
        const PROT_READ_WRITE: usize = 0x1 | 0x2;
        const MAP_PRIVATE_ANONYMOUS: usize = 0x02 | 0x20;
        if !self.map.is_null() {
            // SAFETY: (map, map_len) is the mapping we made below; no slice
            // into it outlives the RUN/HOLD that asked for it.
            unsafe { syscall3(SYS_MUNMAP, self.map as usize, self.map_len, 0) };
            self.map = core::ptr::null_mut();
            self.map_len = 0;
        }
        // SAFETY: an anonymous private mapping at an address of the kernel's
        // choosing touches no existing memory.
        let addr = unsafe {
            syscall6(
                SYS_MMAP,
                0,
                bytes,
                PROT_READ_WRITE,
                MAP_PRIVATE_ANONYMOUS,
                usize::MAX,
                0,
            )
        };
        if addr < 0 {
            return None;
        }
        self.map = addr as *mut u8;
        self.map_len = bytes;
        Some(self.map)
    }

    fn trivial_syscall(&mut self) -> u64 {
        // SAFETY: getppid takes no arguments and touches no memory.
        unsafe { syscall3(SYS_GETPPID, 0, 0, 0) as u64 }
    }

    fn round_trip(&mut self) -> bool {
        let mut answer = [0u8; 1];
        write_all(self.fd, &[tag::PING])
            && read_exact(self.fd, &mut answer)
            && answer[0] == tag::PONG
    }

    fn exit(&mut self, code: i32) -> ! {
        exit_group(code)
    }
}
