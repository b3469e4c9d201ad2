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
//! **Where it runs.** On hardware KVM (VMX/SVM) and in the project's rig
//! (`rig/`). On a PVM host (`kvm_pvm`) a stock kernel cannot boot (its
//! kernel-mode code is emulated and dies), so the environment is not
//! attempted there unless forced ([`VmLinux::new`]'s `force`), and then with
//! a short timeout.

use super::{Environment, Instance, Launch, MemPart};
use crate::kernel::GuestKernel;
use anyhow::{bail, Context};
use bench_vm::linux::{Config, Initramfs, KernelImage, LinuxVm};
use std::path::Path;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

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

/// Builds `vm-linux` for `vmvc run`: not attempted on a PVM host unless
/// forced (and then no kernel is fetched for nothing); otherwise the guest
/// kernel is located, or fetched once, saying so. When no kernel can be had,
/// the environment is skipped with the reason, or fails if it was named.
pub fn from_context(cx: &super::Context, explicit: bool) -> anyhow::Result<Box<dyn Environment>> {
    let unavailable = |why: String| -> Box<dyn Environment> {
        Box::new(super::Unavailable {
            name: "vm-linux".into(),
            description: "A KVM virtual machine booting a real Linux kernel with the workload as \
                          /init in an initramfs; vmvc itself is the VMM."
                .into(),
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
    Ok(Box::new(VmLinux::new(&kernel, cx.exe.path(), cx.force)?))
}

pub struct VmLinux {
    /// The kernel file booted (the cached vmlinux, or the bzImage).
    kernel_path: std::path::PathBuf,
    /// Its bytes, read on the first launch and kept: a 60 MiB image in the
    /// launcher's memory from the start would make every `clone()` the
    /// container rows time slower (the child's page tables are copied), as
    /// a first version of this file measured (chroot: 0.11 -> 0.79 ms).
    kernel: Option<KernelImage>,
    info: GuestKernel,
    initramfs: Vec<u8>,
    config: Config,
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
            config: Config {
                ram_bytes: RAM_BYTES,
                boot_timeout,
                ..Config::default()
            },
            blocked,
            bzimage_reason,
        })
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
        "vm-linux".into()
    }

    fn description(&self) -> String {
        format!(
            "A KVM virtual machine booting a real Linux kernel ({}) with the workload as /init in an \
             initramfs; vmvc itself is the VMM.",
            self.info.release.as_deref().unwrap_or("unknown release")
        )
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Startup phases: kvm_open, create_vm (+ in-kernel interrupt controllers and timer), \
             guest_memory, load_image (kernel, initramfs, zero page), vcpu_setup, kernel_boot (first \
             KVM_RUN until /init's first instruction says READY: the guest kernel's whole boot)."
                .into(),
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
            bail!("vm-linux is not attempted on this host: {why}");
        }
        let sec_before = bench_vm::hostmem::sec_page_tables().ok().flatten();
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
            MemPart {
                name: "guest_ram",
                description: "guest RAM the guest touched (resident pages of the MAP_NORESERVE mapping, mincore)",
                bytes: touched,
                counts_in_total: true,
            },
            MemPart {
                name: "guest_kernel",
                description: "the guest kernel's own memory as the guest sees it: RAM it keeps for itself \
                              (RAM - MemTotal) plus what was in use at boot (MemTotal - MemFree)",
                bytes: ram_bytes.saturating_sub(info.mem_free),
                counts_in_total: false,
            },
        ];
        if let Some(now) = bench_vm::hostmem::sec_page_tables().ok().flatten() {
            parts.push(MemPart {
                name: "kvm_page_tables",
                description:
                    "KVM's page tables for this guest (SecPageTables in /proc/meminfo, change \
                              since launch; other VMs starting meanwhile blur it)",
                bytes: now.saturating_sub(self.sec_before.unwrap_or(now)),
                counts_in_total: true,
            });
        }
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

    /// In the rig (rig/rig.sh sets VMVC_RIG and VMVC_KERNEL): the whole
    /// environment, as `vmvc run` uses it. Elsewhere it says why it skips.
    #[test]
    fn in_the_rig_launch_runs_every_workload_reports_memory_and_tears_down() {
        if std::env::var_os("VMVC_RIG").is_none() {
            eprintln!("SKIPPED vm-linux environment test: only in the rig (rig/rig.sh), or on hardware KVM via `vmvc run`");
            return;
        }
        let given = std::env::var_os("VMVC_KERNEL").map(std::path::PathBuf::from);
        let kernel = crate::kernel::locate(given.as_deref()).expect("the rig provides a kernel");
        let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
        let mut env = VmLinux::new(&kernel, exe.path(), false).expect("environment");
        assert!(env.not_attempted().is_none());
        for round in 0..2 {
            let mut inst = env.launch().expect("boots to READY");
            let l = inst.launch().clone();
            let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, bench_vm::linux::PHASES, "phases");
            eprintln!(
                "vm-linux launch {round}: READY after {:.1} ms: {:?}",
                l.ready.as_secs_f64() * 1e3,
                l.phases
            );
            crate::env::run_every_workload_once(inst.as_mut(), REQUEST_TIMEOUT);
            let mem = inst.memory().expect("memory");
            let get = |n: &str| mem.iter().find(|p| p.name == n).map(|p| p.bytes);
            eprintln!(
                "vm-linux memory: {:?}",
                mem.iter()
                    .map(|p| (p.name, p.bytes >> 10))
                    .collect::<Vec<_>>()
            );
            assert!(get("guest_ram").unwrap_or(0) > 0);
            let gk = get("guest_kernel").unwrap_or(0);
            assert!(
                gk > (8 << 20) && gk < RAM_BYTES,
                "guest kernel's own memory: {gk}"
            );
            let took = inst.teardown().expect("clean teardown");
            eprintln!("vm-linux teardown {:.2} ms", took.as_secs_f64() * 1e3);
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
