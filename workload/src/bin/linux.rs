//! `vmvc-workload`: the workload as a freestanding static Linux executable.
//!
//! No libc and no dynamic loader: the kernel jumps to `_start` with the stack
//! holding argc, argv and envp (System V x86-64 ABI, "Process
//! Initialization"), and from there on only raw system calls are made. Usage:
//!
//! ```text
//! vmvc-workload FD      # FD: an inherited socket connected to the launcher
//! ```
#![no_std]
#![no_main]

use workload::linux::{exit_group, write_all, LinuxPlatform};
use workload::protocol::{fault, Message};

// The kernel enters with rsp pointing at argc and a 16-byte aligned stack.
// Pass that pointer to Rust and keep the alignment the ABI expects at a call.
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call vmvc_start",
    "ud2",
);

/// Where the socket fd is kept so the panic handler can report on it.
static mut FD: i32 = -1;

fn usage() -> ! {
    write_all(
        2,
        b"usage: vmvc-workload FD\n  FD: a socket inherited from the launcher (see vmvc)\n",
    );
    exit_group(2)
}

/// Parses a small decimal number.
fn parse_fd(arg: &[u8]) -> Option<i32> {
    if arg.is_empty() || arg.len() > 9 {
        return None;
    }
    arg.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

/// # Safety
/// Called once, by `_start`, with the initial stack pointer the kernel set.
#[no_mangle]
unsafe extern "C" fn vmvc_start(sp: *const usize) -> ! {
    // SAFETY: at process entry the stack holds argc followed by argc pointers
    // to NUL-terminated strings (the ABI's initial process stack).
    let (argc, argv) = unsafe { (*sp, sp.add(1) as *const *const u8) };
    // PID 1 with no arguments: the kernel started us as /init of a vm-linux
    // guest. (A container's PID 1 always gets its socket FD, so being PID 1
    // alone does not mean "in a VM".)
    if argc < 2 && workload::vm_init::is_vm_init() {
        // SAFETY: as above: after argv's NULL come the environment's
        // pointers, NULL-terminated; the kernel put the strings there.
        let envp = unsafe { argv.add(argc + 1) };
        let env = (0..)
            // SAFETY: read up to and not past the terminating NULL.
            .map(|i| unsafe { *envp.add(i) })
            .take_while(|p| !p.is_null())
            // SAFETY: each entry is a NUL-terminated string (see above).
            .map(|p| {
                unsafe { core::ffi::CStr::from_ptr(p as *const core::ffi::c_char) }.to_bytes()
            });
        workload::vm_init::main(workload::vm_init::BootFlags::parse(env))
    }
    if argc != 2 {
        usage();
    }
    // SAFETY: argv[1] exists (argc == 2) and is NUL-terminated.
    let arg = unsafe { core::ffi::CStr::from_ptr(*argv.add(1) as *const core::ffi::c_char) };
    let Some(fd) = parse_fd(arg.to_bytes()) else {
        usage()
    };
    // SAFETY: single-threaded program; written once before any reader.
    unsafe { FD = fd };
    workload::serve(&mut LinuxPlatform::new(fd))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: single-threaded; FD was written once at start.
    let fd = unsafe { FD };
    if fd >= 0 {
        let m = Message::Fault {
            code: fault::PANIC,
            detail: 0,
        };
        write_all(fd, m.encode().as_bytes());
    }
    exit_group(101)
}
