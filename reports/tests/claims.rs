//! The claims' rules follow the figures: the same run with one figure
//! changed gives the verdict that figure calls for, and a run without the
//! figures a claim needs says "not tested here" instead of guessing.

mod common;

use common::sample::*;
use reports::claims::{evaluate, Verdict};
use reports::*;

fn identity(env: &str, release: &str, boot: &str, pid_inside: u32, pid_on_host: u32) -> Identity {
    Identity {
        env: env.into(),
        how: "a shell".into(),
        kernel_release: Some(release.into()),
        boot_id: Some(boot.into()),
        hostname: Some(if pid_inside == 1 { "box" } else { "host" }.into()),
        pid_inside: Some(pid_inside),
        pid_on_host: Some(pid_on_host),
        error: None,
    }
}

const BOOT: &str = "0f1c2d3e-4a5b-6c7d-8e9f-a0b1c2d3e4f5";
const OTHER_BOOT: &str = "11111111-2222-3333-4444-555555555555";

fn run_with(container_release: &str, container_boot: &str) -> Results {
    let mut run = sample_run("r1", "h", 1.0);
    let host = run.host.kernel.clone();
    run.identities = vec![
        identity("native", &host, BOOT, 100, 100),
        identity("container:full", container_release, container_boot, 1, 200),
    ];
    run
}

fn verdict(run: &Results, no: usize) -> Verdict {
    evaluate(run)[no - 1].verdict
}

#[test]
fn eight_claims_each_with_its_experiment_rule_and_figures() {
    let run = run_with(&sample_run("r1", "h", 1.0).host.kernel, BOOT);
    let claims = evaluate(&run);
    assert_eq!(claims.len(), 8);
    for (i, c) in claims.iter().enumerate() {
        assert_eq!(c.no, i + 1);
        assert!(!c.korean.is_empty() && !c.english.is_empty());
        assert!(!c.experiment.is_empty() && !c.rule.is_empty());
    }
    let html = render_html(&[run]);
    assert!(html.contains("<section id=\"claims\">"));
    assert_eq!(html.matches("<div class=\"claim\"").count(), 8);
}

#[test]
fn a_box_on_the_hosts_kernel_is_no_vm_and_a_box_on_its_own_kernel_is() {
    let host = sample_run("r1", "h", 1.0).host.kernel;
    let shared = run_with(&host, BOOT);
    assert_eq!(verdict(&shared, 1), Verdict::False);
    assert_eq!(verdict(&shared, 6), Verdict::False);

    // A "container" that answers with a kernel of its own (as a Kata
    // container would) turns the same rules around.
    let own = run_with("6.6.0-guest", OTHER_BOOT);
    assert_eq!(verdict(&own, 1), Verdict::True);
    assert_eq!(verdict(&own, 6), Verdict::True);
}

#[test]
fn without_demonstrations_or_a_linux_guest_claims_say_not_tested() {
    let mut run = sample_run("r1", "h", 1.0);
    run.identities.clear();
    // Claim 6 needs a boot id from inside a container.
    assert_eq!(verdict(&run, 6), Verdict::NotTested);
    // The sample's vm-linux row is skipped: claim 8 points to the rig.
    let c8 = &evaluate(&run)[7];
    assert_eq!(c8.verdict, Verdict::NotTested);
    assert!(c8
        .evidence
        .iter()
        .any(|e| e.contains("results/reference/rig")));
}

#[test]
fn a_slow_system_call_in_a_container_changes_the_kernel_interface_verdict() {
    let host = sample_run("r1", "h", 1.0).host.kernel;
    let mut run = run_with(&host, BOOT);
    let before = verdict(&run, 5);
    for e in &mut run.environments {
        if e.name == "container:full" {
            for t in &mut e.throughput {
                if t.workload == "syscall" {
                    // Half the rate, with a tight interval: clearly slower.
                    t.ratio_to_native = Some(0.5);
                    t.rate.stats.median /= 2.0;
                    t.rate.stats.median_ci_low = t.rate.stats.median * 0.99;
                    t.rate.stats.median_ci_high = t.rate.stats.median * 1.01;
                }
            }
        }
    }
    assert_eq!(before, Verdict::False);
    assert_eq!(verdict(&run, 5), Verdict::HalfTrue);
}
