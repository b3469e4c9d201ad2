//! What a KVM guest costs the host: the memory parts every VM row reports.
//!
//! A VMM maps guest RAM into its own address space with `MAP_NORESERVE`, so
//! the host gives a page only when the guest first touches it: a 132 MiB
//! guest that touched 20 MiB costs 20 MiB. That is counted from inside the
//! VMM (`mincore(2)` on the mapping: its resident pages) when the harness is
//! the VMM, or from outside, per mapping of `/proc/PID/smaps` (proc(5)), when
//! the VMM is a process of its own; the second way also gives the VMM's own
//! memory, every mapping but guest RAM, as Firecracker's memory-overhead test
//! splits a microVM. Outside the VMM process, KVM keeps page tables for the
//! guest in the host kernel: with hardware KVM the EPT/NPT tables, counted
//! in `/proc/meminfo` as `SecPageTables` (Linux 6.0+, kernel
//! `Documentation/filesystems/proc.rst`); PVM's shadow page tables are not
//! counted there, so on PVM that part stays 0.
//!
//! Used by `vm-bare`, `vm-linux` and the VMM-process launcher alike.

use crate::measure::MemPart;
use std::ops::Range;

/// `SecPageTables` now, bytes (`None` where the kernel does not count it).
/// Read just before a launch, it is the baseline of [`kvm_page_tables`].
pub fn sec_page_tables() -> Option<u64> {
    bench_vm::hostmem::sec_page_tables().ok().flatten()
}

/// KVM's page tables for the guest: the growth of `SecPageTables` since
/// `before` (read before the launch); `None` without both readings.
pub fn kvm_page_tables(before: Option<u64>) -> Option<MemPart> {
    let now = sec_page_tables()?;
    Some(MemPart {
        name: "kvm_page_tables",
        description: "KVM's page tables for this guest (SecPageTables in /proc/meminfo, \
                      change since launch; other VMs starting meanwhile blur it)",
        bytes: now.saturating_sub(before?),
        counts_in_total: true,
    })
}

/// Guest RAM the guest touched, counted by the VMM itself (in-process).
pub fn guest_ram_resident(bytes: u64) -> MemPart {
    MemPart {
        name: "guest_ram",
        description:
            "guest RAM the guest touched (resident pages of the MAP_NORESERVE mapping, mincore)",
        bytes,
        counts_in_total: true,
    }
}

/// A VMM process `pid` whose guest RAM is mapped at `guest_ram`: guest RAM
/// touched, the VMM's own memory and its page tables.
pub fn vmm_process_parts(pid: u32, guest_ram: Range<u64>) -> anyhow::Result<Vec<MemPart>> {
    // Pss: the VMM's code pages are shared by every VMM process (and
    // vmvc), so each is charged its share, as for native.
    let split = bench_vm::hostmem::rss_split(Some(pid), guest_ram, "Pss")?;
    let pte = crate::procfs::page_tables(pid)?;
    Ok(vec![
        MemPart {
            name: "guest_ram",
            description: "guest RAM the guest touched (its mapping in the VMM process, PSS)",
            bytes: split.guest_ram,
            counts_in_total: true,
        },
        MemPart {
            name: "vmm",
            description: "the VMM process's own memory: every mapping but guest RAM (PSS)",
            bytes: split.vmm_own,
            counts_in_total: true,
        },
        MemPart {
            name: "page_tables",
            description: "the VMM process's page tables (VmPTE), kernel memory",
            bytes: pte,
            counts_in_total: true,
        },
    ])
}

/// The note of an in-process VM row: the VMM is the harness, so its own
/// memory cannot be told apart; `process_row` is the row that splits it.
pub fn in_process_note(process_row: &str) -> String {
    format!(
        "In-process: the VMM's own memory is the harness's and is not split out; see \
         {process_row} for it."
    )
}
