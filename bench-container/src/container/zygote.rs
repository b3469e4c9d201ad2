//! A zygote: a container's first process, set up once, that forks the
//! program on request.
//!
//! Starting a container cold costs its cgroup, its namespaces (the network
//! namespace most) and its root: mounts, pivot_root. None of that depends on
//! the request, so SOCK (Oakes et al., USENIX ATC '18) keeps *zygotes*:
//! processes already in their namespaces and cgroup, which `fork(2)` a new
//! function instance when a request comes. The child inherits the zygote's
//! namespaces, root and cgroup for free, and only `execve`s the program.
//!
//! Here the zygote is what [`Runtime::spawn`] makes of a [`Spec`] with
//! [`Spec::zygote`] set: the child does the whole set-up, and instead of
//! `execve` it closes the report pipe (the launcher sees "set up") and serves
//! requests on a socket, one at a time:
//!
//! | request | what the zygote does | answer (4 bytes, little-endian) |
//! |---|---|---|
//! | `f` + a descriptor (`SCM_RIGHTS`, unix(7)) | `fork`; the child puts the descriptor at [`CHILD_FD`] and `execve`s the program | the child's pid in the container's pid namespace |
//! | `w` + a pid | `waitpid`: the zygote is PID 1 of that namespace, so it reaps | the wait status |
//!
//! The zygote is a copy of a possibly multi-threaded launcher, as a
//! container's child before `execve` is: it only makes async-signal-safe
//! calls (signal-safety(7)) and allocates nothing. It exits when the
//! launcher closes the socket; the kernel then kills the whole pid namespace.

use super::{Container, Runtime, Spec};
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::socket::{
    sendmsg, socketpair, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType,
};
use std::ffi::{c_char, CStr};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Where a forked program finds the descriptor sent with its `f` request.
pub const CHILD_FD: RawFd = 100;

/// A running zygote: its container and the launcher's end of its socket.
#[derive(Debug)]
pub struct Zygote {
    // Field order is drop order: closing the socket first lets the zygote
    // exit by itself before the container is killed and removed.
    ctl: OwnedFd,
    container: Container,
}

/// A program forked by a zygote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forked {
    /// Its pid inside the container's pid namespace (for [`Zygote::wait`]).
    pub ns_pid: i32,
    /// Its pid as the host sees it (for /proc), when it could be found.
    pub host_pid: Option<u32>,
}

impl Runtime {
    /// Starts a zygote for `spec` (see the module docs); returns once it is
    /// set up and waiting for requests.
    pub fn spawn_zygote(&self, spec: Spec) -> Result<Zygote> {
        let (ctl, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|source| Error::Sys {
            step: "socketpair for a zygote",
            source,
        })?;
        let mut spec = spec;
        spec.zygote = Some(theirs.as_raw_fd());
        let container = self.spawn(&spec)?;
        drop(theirs);
        Ok(Zygote { ctl, container })
    }
}

impl Zygote {
    /// The zygote's container (its cgroup, its pid as the host sees it).
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Forks the program with `fd` as its descriptor [`CHILD_FD`].
    pub fn fork(&self, fd: BorrowedFd<'_>) -> Result<Forked> {
        let fds = [fd.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(
            self.ctl.as_raw_fd(),
            &[IoSlice::new(b"f")],
            &cmsg,
            MsgFlags::empty(),
            None,
        )
        .map_err(|source| Error::Sys {
            step: "sending a fork request to the zygote",
            source,
        })?;
        let ns_pid = self.answer("fork")?;
        Ok(Forked {
            ns_pid,
            host_pid: host_pid_of(self.container.pid(), ns_pid),
        })
    }

    /// Waits for a forked program to end; returns its wait status (as
    /// waitpid(2) gives it).
    pub fn wait(&self, child: &Forked) -> Result<i32> {
        let mut req = [b'w', 0, 0, 0, 0];
        req[1..].copy_from_slice(&child.ns_pid.to_le_bytes());
        nix::unistd::write(&self.ctl, &req).map_err(|source| Error::Sys {
            step: "sending a wait request to the zygote",
            source,
        })?;
        self.answer("waitpid")
    }

    /// Reads the zygote's 4-byte answer; negative answers are errnos.
    fn answer(&self, step: &'static str) -> Result<i32> {
        let mut buf = [0u8; 4];
        let n = nix::unistd::read(self.ctl.as_raw_fd(), &mut buf).map_err(|source| Error::Sys {
            step: "reading the zygote's answer",
            source,
        })?;
        if n != 4 {
            return Err(Error::DiedDuringSetup {
                status: format!("the zygote went away during {step}"),
            });
        }
        match i32::from_le_bytes(buf) {
            v if v < 0 => Err(Error::Sys {
                step,
                source: Errno::from_raw(-v),
            }),
            v => Ok(v),
        }
    }
}

/// The host pid of the zygote's child `ns_pid`: among the zygote's
/// children (/proc/PID/task/TID/children), the one whose last `NSpid`
/// (/proc/PID/status: its pid in each nested namespace) is `ns_pid`.
fn host_pid_of(zygote: u32, ns_pid: i32) -> Option<u32> {
    let list = std::fs::read_to_string(format!("/proc/{zygote}/task/{zygote}/children")).ok()?;
    list.split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    let line = s.lines().find(|l| l.starts_with("NSpid:"))?;
                    line.split_whitespace().last()?.parse::<i32>().ok()
                })
                == Some(ns_pid)
        })
}

/// The zygote's loop, in the container's child instead of `execve` (see
/// the module docs). Async-signal-safe only; never returns.
pub(super) fn serve(
    ctl: RawFd,
    report: BorrowedFd<'_>,
    exe: &CStr,
    argv: &[*const c_char],
    envp: &[*const c_char],
) -> ! {
    // The launcher waits for EOF on the report pipe, which an exec would
    // have closed: close it ourselves.
    // SAFETY: our copy of the pipe's write end; nothing uses it afterwards.
    unsafe { libc::close(report.as_raw_fd()) };
    loop {
        let mut req = [0u8; 5];
        let (n, fd) = recv_request(ctl, &mut req);
        if n <= 0 {
            // The launcher closed its end (or failed): we are done.
            // SAFETY: _exit ends the process without running the launcher's handlers.
            unsafe { libc::_exit(0) }
        }
        let answer = match (req[0], fd) {
            (b'f', Some(fd)) => fork_program(fd, exe, argv, envp),
            (b'w', _) => {
                let pid = i32::from_le_bytes([req[1], req[2], req[3], req[4]]);
                let mut status = 0;
                // SAFETY: waitpid writes the status into our local.
                match unsafe { libc::waitpid(pid, &mut status, 0) } {
                    -1 => -(Errno::last() as i32),
                    _ => status,
                }
            }
            _ => -libc::EINVAL,
        };
        // A failed answer shows as a short read on the launcher's side.
        // SAFETY: writes 4 bytes from a local array.
        unsafe { libc::write(ctl, answer.to_le_bytes().as_ptr().cast(), 4) };
    }
}

/// Forks; the child puts `fd` at [`CHILD_FD`] and execs. Returns the
/// child's pid, or a negative errno.
fn fork_program(fd: RawFd, exe: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> i32 {
    // Raw fork: the C library's fork runs atfork handlers the launcher
    // registered, which are not ours to run here.
    // SAFETY: fork-like system call; the child only makes async-signal-safe
    // calls and ends in execve or _exit.
    let pid = unsafe { libc::syscall(libc::SYS_fork) } as i32;
    if pid == 0 {
        // SAFETY: dup2 to a fixed number (the copy has no close-on-exec
        // flag); exe, argv and envp are the Plan's NUL-terminated strings
        // and NULL-terminated arrays, alive in this copy of the memory.
        unsafe {
            if fd != CHILD_FD && libc::dup2(fd, CHILD_FD) < 0 {
                libc::_exit(126);
            }
            libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127)
        }
    }
    // SAFETY: our copy of the received descriptor; the child has its own.
    unsafe { libc::close(fd) };
    if pid < 0 {
        -(Errno::last() as i32)
    } else {
        pid
    }
}

/// Receives one request and the descriptor sent with it, if any, without
/// allocating (the control buffer is on the stack).
fn recv_request(ctl: RawFd, buf: &mut [u8; 5]) -> (isize, Option<RawFd>) {
    // Room for one cmsghdr carrying one int (CMSG_SPACE(4) = 24 on x86_64).
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a zeroed msghdr is valid; we point it at our locals.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: every pointer in msg refers to a live local of the right size.
    let n = unsafe { libc::recvmsg(ctl, &mut msg, 0) };
    if n <= 0 {
        return (n, None);
    }
    // SAFETY: CMSG_FIRSTHDR/CMSG_DATA walk the control buffer the kernel
    // just filled, within msg_controllen.
    let fd = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>()))
        } else {
            None
        }
    };
    (n, fd)
}
