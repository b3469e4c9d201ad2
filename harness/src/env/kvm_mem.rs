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
//! A guest restored from a snapshot (`vm-bare:restored`) maps the snapshot
//! file's pages, shared with every guest restored from it: [`snapshot_parts`]
//! splits its RAM into its own pages and its share of those.
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

/// The memory parts of a guest restored from a snapshot whose RAM is at
/// `guest` in this process, from /proc/self/smaps (proc(5)): `Anonymous`
/// minus `KSM` is the guest's own (snapshot pages it wrote, copied on
/// write, and its buffers; pages KSM merged with other guests' are shared);
/// `Pss` minus that is its share of the pages it shares with other guests
/// (PSS charges a shared page 1/N to each of its N mappings): the
/// snapshot's, and KSM-merged ones where KSM runs (`vm-bare:restored+ksm`);
/// `Rss` minus `Anonymous` is the snapshot pages it maps, counted whole.
pub fn snapshot_parts(guest: Range<u64>, sec_before: Option<u64>) -> anyhow::Result<Vec<MemPart>> {
    let field = |f: &str| -> anyhow::Result<u64> {
        Ok(bench_vm::hostmem::rss_split(None, guest.clone(), f)
            .map_err(|e| anyhow::anyhow!("reading {f} of guest RAM in /proc/self/smaps: {e}"))?
            .guest_ram)
    };
    let (rss, pss, anon) = (field("Rss")?, field("Pss")?, field("Anonymous")?);
    let merged = field("KSM")?;
    let own = anon.saturating_sub(merged);
    let mut parts = vec![
        MemPart {
            name: "guest_ram_own",
            description: "guest RAM pages of this guest alone: snapshot pages it wrote (copied \
                          on write) and its buffers (Anonymous minus KSM in /proc/self/smaps)",
            bytes: own,
            counts_in_total: true,
        },
        MemPart {
            name: "snapshot_pss",
            description: "its share of the pages it shares with other guests, each divided among \
                          the guests mapping it: the snapshot's, and KSM-merged ones where KSM \
                          runs (Pss minus the pages of its own)",
            bytes: pss.saturating_sub(own),
            counts_in_total: true,
        },
        MemPart {
            name: "snapshot_rss",
            description: "the snapshot pages it maps, counted whole as if nobody shared them \
                          (Rss minus Anonymous)",
            bytes: rss.saturating_sub(anon),
            counts_in_total: false,
        },
    ];
    if merged > 0 {
        parts.push(MemPart {
            name: "ksm_merged",
            description: "its pages KSM merged with equal pages (KSM in /proc/self/smaps), \
                          counted whole; their share is in snapshot_pss",
            bytes: merged,
            counts_in_total: false,
        });
    }
    parts.extend(kvm_page_tables(sec_before));
    Ok(parts)
}
