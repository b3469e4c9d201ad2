//! `vm-linux:restored`: the Linux guest restored from a snapshot taken at
//! READY, as Firecracker starts microVMs: seconds to boot once,
//! milliseconds to restore each time (`bench_vm::linux::snapshot`).
//!
//! The snapshot is made on the first launch, before its `t0`: a cold boot
//! of the same kernel and `/init` as `vm-linux`, `LinuxSnapshot::take`
//! right after READY and the memory report (guest RAM it touched, the vCPU
//! with its MSRs and local APIC, the PIC, IOAPIC, PIT and kvm-clock, the
//! UART), the original shut down. Each launch restores it into a fresh VM.
//! READY of a restored guest is its first request for a command (it said
//! READY before it was saved), as for `vm-bare:restored`.
//!
//! Memory is split as for `vm-bare:restored` (`kvm_mem::snapshot_parts`):
//! the guest's own pages (copied on write) and its share of the snapshot's,
//! which every restored guest maps from the same file. The guest kernel's
//! view of its memory is the one it reported before it was saved.
//!
//! It runs where `vm-linux` runs (hardware KVM, the rig) and says why not
//! elsewhere, as `vm-linux` does.

use super::{guest, instance::LinuxInstance, VmLinux, REQUEST_TIMEOUT};
use crate::env::{kvm_mem, Environment, Instance};
use anyhow::{bail, Context};
use bench_vm::linux::{LinuxSnapshot, LinuxVm};
use workload::protocol::Workload;

/// The row's name.
pub const NAME: &str = "vm-linux:restored";

fn description(release: &str) -> String {
    format!(
        "The vm-linux guest ({release}) restored into a fresh VM from a snapshot taken at READY: its \
         touched memory in a file mapped MAP_PRIVATE, its vCPU, interrupt controllers, timer, clock \
         and UART state, as Firecracker restores microVMs."
    )
}

/// Builds `vm-linux:restored` for `vmvc run`, where `vm-linux` would be
/// built (`super::from_context`); else the row that says why not.
pub fn from_context(
    cx: &crate::env::Context,
    explicit: bool,
) -> anyhow::Result<Box<dyn Environment>> {
    Ok(
        match super::located(cx, explicit, NAME, description("any release"))? {
            Ok(env) => Box::new(VmLinuxRestored::new(env)),
            Err(unavailable) => unavailable,
        },
    )
}

/// `vm-linux:restored` (module docs).
pub struct VmLinuxRestored {
    /// The cold row: its kernel, initramfs and configuration make the snapshot.
    cold: VmLinux,
    /// Made on the first launch, removed (with its file) with the row.
    snapshot: Option<LinuxSnapshot>,
    /// The cold boot's READY that the snapshot was taken after, for the notes.
    cold_ready: Option<std::time::Duration>,
}

impl VmLinuxRestored {
    pub fn new(cold: VmLinux) -> VmLinuxRestored {
        VmLinuxRestored {
            cold,
            snapshot: None,
            cold_ready: None,
        }
    }

    /// Why this environment will not launch here (None: it will try).
    pub fn not_attempted(&self) -> Option<&str> {
        self.cold.not_attempted()
    }

    /// The snapshot, booting and saving a guest the first time.
    fn snapshot(&mut self) -> anyhow::Result<&LinuxSnapshot> {
        if self.snapshot.is_none() {
            if self.cold.kernel.is_none() {
                self.cold.kernel = Some(guest::read_kernel(&self.cold.kernel_path)?);
            }
            let kernel = self.cold.kernel.as_ref().context("the guest kernel")?;
            let mut vm = LinuxVm::launch(kernel, &self.cold.initramfs, &self.cold.config)
                .context("booting the Linux guest to snapshot")?;
            self.cold_ready = Some(vm.phases().ready());
            let snap = LinuxSnapshot::take(&mut vm).context("taking the snapshot at READY")?;
            let code = vm
                .shutdown(REQUEST_TIMEOUT)
                .context("shutting down the snapshotted guest")?;
            if code != 0 {
                bail!("the snapshotted guest's /init exited with code {code}");
            }
            self.snapshot = Some(snap);
        }
        self.snapshot.as_ref().context("the snapshot")
    }
}

impl Environment for VmLinuxRestored {
    fn name(&self) -> String {
        NAME.into()
    }

    fn description(&self) -> String {
        description(
            self.cold
                .info
                .release
                .as_deref()
                .unwrap_or("unknown release"),
        )
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Restore phases: kvm_open, create_vm (+ the in-kernel interrupt controllers and timer, \
             the UART's irqfd), map_snapshot (guest RAM, the memory file mapped MAP_PRIVATE over \
             all of it, memory slot), vcpu_restore (KVM_CREATE_VCPU, CPUID; MP state, registers, \
             XSAVE, XCRs, debug registers, local APIC, every MSR KVM lists (TSC, kvm-clock, \
             TSC deadline), vcpu events; then PIC, IOAPIC, PIT, KVM_SET_CLOCK; the UART from its \
             saved registers), resume (first KVM_RUN until /init reads its first command byte)."
                .into(),
            "READY of a restored guest is its first request for a command (an in on the protocol \
             port): it had said READY before it was saved; to get there the guest kernel runs \
             restored (interrupts, timer, scheduler) and returns to /init."
                .into(),
            "Memory: guest_ram_own is the guest's own pages (snapshot pages it wrote, copied on \
             write); snapshot_pss its share of the snapshot's pages, shared by every restored \
             guest (snapshot_rss counts them whole); guest_kernel is the guest's own view, \
             reported before it was saved."
                .into(),
        ];
        if let Some(s) = &self.snapshot {
            notes.push(format!(
                "The snapshot holds {} MiB of guest memory (the pages touched by READY) of {} MiB \
                 of RAM, and {} MSRs; it was taken after a cold boot to READY of {:.0} ms.",
                s.saved_bytes() >> 20,
                s.ram_bytes() >> 20,
                s.msr_count(),
                self.cold_ready.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            ));
        }
        notes.extend(
            self.cold
                .notes()
                .into_iter()
                .filter(|n| n.starts_with("Guest kernel:")),
        );
        notes
    }

    fn path_of(&self, w: Workload) -> Option<String> {
        self.cold.path_of(w)
    }

    fn unavailable(&self, host: &reports::Host) -> Option<String> {
        self.cold.unavailable(host)
    }

    fn guest_kernel(&self) -> Option<reports::GuestKernel> {
        self.cold.guest_kernel()
    }

    fn launch(&mut self) -> anyhow::Result<Box<dyn Instance>> {
        if let Some(why) = &self.cold.blocked {
            bail!("{NAME} is not attempted on this host: {why}");
        }
        let timeout = self.cold.config.boot_timeout;
        let snap = self.snapshot()?;
        let sec_before = kvm_mem::sec_page_tables();
        let vm = snap
            .restore(timeout)
            .context("restoring the Linux guest from its snapshot")?;
        Ok(Box::new(LinuxInstance::new(vm, sec_before, true)))
    }
}
