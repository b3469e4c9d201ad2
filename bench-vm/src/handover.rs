//! How a bare VM changes hands: put together from its parts, and taken apart.
//!
//! A cold launch (`crate::bare`) makes every part itself and then runs the
//! guest to READY ([`BareVm::boot`]). A warm start (`crate::warm`) brings
//! parts made before the request, and gives them back at teardown
//! ([`BareVm::into_parts`]); a restore (`crate::snapshot`) brings a VM whose
//! guest is already past READY ([`BareVm::assemble`]). The parts are the
//! ones a KVM VMM always has (api.rst, section 1): the `/dev/kvm` fd, the VM
//! fd with its RAM, the vCPU fd; the rest is the VMM's protocol state.

use crate::bare::{BareVm, Ports};
use crate::error::{Error, GuestFault, Result};
use crate::phases::Phases;
use crate::vcpu::Vcpu;
use crate::vm::{Kvm, Vm};
use std::time::Duration;
use workload::protocol::Message;

impl BareVm {
    /// Runs a VM whose image and registers are in place until its READY,
    /// and ends the `guest_boot` phase (shared by cold and warm starts,
    /// `crate::warm`).
    pub(crate) fn boot(
        kvm: Kvm,
        vm: Vm,
        vcpu: Vcpu,
        phases: Phases,
        ports: Ports,
        scratch_plugged: bool,
        timeout: Duration,
    ) -> Result<BareVm> {
        let mut bare = BareVm::assemble(kvm, vm, vcpu, phases, ports, scratch_plugged);
        match bare.next_message(timeout)? {
            Message::Ready => {}
            other => {
                return Err(Error::Guest {
                    fault: GuestFault::Protocol(format!("expected READY first, got {other:?}")),
                    regs: Box::new(bare.vcpu.snapshot()),
                })
            }
        }
        bare.phases.end("guest_boot");
        Ok(bare)
    }

    /// A BareVm of these parts, with fresh protocol state (no command sent,
    /// no message read): how a launch, a warm start (`crate::warm`) and a
    /// restore (`crate::snapshot`) hand over a VM.
    pub(crate) fn assemble(
        kvm: Kvm,
        vm: Vm,
        vcpu: Vcpu,
        phases: Phases,
        ports: Ports,
        scratch_plugged: bool,
    ) -> BareVm {
        BareVm {
            vcpu,
            vm,
            _kvm: kvm,
            ports,
            phases,
            dead: None,
            scratch_plugged,
            read_pending: false,
        }
    }

    /// The vCPU, mutable (a snapshot completes its last port access).
    pub(crate) fn vcpu_mut(&mut self) -> &mut Vcpu {
        &mut self.vcpu
    }

    /// Records that launch phase `name` ended now.
    pub(crate) fn end_phase(&mut self, name: &'static str) {
        self.phases.end(name);
    }

    /// Takes the VM apart again (for `crate::warm`, which parks it).
    pub(crate) fn into_parts(self) -> (Kvm, Vm, Vcpu, bool) {
        (self._kvm, self.vm, self.vcpu, self.scratch_plugged)
    }
}
