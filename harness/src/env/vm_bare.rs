//! `vm-bare`: the workload on a KVM vCPU with no operating system (bench-vm).
//!
//! Two ways to run it:
//!
//! - **in-process** (`vm-bare`): the harness itself is the VMM. A launch is
//!   the KVM ioctl sequence and nothing else, so startup compares a VM with
//!   a process (fork + exec) fairly, and throughput runs at full speed.
//! - **own process** (`vm-bare:process`): one small VMM process per VM (the
//!   `vmvc` binary re-executed in a hidden mode, [`VMM_SUBCOMMAND`]), like
//!   Firecracker. Its memory can be split honestly into guest RAM and the
//!   VMM's own, and N of them make a density measurement.

use super::kvm_mem;
use super::vmm_process::{self, VmmProcess};
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use anyhow::Context;
use bench_vm::{BareVm, Config, Transport};
use std::time::Duration;
use workload::protocol::{Command, Message, Workload};

/// The hidden `vmvc` subcommand that runs one VM in its own process:
/// `vmvc __vmm-bare FD RAM_BYTES` (FD: the inherited socket).
pub const VMM_SUBCOMMAND: &str = "__vmm-bare";

/// How long a launch may take before it is called failed.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Guest RAM: 4 MiB for the image and tables plus the largest buffer the
/// plans use (64 MiB for mem_bw and random_access), with room to spare.
/// Untouched RAM costs nothing (MAP_NORESERVE), but on PVM each MiB of the
/// memory slot costs a little at launch (KVM's reverse-map arrays).
pub const RAM_BYTES: u64 = 4 * (1 << 20) + (128 << 20);

/// Entry point of the hidden subcommand; returns the process exit code.
/// Called by `main` before argument parsing.
pub fn vmm_main(args: impl Iterator<Item = String>) -> i32 {
    let args: Vec<String> = args.collect();
    let fd = match vmm_process::parse_fd(args.first()) {
        Ok(fd) => fd,
        Err(why) => {
            eprintln!("vmvc {VMM_SUBCOMMAND}: {why}");
            eprintln!(
                "usage: vmvc {VMM_SUBCOMMAND} FD [RAM_BYTES]  (internal: started by vmvc itself)"
            );
            return 2;
        }
    };
    let ram = args
        .get(1)
        .and_then(|a| a.parse::<u64>().ok())
        .unwrap_or(RAM_BYTES);
    // SAFETY: the launcher passed us this fd number of a socket it left open
    // for us; nothing else in this fresh process owns it.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let config = Config {
        ram_bytes: ram,
        ..Config::default()
    };
    match bench_vm::process::serve(sock, &config, &mut std::io::stdout()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vmvc {VMM_SUBCOMMAND}: {e}");
            1
        }
    }
}

pub use super::vmm_process::Mode;

pub struct VmBare {
    mode: Mode,
    ram_bytes: u64,
    transport: Transport,
}

impl VmBare {
    pub fn new(mode: Mode) -> VmBare {
        VmBare {
            mode,
            ram_bytes: RAM_BYTES,
            transport: Transport::Ports,
        }
    }

    /// `vm-bare:uart`: in-process, the guest talking through a 16550 UART
    /// as it does under QEMU (`peer:qemu`), so the two compare like with like.
    pub fn uart() -> VmBare {
        VmBare {
            transport: Transport::Uart,
            ..VmBare::new(Mode::InProcess)
        }
    }

    /// The VMM-per-process flavour, re-running the current executable.
    pub fn own_process(vmvc_exe: Option<&std::path::Path>) -> anyhow::Result<VmBare> {
        let exe = vmm_process::vmvc_exe(vmvc_exe, "vm-bare:process")?;
        Ok(VmBare::new(Mode::OwnProcess { exe }))
    }
}

impl Environment for VmBare {
    fn name(&self) -> String {
        match (&self.mode, self.transport) {
            (Mode::InProcess, Transport::Uart) => "vm-bare:uart".into(),
            (Mode::InProcess, Transport::Ports) => "vm-bare".into(),
            (Mode::OwnProcess { .. }, _) => "vm-bare:process".into(),
        }
    }

    fn description(&self) -> String {
        if self.transport == Transport::Uart {
            return "The same in-process bare VM, but the workload talks through an emulated 16550 \
                    UART at 0x3f8 (vm-superio), the transport it uses under QEMU (peer:qemu)."
                .into();
        }
        match self.mode {
            Mode::InProcess => "A KVM virtual machine with no operating system: the workload runs at CPL3 \
                                on the vCPU behind a ~30-instruction stub; vmvc itself is the VMM."
                .into(),
            Mode::OwnProcess { .. } => "The same bare KVM guest, with one small VMM process per VM \
                                        (vmvc re-executed as a VMM), as Firecracker runs one per microVM."
                .into(),
        }
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Startup phases: kvm_open, create_vm (KVM_CREATE_VM), guest_memory (mmap + memory slot), \
             load_image (ELF, page tables), vcpu_setup (KVM_CREATE_VCPU, CPUID, registers), \
             guest_boot (first KVM_RUN until READY arrives: a port write, or UART bytes in vm-bare:uart)."
                .into(),
            "Memory: guest RAM counts only pages the guest touched (the mapping is MAP_NORESERVE).".into(),
        ];
        if let Ok(host) = std::fs::read_to_string("/sys/module/kvm_pvm/initstate") {
            if host.trim() == "live" {
                notes.push(
                    "This host's /dev/kvm is PVM (kvm_pvm), a software hypervisor: guest CPL3 code runs \
                     natively, but guest CPL0 code is emulated instruction by instruction and every VM \
                     exit is slower than with VMX/SVM. Expect syscall and boundary to be far slower \
                     here than on hardware KVM; cpu, mem_bw and random_access are comparable."
                        .into(),
                );
            }
        }
        if matches!(self.mode, Mode::InProcess) {
            notes.push(kvm_mem::in_process_note("vm-bare:process"));
        }
        notes
    }

    fn unavailable(&self, _host: &reports::Host) -> Option<String> {
        // Opening /dev/kvm is the VM's first step; a permission error here
        // is the usual case for a normal user and deserves the fix, not a
        // failed measurement.
        let open = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm");
        match open {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Some(format!(
                "cannot open /dev/kvm: {e}; {}",
                crate::host::kvm_group_fix()
            )),
            _ => None,
        }
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        match w {
            Workload::Syscall => Some(
                "`syscall` from CPL3 into the guest's CPL0 stub, which returns with `iretq`: no host \
                 kernel involved on hardware KVM (on PVM the switch and both CPL0 instructions are \
                 emulated by the hypervisor)"
                    .into(),
            ),
            Workload::Boundary if self.transport == Transport::Uart => Some(
                "a UART round trip: PING written to the 16550 (LSR poll, THR write), PONG read \
                 back (LSR polls, RBR read): at least four VM exits into our VMM"
                    .into(),
            ),
            Workload::Boundary => Some(
                "one VM exit: the guest's `in` on an I/O port -> KVM -> the VMM's KVM_RUN returns \
                 (KVM_EXIT_IO) -> answer -> KVM_RUN again"
                    .into(),
            ),
            _ => None,
        }
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        // Read before t0: a /proc read is not part of starting a VM.
        let sec_before = kvm_mem::sec_page_tables();
        match &self.mode {
            Mode::InProcess => {
                let config = Config {
                    ram_bytes: self.ram_bytes,
                    boot_timeout: READY_TIMEOUT,
                    transport: self.transport,
                };
                let vm = BareVm::launch(&config).context("launching the bare VM")?;
                Ok(Box::new(InProcess::new(vm, sec_before, false)))
            }
            Mode::OwnProcess { exe } => {
                let (mut vmm, s) = VmmProcess::start(
                    exe,
                    VMM_SUBCOMMAND,
                    &[self.ram_bytes.to_string()],
                    READY_TIMEOUT,
                    sec_before,
                )?;
                vmm.set_launch(Launch::from_marks(
                    s.t0,
                    &[("spawn_vmm", s.spawned), ("vm_launch", s.ready)],
                ));
                Ok(Box::new(vmm))
            }
        }
    }
}

/// A VM driven by the harness process itself.
pub struct InProcess {
    vm: Option<BareVm>,
    launch: Launch,
    sec_before: Option<u64>,
    /// Restored from a snapshot: its RAM is split by [`kvm_mem::snapshot_parts`].
    restored: bool,
}

impl InProcess {
    /// A launched `vm`; `restored`: it was restored from a snapshot
    /// (`vm-bare:restored`), which changes how its memory is counted.
    pub(crate) fn new(vm: BareVm, sec_before: Option<u64>, restored: bool) -> InProcess {
        let p = vm.phases();
        InProcess {
            launch: Launch::from_marks(p.t0, &p.marks),
            vm: Some(vm),
            sec_before,
            restored,
        }
    }

    fn vm(&mut self) -> anyhow::Result<&mut BareVm> {
        self.vm.as_mut().context("the VM was already torn down")
    }
}

impl Instance for InProcess {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        Ok(self.vm()?.request(cmd, timeout)?)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        if self.restored {
            let guest = self.vm()?.ram().host_range();
            return kvm_mem::snapshot_parts(guest, self.sec_before);
        }
        let touched = self.vm()?.ram().resident_bytes()?;
        let mut parts = vec![kvm_mem::guest_ram_resident(touched)];
        parts.extend(kvm_mem::kvm_page_tables(self.sec_before));
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let vm = self.vm.take().context("the VM was already torn down")?;
        Ok(vm.teardown(READY_TIMEOUT)?)
    }
}
