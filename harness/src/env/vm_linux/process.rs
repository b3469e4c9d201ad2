//! `vm-linux:process`: one small VMM process per Linux VM, both sides of it.
//!
//! The launcher ([`launch`]) re-runs the `vmvc` binary as
//! `vmvc __vmm-linux FD KERNEL WORKLOAD RAM_BYTES BOOT_TIMEOUT_MS`
//! ([`VMM_SUBCOMMAND`], [`VmmArgs`]) through [`VmmProcess`], as Firecracker
//! runs one process per microVM. In that process, [`vmm_main`] reads the
//! kernel, builds the initramfs itself, boots, and announces on stdout where
//! guest RAM is, what the guest kernel reported about its memory and when
//! each phase ended ([`bench_vm::process`]). So the VMM's own memory can be
//! measured apart from guest RAM and from the harness, and the VMM's phases
//! are placed on the launcher's clock (both read `CLOCK_MONOTONIC`,
//! clock_gettime(2)).

use super::guest::{self, guest_kernel_part, REQUEST_TIMEOUT};
use crate::env::vmm_process::{self, VmmProcess};
use crate::env::Instance;
use crate::measure::Launch;
use anyhow::Context;
use bench_vm::linux::{Config, Initramfs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The hidden `vmvc` subcommand that runs one Linux VM in its own process:
/// `vmvc __vmm-linux FD KERNEL WORKLOAD RAM_BYTES BOOT_TIMEOUT_MS` (FD: the
/// inherited socket; KERNEL: a vmlinux or bzImage; WORKLOAD: the
/// freestanding workload, which becomes `/init`).
pub const VMM_SUBCOMMAND: &str = "__vmm-linux";

/// The launch phases of `vm-linux:process`, as the harness records them:
/// `spawn_vmm` (until `spawn()` returns), `vmm_load` (the VMM process starts,
/// reads the kernel and builds the initramfs), the VMM's own phases
/// ([`bench_vm::linux::PHASES`]), and `vmm_ready` (the guest's memory
/// report, the announcement, READY through the socket).
pub const PROCESS_PHASES: [&str; 9] = {
    let [a, b, c, d, e, boot] = bench_vm::linux::PHASES;
    ["spawn_vmm", "vmm_load", a, b, c, d, e, boot, "vmm_ready"]
};

/// The arguments of [`VMM_SUBCOMMAND`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmmArgs {
    pub fd: i32,
    pub kernel: PathBuf,
    pub workload: PathBuf,
    pub ram_bytes: u64,
    pub boot_timeout: Duration,
}

impl VmmArgs {
    /// The arguments after the subcommand, as the harness passes them.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            self.kernel.display().to_string(),
            self.workload.display().to_string(),
            self.ram_bytes.to_string(),
            self.boot_timeout.as_millis().to_string(),
        ]
    }

    /// Parses `FD KERNEL WORKLOAD RAM_BYTES BOOT_TIMEOUT_MS`.
    pub fn parse(args: &[String]) -> Result<VmmArgs, String> {
        if args.len() != 5 {
            return Err(format!("expected 5 arguments, got {}", args.len()));
        }
        let fd = vmm_process::parse_fd(args.first())?;
        let number = |i: usize, what: &str| {
            args[i]
                .parse::<u64>()
                .map_err(|_| format!("{what} is not a number: {:?}", args[i]))
        };
        Ok(VmmArgs {
            fd,
            kernel: PathBuf::from(&args[1]),
            workload: PathBuf::from(&args[2]),
            ram_bytes: number(3, "RAM_BYTES")?,
            boot_timeout: Duration::from_millis(number(4, "BOOT_TIMEOUT_MS")?),
        })
    }
}

/// Entry point of the hidden subcommand; returns the process exit code
/// (2: bad arguments; 1: the VM failed, said on stderr; else the workload's).
/// Called by `main` before argument parsing.
pub fn vmm_main(args: impl Iterator<Item = String>) -> i32 {
    let args: Vec<String> = args.collect();
    let a = match VmmArgs::parse(&args) {
        Ok(a) => a,
        Err(why) => {
            eprintln!("vmvc {VMM_SUBCOMMAND}: {why}");
            eprintln!(
                "usage: vmvc {VMM_SUBCOMMAND} FD KERNEL WORKLOAD RAM_BYTES BOOT_TIMEOUT_MS  \
                 (internal: started by vmvc itself)"
            );
            return 2;
        }
    };
    // SAFETY: the launcher passed us this fd number of a socket it left open
    // for us; nothing else in this fresh process owns it.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(a.fd) };
    let fail = |e: anyhow::Error| {
        eprintln!("vmvc {VMM_SUBCOMMAND}: {e:#}");
        1
    };
    let kernel = match guest::read_kernel(&a.kernel) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let init = match std::fs::read(&a.workload)
        .with_context(|| format!("reading the workload {}", a.workload.display()))
    {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let initramfs = match Initramfs::for_init(&init).to_cpio() {
        Ok(b) => b,
        Err(e) => return fail(e.into()),
    };
    drop(init);
    let config = Config {
        ram_bytes: a.ram_bytes,
        boot_timeout: a.boot_timeout,
        ..Config::default()
    };
    match bench_vm::process::serve_linux(sock, kernel, initramfs, &config, &mut std::io::stdout()) {
        Ok(code) => code,
        Err(e) => fail(e.into()),
    }
}

/// `vm-linux:process`: starts `exe` as the VMM of one VM booted with
/// `args` and returns it READY. `sec_before`: `SecPageTables` read before
/// the launch.
pub(super) fn launch(
    exe: &Path,
    args: &VmmArgs,
    sec_before: Option<u64>,
) -> anyhow::Result<Box<dyn Instance>> {
    // READY follows the announcement at once; the boot itself is bounded
    // by the VMM's own boot timeout.
    let (mut vmm, s) = VmmProcess::start(
        exe,
        VMM_SUBCOMMAND,
        &args.to_args(),
        REQUEST_TIMEOUT,
        sec_before,
    )
    .context("launching the Linux VM in its own VMM process")?;
    let mut marks = vec![("spawn_vmm", s.spawned)];
    if let Some((start, phases)) = s.vmm_phases() {
        marks.push(("vmm_load", start));
        marks.extend(phases);
    }
    marks.push(("vmm_ready", s.ready));
    vmm.set_launch(Launch::from_marks(s.t0, &marks));
    let info = s
        .announcement
        .mem_info
        .context("the VMM process did not announce the guest's memory report")?;
    vmm.add_part(guest_kernel_part(args.ram_bytes, info));
    vmm.set_teardown_timeout(REQUEST_TIMEOUT);
    Ok(Box::new(vmm))
}
