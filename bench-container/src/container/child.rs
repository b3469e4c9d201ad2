//! The child: what runs between clone and execve, in the new namespaces.
//!
//! It joins the cgroup (v1), sets up the descriptors, makes every mount
//! private, bind-mounts the rootfs, mounts `/proc`, switches root with
//! pivot_root(2) and detaches the old root (or only chroot(2)s for the
//! `chroot` profiles), sets the hostname, applies the security defaults
//! (`super::security`: read-only and masked paths, the root read-only,
//! no_new_privs, capabilities, seccomp) and execs the workload. Each phase
//! ends with a timestamp in the [`Record`] it reports. Everything it needs
//! is prepared by the parent in a [`Plan`] first: the child may not
//! allocate (signal-safety(7)). Sources: pivot_root(2),
//! mount_namespaces(7), mount(2).

use super::profile::{Profile, Spec};
use super::report::{mono_ns, Record, STEP_DEV, STEP_EXEC, STEP_USERNS};
use super::report::{STEP_CAPS, STEP_MASK, STEP_NNP, STEP_RO_PATHS, STEP_SECCOMP};
use super::report::{T_CAPS, T_CLONE, T_MASK, T_NNP, T_PIVOT, T_ROOTFS, T_ROOT_RO};
use super::report::{T_RO_PATHS, T_SECCOMP};
use super::security::{self, Hardening};
use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, FdFlag, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, chroot, close, dup2, pivot_root, read, sethostname, write};
use std::ffi::{c_char, CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Everything the child needs, prepared before the clone.
pub(super) struct Plan {
    profile: Profile,
    bare: bool,
    root: CString,
    proc_dir: CString,
    hostname: Option<Vec<u8>>,
    exe: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    join: Vec<RawFd>,
    keep: Vec<RawFd>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    /// Rootless: (read end, write end) of the pipe the launcher releases
    /// the child on once the id map is written.
    userns_sync: Option<(RawFd, RawFd)>,
    /// Flags of the read-only remount of the rootfs (see `locked_flags`).
    ro_flags: MsFlags,
    /// `Spec::secure` (full profile): the security defaults.
    hardening: Option<Hardening>,
    /// `Spec::devices`: the rootfs's `dev` directory, and each (host device,
    /// its place under it).
    dev: Option<(CString, Vec<(CString, CString)>)>,
    /// Set for a zygote: the socket it serves instead of exec'ing.
    zygote: Option<RawFd>,
}

/// The devices `Spec::devices` binds into the container's `/dev`: what
/// programs expect to find (runc's default device list, without the
/// console and ptys).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The flags a bind mount of `root` must keep when remounted. In a user
/// namespace the kernel locks the atime, nosuid, nodev and noexec flags of
/// mounts inherited from the host, and a remount that would clear one fails
/// with EPERM (mount(2), "EPERM"; mount_namespaces(7), "locked mounts"):
/// runc and crun carry them over the same way.
fn locked_flags(root: &std::path::Path) -> MsFlags {
    let have = statvfs(root).map(|s| s.flags()).unwrap_or(FsFlags::empty());
    let mut flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if have.contains(fs) {
            flags |= ms;
        }
    }
    flags
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::InvalidName {
        name: String::from_utf8_lossy(bytes).into(),
        why: "contains a NUL byte",
    })
}

impl Plan {
    pub(super) fn new(
        spec: &Spec,
        join: &[OwnedFd],
        userns_sync: Option<&(OwnedFd, OwnedFd)>,
    ) -> Result<Plan> {
        let root = spec.rootfs.root();
        let exe = if spec.bare {
            spec.rootfs.host_path(&spec.exe)
        } else {
            spec.exe.clone()
        };
        let exe = cstring(exe.as_os_str().as_bytes())?;
        let mut strings = vec![exe.clone()];
        for a in &spec.args {
            strings.push(cstring(a.as_bytes())?);
        }
        let argc = strings.len();
        for e in &spec.env {
            strings.push(cstring(e.as_bytes())?);
        }
        // Pointers into the CStrings' heap buffers, which do not move when
        // the Vec holding the CStrings does.
        let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
        envp.push(std::ptr::null());
        let hostname = spec.namespaces.contains(CloneFlags::CLONE_NEWUTS).then(|| {
            spec.hostname
                .as_deref()
                .unwrap_or(&spec.name)
                .as_bytes()
                .to_vec()
        });
        Ok(Plan {
            profile: spec.profile,
            bare: spec.bare,
            root: cstring(root.as_os_str().as_bytes())?,
            proc_dir: cstring(root.join("proc").as_os_str().as_bytes())?,
            hostname,
            exe,
            _strings: strings,
            argv,
            envp,
            join: join.iter().map(|f| f.as_raw_fd()).collect(),
            keep: spec.keep_fds.clone(),
            stdout: spec.stdout,
            stderr: spec.stderr,
            userns_sync: userns_sync.map(|(r, w)| (r.as_raw_fd(), w.as_raw_fd())),
            dev: match (spec.devices, spec.profile, spec.bare) {
                (true, Profile::Full, false) => {
                    let dir = root.join("dev");
                    let mut nodes = Vec::new();
                    for d in DEVICES {
                        nodes.push((
                            cstring(format!("/dev/{d}").as_bytes())?,
                            cstring(dir.join(d).as_os_str().as_bytes())?,
                        ));
                    }
                    Some((cstring(dir.as_os_str().as_bytes())?, nodes))
                }
                _ => None,
            },
            ro_flags: locked_flags(root)
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV,
            hardening: match (spec.secure, spec.profile, spec.bare) {
                (true, Profile::Full, false) => Some(Hardening::new(root)?),
                _ => None,
            },
            zygote: spec.zygote,
        })
    }
}

/// Runs in the child: set up, report, exec. Never returns.
pub(super) fn child_main(plan: &Plan, join_cgroup: bool, report: BorrowedFd<'_>) -> ! {
    let (step, errno) = match child_setup(plan, join_cgroup, report) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    let rec = Record {
        kind: Record::FAILURE,
        step,
        errno: errno as i32,
        times: [0; 9],
    };
    let _ = write(report, &rec.encode());
    // SAFETY: _exit ends the process without running atexit handlers or
    // destructors that belong to the parent's copy of the state.
    unsafe { libc::_exit(127) }
}

fn child_setup(
    p: &Plan,
    join_cgroup: bool,
    report: BorrowedFd<'_>,
) -> std::result::Result<std::convert::Infallible, (u32, Errno)> {
    let at = |step: u32| move |e: Errno| (step, e);
    // v1 (and the clone(2) fallback): join the cgroup. Writing "0" to
    // cgroup.procs moves the writer (cgroup-v1/cgroups.rst, cgroup-v2.rst).
    for &fd in p.join.iter().filter(|_| join_cgroup) {
        // SAFETY: the descriptor was opened by the parent before the clone
        // and stays open in this copy of the descriptor table.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        write(fd, b"0").map_err(at(0))?;
    }
    let mut t = [0i64; 9];
    t[T_CLONE] = mono_ns();
    if let Some((sync_r, sync_w)) = p.userns_sync {
        // Our copy of the write end must go, or a dead launcher would
        // leave us waiting forever instead of reading end-of-file.
        close(sync_w).map_err(at(STEP_USERNS))?;
        let mut b = [0u8; 1];
        match read(sync_r, &mut b) {
            Ok(1) => {}
            Ok(_) => return Err((STEP_USERNS, Errno::EPIPE)),
            Err(e) => return Err((STEP_USERNS, e)),
        }
    }
    // Start the program with no blocked signals and SIGPIPE at its default
    // (Rust's runtime ignores it in the launcher).
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).map_err(at(1))?;
    // SAFETY: SIG_DFL installs no handler; nothing can run in one.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) }
        .map_err(at(1))?;
    // File descriptors: stdout/stderr if asked, and clear close-on-exec on
    // the ones the program inherits.
    if let Some(fd) = p.stdout {
        dup2(fd, 1).map_err(at(11))?;
    }
    if let Some(fd) = p.stderr {
        dup2(fd, 2).map_err(at(11))?;
    }
    for &fd in &p.keep {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).map_err(at(11))?;
    }

    let none = None::<&CStr>;
    match p.profile {
        _ if p.bare => {}
        Profile::Full => {
            // Our mount namespace starts as a copy of the host's, with the
            // host's propagation: make it private so nothing we do here
            // appears on the host (mount_namespaces(7), "shared subtrees").
            mount(
                none,
                c"/",
                none,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                none,
            )
            .map_err(at(2))?;
            // pivot_root needs the new root to be a mount point: bind it
            // onto itself (made read-only after pivot_root, below).
            mount(
                Some(p.root.as_c_str()),
                p.root.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(at(3))?;
            // A proc of the *new* pid namespace: the workload sees itself as PID 1.
            let noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some(c"proc"),
                p.proc_dir.as_c_str(),
                Some(c"proc"),
                noexec,
                none,
            )
            .map_err(at(5))?;
            if let Some((dir, nodes)) = &p.dev {
                // A small tmpfs over the read-only rootfs's /dev, then each
                // host device bound onto an empty file in it: bind mounts
                // work in a user namespace, where mknod(2) does not.
                mount(
                    Some(c"tmpfs"),
                    dir.as_c_str(),
                    Some(c"tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                    Some(c"mode=755,size=64k"),
                )
                .map_err(at(STEP_DEV))?;
                for (host, place) in nodes {
                    let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
                    let fd = open(
                        place.as_c_str(),
                        flags,
                        nix::sys::stat::Mode::from_bits_truncate(0o666),
                    )
                    .map_err(at(STEP_DEV))?;
                    close(fd).map_err(at(STEP_DEV))?;
                    mount(
                        Some(host.as_c_str()),
                        place.as_c_str(),
                        none,
                        MsFlags::MS_BIND,
                        none,
                    )
                    .map_err(at(STEP_DEV))?;
                }
            }
            t[T_ROOTFS] = mono_ns();
            if let Some(h) = &p.hardening {
                h.paths.make_readonly().map_err(at(STEP_RO_PATHS))?;
                t[T_RO_PATHS] = mono_ns();
                h.paths.mask().map_err(at(STEP_MASK))?;
                t[T_MASK] = mono_ns();
            }
            chdir(p.root.as_c_str()).map_err(at(6))?;
            // pivot_root(".", "."): the new root goes to /, the old root is
            // stacked on top of it at the same place; detaching "." then
            // drops the old root from this namespace entirely (pivot_root(2),
            // NOTES). Unlike chroot, nothing of the host's tree stays
            // reachable, not even by a root process.
            pivot_root(c".", c".").map_err(at(7))?;
            umount2(c".", MntFlags::MNT_DETACH).map_err(at(8))?;
            chdir(c"/").map_err(at(6))?;
            if let Some(h) = &p.hostname {
                sethostname(std::ffi::OsStr::from_bytes(h)).map_err(at(10))?;
            }
            t[T_PIVOT] = mono_ns();
            if let Some(h) = &p.hardening {
                harden(p, h, &mut t)?;
            }
        }
        Profile::Chroot | Profile::ChrootCgroup => {
            chdir(p.root.as_c_str()).map_err(at(6))?;
            chroot(c".").map_err(at(9))?;
            chdir(c"/").map_err(at(6))?;
        }
    }
    if t[T_ROOTFS] == 0 {
        t[T_ROOTFS] = mono_ns();
    }
    let rec = Record {
        kind: Record::PROGRESS,
        step: 0,
        errno: 0,
        times: t,
    };
    write(report, &rec.encode()).map_err(at(11))?;
    if let Some(ctl) = p.zygote {
        // A zygote forks the program on request instead (`super::zygote`).
        super::zygote::serve(ctl, report, &p.exe, &p.argv, &p.envp);
    }
    // ETXTBSY: another thread of the launcher forked while the binary was
    // open for writing (being copied into a rootfs); that child holds the
    // descriptor until its own exec. Usually microseconds, but a rootless
    // child first waits for newuidmap/newgidmap to map its ids, which under
    // load took over the 100 ms we once allowed (CI, 2026-12-06). Retry, as
    // Go's os/exec does, for up to about 2 s, backing off from 0.5 ms.
    let mut pause = Duration::from_micros(500);
    let mut waited = Duration::ZERO;
    while waited < Duration::from_secs(2) {
        // nix's execve builds its pointer arrays on the heap; ours are ready.
        // SAFETY: exe, argv and envp are NUL-terminated strings and
        // NULL-terminated arrays of them, built by Plan::new and alive (the
        // child's copy of the parent's memory) for the duration of the call.
        unsafe { libc::execve(p.exe.as_ptr(), p.argv.as_ptr(), p.envp.as_ptr()) };
        if Errno::last() != Errno::ETXTBSY {
            break;
        }
        // std's sleep is a nanosleep(2) loop: async-signal-safe.
        std::thread::sleep(pause);
        waited += pause;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Err((STEP_EXEC, Errno::last()))
}

/// The security defaults after pivot_root (`super::security`), each
/// timestamped: the root read-only, no_new_privs, capabilities, seccomp.
fn harden(p: &Plan, h: &Hardening, t: &mut [i64; 9]) -> std::result::Result<(), (u32, Errno)> {
    let none = None::<&CStr>;
    // Like runc's `readonlyfs`: only the root mount itself; /proc and the
    // others keep their own flags.
    mount(none, c"/", none, p.ro_flags, none).map_err(|e| (4, e))?;
    t[T_ROOT_RO] = mono_ns();
    security::no_new_privs().map_err(|e| (STEP_NNP, e))?;
    t[T_NNP] = mono_ns();
    security::caps::drop_to(h.keep_caps).map_err(|e| (STEP_CAPS, e))?;
    t[T_CAPS] = mono_ns();
    security::seccomp::install(h.filters).map_err(|e| (STEP_SECCOMP, e))?;
    t[T_SECCOMP] = mono_ns();
    Ok(())
}
