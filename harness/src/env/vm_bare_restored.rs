//! `vm-bare:restored`: the bare guest restored from a snapshot taken at READY.
//!
//! Firecracker starts microVMs from snapshots: the guest booted once, was
//! saved, and every new VM maps the saved memory copy-on-write and sets
//! the saved registers (`bench_vm::snapshot`). Here the snapshot is made
//! once, before the first `t0`: a cold boot, `Snapshot::take` at READY, the
//! original shut down. Each launch restores it into a fresh VM and counts
//! as READY the guest's first answer (it said READY before it was saved).
//!
//! Memory is where restores differ from boots: the snapshot's pages are
//! page cache, mapped by every restored VM. They are split out of
//! /proc/self/smaps for the guest-RAM mapping: `Anonymous` is what this guest
//! has of its own (pages it wrote, copied on write, and its buffers), `Rss`
//! minus that is the snapshot pages it maps, and `Pss` minus it the same
//! pages divided among all VMs mapping them (proc(5): PSS charges a shared
//! page 1/N to each of its N mappings). With N restored VMs, RSS stays and
//! PSS falls as 1/N: the density experiment shows it.

use super::kvm_mem;
use super::vm_bare::{self, VmBare, READY_TIMEOUT};
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use anyhow::Context;
use bench_vm::hostmem::rss_split;
use bench_vm::{BareVm, Config, Snapshot};
use std::time::Duration;
use workload::protocol::{Command, Message, Workload};

#[derive(Default)]
pub struct VmBareRestored {
    /// Made on first launch, removed (with its directory) with the row.
    snapshot: Option<Snapshot>,
}

impl VmBareRestored {
    /// The snapshot, booting and saving a guest the first time.
    fn snapshot(&mut self) -> anyhow::Result<&Snapshot> {
        if self.snapshot.is_none() {
            self.snapshot = Some(snapshot_of_ready_guest()?);
        }
        self.snapshot.as_ref().context("the snapshot")
    }
}

/// Boots a guest (as `vm-bare` does), saves it at READY and shuts it down.
pub fn snapshot_of_ready_guest() -> anyhow::Result<Snapshot> {
    let config = Config {
        ram_bytes: vm_bare::RAM_BYTES,
        boot_timeout: READY_TIMEOUT,
    };
    let mut vm = BareVm::launch(&config).context("booting the guest to snapshot")?;
    let snap = Snapshot::take(&mut vm).context("taking the snapshot at READY")?;
    vm.teardown(READY_TIMEOUT)
        .context("shutting down the snapshotted guest")?;
    Ok(snap)
}

/// The memory parts of a guest restored from a snapshot (module docs):
/// its own pages, its share of the snapshot's, the snapshot's whole, and
/// KVM's page tables since `sec_before`.
pub fn snapshot_parts(vm: &BareVm, sec_before: Option<u64>) -> anyhow::Result<Vec<MemPart>> {
    let guest = vm.ram().host_range();
    let field = |f: &str| -> anyhow::Result<u64> {
        Ok(rss_split(None, guest.clone(), f)
            .with_context(|| format!("reading {f} of guest RAM in /proc/self/smaps"))?
            .guest_ram)
    };
    let (rss, pss, own) = (field("Rss")?, field("Pss")?, field("Anonymous")?);
    let mut parts = vec![
        MemPart {
            name: "guest_ram_own",
            description: "guest RAM pages of this guest alone: snapshot pages it wrote (copied \
                          on write) and its buffers (Anonymous in /proc/self/smaps)",
            bytes: own,
            counts_in_total: true,
        },
        MemPart {
            name: "snapshot_pss",
            description: "its share of the snapshot pages it maps: each shared page divided \
                          among the VMs mapping it (Pss minus Anonymous)",
            bytes: pss.saturating_sub(own),
            counts_in_total: true,
        },
        MemPart {
            name: "snapshot_rss",
            description: "the snapshot pages it maps, counted whole as if nobody shared them \
                          (Rss minus Anonymous)",
            bytes: rss.saturating_sub(own),
            counts_in_total: false,
        },
    ];
    parts.extend(kvm_mem::kvm_page_tables(sec_before));
    Ok(parts)
}

impl Environment for VmBareRestored {
    fn name(&self) -> String {
        "vm-bare:restored".into()
    }

    fn description(&self) -> String {
        "The bare KVM guest restored into a fresh VM from a snapshot taken at READY (its touched \
         memory in a file mapped MAP_PRIVATE, its vCPU registers), as Firecracker restores microVMs."
            .into()
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Restore phases: kvm_open, create_vm, map_snapshot (guest RAM, the memory file mapped \
             MAP_PRIVATE over its first 4 MiB, memory slot), vcpu_restore (KVM_CREATE_VCPU, CPUID, \
             sregs, FPU/XSAVE, MSRs, regs), first_answer (first KVM_RUN until the guest answers a \
             one-round-trip boundary run)."
                .into(),
            "READY of a restored guest is its first answer to a command: it had said READY before \
             it was saved, so answering is what shows it runs again."
                .into(),
            "Memory: guest_ram_own is the guest's own pages (written snapshot pages, copied on \
             write, and its buffers); snapshot_pss is its share of the snapshot's shared pages \
             (snapshot_rss counts them whole, as if nobody shared them)."
                .into(),
        ];
        if let Some(s) = &self.snapshot {
            notes.push(format!(
                "The snapshot holds {} KiB of guest memory (the pages touched by READY), in {}.",
                s.saved_bytes() >> 10,
                s.dir().display()
            ));
        }
        notes.extend(VmBare::new(vm_bare::Mode::InProcess).notes());
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        VmBare::new(vm_bare::Mode::InProcess).path_of(w)
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        let sec_before = kvm_mem::sec_page_tables();
        let vm = self
            .snapshot()?
            .restore(READY_TIMEOUT)
            .context("restoring the bare guest from its snapshot")?;
        let p = vm.phases();
        Ok(Box::new(RestoredInstance {
            launch: Launch::from_marks(p.t0, &p.marks),
            vm: Some(vm),
            sec_before,
        }))
    }
}

/// A restored guest, driven by the harness itself.
pub struct RestoredInstance {
    vm: Option<BareVm>,
    launch: Launch,
    sec_before: Option<u64>,
}

impl RestoredInstance {
    fn vm(&mut self) -> anyhow::Result<&mut BareVm> {
        self.vm.as_mut().context("the VM was already torn down")
    }
}

impl Instance for RestoredInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        Ok(self.vm()?.request(cmd, timeout)?)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let sec_before = self.sec_before;
        snapshot_parts(self.vm()?, sec_before)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let vm = self.vm.take().context("the VM was already torn down")?;
        Ok(vm.teardown(READY_TIMEOUT)?)
    }
}
