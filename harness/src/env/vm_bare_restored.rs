//! `vm-bare:restored`: the bare guest restored from a snapshot taken at READY.
//!
//! Firecracker starts microVMs from snapshots: the guest booted once, was
//! saved, and every new VM maps the saved memory copy-on-write and sets
//! the saved registers (`bench_vm::snapshot`). Here the snapshot is made
//! once, before the first `t0`: a cold boot, `Snapshot::take` at READY, the
//! original shut down. Each launch restores it into a fresh VM and counts
//! as READY the guest's first request for a command (it said READY before
//! it was saved; `bench_vm::snapshot`).
//!
//! Memory is where restores differ from boots: the snapshot's pages are
//! page cache, mapped by every restored VM, and are counted apart
//! (`kvm_mem::snapshot_parts`): whole (RSS) and shared (PSS). With N
//! restored VMs, RSS stays and PSS falls as 1/N: the density experiment
//! shows it.
//!
//! `vm-bare:restored+ksm` is the same row with KSM on (`bench_vm::ksm`):
//! each guest's RAM is marked mergeable, `ksmd` runs (its settings are
//! restored afterwards), and after a HOLD the instance waits for two full
//! scans, so that the memory and density figures show merged pages. The
//! held working set is synthetic (every page the same), so KSM merges
//! nearly all of it: real data merges far less.

use super::kvm_mem;
use super::vm_bare::{self, VmBare, READY_TIMEOUT};
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use anyhow::Context;
use bench_vm::ksm::{self, Ksm};
use bench_vm::{BareVm, Config, Snapshot};
use std::rc::Rc;
use std::time::Duration;
use workload::protocol::{Command, Message, Workload};

#[derive(Default)]
pub struct VmBareRestored {
    /// Made on first launch, removed (with its directory) with the row.
    snapshot: Option<Snapshot>,
    /// `vm-bare:restored+ksm`: KSM wanted; `ksm` is it running (from the
    /// first launch until the row and its instances are gone).
    with_ksm: bool,
    ksm: Option<Rc<Ksm>>,
}

impl VmBareRestored {
    /// `vm-bare:restored+ksm`.
    pub fn with_ksm() -> VmBareRestored {
        VmBareRestored {
            with_ksm: true,
            ..VmBareRestored::default()
        }
    }

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
        ..Config::default()
    };
    let mut vm = BareVm::launch(&config).context("booting the guest to snapshot")?;
    let snap = Snapshot::take(&mut vm).context("taking the snapshot at READY")?;
    vm.teardown(READY_TIMEOUT)
        .context("shutting down the snapshotted guest")?;
    Ok(snap)
}

impl Environment for VmBareRestored {
    fn name(&self) -> String {
        if self.with_ksm {
            "vm-bare:restored+ksm".into()
        } else {
            "vm-bare:restored".into()
        }
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        if !self.with_ksm {
            None
        } else if !ksm::available() {
            Some("this kernel has no KSM (/sys/kernel/mm/ksm)".into())
        } else {
            (!host.root).then(|| "turning KSM on needs root (/sys/kernel/mm/ksm/run)".into())
        }
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
             sregs, FPU/XSAVE, MSRs, regs), resume (first KVM_RUN until the guest asks for its \
             first command: one VM exit, as a cold boot's READY)."
                .into(),
            "READY of a restored guest is its first request for a command (an in on the protocol \
             port): it had said READY before it was saved, and asking for a command is what every \
             guest does next; reaching it runs restored code on restored registers and memory."
                .into(),
            "Memory: guest_ram_own is the guest's own pages (written snapshot pages, copied on \
             write, and its buffers); snapshot_pss is its share of the snapshot's shared pages \
             (snapshot_rss counts them whole, as if nobody shared them)."
                .into(),
        ];
        if self.with_ksm {
            notes.push(
                "KSM on: each guest's RAM is MADV_MERGEABLE and ksmd runs (its settings restored \
                 afterwards); after HOLD an instance waits for two full scans. snapshot_pss then \
                 also holds the guest's share of merged pages, ksm_merged shows them whole. The \
                 held working set is synthetic (every page alike), so nearly all of it merges; \
                 mem_bw here pays for breaking merged pages on every write (copy on write)."
                    .into(),
            );
        }
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
        if !self.with_ksm {
            return Ok(Box::new(vm_bare::InProcess::new(vm, sec_before, true)));
        }
        ksm::mergeable(vm.ram()).context("marking guest RAM mergeable")?;
        let ksm = match &self.ksm {
            Some(k) => k.clone(),
            None => self
                .ksm
                .insert(Rc::new(Ksm::start().context("starting KSM")?))
                .clone(),
        };
        Ok(Box::new(Merging {
            inner: Box::new(vm_bare::InProcess::new(vm, sec_before, true)),
            ksm,
        }))
    }
}

/// A restored guest whose RAM KSM may merge; a HOLD waits for KSM to have
/// scanned twice (module docs).
struct Merging {
    inner: Box<dyn Instance>,
    ksm: Rc<Ksm>,
}

impl Instance for Merging {
    fn launch(&self) -> &Launch {
        self.inner.launch()
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        let answer = self.inner.request(cmd, timeout)?;
        if matches!(cmd, Command::Hold { .. }) {
            // Three: the scan under way when the pages were touched ends
            // first and may have missed them; then one records each page's
            // checksum and the next merges the pages still equal.
            self.ksm
                .settle(3, timeout)
                .context("waiting for KSM to merge the held pages")?;
        }
        Ok(answer)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        self.inner.memory()
    }

    fn teardown(self: Box<Self>) -> anyhow::Result<Duration> {
        self.inner.teardown()
    }
}
