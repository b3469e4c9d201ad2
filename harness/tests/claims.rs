//! The claims section of a real quick run (issue 12): every claim gets a
//! verdict or "not tested here", each computed from that run's own figures
//! and demonstrations, and the page shows what `reports::claims` computes.
//!
//! Needs root (containers) and /dev/kvm (the bare VM); without them it says
//! SKIP loudly, or fails under VMVC_REQUIRE_ROOT=1 / VMVC_REQUIRE_KVM=1 (CI).

use reports::claims::{evaluate, Verdict};
use std::process::Command;

fn can_run() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    for (ok, var, what) in [
        (root, "VMVC_REQUIRE_ROOT", "root (containers)"),
        (kvm, "VMVC_REQUIRE_KVM", "/dev/kvm (the bare VM)"),
    ] {
        if !ok {
            if std::env::var(var).as_deref() == Ok("1") {
                panic!("the claims test needs {what}, and {var}=1 forbids skipping");
            }
            eprintln!("\n*** SKIP claims test: needs {what} ***\n");
            return false;
        }
    }
    true
}

#[test]
fn a_quick_run_checks_every_claim_from_its_own_figures() {
    if !can_run() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("run");
    let run = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args([
            "run",
            "--quick",
            "--env",
            "native,container:chroot,container:chroot+cgroup,container:full,vm-bare,vm-linux",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("the vmvc binary built by cargo runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "vmvc run failed:\n{said}");
    let results = reports::load(&out.join("results.json")).expect("the run wrote its results");

    // The demonstrations were asked where a shell can run, and answered.
    for env in [
        "native",
        "container:chroot",
        "container:chroot+cgroup",
        "container:full",
    ] {
        let id = results
            .identities
            .iter()
            .find(|i| i.env == env)
            .unwrap_or_else(|| panic!("{env} was asked which kernel it runs on"));
        assert_eq!(id.error, None, "{env}: {id:?}");
        assert_eq!(
            id.kernel_release.as_deref(),
            Some(results.host.kernel.as_str())
        );
    }
    assert!(results
        .identities
        .iter()
        .any(|i| i.env == "vm-bare" && i.kernel_release.is_none()));

    // Eight claims; every one but the Linux-guest claim has figures here.
    let claims = evaluate(&results);
    assert_eq!(claims.len(), 8);
    let vm_linux_ran = results
        .environments
        .iter()
        .any(|e| e.name == "vm-linux" && e.skipped.is_none());
    for c in &claims {
        assert!(!c.evidence.is_empty(), "claim {} has its figures", c.no);
        if c.no == 8 && !vm_linux_ran {
            assert_eq!(c.verdict, Verdict::NotTested);
            assert!(c
                .evidence
                .iter()
                .any(|e| e.contains("results/reference/rig")));
        } else {
            assert_ne!(
                c.verdict,
                Verdict::NotTested,
                "claim {}: {:?}",
                c.no,
                c.evidence
            );
        }
    }

    // The page shows exactly these verdicts, in order.
    let html = std::fs::read_to_string(out.join("report.html")).expect("the run wrote report.html");
    let start = html
        .find("<section id=\"claims\">")
        .expect("a claims section");
    let section = &html[start..start + html[start..].find("</section>").expect("closed")];
    let table = &section[..section.find("</table>").expect("a verdict table")];
    let shown: Vec<&str> = table
        .split("<span class=\"verdict ")
        .skip(1)
        .filter_map(|s| s.split_once('>').and_then(|(_, r)| r.split('<').next()))
        .collect();
    let computed: Vec<&str> = claims.iter().map(|c| c.verdict.as_str()).collect();
    assert_eq!(shown, computed);
    // It comes first, before the host facts.
    assert!(start < html.find("<section id=\"host\">").expect("a host section"));
}
