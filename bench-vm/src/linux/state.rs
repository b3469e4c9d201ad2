//! What a running Linux guest is, besides its memory: the state a snapshot
//! saves and a restore sets again in a fresh VM.
//!
//! The bare guest's vCPU is its registers and four MSRs
//! (`crate::vcpu_state`). A Linux kernel uses much more of the machine, and
//! all of it lives in KVM, so a snapshot reads it out and a restore writes it
//! into the new VM (api.rst, section 4, one ioctl each):
//!
//! | part | ioctl | why a Linux guest needs it |
//! |---|---|---|
//! | registers, FPU, XSAVE | `KVM_GET_REGS`, `_SREGS`, `_FPU`, `_XSAVE` | as for the bare guest |
//! | `xcrs` | `KVM_GET_XCRS` | XCR0: which state XSAVE covers (AVX...) |
//! | `msrs` | `KVM_GET_MSRS` of `KVM_GET_MSR_INDEX_LIST` | syscall entry, PAT, TSC, the TSC deadline, and KVM's paravirtual MSRs: kvm-clock (`MSR_KVM_SYSTEM_TIME_NEW`, `MSR_KVM_WALL_CLOCK_NEW`), steal time, async page faults, PV EOI |
//! | `lapic` | `KVM_GET_LAPIC` | the local APIC: timer, pending and in-service interrupts |
//! | `mp_state`, `events`, `debugregs` | `KVM_GET_MP_STATE`, `_VCPU_EVENTS`, `_DEBUGREGS` | runnable or halted; an exception, interrupt or NMI being delivered |
//! | [`VmState`] | `KVM_GET_IRQCHIP` (PIC master, slave, IOAPIC), `KVM_GET_PIT2`, `KVM_GET_CLOCK` | the VM-wide devices and kvm-clock's time base |
//!
//! **Order matters**, both ways (Firecracker's `vstate/vcpu` says why, and
//! so does api.rst): `KVM_GET_MP_STATE` first, since it may change the
//! LAPIC; vcpu events last. On restore: CPUID before anything, special
//! registers before the LAPIC (they hold the APIC base), the LAPIC before
//! the MSRs (the TSC-deadline MSR arms the LAPIC timer), `IA32_TSC` before
//! the TSC deadline, vcpu events after the registers (`KVM_SET_REGS` clears
//! a pending exception, which the events hold).
//!
//! **The task register.** KVM on AMD reports TR as a busy TSS (type 11)
//! whatever the VMCB holds (`svm_get_segment` in Linux's `arch/x86/kvm/svm`
//! ORs the busy bit in). An AMD CPU checks neither at `VMRUN` nor when it
//! reads the TSS's I/O bitmap, but QEMU's emulation of one (the rig) lets
//! an `in`/`out` at CPL3 through the bitmap only if TR is an *available*
//! TSS (type 9, `helper_check_io` in QEMU's `target/i386/tcg`); so did the
//! VMCB of the guest we saved. So on AMD the snapshot keeps TR as type 9,
//! or `/init`'s port accesses would fault after a restore (Intel's VM entry
//! requires a busy TR: there it stays as KVM gives it).
//!
//! **Time.** The restored guest's TSC is set back to the saved value and
//! kvm-clock to the saved time (`KVM_SET_CLOCK`): for the guest no time
//! passed while it was saved, so no timer expired and no clock jumped.
//! Firecracker saw a saved `IA32_TSC_DEADLINE` of 0 while a timer was due,
//! which leaves the LAPIC timer unarmed after a restore; like it, we arm it
//! at the saved TSC (it fires at once).

use crate::error::{Error, Result};
use crate::vcpu::Vcpu;
use crate::vcpu_state::VcpuState;
use crate::vm::{Kvm, Vm};
use kvm_bindings::{
    kvm_clock_data, kvm_debugregs, kvm_irqchip, kvm_lapic_state, kvm_mp_state, kvm_pit_state2,
    kvm_vcpu_events, kvm_xcrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
};

/// MSR numbers that need an order (Intel SDM Vol. 4).
const IA32_TSC: u32 = 0x10;
const IA32_TSC_DEADLINE: u32 = 0x6e0;

/// Everything KVM holds for the guest's one vCPU (see the module docs).
pub struct LinuxVcpuState {
    mp_state: kvm_mp_state,
    /// Registers, FPU, XSAVE and the MSRs.
    base: VcpuState,
    /// `None` where KVM has no `KVM_CAP_XCRS`.
    xcrs: Option<kvm_xcrs>,
    debugregs: kvm_debugregs,
    lapic: kvm_lapic_state,
    events: kvm_vcpu_events,
}

impl LinuxVcpuState {
    /// Reads the vCPU's state (it must not be running; call
    /// `crate::vcpu_state::complete_pending_io` first after a port exit).
    pub fn save(kvm: &Kvm, vcpu: &Vcpu) -> Result<LinuxVcpuState> {
        let fd = vcpu.inner();
        let mp_state = fd.get_mp_state().map_err(Error::kvm("KVM_GET_MP_STATE"))?;
        let list = kvm
            .inner()
            .get_msr_index_list()
            .map_err(Error::kvm("KVM_GET_MSR_INDEX_LIST"))?;
        let mut base = VcpuState::save_with(vcpu, list.as_slice())?;
        order_msrs(&mut base.msrs);
        if is_amd(kvm)? {
            base.sregs.tr.type_ = TSS_AVAILABLE;
        }
        let xcrs = fd.get_xcrs().ok();
        let debugregs = fd
            .get_debug_regs()
            .map_err(Error::kvm("KVM_GET_DEBUGREGS"))?;
        let lapic = fd.get_lapic().map_err(Error::kvm("KVM_GET_LAPIC"))?;
        let events = fd
            .get_vcpu_events()
            .map_err(Error::kvm("KVM_GET_VCPU_EVENTS"))?;
        Ok(LinuxVcpuState {
            mp_state,
            base,
            xcrs,
            debugregs,
            lapic,
            events,
        })
    }

    /// Sets a fresh vCPU (its CPUID already set) to this state, in the
    /// order of the module docs.
    pub fn restore(&self, vcpu: &Vcpu) -> Result<()> {
        let fd = vcpu.inner();
        fd.set_mp_state(self.mp_state)
            .map_err(Error::kvm("KVM_SET_MP_STATE"))?;
        self.base.restore_registers(vcpu)?;
        if let Some(x) = &self.xcrs {
            fd.set_xcrs(x).map_err(Error::kvm("KVM_SET_XCRS"))?;
        }
        fd.set_debug_regs(&self.debugregs)
            .map_err(Error::kvm("KVM_SET_DEBUGREGS"))?;
        fd.set_lapic(&self.lapic)
            .map_err(Error::kvm("KVM_SET_LAPIC"))?;
        self.base.restore_msrs(vcpu)?;
        fd.set_vcpu_events(&self.events)
            .map_err(Error::kvm("KVM_SET_VCPU_EVENTS"))
    }

    /// How many MSRs were saved.
    pub fn msr_count(&self) -> usize {
        self.base.msrs.len()
    }

    /// The saved value of MSR `index`, if it was saved.
    pub fn msr(&self, index: u32) -> Option<u64> {
        self.base
            .msrs
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| *v)
    }
}

/// The 64-bit TSS types (SDM Vol. 3A, 3.5, table 3-2): available, busy.
const TSS_AVAILABLE: u8 = 0x9;

/// True on an AMD (or Hygon) host: CPUID leaf 0's vendor (in EBX, EDX, ECX).
fn is_amd(kvm: &Kvm) -> Result<bool> {
    let leaf0 = kvm
        .supported_cpuid()?
        .as_slice()
        .iter()
        .find(|e| e.function == 0)
        .map(|e| e.ebx.to_le_bytes());
    Ok(matches!(leaf0, Some(b) if &b == b"Auth" || &b == b"Hygo"))
}

/// `IA32_TSC` first and `IA32_TSC_DEADLINE` last, the deadline never 0
/// while the TSC is known (module docs).
fn order_msrs(msrs: &mut [(u32, u64)]) {
    let tsc = msrs.iter().find(|(i, _)| *i == IA32_TSC).map(|(_, v)| *v);
    // A stable sort keeps KVM's order among the others.
    msrs.sort_by_key(|(i, _)| match *i {
        IA32_TSC => 0,
        IA32_TSC_DEADLINE => 2,
        _ => 1,
    });
    if let (Some(tsc), Some(last)) = (tsc, msrs.last_mut()) {
        if last.0 == IA32_TSC_DEADLINE && last.1 == 0 {
            last.1 = tsc;
        }
    }
}

/// The VM-wide state KVM emulates: the interrupt controllers, the PIT and
/// kvm-clock's time base.
pub struct VmState {
    pic_master: kvm_irqchip,
    pic_slave: kvm_irqchip,
    ioapic: kvm_irqchip,
    pit: kvm_pit_state2,
    clock: kvm_clock_data,
}

impl VmState {
    /// Reads it (the vCPU stopped).
    pub fn save(vm: &Vm) -> Result<VmState> {
        let fd = vm.inner();
        let chip = |chip_id| -> Result<kvm_irqchip> {
            let mut c = kvm_irqchip {
                chip_id,
                ..Default::default()
            };
            fd.get_irqchip(&mut c)
                .map_err(Error::kvm("KVM_GET_IRQCHIP"))?;
            Ok(c)
        };
        let mut clock = fd.get_clock().map_err(Error::kvm("KVM_GET_CLOCK"))?;
        // KVM_GET_CLOCK says whether the clock is stable and may add the
        // host's realtime; KVM_SET_CLOCK refuses the first (before Linux
        // 5.16) and would advance the clock by the time since the snapshot
        // with the second: we want the saved time as it is (module docs).
        clock.flags = 0;
        Ok(VmState {
            pic_master: chip(KVM_IRQCHIP_PIC_MASTER)?,
            pic_slave: chip(KVM_IRQCHIP_PIC_SLAVE)?,
            ioapic: chip(KVM_IRQCHIP_IOAPIC)?,
            pit: fd.get_pit2().map_err(Error::kvm("KVM_GET_PIT2"))?,
            clock,
        })
    }

    /// Sets it in a fresh VM that has its irqchip and PIT
    /// (`super::devices::create_in_kernel`).
    pub fn restore(&self, vm: &Vm) -> Result<()> {
        let fd = vm.inner();
        for chip in [&self.pic_master, &self.pic_slave, &self.ioapic] {
            fd.set_irqchip(chip)
                .map_err(Error::kvm("KVM_SET_IRQCHIP"))?;
        }
        fd.set_pit2(&self.pit).map_err(Error::kvm("KVM_SET_PIT2"))?;
        fd.set_clock(&self.clock)
            .map_err(Error::kvm("KVM_SET_CLOCK"))
    }

    /// kvm-clock's time at the snapshot, ns.
    pub fn clock_ns(&self) -> u64 {
        self.clock.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tsc_goes_first_and_a_zero_deadline_is_armed_at_it() {
        let mut m = vec![
            (0xc000_0081, 1),
            (IA32_TSC_DEADLINE, 0),
            (IA32_TSC, 77),
            (0x1b, 2),
        ];
        order_msrs(&mut m);
        assert_eq!(
            m,
            vec![
                (IA32_TSC, 77),
                (0xc000_0081, 1),
                (0x1b, 2),
                (IA32_TSC_DEADLINE, 77)
            ]
        );
        let mut m = vec![(IA32_TSC_DEADLINE, 5), (IA32_TSC, 77)];
        order_msrs(&mut m);
        assert_eq!(m, vec![(IA32_TSC, 77), (IA32_TSC_DEADLINE, 5)]);
    }
}
