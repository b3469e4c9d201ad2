//! x86-64 long mode, set up by the VMM before the first instruction.
//!
//! A real PC starts in 16-bit real mode and firmware plus a boot loader climb
//! to 64-bit mode. A VMM can skip all that: it writes page tables into guest
//! memory and sets the control registers and segment registers of the vCPU
//! directly (`KVM_SET_SREGS`), so the guest's first instruction already runs
//! in 64-bit long mode. What long mode needs (Intel SDM Vol. 3A, 10.8.5
//! "Initializing IA-32e Mode"; AMD APM Vol. 2, 14.6 "Enabling and Activating
//! Long Mode"):
//!
//! - paging with PAE: CR4.PAE, CR3 = a 4-level page table, CR0.PG;
//! - EFER.LME (long mode enable) and EFER.LMA (active);
//! - a 64-bit code segment (L=1) in CS.
//!
//! Our page tables identity-map all of guest RAM (virtual = physical) with
//! 2 MiB pages, every page user-accessible, so that the workload at CPL3 can
//! reach its code, stack and buffers. There is deliberately no protection
//! inside the guest: the VMM is the security boundary.

use crate::error::{Error, Result};
use crate::memory::GuestRam;
use kvm_bindings::{kvm_segment, kvm_sregs};
use vm_memory::{Bytes, GuestAddress};

/// Where the boot GDT lives (the guest may load its own later).
pub const BOOT_GDT: u64 = 0x500;
/// PML4 (top level page table); CR3 points here.
pub const PML4: u64 = 0x1000;
/// The page-directory-pointer table (one: covers 512 GiB).
pub const PDPT: u64 = 0x2000;
/// First page directory; one per GiB of RAM follows.
pub const PD0: u64 = 0x3000;
/// Page tables must stay below this (the image is loaded at 1 MiB).
pub const PAGE_TABLES_END: u64 = 0x10_0000;

// Page table entry bits (SDM Vol. 3A, 5.5 "4-Level Paging", Tables 5-15..5-19).
const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const HUGE: u64 = 1 << 7; // PS: this PD entry maps a 2 MiB page

// Control register bits (SDM Vol. 3A, 2.5 "Control Registers").
const CR0_PE: u64 = 1 << 0; // protected mode
const CR0_MP: u64 = 1 << 1; // monitor coprocessor (with TS, for SSE)
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5; // native x87 error reporting
const CR0_WP: u64 = 1 << 16;
const CR0_PG: u64 = 1 << 31; // paging
const CR4_PAE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9; // SSE instructions allowed
const CR4_OSXMMEXCPT: u64 = 1 << 10; // SSE exceptions as #XM
                                     // EFER (SDM Vol. 3A, 2.2.1 "Extended Feature Enable Register").
const EFER_SCE: u64 = 1 << 0; // SYSCALL/SYSRET enabled
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// Selectors of the boot GDT (same layout as the bare guest's own GDT).
pub const CODE_SELECTOR: u16 = 0x08;
pub const DATA_SELECTOR: u16 = 0x10;

/// Writes the identity-mapping page tables and the boot GDT.
pub fn write_boot_tables(ram: &GuestRam) -> Result<()> {
    let gib = ram.size().div_ceil(1 << 30);
    if PD0 + gib * 0x1000 > PAGE_TABLES_END || gib > 512 {
        return Err(Error::Memory {
            size: ram.size(),
            reason: "too large for the boot page tables (at most 250 GiB)".into(),
        });
    }
    let mem = ram.mem();
    let w = |addr: u64, v: u64| {
        mem.write_obj(v, GuestAddress(addr))
            .map_err(|e| Error::Memory {
                size: ram.size(),
                reason: format!("writing boot tables at {addr:#x}: {e}"),
            })
    };
    let flags = PRESENT | WRITABLE | USER;
    w(PML4, PDPT | flags)?;
    let two_mib: u64 = 2 << 20;
    let pages = ram.size() / two_mib;
    for g in 0..gib {
        let pd = PD0 + g * 0x1000;
        w(PDPT + g * 8, pd | flags)?;
        // One bulk write per page directory instead of 512 small ones.
        let mut entries = [0u8; 4096];
        for (i, e) in entries.chunks_exact_mut(8).enumerate() {
            let page = g * 512 + i as u64;
            if page < pages {
                e.copy_from_slice(&((page * two_mib) | flags | HUGE).to_le_bytes());
            }
        }
        mem.write_slice(&entries, GuestAddress(pd))
            .map_err(|e| Error::Memory {
                size: ram.size(),
                reason: format!("writing page directory at {pd:#x}: {e}"),
            })?;
    }
    // Boot GDT: null, 64-bit code, data (SDM Vol. 3A, 3.4.5).
    w(BOOT_GDT, 0)?;
    w(BOOT_GDT + 8, 0x00af_9a00_0000_ffff)?;
    w(BOOT_GDT + 16, 0x00cf_9200_0000_ffff)?;
    Ok(())
}

fn segment(selector: u16, type_: u8, long: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        dpl: 0,
        db: u8::from(!long), // must be 0 in a 64-bit code segment
        s: 1,                // code or data (not a system segment)
        l: u8::from(long),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Turns the vCPU's reset-state special registers into 64-bit long mode at
/// CPL0 with the page tables of [`write_boot_tables`].
pub fn long_mode_sregs(sregs: &mut kvm_sregs) {
    // Segment registers: KVM loads these "hidden" parts directly, as if the
    // guest had loaded the selectors from the boot GDT.
    sregs.cs = segment(CODE_SELECTOR, 0xb, true); // execute/read, accessed
    let data = segment(DATA_SELECTOR, 0x3, false); // read/write, accessed
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.gdt.base = BOOT_GDT;
    sregs.gdt.limit = 3 * 8 - 1;

    sregs.cr3 = PML4;
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    // SCE lets the guest use `syscall` (its stub sets the entry MSRs).
    sregs.efer = EFER_LME | EFER_LMA | EFER_SCE;
}
