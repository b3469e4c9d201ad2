//! The CPU state a Linux kernel expects at its 64-bit entry.
//!
//! boot.rst ("64-bit BOOT PROTOCOL") asks for 64-bit mode with paging on,
//! a GDT with flat `__BOOT_CS` (0x10) and `__BOOT_DS` (0x18), interrupts
//! off, `%rsi` at the zero page. A real CPU brings more along from reset
//! and firmware, which a vCPU must be given explicitly ([`setup_vcpu`]):
//!
//! - **CPUID**: KVM tells what it can virtualise (`KVM_GET_SUPPORTED_CPUID`,
//!   api.rst); we pass that on and add the *hypervisor* bit
//!   (CPUID.1:ECX[31]). Only with it does Linux look at the KVM leaves
//!   0x40000000+ and use the paravirtual clock (kvm-clock); without it, a
//!   guest may hang in "Calibrating delay loop" on a host whose TSC it
//!   cannot trust.
//! - **MSRs**: the values Firecracker gives them (a clean syscall state,
//!   fast strings on, MTRRs on with write-back by default; Intel SDM Vol. 4).
//! - **FPU** and **local APIC**: reset defaults, and LINT0/LINT1 wired as a
//!   BIOS would (Intel MP spec, 3.6.2.2).
//! - **registers**: long mode at the kernel's entry (`crate::vcpu`), with the
//!   protocol's selectors and GDT (`super::layout`).

use super::layout::{Layout, BOOT_CS, BOOT_DS, BOOT_PARAMS, BOOT_STACK, GDT};
use crate::error::Error;
use crate::vcpu::{LongModeEntry, Vcpu};
use crate::vm::Kvm;
use kvm_bindings::{kvm_fpu, kvm_lapic_state, kvm_msr_entry, CpuId, Msrs};

/// The supported CPUID with the hypervisor bit set (see the module docs).
pub fn guest_cpuid(supported: &CpuId) -> CpuId {
    let mut cpuid = supported.clone();
    for e in cpuid.as_mut_slice() {
        if e.function == 1 {
            e.ecx |= 1 << 31;
            // Initial APIC id (bits 31..24) of vCPU 0.
            e.ebx &= 0x00ff_ffff;
        }
    }
    cpuid
}

/// True if the CPUID has KVM's signature leaf ("KVMKVMKVM" at 0x40000000).
pub fn has_kvm_leaves(cpuid: &CpuId) -> bool {
    cpuid.as_slice().iter().any(|e| {
        e.function == 0x4000_0000
            && e.ebx == u32::from_le_bytes(*b"KVMK")
            && e.ecx == u32::from_le_bytes(*b"VMKV")
    })
}

/// MSR numbers (Intel SDM Vol. 4; Linux arch/x86/include/asm/msr-index.h).
pub mod msr {
    pub const IA32_TSC: u32 = 0x10;
    pub const IA32_SYSENTER_CS: u32 = 0x174;
    pub const IA32_SYSENTER_ESP: u32 = 0x175;
    pub const IA32_SYSENTER_EIP: u32 = 0x176;
    pub const IA32_MISC_ENABLE: u32 = 0x1a0;
    pub const MTRR_DEF_TYPE: u32 = 0x2ff;
    pub const STAR: u32 = 0xc000_0081;
    pub const LSTAR: u32 = 0xc000_0082;
    pub const CSTAR: u32 = 0xc000_0083;
    pub const SYSCALL_MASK: u32 = 0xc000_0084;
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
}

/// The MSRs set before boot: a clean syscall state, fast strings, and MTRRs
/// enabled with write-back as the default memory type.
pub fn boot_msrs() -> Vec<kvm_msr_entry> {
    let e = |index, data| kvm_msr_entry {
        index,
        data,
        ..Default::default()
    };
    vec![
        e(msr::IA32_SYSENTER_CS, 0),
        e(msr::IA32_SYSENTER_ESP, 0),
        e(msr::IA32_SYSENTER_EIP, 0),
        e(msr::STAR, 0),
        e(msr::CSTAR, 0),
        e(msr::KERNEL_GS_BASE, 0),
        e(msr::SYSCALL_MASK, 0),
        e(msr::LSTAR, 0),
        e(msr::IA32_TSC, 0),
        e(msr::IA32_MISC_ENABLE, 1),          // fast-string operations
        e(msr::MTRR_DEF_TYPE, (1 << 11) | 6), // MTRRs enabled, default WB
    ]
}

/// Sets up the vCPU's CPUID, MSRs, FPU, local APIC and registers for the
/// 64-bit entry.
pub fn setup_vcpu(kvm: &Kvm, vcpu: &Vcpu, layout: &Layout) -> Result<(), Error> {
    let fd = vcpu.inner();
    let cpuid = guest_cpuid(kvm.supported_cpuid()?);
    fd.set_cpuid2(&cpuid).map_err(|source| Error::Kvm {
        step: "KVM_SET_CPUID2 (with the hypervisor bit)",
        source,
    })?;
    let entries = boot_msrs();
    let msrs = Msrs::from_entries(&entries).map_err(|_| Error::Unsupported("a small MSR list"))?;
    let set = fd.set_msrs(&msrs).map_err(|source| Error::Kvm {
        step: "KVM_SET_MSRS",
        source,
    })?;
    if set != entries.len() {
        // KVM stops at the first MSR it refuses.
        return Err(Error::Image(format!(
            "KVM refused boot MSR {:#x} ({} of {} set)",
            entries.get(set).map_or(0, |e| e.index),
            set,
            entries.len()
        )));
    }
    // x87 control word and SSE MXCSR at their reset defaults (SDM Vol. 1, 8.1.5, 10.2.3.1).
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    fd.set_fpu(&fpu).map_err(|source| Error::Kvm {
        step: "KVM_SET_FPU",
        source,
    })?;
    // Local APIC: LINT0 delivers the 8259 PIC's interrupts (ExtINT), LINT1
    // is NMI: the "virtual wire" a BIOS would set up (Intel MP spec, 3.6.2.2).
    let mut lapic = fd.get_lapic().map_err(|source| Error::Kvm {
        step: "KVM_GET_LAPIC",
        source,
    })?;
    set_lint(&mut lapic);
    fd.set_lapic(&lapic).map_err(|source| Error::Kvm {
        step: "KVM_SET_LAPIC",
        source,
    })?;
    vcpu.enter_long_mode(&LongModeEntry {
        rip: layout.entry,
        rsp: BOOT_STACK,
        rdi: 0,
        rsi: BOOT_PARAMS,
        r8: 0,
    })?;
    // The selectors and GDT of the boot protocol (see `super::zero_page::load`).
    let mut sregs = fd.get_sregs().map_err(|source| Error::Kvm {
        step: "KVM_GET_SREGS",
        source,
    })?;
    sregs.cs.selector = BOOT_CS;
    for s in [
        &mut sregs.ds,
        &mut sregs.es,
        &mut sregs.fs,
        &mut sregs.gs,
        &mut sregs.ss,
    ] {
        s.selector = BOOT_DS;
    }
    sregs.gdt.base = GDT;
    sregs.gdt.limit = 4 * 8 - 1;
    fd.set_sregs(&sregs).map_err(|source| Error::Kvm {
        step: "KVM_SET_SREGS",
        source,
    })
}

const APIC_LVT0: usize = 0x350;
const APIC_LVT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

fn lapic_reg(l: &kvm_lapic_state, off: usize) -> u32 {
    u32::from_le_bytes([
        l.regs[off] as u8,
        l.regs[off + 1] as u8,
        l.regs[off + 2] as u8,
        l.regs[off + 3] as u8,
    ])
}

fn set_lapic_reg(l: &mut kvm_lapic_state, off: usize, v: u32) {
    for (i, b) in v.to_le_bytes().iter().enumerate() {
        l.regs[off + i] = *b as _;
    }
}

/// Sets the delivery modes of LINT0 (ExtINT) and LINT1 (NMI).
pub fn set_lint(l: &mut kvm_lapic_state) {
    let with_mode = |reg: u32, mode: u32| (reg & !0x700) | (mode << 8);
    let v0 = lapic_reg(l, APIC_LVT0);
    set_lapic_reg(l, APIC_LVT0, with_mode(v0, APIC_MODE_EXTINT));
    let v1 = lapic_reg(l, APIC_LVT1);
    set_lapic_reg(l, APIC_LVT1, with_mode(v1, APIC_MODE_NMI));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuid_gets_the_hypervisor_bit_and_msrs_are_sane() {
        let mut supported = CpuId::new(2).expect("small cpuid");
        supported.as_mut_slice()[0].function = 1;
        supported.as_mut_slice()[0].ebx = 0x0a00_0800;
        supported.as_mut_slice()[1].function = 0x4000_0000;
        supported.as_mut_slice()[1].ebx = u32::from_le_bytes(*b"KVMK");
        supported.as_mut_slice()[1].ecx = u32::from_le_bytes(*b"VMKV");
        let c = guest_cpuid(&supported);
        assert_eq!(c.as_slice()[0].ecx >> 31, 1);
        assert_eq!(c.as_slice()[0].ebx >> 24, 0);
        assert!(has_kvm_leaves(&c));
        let msrs = boot_msrs();
        assert!(msrs
            .iter()
            .any(|m| m.index == msr::MTRR_DEF_TYPE && m.data == 0x806));
    }

    #[test]
    fn lint_modes() {
        let mut l = kvm_lapic_state::default();
        set_lint(&mut l);
        assert_eq!(lapic_reg(&l, APIC_LVT0) & 0x700, 0x700);
        assert_eq!(lapic_reg(&l, APIC_LVT1) & 0x700, 0x400);
    }
}
