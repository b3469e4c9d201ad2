//! `vmvc-probe`: a tiny static program that reports what it sees from
//! inside a container. Built by bench-container's build.rs (rustc,
//! `+crt-static`), copied into test rootfs; the tests assert on its output.
//!
//! ```text
//! vmvc-probe pid              its own pid
//! vmvc-probe netdevs          network devices (from /proc/net/dev)
//! vmvc-probe hostname         the hostname (from /proc/sys/kernel/hostname)
//! vmvc-probe mounts           its mount table (/proc/self/mountinfo)
//! vmvc-probe ids              its uid as it sees it, then its uid_map and gid_map
//! vmvc-probe exists PATH...   "PATH yes|no" per path
//! vmvc-probe escape MARKER    the classic chroot escape, then "escaped" if the
//!                             host path MARKER is visible, else "contained"
//! vmvc-probe forkbomb N       start up to N sleeping copies of itself
//! vmvc-probe sleep            sleep for an hour
//! vmvc-probe security         its CapEff, CapBnd, CapAmb, NoNewPrivs and Seccomp lines
//! vmvc-probe try WHAT [ARG]   one break-out attempt: "ok", or "errno N"; WHAT is
//!                             mount, ptrace PID, kill PID, openw PATH, create PATH,
//!                             read PATH, init_module, finit_module, keyctl, add_key,
//!                             unshare_user, clone_user, clone3, x32_mount, rawsock IFNAME
//! ```
//!
//! The attempts are raw system calls (std has no wrapper for most of them),
//! through the C library's `syscall(2)`: the probe is linked statically
//! against glibc. None of them changes anything when it fails; `openw`
//! opens for writing without writing.
use std::path::Path;
use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    match cmd {
        "pid" => println!("{}", std::process::id()),
        "netdevs" => {
            let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
            // Two header lines, then "  name: counters...".
            for line in dev.lines().skip(2) {
                if let Some((name, _)) = line.split_once(':') {
                    println!("{}", name.trim());
                }
            }
        }
        "hostname" => print!(
            "{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
        ),
        "mounts" => print!(
            "{}",
            std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
        ),
        "ids" => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let uid = status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .unwrap_or("Uid: ?");
            println!("{}", uid.split_whitespace().nth(1).unwrap_or("?"));
            for f in ["/proc/self/uid_map", "/proc/self/gid_map"] {
                let map = std::fs::read_to_string(f).unwrap_or_default();
                println!("{}", map.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        "exists" => {
            for p in &args[2..] {
                let yes = Path::new(p).exists();
                println!("{p} {}", if yes { "yes" } else { "no" });
            }
        }
        "escape" => {
            let Some(marker) = args.get(2) else { exit(2) };
            // 1. chroot into a subdirectory while the current directory
            //    stays where it is: now cwd is *outside* the root;
            // 2. ".." from outside the root is never stopped at the root,
            //    so climb to the real top;
            // 3. chroot(".") there: the root is the top of the mount
            //    namespace again. Only stat()s follow: nothing is changed.
            if let Err(e) = std::os::unix::fs::chroot("/tmp") {
                println!("chroot failed: {e}");
                exit(1);
            }
            for _ in 0..64 {
                let _ = std::env::set_current_dir("..");
            }
            if let Err(e) = std::os::unix::fs::chroot(".") {
                println!("chroot . failed: {e}");
                exit(1);
            }
            let seen = Path::new(marker).exists();
            println!("{}", if seen { "escaped" } else { "contained" });
        }
        "forkbomb" => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
            let me = &args[0];
            let mut spawned = 0;
            let mut failed = String::from("none");
            for _ in 0..n {
                match Command::new(me).arg("sleep").spawn() {
                    Ok(_) => spawned += 1,
                    Err(e) => {
                        failed = format!("{}", e.raw_os_error().unwrap_or(0));
                        break;
                    }
                }
            }
            println!("spawned {spawned} failed {failed}");
        }
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "security" => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            for l in status.lines() {
                let keys = ["CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"];
                if keys.iter().any(|k| l.starts_with(k)) {
                    println!("{}", l.split_whitespace().collect::<Vec<_>>().join(" "));
                }
            }
        }
        "try" => {
            let what = args.get(2).map(String::as_str).unwrap_or("");
            let arg = args.get(3).cloned().unwrap_or_default();
            match attempt(what, &arg) {
                Some(0) => println!("ok"),
                Some(e) => println!("errno {e}"),
                None => {
                    println!("unknown attempt {what:?}");
                    exit(2)
                }
            }
        }
        _ => {
            eprintln!("usage: vmvc-probe pid|netdevs|hostname|mounts|ids|exists|escape|forkbomb|sleep|security|try");
            exit(2)
        }
    }
}

extern "C" {
    fn syscall(n: i64, ...) -> i64;
    fn __errno_location() -> *mut i32;
}

/// x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
mod nr {
    pub const READ: i64 = 0;
    pub const OPEN: i64 = 2;
    pub const CLOSE: i64 = 3;
    pub const SOCKET: i64 = 41;
    pub const CLONE: i64 = 56;
    pub const KILL: i64 = 62;
    pub const SETSOCKOPT: i64 = 54;
    pub const PTRACE: i64 = 101;
    pub const MOUNT: i64 = 165;
    pub const INIT_MODULE: i64 = 175;
    pub const ADD_KEY: i64 = 248;
    pub const KEYCTL: i64 = 250;
    pub const UNSHARE: i64 = 272;
    pub const FINIT_MODULE: i64 = 313;
    pub const CLONE3: i64 = 435;
}

/// Makes one attempt; Some(0) if the call succeeded, Some(errno) if not.
fn attempt(what: &str, arg: &str) -> Option<i32> {
    let path = std::ffi::CString::new(arg).ok()?;
    let pid: i64 = arg.parse().unwrap_or(0);
    // SAFETY: every call gets integers or pointers to live locals; the
    // ones that could succeed are undone or harmless (see each).
    let r = unsafe {
        match what {
            "mount" => syscall(
                nr::MOUNT,
                c"none".as_ptr(),
                c"/tmp".as_ptr(),
                c"tmpfs".as_ptr(),
                0i64,
                0i64,
            ),
            // PTRACE_ATTACH = 16.
            "ptrace" => syscall(nr::PTRACE, 16i64, pid, 0i64, 0i64),
            "kill" => syscall(nr::KILL, pid, 9i64),
            // O_WRONLY = 1; closed without a write.
            "openw" => close_after(syscall(nr::OPEN, path.as_ptr(), 1i64)),
            // O_WRONLY | O_CREAT = 0o101.
            "create" => close_after(syscall(nr::OPEN, path.as_ptr(), 0o101i64, 0o644i64)),
            "read" => {
                let fd = syscall(nr::OPEN, path.as_ptr(), 0i64);
                if fd < 0 {
                    fd
                } else {
                    let mut buf = [0u8; 64];
                    let n = syscall(nr::READ, fd, buf.as_mut_ptr(), buf.len() as i64);
                    syscall(nr::CLOSE, fd);
                    if n > 0 {
                        println!("read {n} bytes");
                    }
                    n.min(0)
                }
            }
            "init_module" => syscall(nr::INIT_MODULE, 0i64, 0i64, c"".as_ptr()),
            "finit_module" => syscall(nr::FINIT_MODULE, -1i64, c"".as_ptr(), 0i64),
            // KEYCTL_GET_KEYRING_ID (0) of KEY_SPEC_SESSION_KEYRING (-3), no create.
            "keyctl" => syscall(nr::KEYCTL, 0i64, -3i64, 0i64),
            "add_key" => syscall(
                nr::ADD_KEY,
                c"user".as_ptr(),
                c"vmvc".as_ptr(),
                c"x".as_ptr(),
                1i64,
                -3i64,
            ),
            // CLONE_NEWUSER = 0x10000000.
            "unshare_user" => syscall(nr::UNSHARE, 0x1000_0000i64),
            "clone_user" => {
                // Fork-like clone into a new user namespace (SIGCHLD = 17);
                // a child, if there is one, leaves at once.
                let r = syscall(nr::CLONE, 0x1000_0000i64 | 17, 0i64, 0i64, 0i64, 0i64);
                if r == 0 {
                    std::process::exit(0)
                }
                r
            }
            // mount by its x32 number (bit 30 set): the x32 ABI's entry,
            // where a denylist keyed on x86_64 numbers would not look.
            "x32_mount" => syscall(
                0x4000_0000 | nr::MOUNT,
                c"none".as_ptr(),
                c"/tmp".as_ptr(),
                c"tmpfs".as_ptr(),
                0i64,
                0i64,
            ),
            // clone3 with a too-small size: EINVAL where it is allowed,
            // the filter's answer where it is not; never a child.
            "clone3" => syscall(nr::CLONE3, 0i64, 0i64),
            "rawsock" => {
                // AF_PACKET (17), SOCK_RAW (3), ETH_P_ALL (3, big-endian):
                // every frame of one interface, needs CAP_NET_RAW. Then
                // SO_BINDTODEVICE (25, SOL_SOCKET 1) to the named interface.
                let fd = syscall(nr::SOCKET, 17i64, 3i64, 0x0300i64);
                if fd < 0 {
                    println!("socket refused");
                    fd
                } else {
                    println!("socket ok");
                    let b = arg.as_bytes();
                    syscall(nr::SETSOCKOPT, fd, 1i64, 25i64, b.as_ptr(), b.len() as i64)
                }
            }
            _ => return None,
        }
    };
    // SAFETY: the C library's thread-local errno.
    Some(if r < 0 {
        unsafe { *__errno_location() }
    } else {
        0
    })
}

/// Closes a descriptor a successful open returned; passes errors on.
unsafe fn close_after(fd: i64) -> i64 {
    if fd >= 0 {
        syscall(nr::CLOSE, fd);
        0
    } else {
        fd
    }
}
