//! `vmvc shell`: a command run in a container sees the host's kernel, its own
//! pid namespace and hostname, and leaves no cgroup, mount or rootfs behind.
//! Needs root (SKIP loudly, or fail under VMVC_REQUIRE_ROOT=1).

use std::process::Command;

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("VMVC_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root, and VMVC_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("\n*** SKIP {test}: needs root (containers from scratch) ***\n");
    false
}

/// What a vmvc process `pid` could leave behind: its cgroup directories
/// below the `vmvc` parents (named `<pid>-<start time>-…`), its rootfs temp
/// dirs (`vmvc-rootfs.<pid>-…`) and any mount of one.
fn leftovers_of(pid: u32) -> Vec<String> {
    let mine = |name: &str| name.starts_with(&format!("{pid}-"));
    let mut out = Vec::new();
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        let Ok(hierarchies) = std::fs::read_dir(base) else {
            continue;
        };
        for h in hierarchies.flatten() {
            for owner in std::fs::read_dir(h.path().join("vmvc"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if mine(&owner.file_name().to_string_lossy()) {
                    out.push(owner.path().display().to_string());
                }
            }
        }
    }
    for e in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Some(rest) = e.file_name().to_string_lossy().strip_prefix("vmvc-rootfs.") {
            if mine(rest) {
                out.push(e.path().display().to_string());
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let tag = format!("vmvc-rootfs.{pid}-");
    out.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&tag))
            .map(String::from),
    );
    out
}

#[test]
fn a_command_in_a_container_shell_sees_the_host_kernel_and_leaves_nothing() {
    if !root_or_skip("a_command_in_a_container_shell_sees_the_host_kernel_and_leaves_nothing") {
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args([
            "shell",
            "container",
            "--quiet",
            "--",
            "uname -r; echo pid=$$; hostname; echo x > /dev/null && cat /dev/null && echo dev; exit 7",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("vmvc runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("vmvc ends");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "the shell's exit code: {said}");
    let host = nix::sys::utsname::uname().expect("uname");
    let release = host.release().to_string_lossy();
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines, [release.as_ref(), "pid=1", "vmvc-full", "dev"]);
    assert_eq!(
        leftovers_of(pid),
        Vec::<String>::new(),
        "nothing left behind"
    );
}

#[test]
fn bad_profiles_and_a_vm_shell_here_get_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["shell", "container", "--profile", "kata"])
        .output()
        .expect("vmvc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown container profile \"kata\""), "{err}");

    let kvm = std::path::Path::new("/dev/kvm").exists();
    if kvm && harness::env::vm_linux::not_supported_here().is_none() {
        // A Linux guest boots here: `vmvc shell vm` is a real shell (the
        // rig's test env::vm_linux::tests::in_the_rig_vmvc_shell_vm_* runs it).
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vmvc"))
        .args(["shell", "vm"])
        .output()
        .expect("vmvc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no shell in a VM") || err.contains("shell vm"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `vmvc shell container ARGS -- SCRIPT` as root: its exit code and stdout.
fn shell(args: &[&str], script: &str) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmvc"));
    cmd.args(["shell", "container", "--quiet"])
        .args(args)
        .args(["--", script]);
    let out = cmd.output().expect("vmvc runs");
    let both = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), both)
}

#[test]
fn limits_on_the_command_line_hold_the_container() {
    if !root_or_skip("limits_on_the_command_line_hold_the_container") {
        return;
    }
    // A pids limit: past four processes, fork fails.
    let (code, out) = shell(
        &["--pids", "4"],
        "for i in 1 2 3 4 5 6; do sleep 1 & done; echo looped",
    );
    assert!(out.contains("can't fork"), "{code:?}: {out}");
    // A memory limit: a shell that grows past it is killed by the OOM killer (SIGKILL).
    let (code, out) = shell(
        &["--memory", "16M"],
        "x=$(yes aaaaaaaaaaaaaaa | head -c 60000000); echo survived ${#x}",
    );
    assert_eq!(code, Some(128 + 9), "killed, not: {out}");
    assert!(!out.contains("survived"));
    // The same script under a roomy limit lives.
    let (code, out) = shell(
        &["--memory", "256M"],
        "x=$(yes aaaaaaaaaaaaaaa | head -c 6000000); echo survived ${#x}",
    );
    assert_eq!((code, out.trim()), (Some(0), "survived 5999999"));
}
