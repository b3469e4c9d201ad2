//! The warm and restored rows for real: `vm-bare:warm`, `vm-bare:restored`,
//! `vm-bare:restored+pool` (KVM) and `container:warm` (root) launch, run
//! every workload, report their memory and tear down, twice; two restored
//! guests at once share their snapshot's pages. Skipped loudly without KVM
//! or root, failed instead when VMVC_REQUIRE_KVM=1 / VMVC_REQUIRE_ROOT=1.

use super::container_warm::ContainerWarm;
use super::vm_bare_restored::VmBareRestored;
use super::vm_bare_warm::{Start, VmBareWarm};
use super::{memory_said, part, run_every_workload_once, Environment};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// True if `have`; else a loud skip, or a failure when `require` is set to 1.
fn or_skip(test: &str, have: bool, what: &str, require: &str) -> bool {
    if have {
        return true;
    }
    if std::env::var(require).as_deref() == Ok("1") {
        panic!("{test}: needs {what}, and {require}=1 forbids skipping");
    }
    eprintln!("\n*** SKIPPED {test}: needs {what} (set {require}=1 to make this a failure)\n");
    false
}

fn kvm(test: &str) -> bool {
    or_skip(
        test,
        bench_vm::kvm_available(),
        "/dev/kvm",
        "VMVC_REQUIRE_KVM",
    )
}

/// Two rounds of launch, every workload, memory, teardown; the memory of
/// the last round is returned.
fn two_rounds(env: &mut dyn Environment, phases: &[&str]) -> Vec<crate::measure::MemPart> {
    let mut mem = Vec::new();
    for round in 0..2 {
        let mut inst = env.launch().unwrap_or_else(|e| panic!("{round}: {e:#}"));
        let names: Vec<&str> = inst.launch().phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, phases, "{}", env.name());
        run_every_workload_once(inst.as_mut(), T);
        mem = memory_said(inst.as_mut(), &env.name());
        inst.teardown().unwrap_or_else(|e| panic!("{round}: {e:#}"));
    }
    mem
}

#[test]
fn warm_vm_bare_starts_from_its_pool_and_says_what_an_idle_vm_holds() {
    if !kvm("warm_vm_bare_starts_from_its_pool_and_says_what_an_idle_vm_holds") {
        return;
    }
    let mut env = VmBareWarm::new(Start::Boot);
    let mem = two_rounds(&mut env, &bench_vm::warm::WARM_PHASES);
    assert!(part(&mem, "guest_ram").is_some_and(|b| b > 0));
    assert!(part(&mem, "pool_idle_vm").is_some(), "{mem:?}");
}

#[test]
fn restored_vm_bare_answers_and_its_guests_share_the_snapshot() {
    if !kvm("restored_vm_bare_answers_and_its_guests_share_the_snapshot") {
        return;
    }
    let mut env = VmBareRestored::default();
    let mem = two_rounds(&mut env, &bench_vm::snapshot::RESTORE_PHASES);
    let (rss, pss) = (part(&mem, "snapshot_rss"), part(&mem, "snapshot_pss"));
    assert!(rss.is_some_and(|r| r > 0) && pss <= rss, "{mem:?}");

    // Two at once: each maps the same snapshot pages, so each is charged
    // less than it maps.
    let mut a = env.launch().unwrap_or_else(|e| panic!("{e:#}"));
    let b = env.launch().unwrap_or_else(|e| panic!("{e:#}"));
    let ma = memory_said(a.as_mut(), "restored a");
    let (rss, pss) = (part(&ma, "snapshot_rss"), part(&ma, "snapshot_pss"));
    assert!(pss < rss, "shared pages: PSS {pss:?} < RSS {rss:?}");
    a.teardown().unwrap_or_else(|e| panic!("{e:#}"));
    b.teardown().unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn vm_bare_restored_into_a_pooled_vm_answers() {
    if !kvm("vm_bare_restored_into_a_pooled_vm_answers") {
        return;
    }
    let mut env = VmBareWarm::new(Start::Restore(None));
    let mem = two_rounds(&mut env, &bench_vm::snapshot::RESTORE_INTO_PHASES);
    assert!(part(&mem, "snapshot_rss").is_some() && part(&mem, "pool_idle_vm").is_some());
}

#[test]
fn warm_container_forks_from_its_zygote() {
    let test = "warm_container_forks_from_its_zygote";
    if !or_skip(
        test,
        bench_container::is_root(),
        "root",
        "VMVC_REQUIRE_ROOT",
    ) {
        return;
    }
    let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
    let mut env = ContainerWarm::new(exe.path().to_owned());
    let mem = two_rounds(&mut env, &["zygote_fork", "workload_start"]);
    assert!(part(&mem, "workload").is_some_and(|b| b > 0));
    assert!(part(&mem, "zygote").is_some(), "{mem:?}");
}

#[test]
fn with_ksm_restored_guests_pages_merge_and_ksm_is_put_back() {
    let test = "with_ksm_restored_guests_pages_merge_and_ksm_is_put_back";
    if !kvm(test)
        || !or_skip(
            test,
            bench_container::is_root(),
            "root",
            "VMVC_REQUIRE_ROOT",
        )
    {
        return;
    }
    if !bench_vm::ksm::available() {
        eprintln!("\n*** SKIPPED {test}: this kernel has no KSM\n");
        return;
    }
    let setting = |f: &str| std::fs::read_to_string(format!("/sys/kernel/mm/ksm/{f}")).ok();
    let before = (setting("run"), setting("pages_to_scan"));
    let mut env = VmBareRestored::with_ksm();
    let mut a = env.launch().unwrap_or_else(|e| panic!("{e:#}"));
    run_every_workload_once(a.as_mut(), T);
    match a.request(workload::protocol::Command::Hold { bytes: 4 << 20 }, T) {
        Ok(workload::protocol::Message::Held { .. }) => {}
        other => panic!("{other:?}"),
    }
    let mem = memory_said(a.as_mut(), "restored+ksm");
    // The held pages are all alike: KSM merged them.
    assert!(part(&mem, "ksm_merged").is_some_and(|b| b > 0), "{mem:?}");
    a.teardown().unwrap_or_else(|e| panic!("{e:#}"));
    drop(env);
    assert_eq!(
        (setting("run"), setting("pages_to_scan")),
        before,
        "KSM settings restored"
    );
}
