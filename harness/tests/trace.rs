//! `vmvc trace`: one real launch narrated from strace's log. A container's
//! narration shows its namespaces, mounts and pivot_root; a VM's shows the
//! KVM ioctls and its exits. Needs strace and root (containers) or
//! /dev/kvm (VMs): SKIP loudly, or fail under VMVC_REQUIRE_ROOT=1 /
//! VMVC_REQUIRE_KVM=1 (CI, where scripts/setup.sh installs strace).

use std::process::Command;

fn can(test: &str, need_root: bool) -> bool {
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .iter()
        .any(|p| std::path::Path::new(p).is_file());
    let (ok, var, what) = if need_root {
        (
            strace && nix::unistd::geteuid().is_root(),
            "VMVC_REQUIRE_ROOT",
            "strace and root",
        )
    } else {
        let kvm = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        (strace && kvm, "VMVC_REQUIRE_KVM", "strace and /dev/kvm")
    };
    if !ok {
        if std::env::var(var).as_deref() == Ok("1") {
            panic!("{test}: needs {what}, and {var}=1 forbids skipping");
        }
        eprintln!("\n*** SKIP {test}: needs {what} ***\n");
    }
    ok
}

fn trace(env: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["trace", env])
        .output()
        .expect("vmvc runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "vmvc trace {env} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The lines of `text` in order: each needle found after the one before.
fn in_order(text: &str, needles: &[&str]) {
    let mut at = 0;
    for n in needles {
        match text[at..].find(n) {
            Some(i) => at += i + n.len(),
            None => panic!("{n:?} not found (in this order) in:\n{text}"),
        }
    }
}

#[test]
fn a_full_container_is_narrated_namespace_by_namespace() {
    if !can("a_full_container_is_narrated_namespace_by_namespace", true) {
        return;
    }
    let text = trace("container:full");
    in_order(
        &text,
        &[
            "mkdir(\"/sys/fs/cgroup",
            "clone3(",
            "CLONE_NEWNET",
            "a new network stack",
            "pivot_root(",
            "umount2(",
            "execve(",
            "READY",
            "rmdir(\"/sys/fs/cgroup",
            "torn down",
        ],
    );
}

#[test]
fn a_chroot_is_narrated_without_namespaces() {
    if !can("a_chroot_is_narrated_without_namespaces", true) {
        return;
    }
    let text = trace("container:chroot");
    in_order(&text, &["chroot(", "execve(", "READY", "torn down"]);
    assert!(!text.contains("CLONE_NEW"), "{text}");
}

#[test]
fn a_bare_vm_is_narrated_ioctl_by_ioctl_and_exit_by_exit() {
    if !can(
        "a_bare_vm_is_narrated_ioctl_by_ioctl_and_exit_by_exit",
        false,
    ) {
        return;
    }
    let text = trace("vm-bare");
    in_order(
        &text,
        &[
            "openat(\"/dev/kvm\")",
            "KVM_CREATE_VM",
            "KVM_SET_USER_MEMORY_REGION",
            "KVM_CREATE_VCPU",
            "KVM_SET_REGS",
            "KVM_RUN",
            "KVM_EXIT_IO",
            "READY",
            "closes the VM",
            "torn down",
        ],
    );
}

#[test]
fn an_unknown_environment_gets_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["trace", "kata"])
        .output()
        .expect("vmvc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unknown environment \"kata\"") || err.contains("needs strace"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
