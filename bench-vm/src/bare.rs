//! The bare guest (`vm-bare`): the workload on a vCPU with no operating system.
//!
//! [`BareVm::launch`] goes through the life of a VM in the order DESIGN.md
//! times it, and records when each phase ended:
//!
//! | phase | what happens |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")`, `KVM_GET_API_VERSION` |
//! | `create_vm` | `KVM_CREATE_VM` |
//! | `guest_memory` | `mmap` of guest RAM, `KVM_SET_USER_MEMORY_REGION` for its first 4 MiB |
//! | `load_image` | the ELF segments copied in, page tables and boot GDT written |
//! | `vcpu_setup` | `KVM_CREATE_VCPU` (+ mmap of `kvm_run`), `KVM_SET_CPUID2`, `KVM_SET_SREGS`, `KVM_SET_REGS` |
//! | `guest_boot` | first `KVM_RUN` until the guest's READY byte arrives on the protocol port |
//!
//! The scratch region above 4 MiB is plugged into the VM (a second memory
//! slot) with the first command, as a process maps its buffers when it first
//! needs them: on PVM a memory slot costs launch time in proportion to its size.
//!
//! After that, [`BareVm::request`] sends a command byte by byte (each `in`
//! of the guest is one VM exit), and runs the vCPU until the answer is
//! complete. The guest's side of the contract is `workload::bare`; the
//! VMM's is `crate::protocol_ports`, behind this guest's port map (`Ports`).
//! With [`Config::transport`] set to the UART (`vm-bare:uart`), the guest
//! talks through a 16550 instead, as under QEMU (`crate::protocol_uart`).

use crate::error::{Error, GuestFault, Result};
use crate::memory::GuestRam;
use crate::phases::{self, Phases};
use crate::protocol_ports::ProtocolPorts;
use crate::protocol_uart::{self, ProtocolUart};
use crate::vcpu::{ExitCounts, Flow, LongModeEntry, PortIo, Vcpu};
use crate::vm::{Kvm, Vm};
use crate::x86;
use std::time::{Duration, Instant};
use vm_memory::{Bytes, GuestAddress};
pub use workload::bare::Transport;
use workload::bare::{
    IMAGE_BASE, PORT_EXCEPTION, PORT_EXIT, PORT_PING, PORT_PROTOCOL, SCRATCH_BASE,
};
use workload::boot::{BOOT_PORTS, BOOT_UART};
use workload::protocol::{Command, Message};

/// The bare guest image (`vmvc-guest` from the workload crate), built by
/// this crate's build script and embedded here.
pub static GUEST_IMAGE: &[u8] = include_bytes!(env!("VMVC_GUEST_IMAGE"));

/// The phase names, in order (DESIGN.md, "Startup"; `crate::phases`).
pub const PHASES: [&str; 6] = phases::with_guest_boot("guest_boot");

/// A guest image the VMM can load.
#[derive(Debug, Clone, Copy)]
pub enum Image<'a> {
    /// A static ELF executable linked at or above 1 MiB (like `vmvc-guest`).
    Elf(&'a [u8]),
    /// Raw machine code, loaded at 1 MiB and entered at its first byte (at
    /// CPL0, with no IDT: for tests of the VMM itself).
    Flat(&'a [u8]),
}

/// How to build a bare VM.
#[derive(Debug, Clone)]
pub struct Config {
    /// Guest RAM, bytes (a multiple of 2 MiB). The scratch region the
    /// workload's buffers live in is everything above 4 MiB.
    pub ram_bytes: u64,
    /// How long the guest may take to say READY.
    pub boot_timeout: Duration,
    /// The protocol ports (default) or the UART.
    pub transport: Transport,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            ram_bytes: 64 << 20,
            boot_timeout: Duration::from_secs(10),
            transport: Transport::Ports,
        }
    }
}

impl Config {
    /// RAM enough for buffers of `scratch_bytes` (rounded up to 2 MiB).
    pub fn with_scratch(scratch_bytes: u64) -> Config {
        let ram = (SCRATCH_BASE + scratch_bytes).div_ceil(2 << 20) * (2 << 20);
        Config {
            ram_bytes: ram,
            ..Config::default()
        }
    }
}

/// The bare guest's port map: the protocol ports (`crate::protocol_ports`),
/// each with the one access size the guest uses, or the UART in their
/// place; and the exit and exception ports. Anything else is an error: this
/// guest has no other devices.
#[derive(Default)]
pub(crate) struct Ports {
    proto: ProtocolPorts,
    uart: Option<ProtocolUart>,
}

impl Ports {
    /// The ports of a guest that talks through `transport`.
    pub(crate) fn for_transport(transport: Transport) -> Ports {
        Ports {
            proto: ProtocolPorts::default(),
            uart: (transport == Transport::Uart).then(ProtocolUart::default),
        }
    }
}

impl PortIo for Ports {
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault> {
        match (port, data, &mut self.uart) {
            (p, [byte], Some(uart)) if protocol_uart::is_uart(p) => {
                uart.write(&mut self.proto, p, *byte)
            }
            (PORT_PROTOCOL, [byte], None) => self.proto.message_byte(*byte),
            (PORT_EXIT, [a, b, c, d], _) => Ok(self.proto.exit([*a, *b, *c, *d])),
            (PORT_EXCEPTION, [v, ..], _) => Err(GuestFault::Exception {
                vector: *v,
                // Filled in from the registers by `exception_details`.
                error_code: 0,
                rip: 0,
                cr2: 0,
            }),
            _ => Err(GuestFault::UnexpectedPort {
                port,
                write: true,
                size: data.len(),
            }),
        }
    }

    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault> {
        match (port, &mut *data, &mut self.uart) {
            (p, [byte], Some(uart)) if protocol_uart::is_uart(p) => {
                *byte = uart.read(p);
                Ok(Flow::Continue)
            }
            (PORT_PROTOCOL, [byte], None) => {
                *byte = self.proto.command_byte()?;
                Ok(Flow::Continue)
            }
            (PORT_PING, [byte], None) => {
                *byte = self.proto.ping();
                Ok(Flow::Continue)
            }
            _ => Err(GuestFault::UnexpectedPort {
                port,
                write: false,
                size: data.len(),
            }),
        }
    }
}

/// The guest's exception handler leaves the faulting RIP in rdi and the
/// error code in rsi (see `vmvc-guest`'s stub); put them into the error.
fn exception_details(e: Error) -> Error {
    match e {
        Error::Guest {
            fault: GuestFault::Exception { vector, .. },
            regs,
        } => Error::Guest {
            fault: GuestFault::Exception {
                vector,
                error_code: regs.regs.rsi,
                rip: regs.regs.rdi,
                cr2: regs.cr2,
            },
            regs,
        },
        other => other,
    }
}

/// A running bare VM, READY after [`BareVm::launch`].
pub struct BareVm {
    // Drop order: vCPU, VM (with its RAM), then /dev/kvm. The fields are
    // the crate's for `crate::handover` (warm pool, snapshots).
    pub(crate) vcpu: Vcpu,
    pub(crate) vm: Vm,
    pub(crate) _kvm: Kvm,
    pub(crate) ports: Ports,
    pub(crate) phases: Phases,
    /// Set once the guest faulted, exited or timed out: no more commands.
    pub(crate) dead: Option<String>,
    /// Whether the scratch region is plugged into the VM yet.
    pub(crate) scratch_plugged: bool,
    /// A restored guest stopped at its first read of a command byte, not
    /// yet answered (`crate::snapshot`): the first command supplies it.
    pub(crate) read_pending: bool,
}

/// Memory slot of the first 4 MiB (image, stacks, page tables).
pub(crate) const SLOT_BOOT: u32 = 0;
/// Memory slot of the scratch region (the workload's buffers).
pub(crate) const SLOT_SCRATCH: u32 = 1;

impl BareVm {
    /// Boots the embedded `vmvc-guest` and waits for READY.
    pub fn launch(config: &Config) -> Result<BareVm> {
        BareVm::launch_image(Image::Elf(GUEST_IMAGE), config)
    }

    /// Boots any image and waits for READY on the protocol port.
    pub fn launch_image(image: Image<'_>, config: &Config) -> Result<BareVm> {
        let mut phases = Phases::start();

        let kvm = Kvm::open()?;
        phases.end("kvm_open");

        let mut vm = Vm::create(&kvm)?;
        phases.end("create_vm");

        if config.ram_bytes <= SCRATCH_BASE {
            return Err(Error::Memory {
                size: config.ram_bytes,
                reason: format!("the bare guest needs more than {SCRATCH_BASE} bytes"),
            });
        }
        // All of RAM is mapped (MAP_NORESERVE: no cost until touched), but
        // only the first 4 MiB — image, stacks, tables — is plugged into the
        // VM now; the scratch region follows with the first command.
        vm.map_ram(config.ram_bytes)?;
        vm.plug(SLOT_BOOT, 0, SCRATCH_BASE)?;
        let ram = vm.ram()?;
        phases.end("guest_memory");

        let entry = load(ram, image)?;
        x86::write_boot_tables(ram)?;
        phases.end("load_image");

        let vcpu = Vcpu::create(&kvm, &vm, 0)?;
        vcpu.enter_long_mode(&LongModeEntry {
            rip: entry,
            rsp: 0, // the guest sets its own stacks
            rdi: SCRATCH_BASE,
            rsi: config.ram_bytes - SCRATCH_BASE,
            r8: match config.transport {
                Transport::Ports => BOOT_PORTS,
                Transport::Uart => BOOT_UART,
            },
        })?;
        phases.end("vcpu_setup");

        let ports = Ports::for_transport(config.transport);
        BareVm::boot(kvm, vm, vcpu, phases, ports, false, config.boot_timeout)
    }

    /// Runs the guest until it completes a message.
    pub(crate) fn next_message(&mut self, timeout: Duration) -> Result<Message> {
        if let Some(why) = &self.dead {
            return Err(Error::NotRunning(why.clone()));
        }
        let r = self.vcpu.run(&mut self.ports, Some(timeout));
        if let Err(e) = r {
            let e = exception_details(e);
            self.dead = Some(e.to_string().lines().next().unwrap_or("failed").to_owned());
            return Err(e);
        }
        self.ports.proto.take_message().map_err(|code| {
            self.dead = Some(format!("it exited with code {code}"));
            Error::Guest {
                fault: GuestFault::Exited(code),
                regs: Box::new(self.vcpu.snapshot()),
            }
        })
    }

    /// Sends one command and returns the guest's answer (boundary PINGs are
    /// answered on the way, inside the exit loop).
    pub fn request(&mut self, cmd: Command, timeout: Duration) -> Result<Message> {
        // A size of 0 touches no buffer.
        let uses_scratch =
            matches!(cmd, Command::Run { size, .. } | Command::Hold { bytes: size } if size > 0);
        if uses_scratch && !self.scratch_plugged && self.dead.is_none() {
            // Like a process that maps its buffers when it first needs them:
            // the scratch region joins the VM with the first command.
            let ram = self.vm.ram()?.size();
            self.vm
                .plug(SLOT_SCRATCH, SCRATCH_BASE, ram - SCRATCH_BASE)?;
            self.scratch_plugged = true;
        }
        match &mut self.ports.uart {
            Some(uart) => uart.send(cmd).map_err(|fault| Error::Guest {
                fault,
                regs: Box::new(self.vcpu.snapshot()),
            })?,
            None => {
                self.ports.proto.send(cmd);
                // A restored guest waits in the port read it made right
                // after READY (`crate::snapshot`): its byte comes now.
                if std::mem::take(&mut self.read_pending) {
                    let byte = self
                        .ports
                        .proto
                        .command_byte()
                        .map_err(|fault| Error::Guest {
                            fault,
                            regs: Box::new(self.vcpu.snapshot()),
                        })?;
                    crate::vcpu_state::supply_pending_in(&mut self.vcpu, byte)?;
                }
            }
        }
        self.next_message(timeout)
    }

    /// Asks the guest to exit (EXIT, expect DONE, then its exit code).
    /// Returns the exit code.
    pub fn shutdown(&mut self, timeout: Duration) -> Result<i32> {
        match self.request(Command::Exit, timeout)? {
            Message::Done => {}
            other => {
                return Err(Error::Guest {
                    fault: GuestFault::Protocol(format!("expected DONE, got {other:?}")),
                    regs: Box::new(self.vcpu.snapshot()),
                })
            }
        }
        match self.next_message(timeout) {
            Err(Error::Guest {
                fault: GuestFault::Exited(code),
                ..
            }) => Ok(code),
            Err(e) => Err(e),
            Ok(m) => Err(Error::Guest {
                fault: GuestFault::Protocol(format!("expected the guest to exit, got {m:?}")),
                regs: Box::new(self.vcpu.snapshot()),
            }),
        }
    }

    /// The `teardown` phase: EXIT, DONE, the guest's exit code, then the
    /// vCPU and VM fds closed and guest RAM unmapped. Returns how long it
    /// took; the VM is gone even when the guest misbehaved (the error says how).
    pub fn teardown(mut self, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        let code = self.shutdown(timeout);
        drop(self);
        let took = start.elapsed();
        match code? {
            0 => Ok(took),
            c => Err(Error::Guest {
                fault: GuestFault::Exited(c),
                regs: Box::default(),
            }),
        }
    }

    /// When each launch phase ended.
    pub fn phases(&self) -> &Phases {
        &self.phases
    }

    /// VM exits so far, by reason.
    pub fn exits(&self) -> &ExitCounts {
        self.vcpu.exits()
    }

    /// Boundary round trips (PING port reads) served so far.
    pub fn pings(&self) -> u64 {
        self.ports.proto.pings()
    }

    /// The guest's RAM.
    pub fn ram(&self) -> &GuestRam {
        // `launch` mapped the RAM before it returned a BareVm: an invariant.
        self.vm.ram().expect("a launched VM has RAM")
    }

    /// The vCPU (registers, exit counts).
    pub fn vcpu(&self) -> &Vcpu {
        &self.vcpu
    }
}

/// Copies the image into guest RAM; returns the entry point.
pub fn load(ram: &GuestRam, image: Image<'_>) -> Result<u64> {
    match image {
        Image::Flat(code) => {
            if IMAGE_BASE + code.len() as u64 > SCRATCH_BASE {
                return Err(Error::Image("flat image larger than 3 MiB".into()));
            }
            ram.mem()
                .write_slice(code, GuestAddress(IMAGE_BASE))
                .map_err(|e| Error::Image(format!("copying the flat image: {e}")))?;
            Ok(IMAGE_BASE)
        }
        Image::Elf(bytes) => {
            use linux_loader::loader::{Elf, KernelLoader};
            let mut cursor = std::io::Cursor::new(bytes);
            let r = Elf::load(ram.mem(), None, &mut cursor, Some(GuestAddress(IMAGE_BASE)))
                .map_err(|e| Error::Image(format!("loading the ELF image: {e}")))?;
            if r.kernel_end > SCRATCH_BASE {
                return Err(Error::Image(format!(
                    "the image ends at {:#x}, inside the scratch region at {SCRATCH_BASE:#x}",
                    r.kernel_end
                )));
            }
            // linux-loader takes e_entry as it is; one outside what was
            // loaded would start the vCPU in empty or unmapped memory
            // (found by bench-vm/tests/fuzz_loaders.rs).
            let entry = r.kernel_load.0;
            if !(IMAGE_BASE..r.kernel_end).contains(&entry) {
                return Err(Error::Image(format!(
                    "the ELF entry point {entry:#x} is outside the loaded image \
                     [{IMAGE_BASE:#x}, {:#x}): a corrupt or foreign ELF file",
                    r.kernel_end
                )));
            }
            Ok(entry)
        }
    }
}
