//! End-to-end tests of the `vmvc` binary: real runs, real files.

use std::path::Path;
use std::process::Output;

#[path = "common/vmvc.rs"]
mod bin;
use bin::{run as vmvc, text};

/// `vmvc run --env native --quick --out OUT`.
fn quick_native_run(out: &Path) -> Output {
    vmvc(&[
        "run",
        "--env",
        "native",
        "--quick",
        "--out",
        out.to_str().expect("a UTF-8 temp path"),
    ])
}

/// `o` ended with exit status `code`, said each of `says`, and did not panic.
fn fails_saying(o: &Output, code: i32, says: &[&str]) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(code), "{t}");
    for s in says {
        assert!(t.contains(s), "{s:?} not in: {t}");
    }
    assert!(!t.contains("panicked"), "{t}");
}

#[test]
fn quick_native_run_writes_results_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = quick_native_run(&out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("native"), "table printed: {}", text(&o));

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], reports::SCHEMA_VERSION);
    let virt = json["host"]["virtualization"].as_str().unwrap();
    assert!(["hardware", "pvm", "none"].contains(&virt));
    let native = &json["environments"][0];
    assert_eq!(native["name"], "native");
    // Real figures: raw samples present, statistics consistent with them.
    let ready = &native["startup"]["ready"];
    let samples: Vec<f64> = ready["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(samples.len() >= 10);
    assert!(samples.iter().all(|s| *s > 0.0 && *s < 1.0), "{samples:?}");
    let median = ready["stats"]["median"].as_f64().unwrap();
    let lo = samples.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().cloned().fold(0.0, f64::max);
    assert!(lo <= median && median <= hi);
    for w in ["cpu", "mem_bw", "random_access", "syscall", "boundary"] {
        let t = native["throughput"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["workload"] == w)
            .unwrap_or_else(|| panic!("no {w} result"));
        assert!(t["rate"]["stats"]["median"].as_f64().unwrap() > 0.0);
        assert_eq!(t["ratio_to_native"].as_f64(), Some(1.0));
    }
    let mem = native["memory"]["total"]["stats"]["median"]
        .as_f64()
        .unwrap();
    // The workload holds a 16 MiB working set; its PSS must include it.
    assert!(mem >= 16.0 * 1048576.0, "memory total {mem}");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report has inline SVG charts");
    assert!(
        !html.contains("http://") || html.contains("xmlns"),
        "no network references"
    );
    // The results round-trip through the reader and render again.
    let parsed = reports::load(&out.join("results.json")).unwrap();
    assert_eq!(parsed.environments[0].name, "native");
}

#[test]
fn host_detection_names_this_machines_kvm() {
    let h = harness::host::detect();
    if Path::new("/dev/kvm").exists() && Path::new("/sys/module/kvm_pvm").exists() {
        assert_eq!(h.virtualization, reports::Virtualization::Pvm);
    }
    if !Path::new("/dev/kvm").exists() {
        assert_eq!(h.virtualization, reports::Virtualization::None);
    }
    assert!(h.cores >= 1);
    assert!(h.tsc_hz > 1e8 && h.tsc_hz < 1e10, "TSC rate {}", h.tsc_hz);
    assert_eq!(h.root, nix::unistd::geteuid().is_root());
}

#[test]
fn unknown_environment_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = vmvc(&[
        "run",
        "--env",
        "native,vm-cloud",
        "--quick",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    fails_saying(
        &o,
        1,
        &[
            "unknown environment \"vm-cloud\"",
            "known environments: native",
        ],
    );
}

#[test]
fn unwritable_output_folder_is_refused_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let target = file.join("sub");
    let o = quick_native_run(&target);
    fails_saying(&o, 1, &["is a file, not a folder"]);
}

#[test]
fn report_refuses_foreign_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, br#"{"foo": 1}"#).unwrap();
    let o = vmvc(&["report", foreign.to_str().unwrap()]);
    fails_saying(&o, 1, &["is not a vmvc results file"]);

    let future = dir.path().join("future.json");
    std::fs::write(&future, br#"{"schema_version": 999}"#).unwrap();
    let o = vmvc(&["report", future.to_str().unwrap()]);
    assert!(text(&o).contains("schema_version 999"), "{}", text(&o));

    let o = vmvc(&["report", dir.path().join("missing.json").to_str().unwrap()]);
    fails_saying(&o, 1, &["cannot read results file"]);
}

#[test]
fn doctor_reports_kvm_kind_and_fixes() {
    let o = vmvc(&["doctor"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("KVM"), "{t}");
    assert!(t.contains("cgroups"), "{t}");
    if Path::new("/sys/module/kvm_pvm").exists() && Path::new("/dev/kvm").exists() {
        assert!(t.contains("pvm"), "{t}");
    }
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["run", "report", "doctor", "envs"] {
        let o = vmvc(&[sub, "--help"]);
        assert!(o.status.success(), "{sub}: {}", text(&o));
        assert!(text(&o).contains("Usage"), "{sub}");
    }
}

#[test]
fn hidden_vmm_modes_refuse_bad_arguments_with_a_usage_error() {
    for args in [
        &["__vmm-linux"][..],
        &["__vmm-linux", "7", "/k", "/w", "many", "30000"][..],
        &["__vmm-linux", "1", "/k", "/w", "402653184", "30000"][..],
        &["__vmm-bare", "x"][..],
    ] {
        let usage = format!("usage: vmvc {}", args[0]);
        fails_saying(&vmvc(args), 2, &[&usage]);
    }
}

#[test]
fn envs_lists_both_vm_linux_modes() {
    let o = vmvc(&["envs"]);
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let at = |n: &str| names.iter().position(|x| x == n);
    assert_eq!(
        at("vm-linux:process"),
        at("vm-linux").map(|i| i + 1),
        "{names:?}"
    );
}

/// A VMM child whose VM cannot start (here: 1 PiB of guest RAM, more than
/// any address space) gets its own error to the launcher, from its stderr,
/// and never passes for a workload that panicked.
#[test]
fn a_vmm_child_that_cannot_start_its_vm_says_why() {
    let kvm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm");
    if let Err(e) = kvm {
        if std::env::var("VMVC_REQUIRE_KVM").as_deref() == Ok("1") {
            panic!("VMVC_REQUIRE_KVM=1 but /dev/kvm: {e}");
        }
        eprintln!("\n*** SKIP a_vmm_child_that_cannot_start_its_vm_says_why: /dev/kvm: {e} ***\n");
        return;
    }
    let exe = Path::new(env!("CARGO_BIN_EXE_vmvc"));
    let ram = (1u64 << 50).to_string();
    let started = harness::env::vmm_process::VmmProcess::start(
        exe,
        harness::env::vm_bare::VMM_SUBCOMMAND,
        &[ram],
        std::time::Duration::from_secs(10),
        None,
    );
    let e = match started {
        Ok(_) => panic!("a VM with 1 PiB of RAM started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        e.contains("the VMM process failed: vmvc __vmm-bare:"),
        "{e}"
    );
    assert!(e.contains("could not start the VM"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}
