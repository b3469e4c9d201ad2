//! `vmvc shell vm`: a shell inside the Linux guest of `vm-linux`, on its
//! serial console.
//!
//! The same kernel as `vm-linux`, and the same initramfs plus a static
//! busybox (`/bin/busybox` and a link per applet). `vmvc_shell=1` on the
//! kernel command line tells `/init` to start `sh` on the console instead
//! of the workload (`workload::vm_shell`). vmvc is the VMM, in this
//! process: what you type goes into the guest's COM1 and raises its IRQ 4,
//! what the guest writes there comes to your stdout
//! (`bench_vm::linux::console`). Inside, `uname -r` and
//! `cat /proc/sys/kernel/random/boot_id` answer from the guest's own
//! kernel, `ps` shows only the guest's processes, `free` its own RAM.
//!
//! On a terminal, vmvc stops echoing and line editing on its side (the
//! guest's terminal driver does both, termios(3)), but keeps Ctrl-C for
//! itself: Ctrl-C ends the VM. `exit` (or end of input) ends the shell,
//! then `/init` ends the VM. Either way the VM is gone when vmvc returns:
//! it lives in this process only (its memory, its KVM file descriptors).

use crate::env::vm_linux;
use anyhow::{bail, Context};
use bench_vm::linux::{Config, ConsoleEnd, Initramfs, KernelImage, LinuxVm, DEFAULT_CMDLINE};
use nix::sys::termios::{self, LocalFlags, SetArg, Termios};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT (Ctrl-C) while the VM runs.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// The prompt `/init` gives the shell (`workload::vm_shell`): input waits
/// for it.
const PROMPT: &str = "vm:/# ";

/// The initramfs: vm-linux's, plus busybox and its applets in `/bin`.
fn initramfs(workload: &[u8]) -> anyhow::Result<Vec<u8>> {
    let busybox = crate::inside::busybox()?;
    let bytes = std::fs::read(&busybox)
        .with_context(|| format!("reading busybox {}", busybox.display()))?;
    let mut fs = Initramfs::for_init(workload);
    fs.dir("bin", 0o755).file("bin/busybox", 0o755, bytes);
    for name in crate::inside::applets(&busybox)? {
        fs.symlink(&format!("bin/{name}"), "busybox");
    }
    Ok(fs.to_cpio()?)
}

/// Restores the terminal's settings when dropped.
struct TermGuard(Option<Termios>);

impl TermGuard {
    /// On a terminal: no echo, no line editing (the guest does both);
    /// signals (Ctrl-C) stay with us.
    fn raw_input() -> TermGuard {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(&stdin) else {
            return TermGuard(None); // not a terminal: a pipe or a file
        };
        let mut t = saved.clone();
        t.local_flags.remove(LocalFlags::ECHO | LocalFlags::ICANON);
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &t);
        TermGuard(Some(saved))
    }
}

impl Drop for TermGuard {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
    }
}

/// Reads stdin in a thread of its own, each read sent as it comes; the
/// channel closes at end of input. (The thread may stay blocked in read
/// after the VM ended; it goes with the process.)
fn stdin_reader() -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// `vmvc shell vm`; returns the shell's exit status (130 after Ctrl-C).
pub fn vm(quiet: bool) -> anyhow::Result<i32> {
    if !std::path::Path::new("/dev/kvm").exists() {
        bail!("no shell in a VM on this host: there is no /dev/kvm (KVM with VT-x or AMD-V is needed)");
    }
    if let Some(why) = vm_linux::not_supported_here() {
        bail!("no shell in a VM on this host: {why}");
    }
    let mut say = |m: &str| {
        if !quiet {
            eprintln!("vmvc: {m}");
        }
    };
    let kernel = crate::kernel::locate_or_fetch(None, &mut say)?;
    let path = kernel.vmlinux().unwrap_or_else(|_| kernel.bzimage.clone());
    let image = std::fs::read(&path)
        .with_context(|| format!("reading the guest kernel {}", path.display()))?;
    let image = KernelImage::from_bytes(image)
        .with_context(|| format!("the guest kernel {}", path.display()))?;
    let exe = crate::workload_exe::WorkloadExe::install()?;
    let workload = std::fs::read(exe.path()).context("reading the workload")?;
    let config = Config {
        ram_bytes: vm_linux::RAM_BYTES,
        cmdline: format!("{DEFAULT_CMDLINE} vmvc_shell=1"),
        // What the guest writes on its console goes to our stdout.
        console_log: Some("/proc/self/fd/1".into()),
        ..Config::default()
    };
    if !quiet {
        eprintln!(
            "vmvc: booting Linux {} in a VM ({} MiB), busybox sh on its serial console; \
             try: uname -r, cat /proc/sys/kernel/random/boot_id, ps, free, mount; \
             exit or Ctrl-C to leave",
            kernel.release.as_deref().unwrap_or("(unknown release)"),
            vm_linux::RAM_BYTES >> 20
        );
    }
    let mut guest = LinuxVm::boot(&image, &initramfs(&workload)?, &config)
        .context("booting the Linux guest")?;
    drop(image);
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_sigint),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    let old = unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGINT, &action) }
        .context("catching Ctrl-C while the VM runs")?;
    let term = TermGuard::raw_input();
    let ended = guest.run_console(&stdin_reader(), &STOP, PROMPT);
    drop(term);
    // SAFETY: puts back the action that was there before.
    let _ = unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGINT, &old) };
    drop(guest); // the vCPU, the VM, its memory: nothing of it remains
    let code = match ended.context("running the guest's console")? {
        ConsoleEnd::Exited(code) => code,
        ConsoleEnd::Reset => bail!("the guest reset itself (a reboot or a kernel panic)"),
        ConsoleEnd::Stopped => 130,
    };
    if !quiet {
        eprintln!(
            "\nvmvc: the VM is gone (its memory and KVM file descriptors were this process's)"
        );
    }
    Ok(code)
}
