//! Typed errors: which step failed, what the guest was doing, how to fix it.
//!
//! Anything that comes from outside this process — the kernel's answers to
//! ioctls, the bytes a guest writes to a port, the guest image — can be wrong,
//! so every such failure becomes an [`Error`], never a panic. Errors caused
//! by the guest carry a snapshot of its registers ([`GuestRegs`]), which is
//! what one needs to find the faulting instruction (`objdump -d` the guest
//! image and look for RIP).

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong while creating or running a VM.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `/dev/kvm` could not be opened.
    #[error(
        "cannot open /dev/kvm: {0}. Fix: load the KVM module (kvm_intel, kvm_amd or kvm_pvm), \
         and run as root or as a member of the group owning /dev/kvm (`ls -l /dev/kvm`; \
         usually `sudo usermod -aG kvm $USER`, then log in again; if /dev/kvm is root:root 0600, \
         `sudo groupadd -f kvm && sudo chgrp kvm /dev/kvm && sudo chmod 660 /dev/kvm`, as udev does)"
    )]
    KvmOpen(#[source] kvm_ioctls::Error),

    /// A KVM ioctl failed.
    #[error("KVM step `{step}` failed: {source}")]
    Kvm {
        step: &'static str,
        #[source]
        source: kvm_ioctls::Error,
    },

    /// The KVM API is too old or lacks something this VMM needs.
    #[error("this KVM does not offer {0}, which this VMM needs (any Linux KVM since 2.6.22 does)")]
    Unsupported(&'static str),

    /// Guest memory could not be set up.
    #[error("guest memory ({size} bytes): {reason}")]
    Memory { size: u64, reason: String },

    /// The guest image is unusable.
    #[error("guest image: {0}")]
    Image(String),

    /// A system call of the VMM itself failed (timer, signal, /proc).
    #[error("{step}: {source}")]
    Os {
        step: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The guest did something the VMM cannot go on from.
    #[error("{fault}\n{regs}")]
    Guest {
        fault: GuestFault,
        regs: Box<GuestRegs>,
    },

    /// The guest did not finish in time and was stopped.
    #[error(
        "the guest did not answer within {after:?}; it was stopped (signal + immediate_exit). \
         It may be spinning: see RIP below\n{regs}"
    )]
    Timeout {
        after: Duration,
        regs: Box<GuestRegs>,
    },

    /// A snapshot could not be saved or restored (`crate::snapshot`).
    #[error(
        "snapshot: {step} failed: {reason}. Fix: check that the temp dir (/dev/shm, else \
         $TMPDIR) is writable and has room for a few MiB"
    )]
    Snapshot { step: &'static str, reason: String },

    /// The guest already exited (or failed): it cannot take more commands.
    #[error("the guest is not running any more ({0})")]
    NotRunning(String),
}

impl Error {
    pub(crate) fn kvm(step: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
        move |source| Error::Kvm { step, source }
    }

    pub(crate) fn os(step: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Os { step, source }
    }

    /// The guest fault behind this error, if it is one.
    pub fn fault(&self) -> Option<&GuestFault> {
        match self {
            Error::Guest { fault, .. } => Some(fault),
            _ => None,
        }
    }

    /// The guest registers attached to this error, if any.
    pub fn regs(&self) -> Option<&GuestRegs> {
        match self {
            Error::Guest { regs, .. } | Error::Timeout { regs, .. } => Some(regs),
            _ => None,
        }
    }
}

/// What the guest did wrong (or unexpectedly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestFault {
    /// A CPU exception, reported by the guest's own handler through a port.
    Exception {
        vector: u8,
        error_code: u64,
        /// Address of the faulting instruction.
        rip: u64,
        /// The faulting address (CR2), meaningful for a page fault (vector 14).
        cr2: u64,
    },
    /// `KVM_EXIT_SHUTDOWN`: on x86 a triple fault — an exception while
    /// delivering a double fault, e.g. no usable IDT or stack.
    TripleFault,
    /// `KVM_EXIT_HLT`: the guest stopped with `hlt` where it should not.
    Halted,
    /// The guest wrote bytes on the protocol port that are not the protocol.
    Protocol(String),
    /// The guest used a port this VMM does not serve.
    UnexpectedPort { port: u16, write: bool, size: usize },
    /// The guest waited for a command byte when none was being sent.
    UnexpectedRead,
    /// Any other exit this VMM does not handle (MMIO, ...).
    UnexpectedExit(String),
    /// The guest exited with this code when an answer was expected.
    Exited(i32),
}

/// Names of the x86 exception vectors (Intel SDM Vol. 3A, Table 7-1).
pub fn exception_name(vector: u8) -> &'static str {
    match vector {
        0 => "#DE divide error",
        1 => "#DB debug",
        2 => "NMI",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range exceeded",
        6 => "#UD invalid opcode",
        7 => "#NM device not available",
        8 => "#DF double fault",
        10 => "#TS invalid TSS",
        11 => "#NP segment not present",
        12 => "#SS stack-segment fault",
        13 => "#GP general protection",
        14 => "#PF page fault",
        16 => "#MF x87 floating-point error",
        17 => "#AC alignment check",
        18 => "#MC machine check",
        19 => "#XM SIMD floating-point exception",
        20 => "#VE virtualization exception",
        21 => "#CP control protection",
        _ => "reserved vector",
    }
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestFault::Exception {
                vector,
                error_code,
                rip,
                cr2,
            } => {
                write!(
                    f,
                    "guest CPU exception {vector} ({}) at RIP {rip:#x}, error code {error_code:#x}",
                    exception_name(*vector)
                )?;
                if *vector == 14 {
                    write!(f, ", faulting address (CR2) {cr2:#x}")?;
                }
                Ok(())
            }
            GuestFault::TripleFault => write!(
                f,
                "guest triple fault (KVM_EXIT_SHUTDOWN): an exception could not be delivered \
                 (no valid IDT, TSS or stack yet?)"
            ),
            GuestFault::Halted => write!(f, "guest executed HLT unexpectedly (KVM_EXIT_HLT)"),
            GuestFault::Protocol(e) => write!(f, "guest broke the workload protocol: {e}"),
            GuestFault::UnexpectedPort { port, write, size } => write!(
                f,
                "guest {} {size} byte(s) on I/O port {port:#x}, which this VMM does not serve",
                if *write { "wrote" } else { "read" }
            ),
            GuestFault::UnexpectedRead => write!(
                f,
                "guest read a command byte while the VMM had none to give (protocol out of step)"
            ),
            GuestFault::UnexpectedExit(what) => write!(f, "unexpected VM exit: {what}"),
            GuestFault::Exited(code) => write!(f, "guest exited with code {code}"),
        }
    }
}

/// A snapshot of the vCPU registers, for error messages.
#[derive(Debug, Clone, Default)]
pub struct GuestRegs {
    /// General purpose registers, RIP, RFLAGS (`KVM_GET_REGS`).
    pub regs: kvm_bindings::kvm_regs,
    /// Control registers and CS (`KVM_GET_SREGS`).
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    pub cs_selector: u16,
    /// False when the registers could not be read (shown as such).
    pub valid: bool,
}

impl GuestRegs {
    /// Current privilege level: the low two bits of CS.
    pub fn cpl(&self) -> u8 {
        (self.cs_selector & 3) as u8
    }
}

impl fmt::Display for GuestRegs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.valid {
            return write!(f, "  (guest registers unavailable)");
        }
        let r = &self.regs;
        writeln!(
            f,
            "  rip {:#018x}  rflags {:#010x}  cs {:#06x} (CPL{})",
            r.rip,
            r.rflags,
            self.cs_selector,
            self.cpl()
        )?;
        writeln!(
            f,
            "  rax {:#018x}  rbx {:#018x}  rcx {:#018x}  rdx {:#018x}",
            r.rax, r.rbx, r.rcx, r.rdx
        )?;
        writeln!(
            f,
            "  rsi {:#018x}  rdi {:#018x}  rsp {:#018x}  rbp {:#018x}",
            r.rsi, r.rdi, r.rsp, r.rbp
        )?;
        writeln!(
            f,
            "  r8  {:#018x}  r9  {:#018x}  r10 {:#018x}  r11 {:#018x}",
            r.r8, r.r9, r.r10, r.r11
        )?;
        writeln!(
            f,
            "  r12 {:#018x}  r13 {:#018x}  r14 {:#018x}  r15 {:#018x}",
            r.r12, r.r13, r.r14, r.r15
        )?;
        write!(
            f,
            "  cr0 {:#x}  cr2 {:#x}  cr3 {:#x}  cr4 {:#x}  efer {:#x}",
            self.cr0, self.cr2, self.cr3, self.cr4, self.efer
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
