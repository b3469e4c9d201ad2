//! [`LinuxVm`]: boot a Linux kernel whose `/init` is the workload.
//!
//! The life of a `vm-linux` launch, with the phases it records:
//!
//! | phase | what happens |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")` |
//! | `create_vm` | `KVM_CREATE_VM`, `KVM_SET_TSS_ADDR`, `KVM_CREATE_IRQCHIP` (PIC, IOAPIC, local APICs in the kernel), `KVM_CREATE_PIT2` (timer), an irqfd for the UART's IRQ 4 |
//! | `guest_memory` | guest RAM mapped and plugged in |
//! | `load_image` | kernel, initramfs, command line, zero page, page tables ([`super::zero_page::load`]) |
//! | `vcpu_setup` | `KVM_CREATE_VCPU`, CPUID with the hypervisor bit, MSRs, FPU, local APIC LINT0/1, 64-bit registers ([`super::cpu::setup_vcpu`]) |
//! | `kernel_boot` | first `KVM_RUN` until `/init`'s first message (READY): the whole guest kernel boot |
//!
//! After READY the workload reports what the guest kernel says about its
//! memory (`INFO` MemTotal, MemFree, MemAvailable from `/proc/meminfo`);
//! [`LinuxVm::launch`] collects them into [`GuestMemInfo`]. From then on the
//! protocol is exactly the bare guest's (`workload::bare` ports).
//!
//! How a run ends: the workload writes its exit code to `PORT_EXIT` after
//! DONE and the VMM stops the vCPU: nothing is left to clean up inside, the
//! VM is simply destroyed. A guest that reboots (`reboot=k`: the i8042 reset
//! command) or triple-faults stops the VM too; if the console shows a kernel
//! panic, the error says so. Every error carries the last lines of the
//! serial console ([`LinuxError`], `super::error`). The ports the guest
//! reaches while it runs are `super::ports`.

use super::cpu;
use super::devices::{self, IrqLine, SharedConsole};
use super::error::{LinuxError, ERROR_LINES};
use super::kernel::KernelImage;
use super::layout::Layout;
use super::ports::LinuxPorts;
use super::zero_page::{self, DEFAULT_CMDLINE};
use crate::error::{Error, GuestFault};
use crate::memory::GuestRam;
use crate::phases::{self, Phases};
use crate::vcpu::{ExitCounts, Vcpu};
use crate::vm::{Kvm, Vm};
use std::time::{Duration, Instant};
use workload::protocol::{info, Command, Message};

/// The phase names, in order (`crate::phases`).
pub const PHASES: [&str; 6] = phases::with_guest_boot("kernel_boot");

/// How to build a Linux VM.
#[derive(Debug, Clone)]
pub struct Config {
    /// Guest RAM in bytes (64 MiB .. 3 GiB, a multiple of 2 MiB).
    pub ram_bytes: u64,
    /// The kernel command line.
    pub cmdline: String,
    /// How long the kernel may take to reach `/init`'s READY.
    pub boot_timeout: Duration,
    /// A file that receives the whole serial console, if any.
    pub console_log: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ram_bytes: 256 << 20,
            cmdline: DEFAULT_CMDLINE.to_owned(),
            boot_timeout: Duration::from_secs(60),
            console_log: None,
        }
    }
}

/// The guest kernel's view of its memory, bytes (from `/proc/meminfo`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestMemInfo {
    pub mem_total: u64,
    pub mem_free: u64,
    pub mem_available: u64,
}

/// A running Linux guest, READY after [`LinuxVm::launch`].
/// (Fields are `pub(super)` for `super::snapshot`, which saves them and
/// puts a restored guest together.)
pub struct LinuxVm {
    // Drop order: vCPU, VM (with its RAM), the irqfd's eventfd, /dev/kvm.
    pub(super) vcpu: Vcpu,
    pub(super) vm: Vm,
    pub(super) kvm: Kvm,
    pub(super) ports: LinuxPorts,
    pub(super) console: SharedConsole,
    pub(super) phases: Phases,
    pub(super) layout: Layout,
    pub(super) mem_info: GuestMemInfo,
    pub(super) dead: Option<String>,
    /// A restored guest waits in its first read of a command, unanswered
    /// until the first command comes (`super::snapshot`).
    pub(super) read_pending: bool,
}

impl LinuxVm {
    /// Boots `kernel` with `initramfs` and waits for READY and the memory report.
    pub fn launch(
        kernel: &KernelImage,
        initramfs: &[u8],
        config: &Config,
    ) -> Result<LinuxVm, LinuxError> {
        let mut guest = LinuxVm::boot(kernel, initramfs, config)?;
        guest.wait_ready(config)?;
        Ok(guest)
    }

    /// Builds the VM up to its first `KVM_RUN`: every phase but
    /// `kernel_boot`. [`LinuxVm::launch`] then waits for READY; a console
    /// session (`super::console`) runs it without the protocol.
    pub fn boot(
        kernel: &KernelImage,
        initramfs: &[u8],
        config: &Config,
    ) -> Result<LinuxVm, LinuxError> {
        let copy: Option<Box<dyn std::io::Write + Send>> = match &config.console_log {
            Some(path) => match std::fs::File::create(path) {
                Ok(f) => Some(Box::new(f)),
                Err(source) => {
                    return Err(LinuxError::Vm {
                        error: Error::Os {
                            step: "creating the console log file",
                            source,
                        },
                        console: String::new(),
                    })
                }
            },
            None => None,
        };
        let console = SharedConsole::new(copy);
        let vm_err = |error: Error| LinuxError::Vm {
            error,
            console: String::new(),
        };
        let mut phases = Phases::start();

        let kvm = Kvm::open().map_err(vm_err)?;
        phases.end("kvm_open");

        let mut vm = Vm::create(&kvm).map_err(vm_err)?;
        let irq = devices::create_in_kernel(&vm).map_err(vm_err)?;
        phases.end("create_vm");

        let ram = vm.add_ram(config.ram_bytes).map_err(vm_err)?;
        phases.end("guest_memory");

        crate::x86::write_boot_tables(ram).map_err(vm_err)?;
        let layout = zero_page::load(ram.mem(), ram.size(), kernel, initramfs, &config.cmdline)?;
        phases.end("load_image");

        let vcpu = Vcpu::create(&kvm, &vm, 0).map_err(vm_err)?;
        cpu::setup_vcpu(&kvm, &vcpu, &layout).map_err(vm_err)?;
        phases.end("vcpu_setup");

        let ports = LinuxPorts::new(vm_superio::Serial::new(IrqLine(irq), console.clone()));
        Ok(LinuxVm {
            vcpu,
            vm,
            kvm,
            ports,
            console,
            phases,
            layout,
            mem_info: GuestMemInfo::default(),
            dead: None,
            read_pending: false,
        })
    }

    /// Runs the booted guest to READY and its memory report.
    fn wait_ready(&mut self, config: &Config) -> Result<(), LinuxError> {
        let guest = self;
        let deadline = Instant::now() + config.boot_timeout;
        match guest.next_message(config.boot_timeout, "before /init said READY") {
            Ok(Message::Ready) => {}
            Ok(other) => {
                return Err(guest.protocol_error(format!("expected READY first, got {other:?}")))
            }
            Err(LinuxError::Vm {
                error: Error::Timeout { .. },
                console,
            }) => {
                return Err(LinuxError::NeverReady {
                    after: config.boot_timeout,
                    console,
                })
            }
            Err(e) => return Err(e),
        }
        guest.phases.end("kernel_boot");
        // /init reports the guest kernel's memory right after READY.
        let mut got = 0;
        while got < 3 {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(5));
            match guest.next_message(left, "while /init reported its memory")? {
                Message::Info { key, value } => {
                    match key {
                        info::MEM_TOTAL => guest.mem_info.mem_total = value,
                        info::MEM_FREE => guest.mem_info.mem_free = value,
                        info::MEM_AVAILABLE => guest.mem_info.mem_available = value,
                        _ => continue,
                    }
                    got += 1;
                }
                other => {
                    return Err(guest.protocol_error(format!(
                        "expected INFO (meminfo) after READY, got {other:?}"
                    )))
                }
            }
        }
        Ok(())
    }

    pub(super) fn console_tail(&self) -> String {
        self.console.last_lines(ERROR_LINES)
    }

    fn protocol_error(&mut self, what: String) -> LinuxError {
        self.dead = Some(what.clone());
        LinuxError::Vm {
            error: Error::Guest {
                fault: GuestFault::Protocol(what),
                regs: Box::new(self.vcpu.snapshot()),
            },
            console: self.console_tail(),
        }
    }

    /// Runs the guest until it completes a message; turns resets, panics
    /// and exits into errors that name them.
    fn next_message(
        &mut self,
        timeout: Duration,
        when: &'static str,
    ) -> Result<Message, LinuxError> {
        if let Some(why) = &self.dead {
            return Err(LinuxError::Vm {
                error: Error::NotRunning(why.clone()),
                console: self.console_tail(),
            });
        }
        let r = self.vcpu.run(&mut self.ports, Some(timeout));
        let reset = match r {
            Ok(()) if self.ports.i8042.reset_requested => Some("i8042 reset, as `reboot=k` does"),
            Err(Error::Guest {
                fault: GuestFault::TripleFault,
                ..
            }) => Some("triple fault"),
            Err(error) => {
                self.dead = Some(
                    error
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("failed")
                        .to_owned(),
                );
                return Err(LinuxError::Vm {
                    error,
                    console: self.console_tail(),
                });
            }
            Ok(()) => None,
        };
        if let Some(how) = reset {
            self.dead = Some(format!("it reset itself ({how})"));
            let console = self.console_tail();
            let text = self.console.text();
            if let Some(line) = text.lines().find(|l| l.contains("Kernel panic")) {
                return Err(LinuxError::Panic {
                    message: line.trim().to_owned(),
                    console,
                });
            }
            return Err(LinuxError::Reset { how, when, console });
        }
        self.ports.protocol.take_message().map_err(|code| {
            self.dead = Some(format!("it exited with code {code}"));
            LinuxError::Vm {
                error: Error::Guest {
                    fault: GuestFault::Exited(code),
                    regs: Box::new(self.vcpu.snapshot()),
                },
                console: self.console_tail(),
            }
        })
    }

    /// Sends one command and returns the workload's answer.
    pub fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message, LinuxError> {
        self.ports.protocol.send(cmd);
        if std::mem::take(&mut self.read_pending) {
            self.answer_pending_read()?;
        }
        self.next_message(timeout, "while running a command")
    }

    /// The first command came for a restored guest waiting in its read: its
    /// first byte goes where KVM completes that `in` from
    /// (`crate::vcpu_state::supply_pending_in`), the rest is read as usual.
    fn answer_pending_read(&mut self) -> Result<(), LinuxError> {
        let byte = self.ports.protocol.command_byte().map_err(|fault| {
            self.protocol_error(format!("no command byte to answer with: {fault}"))
        })?;
        crate::vcpu_state::supply_pending_in(&mut self.vcpu, byte).map_err(|error| LinuxError::Vm {
            error,
            console: self.console_tail(),
        })
    }

    /// EXIT, DONE, then the workload's exit code on `PORT_EXIT`.
    pub fn shutdown(&mut self, timeout: Duration) -> Result<i32, LinuxError> {
        match self.request(Command::Exit, timeout)? {
            Message::Done => {}
            other => return Err(self.protocol_error(format!("expected DONE, got {other:?}"))),
        }
        match self.next_message(timeout, "after DONE") {
            Err(LinuxError::Vm {
                error:
                    Error::Guest {
                        fault: GuestFault::Exited(code),
                        ..
                    },
                ..
            }) => Ok(code),
            Err(e) => Err(e),
            Ok(m) => Err(self.protocol_error(format!("expected the workload to exit, got {m:?}"))),
        }
    }

    pub fn phases(&self) -> &Phases {
        &self.phases
    }
    pub fn exits(&self) -> &ExitCounts {
        self.vcpu.exits()
    }
    /// Port accesses that reached no device.
    pub fn unhandled_port_accesses(&self) -> u64 {
        self.ports.unhandled
    }
    pub fn pings(&self) -> u64 {
        self.ports.protocol.pings()
    }
    pub fn mem_info(&self) -> GuestMemInfo {
        self.mem_info
    }
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// The serial console (all of it that is kept).
    pub fn console(&self) -> &SharedConsole {
        &self.console
    }
    pub fn ram(&self) -> Result<&GuestRam, Error> {
        self.vm.ram()
    }
    pub fn vcpu(&self) -> &Vcpu {
        &self.vcpu
    }
}
