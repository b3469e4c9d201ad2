//! Launch phases: when each step of starting a VM ended.
//!
//! DESIGN.md ("Startup") times a VM launch in the same steps for every
//! guest, because every VMM on KVM takes them in this order (api.rst, section
//! 1: system fd, VM fd, memory, vCPU fd, `KVM_RUN`):
//!
//! | phase | what the VMM does |
//! |---|---|
//! | `kvm_open` | `open("/dev/kvm")` |
//! | `create_vm` | `KVM_CREATE_VM` (and VM-wide devices) |
//! | `guest_memory` | guest RAM mapped and plugged in |
//! | `load_image` | the guest's code and boot data written into its RAM |
//! | `vcpu_setup` | `KVM_CREATE_VCPU` and its initial state |
//! | then: the guest's own boot | first `KVM_RUN` until the workload's READY |
//!
//! The first five are the VMM's own work ([`VMM_PHASES`]); the last is the
//! guest's, named for what boots: `guest_boot` for the bare guest,
//! `kernel_boot` for a Linux kernel ([`with_guest_boot`]). [`Phases`]
//! records the instant each one ended.

use std::time::{Duration, Instant};

/// The VMM's own launch steps, the same for every guest, in order.
pub const VMM_PHASES: [&str; 5] = [
    "kvm_open",
    "create_vm",
    "guest_memory",
    "load_image",
    "vcpu_setup",
];

/// The phase names of a launch: [`VMM_PHASES`], then the guest's own boot.
pub const fn with_guest_boot(boot: &'static str) -> [&'static str; 6] {
    let [a, b, c, d, e] = VMM_PHASES;
    [a, b, c, d, e, boot]
}

/// When each launch phase ended (see the module docs).
#[derive(Debug, Clone)]
pub struct Phases {
    /// Just before the first step (opening /dev/kvm).
    pub t0: Instant,
    /// (phase, instant it ended), in order; the last one is READY.
    pub marks: Vec<(&'static str, Instant)>,
}

impl Phases {
    /// Starts the clock: `t0` is now.
    pub fn start() -> Phases {
        Phases {
            t0: Instant::now(),
            marks: Vec::with_capacity(VMM_PHASES.len() + 1),
        }
    }

    /// Records that `phase` ended now.
    pub fn end(&mut self, phase: &'static str) {
        self.marks.push((phase, Instant::now()));
    }

    /// `t0` to READY.
    pub fn ready(&self) -> Duration {
        self.marks.last().map_or(Duration::ZERO, |(_, at)| {
            at.saturating_duration_since(self.t0)
        })
    }

    /// Durations of each phase.
    pub fn durations(&self) -> Vec<(&'static str, Duration)> {
        let mut prev = self.t0;
        self.marks
            .iter()
            .map(|(name, at)| {
                let d = at.saturating_duration_since(prev);
                prev = *at;
                (*name, d)
            })
            .collect()
    }
}
