//! A booted Linux guest saved at READY, restored into fresh VMs.
//!
//! Seconds to boot, milliseconds to restore: this is how Firecracker starts
//! microVMs (its `docs/snapshotting/snapshot-support.md`).
//!
//! The bare guest's snapshot (`crate::snapshot`) is its memory and its
//! registers. A Linux guest also has everything its kernel set up in the
//! machine: the local APIC and its timer, the PIC and IOAPIC routing, the
//! PIT, kvm-clock, the MSRs, and the UART's registers, which live in our
//! VMM (`vm-superio`'s `SerialState`). [`LinuxSnapshot::take`] saves all
//! of it (`super::state`), and all guest RAM the guest touched into a sparse
//! file (`crate::snapshot::save_touched`: untouched pages stay holes).
//!
//! It is taken once [`LinuxVm::launch`] returned: `/init` said READY and
//! reported its memory, and has not had a command. Its last `out` is
//! finished first (`crate::vcpu_state::complete_pending_io`), so the saved
//! registers are past it. The original guest goes on and can be used or
//! shut down.
//!
//! [`LinuxSnapshot::restore`] builds a fresh VM from it, timed in
//! `crate::snapshot::RESTORE_PHASES`, the same steps as a bare restore:
//!
//! | phase | what happens |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")` |
//! | `create_vm` | `KVM_CREATE_VM`, the in-kernel irqchip and PIT, the UART's irqfd (as a cold boot) |
//! | `map_snapshot` | guest RAM reserved, the memory file mapped over all of it `MAP_PRIVATE` (copy on write), memory slot |
//! | `vcpu_restore` | `KVM_CREATE_VCPU`, CPUID, the vCPU's state, then the irqchip, PIT and clock, and the UART from its saved registers |
//! | `resume` | first `KVM_RUN` until `/init` reads its first command byte |
//!
//! READY of a restored guest is that read, for the reason the bare one's
//! is (`crate::snapshot`): it said READY before it was saved, and asking for
//! a command is what it does next; to get there the guest kernel takes
//! interrupts, schedules and returns to `/init` on restored state. The read
//! stays unanswered until the first command, whose first byte is then
//! given to it (`LinuxVm::request`, `crate::vcpu_state::supply_pending_in`).
//!
//! Every restored VM maps the same file: pages it only reads stay shared
//! page cache, a page it writes becomes its own.

use super::devices::{self, IrqLine, SharedConsole};
use super::error::LinuxError;
use super::layout::Layout;
use super::ports::LinuxPorts;
use super::state::{LinuxVcpuState, VmState};
use super::vm::{GuestMemInfo, LinuxVm};
use crate::error::{Error, GuestFault};
use crate::phases::Phases;
use crate::snapshot::{map_file_over, save_touched};
use crate::snapshot_dir::SnapshotDir;
use crate::vcpu::{Flow, PortIo, Vcpu};
use crate::vcpu_state::complete_pending_io;
use crate::vm::{Kvm, Vm};
use std::fs::File;
use std::time::Duration;
use vm_superio::serial::{NoEvents, SerialState};
use workload::bare::PORT_PROTOCOL;

pub use crate::snapshot::RESTORE_PHASES;

/// A Linux guest saved at READY (module docs).
pub struct LinuxSnapshot {
    vcpu: LinuxVcpuState,
    vm: VmState,
    serial: SerialState,
    layout: Layout,
    mem_info: GuestMemInfo,
    ram_bytes: u64,
    /// Bytes of guest memory the file holds (the touched pages).
    saved_bytes: u64,
    file: File,
    // Last: the directory (and the file in it) goes when the snapshot does.
    dir: SnapshotDir,
}

fn vm_err(error: Error) -> LinuxError {
    LinuxError::Vm {
        error,
        console: String::new(),
    }
}

impl LinuxSnapshot {
    /// Saves `vm`, which must be READY ([`LinuxVm::launch`] returned) and
    /// not yet given a command.
    pub fn take(vm: &mut LinuxVm) -> Result<LinuxSnapshot, LinuxError> {
        let refuse = |reason: &str| {
            vm_err(Error::Snapshot {
                step: "checking the guest",
                reason: reason.into(),
            })
        };
        if vm.dead.is_some() {
            return Err(refuse("the guest is not running"));
        }
        if vm.read_pending {
            return Err(refuse(
                "a restored guest waiting for its first command is snapshotted through its own \
                 snapshot, not again",
            ));
        }
        complete_pending_io(&mut vm.vcpu).map_err(vm_err)?;
        let vcpu = LinuxVcpuState::save(&vm.kvm, &vm.vcpu).map_err(vm_err)?;
        let vm_state = VmState::save(&vm.vm).map_err(vm_err)?;
        let ram = vm.vm.ram().map_err(vm_err)?;
        let (dir, file, saved) = save_touched(ram.host_addr(), ram.size()).map_err(vm_err)?;
        Ok(LinuxSnapshot {
            vcpu,
            vm: vm_state,
            serial: vm.ports.uart.state(),
            layout: vm.layout.clone(),
            mem_info: vm.mem_info,
            ram_bytes: ram.size(),
            saved_bytes: saved,
            file,
            dir,
        })
    }

    /// Guest memory the snapshot holds, bytes (the touched pages).
    pub fn saved_bytes(&self) -> u64 {
        self.saved_bytes
    }

    /// Guest RAM of the VMs it restores, bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// Where the memory file is.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// How many MSRs it holds (what `KVM_GET_MSR_INDEX_LIST` lists and KVM
    /// let us read).
    pub fn msr_count(&self) -> usize {
        self.vcpu.msr_count()
    }

    /// kvm-clock's time when it was taken, ns.
    pub fn clock_ns(&self) -> u64 {
        self.vm.clock_ns()
    }

    /// A fresh VM running the saved guest, READY (waiting for its first
    /// command), timed in [`RESTORE_PHASES`]; `timeout` bounds `resume`.
    pub fn restore(&self, timeout: Duration) -> Result<LinuxVm, LinuxError> {
        let mut phases = Phases::start();
        let kvm = Kvm::open().map_err(vm_err)?;
        phases.end("kvm_open");

        let mut vm = Vm::create(&kvm).map_err(vm_err)?;
        let irq = devices::create_in_kernel(&vm).map_err(vm_err)?;
        phases.end("create_vm");

        // Slot first, file second: see `crate::snapshot::Snapshot::restore`.
        let host = vm.map_ram(self.ram_bytes).map_err(vm_err)?.host_addr();
        vm.plug(0, 0, self.ram_bytes).map_err(vm_err)?;
        map_file_over(host, &self.file, self.ram_bytes).map_err(vm_err)?;
        phases.end("map_snapshot");

        let vcpu = Vcpu::create(&kvm, &vm, 0).map_err(vm_err)?;
        let cpuid = super::cpu::guest_cpuid(kvm.supported_cpuid().map_err(vm_err)?);
        vcpu.inner()
            .set_cpuid2(&cpuid)
            .map_err(Error::kvm("KVM_SET_CPUID2 (with the hypervisor bit)"))
            .map_err(vm_err)?;
        self.vcpu.restore(&vcpu).map_err(vm_err)?;
        // After the vCPU: KVM_SET_CLOCK then updates kvm-clock for it.
        self.vm.restore(&vm).map_err(vm_err)?;
        let console = SharedConsole::new(None);
        let uart =
            vm_superio::Serial::from_state(&self.serial, IrqLine(irq), NoEvents, console.clone())
                .map_err(|e| {
                vm_err(Error::Snapshot {
                    step: "restoring the UART (vm-superio)",
                    reason: format!("{e:?}"),
                })
            })?;
        phases.end("vcpu_restore");

        let mut guest = LinuxVm {
            vcpu,
            vm,
            kvm,
            ports: LinuxPorts::new(uart),
            console,
            phases,
            layout: self.layout.clone(),
            mem_info: self.mem_info,
            dead: None,
            read_pending: false,
        };
        resume(&mut guest, timeout)?;
        Ok(guest)
    }
}

/// The `resume` phase: runs the restored guest, its devices served as
/// usual, until its first read of a command byte, left unanswered.
fn resume(guest: &mut LinuxVm, timeout: Duration) -> Result<(), LinuxError> {
    let mut until = UntilFirstRead {
        ports: &mut guest.ports,
        reached: false,
    };
    let r = guest.vcpu.run(&mut until, Some(timeout));
    let reached = until.reached;
    let why = match r {
        Err(error) => Some(error.to_string()),
        Ok(()) if reached => None,
        Ok(()) if guest.ports.i8042.reset_requested => Some("it reset itself (i8042)".into()),
        Ok(()) => Some(match guest.ports.protocol.take_message() {
            Ok(m) => format!("it sent {m:?} before asking for a command"),
            Err(code) => format!("it exited with code {code}"),
        }),
    };
    if let Some(why) = why {
        guest.dead = Some(why.clone());
        return Err(LinuxError::Vm {
            error: Error::Snapshot {
                step: "resuming the restored guest",
                reason: why,
            },
            console: guest.console_tail(),
        });
    }
    guest.read_pending = true;
    guest.phases.end("resume");
    Ok(())
}

/// The guest's ports, except that its first read of the protocol port
/// pauses the loop unanswered.
struct UntilFirstRead<'a> {
    ports: &'a mut LinuxPorts,
    reached: bool,
}

impl PortIo for UntilFirstRead<'_> {
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault> {
        self.ports.write(port, data)
    }

    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault> {
        if port == PORT_PROTOCOL && data.len() == 1 {
            self.reached = true;
            return Ok(Flow::Pause);
        }
        self.ports.read(port, data)
    }
}
