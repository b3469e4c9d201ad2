//! Warm starts from a pool and restores from a snapshot, on real VMs
//! (skipped loudly without KVM).

mod common;

use bench_vm::snapshot::{RESTORE_INTO_PHASES, RESTORE_PHASES};
use bench_vm::warm::WARM_PHASES;
use bench_vm::{BareVm, Config, Image, ParkedVm, Snapshot, GUEST_IMAGE};
use common::kvm_or_skip;
use std::time::Duration;
use vm_memory::{Bytes, GuestAddress};
use workload::bare::SCRATCH_BASE;
use workload::protocol::{Command, Message, Workload};

const T: Duration = Duration::from_secs(30);

/// Runs all five workloads, small, and checks that each answers RESULT.
fn every_workload_answers(vm: &mut BareVm) {
    for w in Workload::ALL {
        let cmd = Command::Run {
            workload: w as u8,
            size: 1 << 20,
            iterations: 50,
        };
        match vm.request(cmd, T) {
            Ok(Message::Result { workload, ops, .. }) => {
                assert!(workload == w as u8 && ops > 0, "{w:?}")
            }
            other => panic!("{w:?}: {other:?}"),
        }
    }
}

fn phase_names(vm: &BareVm) -> Vec<&'static str> {
    vm.phases().durations().iter().map(|(n, _)| *n).collect()
}

#[test]
fn a_parked_vm_serves_guest_after_guest_and_forgets_each() {
    if !kvm_or_skip("a_parked_vm_serves_guest_after_guest_and_forgets_each") {
        return;
    }
    let config = Config::with_scratch(8 << 20);
    let mut parked = ParkedVm::create(&config).unwrap_or_else(|e| panic!("{e}"));
    for round in 0..3 {
        let mut warm = parked
            .start(Image::Elf(GUEST_IMAGE), T)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(phase_names(warm.vm()), WARM_PHASES);
        // The last guest's held page is gone: this guest's RAM reads zero.
        let held = warm
            .vm()
            .ram()
            .mem()
            .read_obj::<u8>(GuestAddress(SCRATCH_BASE));
        assert_eq!(
            held.ok(),
            Some(0),
            "round {round}: a page of the last guest"
        );
        // A fresh exit count per guest: READY was its only exit.
        assert_eq!(warm.vm().exits().total(), 1, "round {round}");
        every_workload_answers(warm.vm());
        match warm.vm().request(Command::Hold { bytes: 4 << 20 }, T) {
            Ok(Message::Held { .. }) => {}
            other => panic!("round {round}: {other:?}"),
        }
        assert!(warm.vm().ram().resident_bytes().unwrap_or(0) >= 4 << 20);
        let held = warm
            .vm()
            .ram()
            .mem()
            .read_obj::<u8>(GuestAddress(SCRATCH_BASE));
        assert_eq!(held.ok(), Some(1), "round {round}: HOLD writes 1 per page");
        parked = warm
            .park(T)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    // Parking gave the guest's pages back: an idle pool holds no guest RAM.
    assert_eq!(parked.resident_bytes().ok(), Some(0));
}

#[test]
fn a_restored_guest_answers_every_workload() {
    if !kvm_or_skip("a_restored_guest_answers_every_workload") {
        return;
    }
    let mut original =
        BareVm::launch(&Config::with_scratch(8 << 20)).unwrap_or_else(|e| panic!("{e}"));
    let snap = Snapshot::take(&mut original).unwrap_or_else(|e| panic!("{e}"));
    assert!(snap.saved_bytes() > 0 && snap.saved_bytes() <= 4 << 20);
    let dir = snap.dir().to_owned();
    assert!(dir.join("memory").exists());

    // The original goes on as if nothing happened.
    every_workload_answers(&mut original);
    original.teardown(T).unwrap_or_else(|e| panic!("{e}"));

    // Two restores side by side: each answers, each is its own guest.
    let mut a = snap.restore(T).unwrap_or_else(|e| panic!("{e}"));
    let mut b = snap.restore(T).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(phase_names(&a), RESTORE_PHASES);
    // READY of a restored guest is one VM exit, as a cold boot's: its
    // first read of a command byte (an `in`), not yet answered.
    assert_eq!(
        (a.exits().io_in, a.exits().total()),
        (1, 1),
        "{:?}",
        a.exits()
    );
    every_workload_answers(&mut a);
    every_workload_answers(&mut b);
    a.teardown(T).unwrap_or_else(|e| panic!("{e}"));
    b.teardown(T).unwrap_or_else(|e| panic!("{e}"));

    // The snapshot's directory goes with it.
    drop(snap);
    assert!(!dir.exists());
}

#[test]
fn a_snapshot_after_the_first_command_is_refused() {
    if !kvm_or_skip("a_snapshot_after_the_first_command_is_refused") {
        return;
    }
    let mut vm = BareVm::launch(&Config::with_scratch(8 << 20)).unwrap_or_else(|e| panic!("{e}"));
    match vm.request(Command::Hold { bytes: 1 << 20 }, T) {
        Ok(Message::Held { .. }) => {}
        other => panic!("{other:?}"),
    }
    let e = Snapshot::take(&mut vm).err().map(|e| e.to_string());
    assert!(e.as_deref().is_some_and(|e| e.contains("READY")), "{e:?}");
    vm.teardown(T).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_pooled_vm_takes_restores_and_boots_in_turn() {
    if !kvm_or_skip("a_pooled_vm_takes_restores_and_boots_in_turn") {
        return;
    }
    let config = Config::with_scratch(8 << 20);
    let mut original = BareVm::launch(&config).unwrap_or_else(|e| panic!("{e}"));
    let snap = Snapshot::take(&mut original).unwrap_or_else(|e| panic!("{e}"));
    original.teardown(T).unwrap_or_else(|e| panic!("{e}"));

    let mut parked = ParkedVm::create(&config).unwrap_or_else(|e| panic!("{e}"));
    for round in 0..2 {
        let mut warm = snap
            .restore_into(parked, T)
            .unwrap_or_else(|e| panic!("restore {round}: {e}"));
        assert_eq!(phase_names(warm.vm()), RESTORE_INTO_PHASES);
        every_workload_answers(warm.vm());
        parked = warm.park(T).unwrap_or_else(|e| panic!("{e}"));
        // After a restore, a plain warm start in the same VM still boots:
        // the snapshot file no longer backs its RAM.
        let mut warm = parked
            .start(Image::Elf(GUEST_IMAGE), T)
            .unwrap_or_else(|e| panic!("boot {round}: {e}"));
        every_workload_answers(warm.vm());
        parked = warm.park(T).unwrap_or_else(|e| panic!("{e}"));
    }
}
