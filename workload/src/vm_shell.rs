//! Shell mode of a Linux guest's `/init` (`vmvc shell vm`): busybox's `sh`
//! on the serial console, so a student can look around inside a VM.
//!
//! The initramfs then also holds a static busybox at `/bin/busybox` with a
//! link per applet (`harness`'s `shell` module builds it). `/init`, still
//! PID 1, mounts `/proc`, `/sys` and `/dev` (devtmpfs: the kernel's device
//! nodes, `ttyS0` among them), starts `sh` in a child and waits. The child
//! first makes the console's real device, `/dev/ttyS0` (`console=ttyS0`),
//! its controlling terminal: a new session (setsid(2)) whose leader opens
//! a terminal gets it as its controlling terminal (credentials(7),
//! "Sessions"), which `/dev/console` cannot be; then Ctrl-C and job
//! control work inside, as busybox's `cttyhack` would arrange. PID 1 must not exit (the
//! kernel panics when init dies), so when the shell ends, `/init` reaps it
//! and (`crate::vm_init`) ends the VM through the exit port, with the
//! shell's status.
//!
//! System calls: fork(2), execve(2), wait4(2), mount(2); numbers from
//! `arch/x86/entry/syscalls/syscall_64.tbl`.

use crate::linux::{syscall3, syscall6, write_all, SYS_CLOSE, SYS_MOUNT, SYS_OPEN};

const SYS_DUP2: usize = 33;
const SYS_SETSID: usize = 112;
const SYS_FORK: usize = 57;
const SYS_EXECVE: usize = 59;
const SYS_EXIT: usize = 60;
const SYS_WAIT4: usize = 61;

/// Mounts `fs` of type `kind` at `dir` (all NUL-terminated); failures are
/// left to show in the shell (`mount` there says what is mounted).
fn mount(fs: &core::ffi::CStr, dir: &core::ffi::CStr, kind: &core::ffi::CStr) {
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    unsafe {
        syscall6(
            SYS_MOUNT,
            fs.as_ptr() as usize,
            dir.as_ptr() as usize,
            kind.as_ptr() as usize,
            0,
            0,
            0,
        )
    };
}

/// In the child: `/dev/ttyS0` as the controlling terminal and stdio (if it
/// opens; else the inherited `/dev/console`), then `sh`.
fn exec_shell() -> ! {
    // SAFETY: setsid takes no arguments; open gets a NUL-terminated path
    // and O_RDWR (2); dup2 and close take descriptor numbers only.
    unsafe {
        syscall3(SYS_SETSID, 0, 0, 0);
        let fd = syscall3(SYS_OPEN, c"/dev/ttyS0".as_ptr() as usize, 2, 0);
        if fd >= 0 {
            for to in 0..3 {
                syscall3(SYS_DUP2, fd as usize, to, 0);
            }
            if fd > 2 {
                syscall3(SYS_CLOSE, fd as usize, 0, 0);
            }
        }
    }
    let argv = [c"sh".as_ptr(), core::ptr::null()];
    let envp = [
        c"PATH=/bin:/sbin:/usr/bin:/usr/sbin".as_ptr(),
        c"HOME=/".as_ptr(),
        c"TERM=linux".as_ptr(),
        // The prompt says where you are: inside the VM's own kernel.
        c"PS1=vm:\\w# ".as_ptr(),
        core::ptr::null(),
    ];
    // SAFETY: NULL-terminated arrays of NUL-terminated strings, all static.
    unsafe {
        syscall3(
            SYS_EXECVE,
            c"/bin/sh".as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize,
        )
    };
    write_all(
        2,
        b"vmvc /init: cannot run /bin/sh (no busybox in the initramfs?)\n",
    );
    loop {
        // SAFETY: exit takes an integer and does not return.
        unsafe { syscall3(SYS_EXIT, 127, 0, 0) };
    }
}

/// Shell mode's `/init` (see the module docs): runs the shell and returns
/// its exit status, for `/init` to end the VM with.
pub fn run() -> i32 {
    mount(c"proc", c"/proc", c"proc");
    mount(c"sysfs", c"/sys", c"sysfs");
    mount(c"devtmpfs", c"/dev", c"devtmpfs");
    // SAFETY: fork takes no arguments; the child gets a copy of our memory
    // and only calls exec_shell, which never returns.
    let child = unsafe { syscall3(SYS_FORK, 0, 0, 0) };
    if child == 0 {
        exec_shell()
    }
    let mut code: i32 = 127;
    if child > 0 {
        loop {
            let mut status: i32 = 0;
            // SAFETY: wait4 writes one int into `status`, ours; no rusage.
            let pid = unsafe {
                syscall6(
                    SYS_WAIT4,
                    usize::MAX, // -1: any child (PID 1 reaps orphans too)
                    &mut status as *mut i32 as usize,
                    0,
                    0,
                    0,
                    0,
                )
            };
            if pid == child {
                // wait(2): exited normally when the low 7 bits are 0.
                code = if status & 0x7f == 0 {
                    (status >> 8) & 0xff
                } else {
                    128 + (status & 0x7f)
                };
                break;
            }
            if pid < 0 && pid != -4 {
                break; // ECHILD: nothing left to wait for
            }
        }
    } else {
        write_all(2, b"vmvc /init: fork failed\n");
    }
    code
}
