//! Rootless containers, for real, as the normal user running the tests:
//! a user namespace with the single-id map and, where /etc/subuid grants
//! a range and newuidmap is installed, the subordinate map.
mod common;

use bench_container::{Exit, IdMap, Profile, Runtime, Spec};
use common::*;
use std::os::unix::process::CommandExt;
use std::time::Duration;
use workload::protocol::{Command, Message};

/// The maps to test: the single-id map always, the detected one if it differs.
fn maps() -> Vec<IdMap> {
    let uid = nix::unistd::Uid::current().as_raw();
    let gid = nix::unistd::Gid::current().as_raw();
    let mut v = vec![IdMap::Single { uid, gid }];
    let detected = IdMap::detect();
    if !v.contains(&detected) {
        v.push(detected);
    } else {
        eprintln!("note: no subordinate ids for this user (or no newuidmap): single-id map only");
    }
    v
}

#[test]
fn rootless_full_is_root_inside_and_the_user_outside() {
    if !normal_user_or_skip("rootless_full_is_root_inside") {
        return;
    }
    let uid = nix::unistd::Uid::current().as_raw();
    let fs = rootfs();
    for map in maps() {
        let rt = Runtime::rootless(map.clone(), None).expect("rootless runtime");
        let mut spec = Spec::new("rl-ids", Profile::Full, fs.clone(), "/probe");
        spec.no_cgroup = true;
        spec.args = vec!["ids".into()];
        let (out, exit) = probe_spec(&rt, spec);
        assert_eq!(exit, Exit::Code(0), "{map:?}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "0", "root inside ({map:?}): {out}");
        assert!(
            lines[1].starts_with(&format!("0 {uid} 1")),
            "uid 0 inside is {uid} outside: {out}"
        );
        if let IdMap::Subordinate { sub, .. } = &map {
            assert!(
                lines[1].ends_with(&format!("1 {} {}", sub.uids.0, sub.uids.1)),
                "{out}"
            );
        }
        // Outside, the same process is the user, not root.
        let mut spec = Spec::new("rl-outside", Profile::Full, fs.clone(), "/probe");
        spec.no_cgroup = true;
        spec.args = vec!["sleep".into()];
        let c = rt.spawn(&spec).expect("spawn");
        let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid())).expect("status");
        let host_uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .expect("Uid line");
        assert_eq!(host_uid, uid.to_string(), "the host sees the user");
        let phases: Vec<&str> = c.marks().iter().map(|m| m.0).collect();
        assert_eq!(
            phases,
            [
                "cgroup_create",
                "clone",
                "userns_map",
                "rootfs_setup",
                "readonly_paths",
                "masked_paths",
                "pivot_root",
                "rootfs_readonly",
                "no_new_privs",
                "drop_caps",
                "seccomp",
                "exec"
            ]
        );
        let t = c.teardown(Duration::ZERO).expect("teardown");
        assert_eq!(t.exit, Exit::Signal(nix::sys::signal::Signal::SIGKILL));
    }
}

#[test]
fn rootless_full_gets_pid_1_lo_only_a_read_only_root_and_no_host_files() {
    if !normal_user_or_skip("rootless_full_isolation") {
        return;
    }
    let rt = Runtime::rootless(IdMap::detect(), None).expect("rootless runtime");
    let fs = rootfs();
    let run = |name: &str, args: &[&str]| {
        let mut spec = Spec::new(name, Profile::Full, fs.clone(), "/probe");
        spec.no_cgroup = true;
        spec.args = args.iter().map(|s| s.to_string()).collect();
        probe_spec(&rt, spec)
    };
    assert_eq!(run("rl-pid", &["pid"]).0.trim(), "1");
    assert_eq!(run("rl-net", &["netdevs"]).0.trim(), "lo");
    assert_eq!(run("rl-uts", &["hostname"]).0.trim(), "rl-uts");
    let (mounts, _) = run("rl-mounts", &["mounts"]);
    let lines: Vec<&str> = mounts.lines().collect();
    // The rootfs, /proc, and the security defaults' paths under /proc.
    assert!(lines.len() > 2, "{mounts}");
    assert!(lines[0].split(' ').nth(5).is_some_and(|o| o.contains("ro")));
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with("/proc"))),
        "the rootfs and /proc only: {mounts}"
    );
    // The security defaults apply rootless too: inside its own user
    // namespace the container could make another one, but the seccomp
    // filter refuses it.
    let (out, _) = run("rl-sec", &["security"]);
    assert!(
        out.contains("NoNewPrivs: 1") && out.contains("Seccomp: 2"),
        "{out}"
    );
    assert_eq!(
        run("rl-userns", &["try", "unshare_user"]).0.trim(),
        "errno 1"
    );
    let (out, _) = run("rl-files", &["exists", "/etc/passwd", "/usr", "/proc/self"]);
    assert_eq!(out, "/etc/passwd no\n/usr no\n/proc/self yes\n");
}

#[test]
fn rootless_chroot_runs_the_workload_and_leaves_nothing() {
    if !normal_user_or_skip("rootless_chroot_runs_the_workload") {
        return;
    }
    for map in maps() {
        let rt = Runtime::rootless(map.clone(), None).expect("rootless runtime");
        assert!(rt.cgroup_dirs().is_empty(), "no cgroup without delegation");
        let spec = Spec::new("rl-chroot", Profile::Chroot, rootfs(), "/x");
        let (c, mut chan) = start_workload(&rt, spec);
        assert!(c.rootless());
        let reply = chan.request(Command::Run {
            workload: workload::protocol::Workload::Syscall as u8,
            size: 0,
            iterations: 1000,
        });
        assert!(matches!(reply, Some(Message::Result { .. })), "{reply:?}");
        let pid = c.pid();
        assert_eq!(chan.request(Command::Exit), Some(Message::Done));
        let t = c.teardown(Duration::from_secs(10)).expect("teardown");
        assert_eq!(t.exit, Exit::Code(0), "{map:?}");
        assert!(gone(pid));
    }
}

#[test]
fn a_profile_with_a_cgroup_needs_a_delegated_subtree() {
    if !normal_user_or_skip("a_profile_with_a_cgroup_needs_a_delegated_subtree") {
        return;
    }
    let rt = Runtime::rootless(IdMap::detect(), None).expect("rootless runtime");
    let spec = Spec::new("rl-cg", Profile::Full, rootfs(), "/probe");
    let e = rt
        .spawn(&spec)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("cgroups"), "{e}");
}

/// Delegation for real: a cgroup v2 subtree that root made and chowned to
/// this user (cgroup-v2.rst, "Delegation"), with this process inside it,
/// named by `VMVC_DELEGATED_CGROUP` (scripts/rootless.sh sets one up on the
/// host's cgroup2 tree). The user creates the runtime's cgroups there, the
/// container is cloned straight into its cgroup (`CLONE_INTO_CGROUP`, which
/// the kernel allows only inside the delegated subtree), and teardown kills
/// and removes it. The subtree may lack controllers (on a hybrid host they
/// live in v1): this checks the delegation itself, not the limits.
#[test]
fn rootless_container_in_a_delegated_cgroup_v2_subtree() {
    if !normal_user_or_skip("rootless_container_in_a_delegated_cgroup_v2_subtree") {
        return;
    }
    let Some(dir) = std::env::var_os("VMVC_DELEGATED_CGROUP") else {
        if std::env::var("VMVC_REQUIRE_DELEGATION").as_deref() == Ok("1") {
            panic!("VMVC_REQUIRE_DELEGATION=1 but VMVC_DELEGATED_CGROUP is not set");
        }
        eprintln!(
            "\n*** SKIP rootless_container_in_a_delegated_cgroup_v2_subtree: set \
             VMVC_DELEGATED_CGROUP to a cgroup v2 subtree chowned to you that holds this \
             process (scripts/rootless.sh does, as root) ***\n"
        );
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    // Driven by root (`root_delegates_a_cgroup_v2_subtree_to_a_normal_user`),
    // this process is moved into the subtree just after it started: wait
    // for that, as a process started by systemd inside its unit would be.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Inside: some ancestor of our cgroup path (0::/a/b/c) is the end of `dir`.
    let inside = || {
        let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let rel = cg
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/")
            .to_owned();
        std::path::Path::new(rel.trim_start_matches('/'))
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .any(|a| dir.ends_with(a))
    };
    while !inside() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(inside(), "this process is inside {}", dir.display());
    let rt = Runtime::rootless(IdMap::detect(), Some(bench_container::Layout::v2(&dir)))
        .expect("a rootless runtime in the delegated subtree");
    let runtime_dir = rt.cgroup_dirs()[0].clone();
    assert!(runtime_dir.starts_with(&dir), "{}", runtime_dir.display());
    let mut spec = Spec::new("rl-deleg", Profile::Full, rootfs(), "/probe");
    spec.args = vec!["sleep".into()];
    // Where the subtree passes the memory and pids controllers down (the
    // rig; systemd's user delegation), the user's container gets limits.
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let limited = ["memory", "pids"]
        .iter()
        .all(|c| controllers.split_whitespace().any(|x| x == *c));
    if limited {
        spec.limits = bench_container::Limits {
            memory_bytes: Some(64 << 20),
            pids_max: Some(32),
            cpu: None,
        };
    }
    let c = rt
        .spawn(&spec)
        .expect("a container cloned into its delegated cgroup");
    let cg = c.cgroup().expect("a cgroup").dirs()[0].clone();
    if limited {
        let read = |f: &str| std::fs::read_to_string(cg.join(f)).unwrap_or_default();
        assert_eq!(read("memory.max").trim(), (64u64 << 20).to_string());
        assert_eq!(read("pids.max").trim(), "32");
    } else {
        eprintln!("note: the delegated subtree has no memory and pids controllers here (a hybrid host): delegation checked, limits not");
    }
    let members = std::fs::read_to_string(cg.join("cgroup.procs")).expect("cgroup.procs");
    assert_eq!(
        members.trim(),
        c.pid().to_string(),
        "the container is in its cgroup"
    );
    let t = c.teardown(Duration::ZERO).expect("teardown");
    assert_eq!(t.exit, Exit::Signal(nix::sys::signal::Signal::SIGKILL));
    assert!(!cg.exists(), "{} removed", cg.display());
    drop(rt);
    assert!(!runtime_dir.exists(), "{} removed", runtime_dir.display());
}

/// Delegation as systemd does it, driven by root (in the rig, where cgroup
/// v2 has every controller; `rig/rig.sh` runs it): root makes a subtree
/// under `vmvc/`, turns on the memory and pids controllers down to it,
/// chowns the subtree's directory and its `cgroup.procs`,
/// `cgroup.subtree_control` and `cgroup.threads` to a normal user
/// (cgroup-v2.rst, "Delegation Containment"), moves a process of that user
/// into it, and the user's rootless runtime then runs a container there
/// ([`rootless_container_in_a_delegated_cgroup_v2_subtree`], re-run as uid
/// 65534 with `VMVC_DELEGATED_CGROUP` set). Needs root and a cgroup v2
/// hierarchy with the memory and pids controllers: elsewhere it skips
/// loudly, or fails under `VMVC_REQUIRE_CGROUP2=1` (the rig).
#[test]
fn root_delegates_a_cgroup_v2_subtree_to_a_normal_user() {
    let test = "root_delegates_a_cgroup_v2_subtree_to_a_normal_user";
    let v2 = std::path::Path::new("/sys/fs/cgroup");
    let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
    let ok = bench_container::is_root()
        && controllers.split_whitespace().any(|c| c == "memory")
        && controllers.split_whitespace().any(|c| c == "pids");
    if !ok {
        if std::env::var("VMVC_REQUIRE_CGROUP2").as_deref() == Ok("1") {
            panic!("{test}: needs root and cgroup v2 with memory and pids at /sys/fs/cgroup");
        }
        eprintln!("\n*** SKIP {test}: needs root and a cgroup v2 hierarchy with memory and pids (the rig has one) ***\n");
        return;
    }
    const USER: u32 = 65534;
    let enable = |dir: &std::path::Path| {
        std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids")
            .unwrap_or_else(|e| panic!("enabling controllers below {}: {e}", dir.display()))
    };
    let parent = v2.join("vmvc");
    let _ = std::fs::create_dir(&parent);
    enable(v2);
    enable(&parent);
    let deleg = parent.join(format!("delegated-{}", std::process::id()));
    let leaf = deleg.join("launcher");
    std::fs::create_dir(&deleg).expect("the delegated subtree");
    std::fs::create_dir(&leaf).expect("the launcher's leaf");
    let tmp = std::env::temp_dir().join(format!("vmvc-delegation-{}", std::process::id()));
    std::fs::create_dir(&tmp).expect("a temp dir for the user");
    let owned = [
        deleg.clone(),
        deleg.join("cgroup.procs"),
        deleg.join("cgroup.subtree_control"),
        deleg.join("cgroup.threads"),
        leaf.clone(),
        leaf.join("cgroup.procs"),
        tmp.clone(),
    ];
    for p in &owned {
        std::os::unix::fs::chown(p, Some(USER), Some(USER))
            .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
    }
    // The same test binary, as the user, runs the delegation test; it
    // waits until root has moved it into the leaf (no process may sit in a
    // cgroup whose controllers pass down, so it starts in a leaf).
    let mut child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "rootless_container_in_a_delegated_cgroup_v2_subtree",
            "--exact",
            "--nocapture",
        ])
        .env("VMVC_DELEGATED_CGROUP", &deleg)
        .env("VMVC_REQUIRE_DELEGATION", "1")
        .env("VMVC_REQUIRE_ROOTLESS", "1")
        .env("TMPDIR", &tmp)
        .env("HOME", &tmp)
        .uid(USER)
        .gid(USER)
        .spawn()
        .expect("the test binary, as the user");
    std::fs::write(leaf.join("cgroup.procs"), child.id().to_string())
        .expect("moving the user's process into the delegated leaf");
    let status = child.wait().expect("the user's test ends");
    // Clean up: the user's test removed what it made; the leaf and the
    // subtree are empty now.
    // An exited process leaves its cgroup a moment after it is reaped
    // (EBUSY meanwhile), so removal is retried briefly. The runtime keeps
    // its `vmvc` parent, as it does on the host; it is empty now.
    for dir in [&leaf, &deleg.join("vmvc"), &deleg] {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while dir.exists()
            && std::fs::remove_dir(dir).is_err()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        status.success(),
        "the delegation test as uid {USER}: {status}"
    );
    assert!(
        !deleg.exists(),
        "{} removed: {:?}",
        deleg.display(),
        std::fs::read_dir(&deleg).map(|d| d
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| !n.to_string_lossy().contains('.'))
            .collect::<Vec<_>>())
    );
}
