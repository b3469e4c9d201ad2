//! `vm-bare:warm` and `vm-bare:restored+pool`: the bare guest in a VM
//! taken from a pool, booted or restored.
//!
//! Serverless platforms do not create a sandbox per request: AWS Lambda and
//! Hyperlight keep pools of VMs made in advance. Here the pool holds
//! [`bench_vm::ParkedVm`]s (VM fd, memory slots, vCPU with its CPUID, made
//! before `t0`); a launch takes one, loads the image into it and runs the
//! guest to READY (`bench_vm::warm`); teardown shuts the guest down and
//! parks the VM again. What the pool costs while it waits is measured when
//! it is first filled: the drop of the host's available memory per parked
//! VM, reported as the memory part `pool_idle_vm`.
//!
//! `vm-bare:restored+pool` puts the two ideas together: the guest is not
//! booted in the pooled VM but restored there from a snapshot taken at
//! READY (`bench_vm::Snapshot::restore_into`), as Hyperlight resets a pooled
//! sandbox from a snapshot. Its memory is split as in `vm-bare:restored`.

use super::kvm_mem;
use super::vm_bare::{self, VmBare, READY_TIMEOUT};
use super::vm_bare_restored::snapshot_of_ready_guest;
use super::{Environment, Instance};
use crate::measure::{Launch, MemPart};
use crate::procfs::available_memory;
use anyhow::Context;
use bench_vm::{Config, Image, ParkedVm, Snapshot, WarmVm, GUEST_IMAGE};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};
use workload::protocol::{Command, Message, Workload};

/// VMs parked when the pool is first filled (enough for the quick density
/// plan; more are made, before their `t0`, when a launch finds none).
const POOL_SIZE: usize = 4;

type Pool = Rc<RefCell<Vec<ParkedVm>>>;

/// What a launch does with the VM it takes from the pool.
pub enum Start {
    /// Boots the guest image (`vm-bare:warm`).
    Boot,
    /// Restores a snapshot taken at READY, made on first use
    /// (`vm-bare:restored+pool`).
    Restore(Option<Box<Snapshot>>),
}

pub struct VmBareWarm {
    start: Start,
    config: Config,
    pool: Pool,
    /// Bytes the host lost per parked VM when the pool was filled.
    idle_cost: Option<u64>,
}

impl VmBareWarm {
    pub fn new(start: Start) -> VmBareWarm {
        VmBareWarm {
            start,
            config: Config {
                ram_bytes: vm_bare::RAM_BYTES,
                boot_timeout: READY_TIMEOUT,
                ..Config::default()
            },
            pool: Rc::default(),
            idle_cost: None,
        }
    }

    /// Fills the pool on first use, measuring what each parked VM costs.
    fn fill(&mut self) -> anyhow::Result<()> {
        if self.idle_cost.is_some() {
            return Ok(());
        }
        let before = available_memory();
        let mut made = 0u64;
        while self.pool.borrow().len() < POOL_SIZE {
            let vm = ParkedVm::create(&self.config).context("filling the pool of warm VMs")?;
            self.pool.borrow_mut().push(vm);
            made += 1;
        }
        let after = available_memory();
        if let (Some(b), Some(a), true) = (before, after, made > 0) {
            self.idle_cost = Some(b.saturating_sub(a) / made);
        }
        Ok(())
    }
}

impl Environment for VmBareWarm {
    fn name(&self) -> String {
        match self.start {
            Start::Boot => "vm-bare:warm".into(),
            Start::Restore(_) => "vm-bare:restored+pool".into(),
        }
    }

    fn description(&self) -> String {
        match self.start {
            Start::Boot => "The bare KVM guest started in a VM from a pool made in advance (VM, memory \
                            slots, vCPU), as Lambda and Hyperlight keep ready sandboxes: after t0 only \
                            loading the image, resetting the registers and the boot."
                .into(),
            Start::Restore(_) => "The bare KVM guest restored from its READY snapshot into a VM from \
                                  a pool made in advance: after t0 only mapping the snapshot, setting \
                                  the registers and resuming it."
                .into(),
        }
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![];
        if let Start::Restore(_) = self.start {
            notes.push(
                "Restore phases: map_snapshot (fresh memory over guest RAM, the snapshot file \
                 MAP_PRIVATE over its first 4 MiB; the memory slots stay), vcpu_restore (sregs, \
                 FPU/XSAVE, MSRs, regs), resume (until its first request for a command, as in \
                 vm-bare:restored)."
                    .into(),
            );
        } else {
            notes.push(
                "Warm start phases: load_image, \
             vcpu_reset (a fresh vCPU's registers, then the long-mode entry), guest_boot (first \
             KVM_RUN to READY). kvm_open, create_vm, the memory slots and KVM_CREATE_VCPU happened \
             before t0, when the pool was filled."
                    .into(),
            );
        }
        notes.push(
            "A pool is not neutral: creating a memory slot (KVM_SET_USER_MEMORY_REGION, in \
             guest_memory and map_snapshot of the cold and restored rows) waits for a grace \
             period, and on the project's PVM host that wait grew from ~50 µs to ~3.7 ms whenever \
             other VMs existed, parked ones of this pool included. Rows run in --env order: \
             compare cold figures measured under the same conditions."
                .into(),
        );
        notes.push(
            "Teardown shuts the guest down and parks the VM (its guest RAM given back): the pool \
             holds no guest memory, only KVM's kernel objects; pool_idle_vm is their cost, the \
             drop of the host's available memory per VM when the pool was filled."
                .into(),
        );
        notes.extend(VmBare::new(vm_bare::Mode::InProcess).notes());
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        VmBare::new(vm_bare::Mode::InProcess).path_of(w)
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        self.fill()?;
        // Before t0: a pool that runs dry is refilled ahead of the request.
        let parked = match self.pool.borrow_mut().pop() {
            Some(p) => p,
            None => ParkedVm::create(&self.config).context("growing the pool of warm VMs")?,
        };
        let vm = match &mut self.start {
            Start::Boot => {
                let sec_before = kvm_mem::sec_page_tables();
                let vm = parked
                    .start(Image::Elf(GUEST_IMAGE), READY_TIMEOUT)
                    .context("starting the bare guest in a pooled VM")?;
                (vm, sec_before, false)
            }
            Start::Restore(snapshot) => {
                if snapshot.is_none() {
                    *snapshot = Some(Box::new(snapshot_of_ready_guest()?));
                }
                let snap = snapshot.as_ref().context("the snapshot")?;
                let sec_before = kvm_mem::sec_page_tables();
                let vm = snap
                    .restore_into(parked, READY_TIMEOUT)
                    .context("restoring the bare guest into a pooled VM")?;
                (vm, sec_before, true)
            }
        };
        let (vm, sec_before, restored) = vm;
        let p = vm.phases();
        Ok(Box::new(WarmInstance {
            launch: Launch::from_marks(p.t0, &p.marks),
            vm: Some(vm),
            pool: self.pool.clone(),
            sec_before,
            idle_cost: self.idle_cost,
            restored,
        }))
    }
}

/// A guest in a pooled VM; teardown returns the VM to the pool.
pub struct WarmInstance {
    vm: Option<WarmVm>,
    pool: Pool,
    launch: Launch,
    sec_before: Option<u64>,
    idle_cost: Option<u64>,
    /// Restored from a snapshot: memory is split into own and shared pages.
    restored: bool,
}

impl WarmInstance {
    fn vm(&mut self) -> anyhow::Result<&mut WarmVm> {
        self.vm.as_mut().context("the VM was already parked")
    }
}

impl Instance for WarmInstance {
    fn launch(&self) -> &Launch {
        &self.launch
    }

    fn request(&mut self, cmd: Command, timeout: Duration) -> anyhow::Result<Message> {
        Ok(self.vm()?.vm().request(cmd, timeout)?)
    }

    fn memory(&mut self) -> anyhow::Result<Vec<MemPart>> {
        let sec_before = self.sec_before;
        let mut parts = if self.restored {
            let guest = self.vm()?.vm().ram().host_range();
            kvm_mem::snapshot_parts(guest, sec_before)?
        } else {
            let touched = self.vm()?.vm().ram().resident_bytes()?;
            let mut parts = vec![kvm_mem::guest_ram_resident(touched)];
            parts.extend(kvm_mem::kvm_page_tables(sec_before));
            parts
        };
        if let Some(bytes) = self.idle_cost {
            parts.push(MemPart {
                name: "pool_idle_vm",
                description:
                    "what one parked VM of the pool holds while it waits (VM, vCPU, memory \
                              slots in the kernel): the drop of the host's available memory per VM \
                              when the pool was filled",
                bytes,
                counts_in_total: false,
            });
        }
        Ok(parts)
    }

    fn teardown(mut self: Box<Self>) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let vm = self.vm.take().context("the VM was already parked")?;
        let parked = vm.park(READY_TIMEOUT)?;
        self.pool.borrow_mut().push(parked);
        Ok(start.elapsed())
    }
}
