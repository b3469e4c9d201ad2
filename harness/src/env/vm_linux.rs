//! `vm-linux`: a KVM virtual machine that boots a real Linux kernel, whose
//! `/init` is the workload (bench-vm's `linux` module).
//!
//! This is the row that shows what the others leave out: every VM carries
//! its own kernel. Startup includes the guest kernel's whole boot (phase
//! `kernel_boot`, first `KVM_RUN` until `/init`'s first instruction says
//! READY), memory includes what the guest kernel keeps for itself (as the
//! guest reports it from `/proc/meminfo`), and `syscall` goes to the guest
//! kernel, not the host's.
//!
//! The guest kernel comes from [`crate::kernel`]; its uncompressed `vmlinux`
//! is used when it can be extracted (no decompression in the guest), else
//! the bzImage itself. The initramfs is built once per environment: the
//! freestanding workload as `/init` plus `/dev/console`.
//!
//! Two ways to run it, as for `vm-bare`:
//!
//! - **in-process** (`vm-linux`): the harness itself is the VMM.
//! - **own process** (`vm-linux:process`): one small VMM process per VM,
//!   the `vmvc` binary re-executed as `vmvc __vmm-linux FD KERNEL WORKLOAD
//!   RAM_BYTES BOOT_TIMEOUT_MS` ([`VMM_SUBCOMMAND`], [`vmm_main`]), like
//!   Firecracker. It reads the kernel and builds the initramfs itself, boots,
//!   and announces on stdout where guest RAM is, what the guest kernel
//!   reported about its memory and when each phase ended
//!   ([`bench_vm::process`]), so the VMM's own memory can be measured apart
//!   from guest RAM and from the harness.
//!
//! **Where it runs.** On hardware KVM (VMX/SVM) and in the project's rig
//! (`rig/`). On a PVM host (`kvm_pvm`) a stock kernel cannot boot (its
//! kernel-mode code is emulated and dies), so the environment is not
//! attempted there unless forced ([`VmLinux::new`]'s `force`), and then with
//! a short timeout.

use super::kvm_mem;
use super::vmm_process::{self, VmmProcess};
use super::{Environment, Instance};
use crate::kernel::GuestKernel;
use crate::measure::{Launch, MemPart};
use anyhow::{bail, Context};
use bench_vm::linux::{Config, GuestMemInfo, Initramfs, KernelImage, LinuxVm};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

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
pub const PROCESS_PHASES: [&str; 9] = [
    "spawn_vmm",
    "vmm_load",
    "kvm_open",
    "create_vm",
    "guest_memory",
    "load_image",
    "vcpu_setup",
    "kernel_boot",
    "vmm_ready",
];

/// Guest RAM: the kernel (~60 MiB with its page structures), the initramfs,
/// and the largest buffer the plans use (64 MiB), with room to spare.
/// Untouched RAM costs nothing (MAP_NORESERVE).
pub const RAM_BYTES: u64 = 384 << 20;
/// Boot to READY, on hardware KVM (a boot takes well under a second there;
/// minutes would mean it hangs). The rig is slower: see [`RIG_BOOT_TIMEOUT`].
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// Under the rig's emulation a boot takes 5-10 s.
pub const RIG_BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// With `--force` on PVM: enough to see it fail, not to wait forever.
pub const FORCED_PVM_TIMEOUT: Duration = Duration::from_secs(20);
/// Teardown and other requests outside the plans.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a Linux guest is not attempted on this host, in plain words; None
/// when it can run.
pub fn not_supported_here() -> Option<String> {
    // /sys/module/<name> exists for a loaded module and for a built-in one
    // with parameters (kvm_pvm is built into this project's host kernels).
    let pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    if pvm && std::env::var_os("VMVC_RIG").is_none() {
        return Some(
            "this host's /dev/kvm is PVM, a software hypervisor: a stock Linux kernel's own (CPL0) code \
             is emulated instruction by instruction and dies on instructions the emulator lacks, and its \
             programs cannot make system calls. vm-linux needs hardware virtualization (Intel VT-x or \
             AMD-V); measure it on such a host or in the project's rig (rig/rig.sh). --force tries anyway."
                .into(),
        );
    }
    None
}

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
    let kernel = match std::fs::read(&a.kernel)
        .with_context(|| format!("reading the guest kernel {}", a.kernel.display()))
        .and_then(|b| {
            KernelImage::from_bytes(b)
                .with_context(|| format!("the guest kernel {}", a.kernel.display()))
        }) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let init = match std::fs::read(&a.workload)
        .with_context(|| format!("reading the workload {}", a.workload.display()))
    {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let initramfs = Initramfs::for_init(&init).to_cpio();
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

pub use super::vmm_process::Mode;

fn env_name(own_process: bool) -> &'static str {
    if own_process {
        "vm-linux:process"
    } else {
        "vm-linux"
    }
}

fn env_description(own_process: bool, release: &str) -> String {
    let vmm = if own_process {
        "with one small VMM process per VM (vmvc re-executed as a VMM), as Firecracker runs one \
         per microVM"
    } else {
        "vmvc itself is the VMM"
    };
    format!(
        "A KVM virtual machine booting a real Linux kernel ({release}) with the workload as /init \
         in an initramfs; {vmm}."
    )
}

/// Builds `vm-linux` (or, `own_process`, `vm-linux:process`) for `vmvc run`:
/// not attempted on a PVM host unless forced (and then no kernel is fetched
/// for nothing); otherwise the guest kernel is located, or fetched once,
/// saying so. When no kernel can be had, the environment is skipped with the
/// reason, or fails if it was named.
pub fn from_context(
    cx: &super::Context,
    explicit: bool,
    own_process: bool,
) -> anyhow::Result<Box<dyn Environment>> {
    let unavailable = |why: String| -> Box<dyn Environment> {
        Box::new(super::Unavailable {
            name: env_name(own_process).into(),
            description: env_description(own_process, "any release"),
            why,
        })
    };
    if !std::path::Path::new("/dev/kvm").exists() {
        return Ok(unavailable(
            "no /dev/kvm on this host: vm-linux needs KVM with hardware virtualization (VT-x or AMD-V)"
                .into(),
        ));
    }
    if let Some(why) = not_supported_here().filter(|_| !cx.force) {
        return Ok(unavailable(why));
    }
    let mut say = |m: &str| (cx.say)(m);
    let kernel = match crate::kernel::locate_or_fetch(cx.kernel.as_deref(), &mut say) {
        Ok(k) => k,
        Err(e) if !explicit => return Ok(unavailable(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if kernel.vmlinux_cached().is_none() {
        (cx.say)(&format!(
            "extracting vmlinux from {} (once; it is cached)",
            kernel.bzimage.display()
        ));
    }
    let mut env = VmLinux::new(&kernel, cx.exe.path(), cx.force)?;
    if own_process {
        let exe = vmm_process::vmvc_exe(cx.vmvc_exe.as_deref(), "vm-linux:process")?;
        env.set_mode(Mode::OwnProcess { exe });
    }
    Ok(Box::new(env))
}

pub struct VmLinux {
    /// The kernel file booted (the cached vmlinux, or the bzImage).
    kernel_path: PathBuf,
    /// Its bytes, read on the first launch and kept: a 60 MiB image in the
    /// launcher's memory from the start would make every `clone()` the
    /// container rows time slower (the child's page tables are copied), as
    /// a first version of this file measured (chroot: 0.11 -> 0.79 ms).
    kernel: Option<KernelImage>,
    info: GuestKernel,
    initramfs: Vec<u8>,
    /// The workload, for the VMM process to build its own initramfs.
    workload_path: PathBuf,
    config: Config,
    mode: Mode,
    /// Set when this host cannot run it and we were not forced.
    blocked: Option<String>,
    /// Why the bzImage is booted rather than an extracted vmlinux.
    bzimage_reason: Option<String>,
}

impl VmLinux {
    /// `kernel`: the guest kernel ([`crate::kernel::locate_or_fetch`]);
    /// `workload_exe`: the freestanding workload, which becomes `/init`;
    /// `force`: try even where [`not_supported_here`] says no.
    pub fn new(kernel: &GuestKernel, workload_exe: &Path, force: bool) -> anyhow::Result<VmLinux> {
        let reason = not_supported_here();
        let blocked = if force { None } else { reason.clone() };
        let (path, bzimage_reason) = match kernel.vmlinux() {
            Ok(p) => (p, None),
            Err(e) => (kernel.bzimage.clone(), Some(e.to_string())),
        };
        let init = std::fs::read(workload_exe)
            .with_context(|| format!("reading the workload {}", workload_exe.display()))?;
        let boot_timeout = if reason.is_some() {
            FORCED_PVM_TIMEOUT
        } else if std::env::var_os("VMVC_RIG").is_some() {
            RIG_BOOT_TIMEOUT
        } else {
            BOOT_TIMEOUT
        };
        Ok(VmLinux {
            kernel_path: path,
            kernel: None,
            info: kernel.clone(),
            initramfs: Initramfs::for_init(&init).to_cpio(),
            workload_path: workload_exe.to_owned(),
            config: Config {
                ram_bytes: RAM_BYTES,
                boot_timeout,
                ..Config::default()
            },
            mode: Mode::InProcess,
            blocked,
            bzimage_reason,
        })
    }

    /// Chooses how VMs are run (default: in-process).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    fn own_process(&self) -> bool {
        matches!(self.mode, Mode::OwnProcess { .. })
    }

    /// Why this environment will not launch here (None: it will try).
    pub fn not_attempted(&self) -> Option<&str> {
        self.blocked.as_deref()
    }

    /// The kernel command line used.
    pub fn cmdline(&self) -> &str {
        &self.config.cmdline
    }

    /// The guest kernel.
    pub fn kernel(&self) -> &GuestKernel {
        &self.info
    }
}

impl Environment for VmLinux {
    fn name(&self) -> String {
        env_name(self.own_process()).into()
    }

    fn description(&self) -> String {
        env_description(
            self.own_process(),
            self.info.release.as_deref().unwrap_or("unknown release"),
        )
    }

    fn notes(&self) -> Vec<String> {
        let phases = "kvm_open, create_vm (+ in-kernel interrupt controllers and timer), guest_memory, \
                      load_image (kernel, initramfs, zero page), vcpu_setup, kernel_boot (first KVM_RUN \
                      until /init's first instruction says READY: the guest kernel's whole boot)";
        let mut notes = vec![
            if self.own_process() {
                format!(
                    "Startup phases: spawn_vmm (fork + exec of the VMM process), vmm_load (the VMM \
                     starts, reads the kernel image and builds the initramfs), then the VMM's own: \
                     {phases}; vmm_ready (the guest's memory report, the VMM's announcement, READY \
                     through the socket). The VMM's phases are placed on the launcher's clock \
                     (CLOCK_MONOTONIC)."
                )
            } else {
                format!("Startup phases: {phases}.")
            },
            format!(
                "Guest kernel: {} booted as {} ({}), command line `{}`, {} MiB of guest RAM.",
                self.info.version.as_deref().unwrap_or("unknown version"),
                if self.bzimage_reason.is_some() {
                    "bzImage"
                } else {
                    "vmlinux (ELF)"
                },
                self.info.origin,
                self.config.cmdline,
                self.config.ram_bytes >> 20
            ),
            "Memory: guest RAM counts only pages the guest touched; guest_kernel is the guest's own \
             view (RAM minus MemFree at boot), already inside guest_ram: each VM carries its own kernel."
                .into(),
        ];
        if let Some(why) = &self.bzimage_reason {
            notes.push(format!(
                "The bzImage is booted (the guest decompresses itself, slower) because no vmlinux could be extracted: {why}"
            ));
        }
        if let Some(why) = not_supported_here() {
            notes.push(format!("Forced on an unsupported host: {why}"));
        }
        if self.own_process() {
            notes.push(
                "Memory: vmm is the VMM process's own memory (every mapping but guest RAM, PSS), \
                 page_tables its page tables; the guest's view comes from the VMM's announcement."
                    .into(),
            );
        } else {
            notes.push(
                "In-process: the VMM's own memory is the harness's and is not split out; see \
                 vm-linux:process for it."
                    .into(),
            );
        }
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some(
                "`syscall` into the guest's own Linux kernel (getppid): no host kernel involved on \
                 hardware KVM"
                    .into(),
            ),
            Workload::Boundary => Some(
                "one VM exit: /init's `in` on an I/O port (allowed by iopl) -> KVM -> the VMM's KVM_RUN \
                 returns -> answer -> KVM_RUN again"
                    .into(),
            ),
            _ => None,
        }
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        self.blocked.clone()
    }

    fn guest_kernel(&self) -> Option<reports::GuestKernel> {
        Some(self.info.to_schema(&self.config.cmdline))
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        if let Some(why) = &self.blocked {
            bail!("{} is not attempted on this host: {why}", self.name());
        }
        let sec_before = kvm_mem::sec_page_tables();
        if let Mode::OwnProcess { exe } = &self.mode {
            return self.launch_process(exe, sec_before);
        }
        if self.kernel.is_none() {
            let path = &self.kernel_path;
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the guest kernel {}", path.display()))?;
            let image = KernelImage::from_bytes(bytes)
                .with_context(|| format!("the guest kernel {}", path.display()))?;
            self.kernel = Some(image);
        }
        let kernel = self.kernel.as_ref().context("the guest kernel")?;
        let vm = LinuxVm::launch(kernel, &self.initramfs, &self.config)
            .context("launching the Linux VM")?;
        let p = vm.phases();
        let launch = Launch::from_marks(p.t0, &p.marks);
        Ok(Box::new(LinuxInstance {
            vm: Some(vm),
            launch,
            sec_before,
            ram_bytes: self.config.ram_bytes,
        }))
    }
}

impl VmLinux {
    /// `vm-linux:process`: the VMM in a process of its own.
    fn launch_process(
        &self,
        exe: &Path,
        sec_before: Option<u64>,
    ) -> anyhow::Result<Box<dyn Instance>> {
        let args = VmmArgs {
            fd: -1, // not in to_args(): VmmProcess::start puts the socket's first
            kernel: self.kernel_path.clone(),
            workload: self.workload_path.clone(),
            ram_bytes: self.config.ram_bytes,
            boot_timeout: self.config.boot_timeout,
        };
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
        vmm.add_part(guest_kernel_part(self.config.ram_bytes, info));
        vmm.set_teardown_timeout(REQUEST_TIMEOUT);
        Ok(Box::new(vmm))
    }
}

/// The guest kernel's own memory as the guest reports it (info only: it is
/// inside guest RAM).
fn guest_kernel_part(ram_bytes: u64, info: GuestMemInfo) -> MemPart {
    MemPart {
        name: "guest_kernel",
        description: "the guest kernel's own memory as the guest sees it: RAM it keeps for itself \
                      (RAM - MemTotal) plus what was in use at boot (MemTotal - MemFree)",
        bytes: ram_bytes.saturating_sub(info.mem_free),
        counts_in_total: false,
    }
}

/// A running Linux guest, driven by the harness process.
pub struct LinuxInstance {
    vm: Option<LinuxVm>,
    launch: Launch,
    sec_before: Option<u64>,
    ram_bytes: u64,
}

impl LinuxInstance {
    fn vm(&mut self) -> anyhow::Result<&mut LinuxVm> {
        self.vm.as_mut().context("the VM was already torn down")
    }
}

impl Instance for LinuxInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        Ok(self.vm()?.request(cmd, timeout)?)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let ram_bytes = self.ram_bytes;
        let vm = self.vm()?;
        let touched = vm.ram()?.resident_bytes()?;
        let info = vm.mem_info();
        let mut parts = vec![
            kvm_mem::guest_ram_resident(touched),
            guest_kernel_part(ram_bytes, info),
        ];
        parts.extend(kvm_mem::kvm_page_tables(self.sec_before));
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let mut vm = self.vm.take().context("the VM was already torn down")?;
        let code = vm.shutdown(REQUEST_TIMEOUT);
        drop(vm); // closes the vCPU and VM fds, unmaps guest RAM
        let took = start.elapsed();
        match code? {
            0 => Ok(took),
            c => bail!("the guest's /init exited with code {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment as the rig's tests use it (rig/rig.sh sets VMVC_RIG
    /// and VMVC_KERNEL); elsewhere `None`, having said why the test skips.
    fn rig_env(what: &str) -> Option<VmLinux> {
        if std::env::var_os("VMVC_RIG").is_none() {
            eprintln!("SKIPPED {what} environment test: only in the rig (rig/rig.sh), or on hardware KVM via `vmvc run`");
            return None;
        }
        let given = std::env::var_os("VMVC_KERNEL").map(std::path::PathBuf::from);
        let kernel = crate::kernel::locate(given.as_deref()).expect("the rig provides a kernel");
        let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
        Some(VmLinux::new(&kernel, exe.path(), false).expect("environment"))
    }

    /// One launch of `env` as both rig tests check it: READY with `phases`,
    /// every workload, memory, and the guest kernel's own memory in range.
    fn one_round(
        env: &mut VmLinux,
        round: usize,
        phases: &[&str],
    ) -> (Box<dyn Instance>, Launch, Vec<MemPart>) {
        let what = env.name();
        let mut inst = env.launch().expect("boots to READY");
        let l = inst.launch().clone();
        let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, phases, "phases");
        eprintln!(
            "{what} launch {round}: READY after {:.1} ms: {:?}",
            l.ready.as_secs_f64() * 1e3,
            l.phases
        );
        crate::env::run_every_workload_once(inst.as_mut(), REQUEST_TIMEOUT);
        let mem = inst.memory().expect("memory");
        eprintln!(
            "{what} memory (KiB): {:?}",
            mem.iter()
                .map(|p| (p.name, p.bytes >> 10))
                .collect::<Vec<_>>()
        );
        let gk = part(&mem, "guest_kernel").unwrap_or(0);
        assert!(
            gk > (8 << 20) && gk < RAM_BYTES,
            "guest kernel's own memory: {gk}"
        );
        (inst, l, mem)
    }

    fn part(mem: &[MemPart], name: &str) -> Option<u64> {
        mem.iter().find(|p| p.name == name).map(|p| p.bytes)
    }

    fn tear_down(inst: Box<dyn Instance>, what: &str) {
        let took = inst.teardown().expect("clean teardown");
        eprintln!("{what} teardown {:.2} ms", took.as_secs_f64() * 1e3);
    }

    /// In the rig (rig/rig.sh sets VMVC_RIG and VMVC_KERNEL): the whole
    /// environment, as `vmvc run` uses it. Elsewhere it says why it skips.
    #[test]
    fn in_the_rig_launch_runs_every_workload_reports_memory_and_tears_down() {
        let Some(mut env) = rig_env("vm-linux") else {
            return;
        };
        assert!(env.not_attempted().is_none());
        for round in 0..2 {
            let (inst, _, mem) = one_round(&mut env, round, &bench_vm::linux::PHASES);
            assert!(part(&mem, "guest_ram").unwrap_or(0) > 0);
            tear_down(inst, "vm-linux");
        }
    }

    /// In the rig: `vm-linux:process`, the VMM in its own process (the
    /// `vmvc` binary cargo built), twice: READY with every phase, every
    /// workload, memory split with the VMM's own part, clean teardown, no
    /// VMM process left behind.
    #[test]
    fn in_the_rig_vm_linux_process_mode_runs_every_workload_splits_memory_and_reaps_its_vmm() {
        let Some(mut env) = rig_env("vm-linux:process") else {
            return;
        };
        // The vmvc cargo built beside this test binary (target/release/deps/..).
        let vmvc = std::env::current_exe()
            .ok()
            .and_then(|t| Some(t.parent()?.parent()?.join("vmvc")))
            .filter(|p| p.exists())
            .expect("target/release/vmvc beside the test binary (cargo test builds it)");
        env.set_mode(Mode::OwnProcess { exe: vmvc });
        assert_eq!(env.name(), "vm-linux:process");
        assert!(env.not_attempted().is_none());
        for round in 0..2 {
            let (inst, l, mem) = one_round(&mut env, round, &PROCESS_PHASES);
            let sum: Duration = l.phases.iter().map(|(_, d)| *d).sum();
            assert_eq!(sum, l.ready, "the phases add up to READY");
            let boot = l.phases[7].1;
            assert!(boot > Duration::from_millis(100), "kernel_boot {boot:?}");
            let get = |n: &str| part(&mem, n);
            let guest_ram = get("guest_ram").unwrap_or(0);
            let vmm = get("vmm").unwrap_or(0);
            assert!(guest_ram > (8 << 20), "guest RAM touched: {guest_ram}");
            assert!(
                vmm > 0 && vmm < guest_ram / 4,
                "the VMM's own memory {vmm} vs guest RAM {guest_ram}"
            );
            assert!(get("page_tables").unwrap_or(0) > 0);
            assert!(get("kvm_page_tables").is_some(), "SecPageTables in the rig");
            tear_down(inst, "vm-linux:process");
            assert_eq!(vmm_children(), Vec::<u32>::new(), "no VMM process left");
        }
    }

    /// This process's children that are VMM processes.
    fn vmm_children() -> Vec<u32> {
        crate::procfs::children(std::process::id())
            .into_iter()
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(VMM_SUBCOMMAND)
            })
            .collect()
    }

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn vmm_arguments_round_trip() {
        let a = VmmArgs {
            fd: 7,
            kernel: "/cache/vmlinux".into(),
            workload: "/w/vmvc-workload".into(),
            ram_bytes: RAM_BYTES,
            boot_timeout: Duration::from_millis(30_000),
        };
        let mut args = vec!["7".to_string()];
        args.extend(a.to_args());
        assert_eq!(VmmArgs::parse(&args), Ok(a));
    }

    #[test]
    fn bad_vmm_arguments_are_a_usage_error() {
        let good = ["7", "/k", "/w", "402653184", "30000"];
        assert!(VmmArgs::parse(&strings(&good)).is_ok());
        for bad in [
            &[][..],
            &good[..4],
            &["7", "/k", "/w", "402653184", "30000", "extra"][..],
            &["2", "/k", "/w", "402653184", "30000"][..],
            &["x", "/k", "/w", "402653184", "30000"][..],
            &["7", "/k", "/w", "384M", "30000"][..],
            &["7", "/k", "/w", "402653184", "-1"][..],
        ] {
            let e = VmmArgs::parse(&strings(bad));
            assert!(e.is_err(), "{bad:?} -> {e:?}");
            // Refused before the FD is taken or anything is read.
            assert_eq!(vmm_main(strings(bad).into_iter()), 2, "{bad:?}");
        }
    }

    /// On a PVM host, vm-linux:process is skipped exactly like vm-linux.
    #[test]
    fn the_process_mode_is_skipped_where_vm_linux_is() {
        let Some(why) = not_supported_here() else {
            return;
        };
        let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
        let say = |_: &str| {};
        let cx = crate::env::Context {
            exe: &exe,
            kernel: None,
            force: false,
            say: &say,
            vmvc_exe: None,
        };
        let host = crate::host::detect();
        for (name, process) in [("vm-linux", false), ("vm-linux:process", true)] {
            let env = from_context(&cx, true, process).expect("an unavailable environment");
            assert_eq!(env.name(), name);
            assert_eq!(
                env.unavailable(&host).as_deref(),
                Some(why.as_str()),
                "{name}"
            );
        }
    }

    #[test]
    fn pvm_reason_is_plain_words() {
        if let Some(why) = not_supported_here() {
            assert!(why.contains("PVM") && why.contains("--force"), "{why}");
        }
    }

    /// On a PVM host, `vmvc run` must not even try vm-linux unless forced.
    #[test]
    fn a_pvm_host_is_recognised_as_one() {
        let pvm = crate::host::detect().virtualization == reports::Virtualization::Pvm;
        if std::env::var_os("VMVC_RIG").is_none() {
            assert_eq!(pvm, not_supported_here().is_some());
        }
    }
}
