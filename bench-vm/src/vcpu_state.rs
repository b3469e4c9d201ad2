//! The state of a vCPU, saved and set again: what a snapshot and a reset need.
//!
//! KVM keeps a vCPU's architectural state in the kernel; userspace reads
//! and writes it in parts, one ioctl each (api.rst, section 4):
//!
//! | part | ioctl | what it holds |
//! |---|---|---|
//! | `regs` | `KVM_GET_REGS` / `KVM_SET_REGS` | rax..r15, rip, rflags |
//! | `sregs` | `KVM_GET_SREGS` / `KVM_SET_SREGS` | segments, GDT/IDT, CR0-4, EFER |
//! | `fpu` | `KVM_GET_FPU` / `KVM_SET_FPU` | x87 and SSE registers, MXCSR |
//! | `xsave` | `KVM_GET_XSAVE` / `KVM_SET_XSAVE` | the whole XSAVE area (AVX too) |
//! | `msrs` | `KVM_GET_MSRS` / `KVM_SET_MSRS` | model-specific registers, by index |
//!
//! A VM with an in-kernel interrupt controller, timers and devices has
//! more (`KVM_GET_LAPIC`, `KVM_GET_IRQCHIP`, `KVM_GET_PIT2`,
//! `KVM_GET_CLOCK`, `KVM_GET_VCPU_EVENTS`); Firecracker's snapshot saves
//! them all. The bare guest has none of those: interrupts stay off, and it
//! reads the TSC only to time one command, so these five parts are all of it.
//! A Linux guest's snapshot (`crate::linux::state`) adds the rest to these
//! five, with every MSR KVM lists ([`VcpuState::save_with`]).
//!
//! **Pending I/O.** When `KVM_RUN` returns with `KVM_EXIT_IO`, the port
//! instruction is not finished: KVM completes it (an `in` stores the
//! VMM's byte, RIP moves past the instruction) at the *next* `KVM_RUN`.
//! api.rst (`KVM_RUN`, "immediate_exit") says how to save a consistent
//! state: run once more with `immediate_exit` set, so KVM completes the
//! instruction and returns at once with `EINTR`. [`complete_pending_io`]
//! does that.

use crate::error::{Error, Result};
use crate::vcpu::Vcpu;
use kvm_bindings::{kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, kvm_xsave, Msrs};

/// The MSRs the bare guest's stub writes (`wrmsr` in `vmvc-guest`), plus
/// the other system-call MSRs, so that a restored guest finds its
/// `syscall` entry where it left it (SDM Vol. 4, Table 2-2).
pub const SAVED_MSRS: [u32; 4] = [
    0xc000_0081, // IA32_STAR: syscall/sysret selectors
    0xc000_0082, // IA32_LSTAR: syscall entry point
    0xc000_0084, // IA32_FMASK: RFLAGS bits cleared on syscall
    0xc000_0102, // IA32_KERNEL_GS_BASE: swapgs
];

/// Everything a bare guest's vCPU holds, as KVM gives it.
pub struct VcpuState {
    pub regs: kvm_regs,
    pub sregs: kvm_sregs,
    pub fpu: kvm_fpu,
    /// `None` where KVM has no `KVM_CAP_XSAVE` (then `fpu` is all of it).
    pub xsave: Option<Box<kvm_xsave>>,
    /// (index, value) of [`SAVED_MSRS`].
    pub msrs: Vec<(u32, u64)>,
}

/// Finishes the port instruction the last exit stopped in (module docs):
/// one `KVM_RUN` with `immediate_exit` set, which returns `EINTR` at once.
pub fn complete_pending_io(vcpu: &mut Vcpu) -> Result<()> {
    let fd = vcpu.inner_mut();
    fd.set_kvm_immediate_exit(1);
    let r = fd.run().map(|_| ()).map_err(|e| e.errno());
    fd.set_kvm_immediate_exit(0);
    match r {
        Err(libc::EINTR) => Ok(()),
        // Any exit means the guest ran: not what an immediate exit does.
        Ok(()) => Err(Error::Unsupported(
            "KVM_RUN with immediate_exit (Linux 4.11+)",
        )),
        Err(errno) => Err(Error::Kvm {
            step: "KVM_RUN (immediate_exit, completing the last port access)",
            source: kvm_ioctls::Error::new(errno),
        }),
    }
}

/// Gives the guest the byte its pending 1-byte `in` reads, when the last
/// exit (`KVM_EXIT_IO`, direction in) was left unanswered: KVM takes the
/// byte from the `kvm_run` mapping at the next `KVM_RUN` (api.rst,
/// `KVM_EXIT_IO`: "data_offset describes where the data is located").
pub fn supply_pending_in(vcpu: &mut Vcpu, byte: u8) -> Result<()> {
    let run = vcpu.inner_mut().get_kvm_run();
    let io = if run.exit_reason == kvm_bindings::KVM_EXIT_IO {
        // SAFETY: the `io` member of the exit union is the one KVM filled
        // for exit_reason KVM_EXIT_IO (api.rst); it holds plain integers.
        Some(unsafe { run.__bindgen_anon_1.io })
    } else {
        None
    };
    match io {
        Some(io)
            if u32::from(io.direction) == kvm_bindings::KVM_EXIT_IO_IN
                && io.size == 1
                && io.count == 1 =>
        {
            // SAFETY: KVM put the port data at data_offset inside the
            // kvm_run mapping (of KVM_GET_VCPU_MMAP_SIZE bytes), which the
            // VcpuFd keeps mapped; one byte is what this `in` reads.
            unsafe {
                let base = (run as *mut kvm_bindings::kvm_run).cast::<u8>();
                base.add(io.data_offset as usize).write_volatile(byte);
            }
            Ok(())
        }
        _ => Err(Error::Unsupported(
            "a pending 1-byte port read to answer (the last exit was not one)",
        )),
    }
}

impl VcpuState {
    /// Reads the vCPU's state with the MSRs in [`SAVED_MSRS`]. Call
    /// [`complete_pending_io`] first if it stopped at a port exit.
    pub fn save(vcpu: &Vcpu) -> Result<VcpuState> {
        let state = VcpuState::save_with(vcpu, &SAVED_MSRS)?;
        if state.msrs.len() != SAVED_MSRS.len() {
            return Err(Error::Unsupported("KVM_GET_MSRS of the syscall MSRs"));
        }
        Ok(state)
    }

    /// Reads the vCPU's state with the MSRs `msrs`, leaving out those KVM
    /// refuses to read (a Linux guest's list comes from
    /// `KVM_GET_MSR_INDEX_LIST`, which names MSRs of every CPU vendor).
    pub fn save_with(vcpu: &Vcpu, msrs: &[u32]) -> Result<VcpuState> {
        let fd = vcpu.inner();
        let regs = fd.get_regs().map_err(Error::kvm("KVM_GET_REGS"))?;
        let sregs = fd.get_sregs().map_err(Error::kvm("KVM_GET_SREGS"))?;
        let fpu = fd.get_fpu().map_err(Error::kvm("KVM_GET_FPU"))?;
        // KVM_GET_XSAVE fails with EINVAL where the host has no XSAVE.
        let xsave = fd.get_xsave().ok().map(Box::new);
        let msrs = read_msrs(vcpu, msrs)?;
        Ok(VcpuState {
            regs,
            sregs,
            fpu,
            xsave,
            msrs,
        })
    }

    /// Sets the vCPU to this state: [`VcpuState::restore_registers`], then
    /// the MSRs.
    pub fn restore(&self, vcpu: &Vcpu) -> Result<()> {
        self.restore_registers(vcpu)?;
        self.restore_msrs(vcpu)
    }

    /// Special registers first (they decide what the others mean), then
    /// FPU/XSAVE and the general registers.
    pub fn restore_registers(&self, vcpu: &Vcpu) -> Result<()> {
        let fd = vcpu.inner();
        fd.set_sregs(&self.sregs)
            .map_err(Error::kvm("KVM_SET_SREGS"))?;
        fd.set_fpu(&self.fpu).map_err(Error::kvm("KVM_SET_FPU"))?;
        if let Some(x) = &self.xsave {
            // SAFETY: `x` came from KVM_GET_XSAVE of this host's KVM, and
            // this VMM never enables dynamic XSTATE features (AMX,
            // ARCH_REQ_XCOMP_GUEST_PERM), so the kernel reads no more than
            // the 4096 bytes of `kvm_xsave` (api.rst, KVM_SET_XSAVE).
            unsafe { fd.set_xsave(x) }.map_err(Error::kvm("KVM_SET_XSAVE"))?;
        }
        fd.set_regs(&self.regs).map_err(Error::kvm("KVM_SET_REGS"))
    }

    /// The saved MSRs, in their order (`KVM_SET_MSRS`).
    pub fn restore_msrs(&self, vcpu: &Vcpu) -> Result<()> {
        // KVM takes at most KVM_MAX_MSR_ENTRIES per call.
        for chunk in self.msrs.chunks(MSR_CHUNK) {
            let entries: Vec<kvm_msr_entry> = chunk
                .iter()
                .map(|&(index, data)| kvm_msr_entry {
                    index,
                    data,
                    ..Default::default()
                })
                .collect();
            let msrs =
                Msrs::from_entries(&entries).map_err(|_| Error::Unsupported("KVM_SET_MSRS"))?;
            let n = vcpu
                .inner()
                .set_msrs(&msrs)
                .map_err(Error::kvm("KVM_SET_MSRS"))?;
            // KVM stops at the first MSR it refuses.
            if let Some(refused) = entries.get(n) {
                return Err(Error::Snapshot {
                    step: "KVM_SET_MSRS",
                    reason: format!(
                        "KVM refused MSR {:#x} = {:#x} ({n} of {} set)",
                        refused.index,
                        refused.data,
                        entries.len()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How many MSRs one `KVM_GET_MSRS`/`KVM_SET_MSRS` takes (KVM_MAX_MSR_ENTRIES).
const MSR_CHUNK: usize = 256;

/// Reads the MSRs `indices` (`KVM_GET_MSRS`), leaving out those KVM refuses:
/// it reads them in order and stops at the first it refuses, returning how
/// many it read, so the rest is asked again without that one.
pub fn read_msrs(vcpu: &Vcpu, indices: &[u32]) -> Result<Vec<(u32, u64)>> {
    let mut out = Vec::with_capacity(indices.len());
    let mut rest = indices;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(MSR_CHUNK)];
        let entries: Vec<kvm_msr_entry> = chunk
            .iter()
            .map(|&index| kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs =
            Msrs::from_entries(&entries).map_err(|_| Error::Unsupported("KVM_GET_MSRS"))?;
        let n = vcpu
            .inner()
            .get_msrs(&mut msrs)
            .map_err(Error::kvm("KVM_GET_MSRS"))?;
        out.extend(msrs.as_slice()[..n].iter().map(|e| (e.index, e.data)));
        // Go on after the refused one, if KVM stopped at one.
        let done = if n < chunk.len() { n + 1 } else { n };
        rest = &rest[done..];
    }
    Ok(out)
}
