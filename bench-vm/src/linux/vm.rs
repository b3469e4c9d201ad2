//! [`LinuxVm`]: boot a Linux kernel whose `/init` is the workload.
//!
//! The life of a `vm-linux` launch, with the phases it records:
//!
//! | phase | what happens |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")` |
//! | `create_vm` | `KVM_CREATE_VM`, `KVM_SET_TSS_ADDR`, `KVM_CREATE_IRQCHIP` (PIC, IOAPIC, local APICs in the kernel), `KVM_CREATE_PIT2` (timer), an irqfd for the UART's IRQ 4 |
//! | `guest_memory` | guest RAM mapped and plugged in |
//! | `load_image` | kernel, initramfs, command line, zero page, page tables ([`super::boot::load`]) |
//! | `vcpu_setup` | `KVM_CREATE_VCPU`, CPUID with the hypervisor bit, MSRs, FPU, local APIC LINT0/1, 64-bit registers |
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
//! serial console.

use super::boot::{self, KernelImage, Layout, LayoutError};
use super::devices::{Cmos, IrqLine, SharedConsole, Uart, COM1, COM1_IRQ, I8042};
use crate::error::{Error, GuestFault};
use crate::memory::GuestRam;
use crate::vcpu::{ExitCounts, Flow, PortIo, Vcpu};
use crate::vm::{Kvm, Vm};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use vmm_sys_util::eventfd::EventFd;
use workload::bare::{PORT_EXIT, PORT_PING, PORT_PROTOCOL};
use workload::protocol::{info, tag, Command, Decoder, Message};

/// The phase names, in order.
pub const PHASES: [&str; 6] = [
    "kvm_open",
    "create_vm",
    "guest_memory",
    "load_image",
    "vcpu_setup",
    "kernel_boot",
];

/// How many console lines an error carries.
pub const ERROR_LINES: usize = 25;

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
            cmdline: boot::DEFAULT_CMDLINE.to_owned(),
            boot_timeout: Duration::from_secs(60),
            console_log: None,
        }
    }
}

/// Errors of a Linux guest: what failed, and what the console showed.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("{error}{}", console_section(.console))]
    Vm { error: Error, console: String },
    #[error("the guest kernel panicked: {message}{}", console_section(.console))]
    Panic { message: String, console: String },
    #[error("the guest reset itself ({how}) {when}{}", console_section(.console))]
    Reset {
        how: &'static str,
        when: &'static str,
        console: String,
    },
    #[error("the guest never said READY within {after:?}: the kernel did not reach /init, or /init is not the vmvc workload{}", console_section(.console))]
    NeverReady { after: Duration, console: String },
}

fn console_section(console: &str) -> String {
    if console.trim().is_empty() {
        "\n(the guest printed nothing on its serial console; drop `quiet` from the command line to see the boot)".into()
    } else {
        format!("\n--- last lines of the guest's serial console ---\n{console}")
    }
}

/// A VMM error with no console to show (e.g. the launcher's socket failed).
impl From<Error> for LinuxError {
    fn from(error: Error) -> LinuxError {
        LinuxError::Vm {
            error,
            console: String::new(),
        }
    }
}

impl LinuxError {
    /// The console lines attached to this error.
    pub fn console(&self) -> Option<&str> {
        match self {
            LinuxError::Layout(_) => None,
            LinuxError::Vm { console, .. }
            | LinuxError::Panic { console, .. }
            | LinuxError::Reset { console, .. }
            | LinuxError::NeverReady { console, .. } => Some(console),
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

/// When each launch phase ended.
pub use crate::bare::Phases;

/// The VMM's ports for a Linux guest (see `devices`).
struct LinuxPorts {
    uart: Uart,
    i8042: I8042,
    cmos: Cmos,
    pending: VecDeque<u8>,
    decoder: Decoder,
    message: Option<Message>,
    exited: Option<i32>,
    pings: u64,
    /// Accesses to ports with no device (counted, answered with all ones).
    unhandled: u64,
}

fn is_uart(port: u16) -> bool {
    (COM1..COM1 + 8).contains(&port)
}

impl PortIo for LinuxPorts {
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault> {
        let byte = data.first().copied().unwrap_or(0);
        match port {
            p if is_uart(p) => {
                // A failed interrupt trigger only delays the guest's driver.
                let _ = self.uart.write((p - COM1) as u8, byte);
            }
            super::devices::I8042_DATA | super::devices::I8042_COMMAND => {
                self.i8042.write(port, byte);
                if self.i8042.reset_requested {
                    return Ok(Flow::Pause);
                }
            }
            super::devices::CMOS_INDEX | super::devices::CMOS_DATA => self.cmos.write(port, byte),
            PORT_PROTOCOL => match self.decoder.push(byte) {
                Ok(None) => {}
                Ok(Some(m)) => {
                    self.message = Some(m);
                    return Ok(Flow::Pause);
                }
                Err(e) => return Err(GuestFault::Protocol(format!("{e} (byte {byte:#04x})"))),
            },
            PORT_EXIT if data.len() == 4 => {
                self.exited = Some(i32::from_le_bytes([data[0], data[1], data[2], data[3]]));
                return Ok(Flow::Pause);
            }
            _ => self.unhandled += 1,
        }
        Ok(Flow::Continue)
    }

    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault> {
        data.fill(0xff);
        let first = match port {
            p if is_uart(p) => self.uart.read((p - COM1) as u8),
            super::devices::I8042_DATA | super::devices::I8042_COMMAND => self.i8042.read(port),
            super::devices::CMOS_INDEX | super::devices::CMOS_DATA => self.cmos.read(port),
            PORT_PROTOCOL => self.pending.pop_front().ok_or(GuestFault::UnexpectedRead)?,
            PORT_PING => {
                self.pings += 1;
                tag::PONG
            }
            _ => {
                self.unhandled += 1;
                0xff
            }
        };
        if let Some(d) = data.first_mut() {
            *d = first;
        }
        Ok(Flow::Continue)
    }
}

/// A running Linux guest, READY after [`LinuxVm::launch`].
pub struct LinuxVm {
    // Drop order: vCPU, VM (with its RAM), the irqfd's eventfd, /dev/kvm.
    vcpu: Vcpu,
    vm: Vm,
    _kvm: Kvm,
    ports: LinuxPorts,
    console: SharedConsole,
    phases: Phases,
    layout: Layout,
    mem_info: GuestMemInfo,
    dead: Option<String>,
}

impl LinuxVm {
    /// Boots `kernel` with `initramfs` and waits for READY and the memory report.
    pub fn launch(
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
        let t0 = Instant::now();
        let mut marks = Vec::with_capacity(PHASES.len());

        let kvm = Kvm::open().map_err(vm_err)?;
        marks.push(("kvm_open", Instant::now()));

        let mut vm = Vm::create(&kvm).map_err(vm_err)?;
        let irq = create_devices(&vm).map_err(vm_err)?;
        marks.push(("create_vm", Instant::now()));

        let ram = vm.add_ram(config.ram_bytes).map_err(vm_err)?;
        marks.push(("guest_memory", Instant::now()));

        crate::x86::write_boot_tables(ram).map_err(vm_err)?;
        let layout = boot::load(ram.mem(), ram.size(), kernel, initramfs, &config.cmdline)?;
        marks.push(("load_image", Instant::now()));

        let vcpu = Vcpu::create(&kvm, &vm, 0).map_err(vm_err)?;
        boot::setup_vcpu(&kvm, &vcpu, &layout).map_err(vm_err)?;
        marks.push(("vcpu_setup", Instant::now()));

        let ports = LinuxPorts {
            uart: vm_superio::Serial::new(IrqLine(irq), console.clone()),
            i8042: I8042::default(),
            cmos: Cmos::default(),
            pending: VecDeque::new(),
            decoder: Decoder::new(),
            message: None,
            exited: None,
            pings: 0,
            unhandled: 0,
        };
        let mut guest = LinuxVm {
            vcpu,
            vm,
            _kvm: kvm,
            ports,
            console,
            phases: Phases { t0, marks },
            layout,
            mem_info: GuestMemInfo::default(),
            dead: None,
        };
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
        guest.phases.marks.push(("kernel_boot", Instant::now()));
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
        Ok(guest)
    }

    fn console_tail(&self) -> String {
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
        if let Some(m) = self.ports.message.take() {
            return Ok(m);
        }
        let code = self.ports.exited.unwrap_or(-1);
        self.dead = Some(format!("it exited with code {code}"));
        Err(LinuxError::Vm {
            error: Error::Guest {
                fault: GuestFault::Exited(code),
                regs: Box::new(self.vcpu.snapshot()),
            },
            console: self.console_tail(),
        })
    }

    /// Sends one command and returns the workload's answer.
    pub fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message, LinuxError> {
        self.ports.pending.clear();
        self.ports.pending.extend(cmd.encode().as_bytes());
        self.next_message(timeout, "while running a command")
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
        self.ports.pings
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

/// The VM-wide devices KVM emulates in the kernel, plus the UART's irqfd.
fn create_devices(vm: &Vm) -> Result<EventFd, Error> {
    let fd = vm.inner();
    // Intel VMX needs three pages for a real-mode TSS somewhere the guest
    // does not use (api.rst 4.33); the address is the one QEMU and
    // Firecracker use, just below the BIOS area at 4 GiB. AMD ignores it.
    fd.set_tss_address(0xfffb_d000)
        .map_err(|source| Error::Kvm {
            step: "KVM_SET_TSS_ADDR",
            source,
        })?;
    fd.create_irq_chip().map_err(|source| Error::Kvm {
        step: "KVM_CREATE_IRQCHIP",
        source,
    })?;
    let pit = kvm_bindings::kvm_pit_config {
        // Port 0x61 (the PC speaker gate) handled in the kernel too.
        flags: kvm_bindings::KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    fd.create_pit2(pit).map_err(|source| Error::Kvm {
        step: "KVM_CREATE_PIT2",
        source,
    })?;
    let irq = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| Error::Os {
        step: "eventfd for the UART interrupt",
        source,
    })?;
    fd.register_irqfd(&irq, COM1_IRQ)
        .map_err(|source| Error::Kvm {
            step: "KVM_IRQFD (UART IRQ 4)",
            source,
        })?;
    Ok(irq)
}
