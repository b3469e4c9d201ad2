//! Break-out attempts against `container:full`, which must all fail. Each
//! runs the static probe (`probe/probe.rs`, `try WHAT`) in a real container
//! as root, makes one real system call, and checks the errno; each test
//! says which layer stops it: a namespace, a dropped capability, the
//! seccomp filter, a masked or read-only path. Where the first layer is the
//! seccomp filter or a capability, the same attempt in a container without
//! the security defaults (`Spec::secure = false`, the `container:full-nosec`
//! row) is shown to get through, to prove that the layer named is the one
//! that stops it; only attempts that are harmless when they succeed are
//! made there (a mount in the container's own mount namespace, a user
//! namespace, an open without a write).
mod common;

use bench_container::container::security::caps::DEFAULT;
use bench_container::{Exit, Profile, Runtime, Spec};
use common::*;
use std::process::{Child, Command};

const EPERM: &str = "errno 1";
const ENOENT: &str = "errno 2";
const ESRCH: &str = "errno 3";
const ENODEV: &str = "errno 19";
const EROFS: &str = "errno 30";
const ENOSYS: &str = "errno 38";

/// Runs `probe try ARGS` in a full container, secure or not; its output.
fn attempt(rt: &Runtime, secure: bool, args: &[&str]) -> String {
    let name = format!("brk-{}-{}", args[0], if secure { "sec" } else { "nosec" });
    let mut spec = Spec::new(&name, Profile::Full, rootfs(), "/probe");
    spec.secure = secure;
    spec.args = std::iter::once("try")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let (out, exit) = probe_spec(rt, spec);
    assert_eq!(exit, Exit::Code(0), "probe try {args:?}: {out}");
    out.trim().to_owned()
}

fn runtime(test: &str) -> Option<Runtime> {
    root_or_skip(test).then(|| Runtime::new().expect("runtime"))
}

/// A throwaway host process for the container to aim at: the probe,
/// sleeping, started by this test and killed at the end.
fn host_victim() -> Child {
    Command::new(probe_exe())
        .arg("sleep")
        .spawn()
        .expect("a host process")
}

#[test]
fn full_keeps_runcs_capabilities_and_sets_no_new_privs_and_seccomp() {
    let Some(rt) = runtime("full_keeps_runcs_capabilities") else {
        return;
    };
    let mask = DEFAULT.iter().fold(0u64, |m, c| m | c.bitmask());
    let (out, _) = probe(&rt, &rootfs(), "brk-status", Profile::Full, &["security"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("CapEff: {mask:016x}"),
            format!("CapBnd: {mask:016x}"),
            "CapAmb: 0000000000000000".into(),
            "NoNewPrivs: 1".into(),
            // 2: SECCOMP_MODE_FILTER.
            "Seccomp: 2".into(),
        ]
    );
}

/// mount(2) needs CAP_SYS_ADMIN, which is dropped; but the seccomp filter
/// answers first (it runs before the system call does). Without the
/// security defaults root in its own mount namespace may mount. The same
/// call by its x32 number (a denylist's classic blind spot) is refused by
/// the filter's x32 guard; without the filter, this kernel answers it
/// itself (ENOSYS where it has no x32 support, else the mount happens in
/// the container's own mount namespace).
#[test]
fn mounting_is_refused_by_seccomp() {
    let Some(rt) = runtime("mounting_is_refused") else {
        return;
    };
    assert_eq!(attempt(&rt, true, &["mount"]), EPERM);
    assert_eq!(attempt(&rt, false, &["mount"]), "ok");
    assert_eq!(attempt(&rt, true, &["x32_mount"]), EPERM);
    let nosec = attempt(&rt, false, &["x32_mount"]);
    assert!(nosec == ENOSYS || nosec == "ok", "{nosec}");
}

/// The host process is not in the container's pid namespace: its pid names
/// nothing there (pid_namespaces(7)). ptrace stays allowed by the filter
/// (as in Docker's profile on kernels >= 4.8), and CAP_SYS_PTRACE is gone
/// as a second wall.
#[test]
fn ptrace_and_kill_of_a_host_process_find_no_such_process() {
    let Some(rt) = runtime("ptrace_and_kill_of_a_host_process") else {
        return;
    };
    let mut victim = host_victim();
    let pid = victim.id().to_string();
    let traced = attempt(&rt, true, &["ptrace", &pid]);
    let killed = attempt(&rt, true, &["kill", &pid]);
    let alive = victim.try_wait().expect("try_wait").is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    assert_eq!((traced.as_str(), killed.as_str()), (ESRCH, ESRCH));
    assert!(
        alive,
        "the host process survived SIGKILL from the container"
    );
}

/// /proc/sys is a read-only bind (readonly paths): opening a kernel-wide
/// setting for writing fails with EROFS. Without it, root could open it
/// (the probe does not write). /proc/sysrq-trigger likewise.
#[test]
fn writing_proc_sys_and_sysrq_trigger_is_read_only() {
    let Some(rt) = runtime("writing_proc_sys") else {
        return;
    };
    let setting = "/proc/sys/vm/overcommit_memory";
    assert_eq!(attempt(&rt, true, &["openw", setting]), EROFS);
    assert_eq!(attempt(&rt, false, &["openw", setting]), "ok");
    let sysrq = "/proc/sysrq-trigger";
    let expected = if std::path::Path::new(sysrq).exists() {
        EROFS
    } else {
        eprintln!("note: this kernel has no {sysrq} (CONFIG_MAGIC_SYSRQ=n): nothing to protect");
        ENOENT
    };
    assert_eq!(attempt(&rt, true, &["openw", sysrq]), expected);
}

/// Module loading: the seccomp filter refuses init_module and finit_module
/// (CAP_SYS_MODULE is dropped too). Only the secure container is tried.
#[test]
fn loading_a_kernel_module_is_refused_by_seccomp() {
    let Some(rt) = runtime("loading_a_kernel_module") else {
        return;
    };
    assert_eq!(attempt(&rt, true, &["init_module"]), EPERM);
    assert_eq!(attempt(&rt, true, &["finit_module"]), EPERM);
}

/// A raw packet socket is *allowed*: CAP_NET_RAW is in runc's default set
/// (ping needs it). What it can reach is the container's own network
/// namespace, which has only `lo`: binding it to a host interface by name
/// fails with ENODEV, because that interface does not exist there
/// (network_namespaces(7)). What is tested: socket(AF_PACKET, SOCK_RAW)
/// succeeds, and SO_BINDTODEVICE to the host's first non-loopback
/// interface fails ENODEV.
#[test]
fn a_raw_socket_sees_only_the_containers_network_namespace() {
    let Some(rt) = runtime("a_raw_socket_sees_only_the_container") else {
        return;
    };
    let dev = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev");
    let host_if = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_owned()))
        .find(|n| n != "lo");
    let Some(host_if) = host_if else {
        eprintln!("\n*** SKIP a_raw_socket: the host has no interface but lo ***\n");
        return;
    };
    let out = attempt(&rt, true, &["rawsock", &host_if]);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["socket ok", ENODEV]);
}

/// /proc/kcore (the host's memory), /proc/keys and /proc/timer_list are
/// masked: /dev/null is bound over them, so they read as empty; a masked
/// directory (/proc/acpi) is an empty read-only tmpfs. A kernel built
/// without one of them (no /proc/kcore without CONFIG_PROC_KCORE) has
/// nothing to mask there: the path is missing in the container too.
#[test]
fn proc_kcore_and_keys_read_as_empty() {
    let Some(rt) = runtime("proc_kcore_reads_as_empty") else {
        return;
    };
    let mut masked = 0;
    for f in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        let out = attempt(&rt, true, &["read", f]);
        if std::path::Path::new(f).exists() {
            // "ok" with no "read N bytes" line: end-of-file at once.
            assert_eq!(out, "ok", "{f} is masked");
            masked += 1;
        } else {
            eprintln!("note: this kernel has no {f}: nothing to mask");
            assert_eq!(out, ENOENT, "{f}");
        }
    }
    assert!(masked > 0, "at least one of the masked files exists here");
    if std::path::Path::new("/proc/acpi").is_dir() {
        assert_eq!(attempt(&rt, true, &["create", "/proc/acpi/x"]), EROFS);
    }
}

/// Kernel keyrings are not namespaced: keyctl and add_key are refused by
/// the seccomp filter.
#[test]
fn keyrings_are_refused_by_seccomp() {
    let Some(rt) = runtime("keyrings_are_refused") else {
        return;
    };
    assert_eq!(attempt(&rt, true, &["keyctl"]), EPERM);
    assert_eq!(attempt(&rt, true, &["add_key"]), EPERM);
}

/// A new user namespace needs no capability at all, which makes it the
/// favourite first step of kernel exploits: only the seccomp filter stops
/// it (unshare, clone with CLONE_NEWUSER; clone3 gets ENOSYS so that the C
/// library falls back to clone, whose flags the filter can see). Without
/// the filter, unshare succeeds.
#[test]
fn a_new_user_namespace_is_refused_by_seccomp() {
    let Some(rt) = runtime("a_new_user_namespace") else {
        return;
    };
    assert_eq!(attempt(&rt, true, &["unshare_user"]), EPERM);
    assert_eq!(attempt(&rt, true, &["clone_user"]), EPERM);
    assert_eq!(attempt(&rt, true, &["clone3"]), ENOSYS);
    assert_eq!(attempt(&rt, false, &["unshare_user"]), "ok");
}

/// The new root is remounted read-only (rootfs_readonly): creating a file
/// fails with EROFS, even for root with CAP_DAC_OVERRIDE. Without it the
/// (throwaway) rootfs is writable.
#[test]
fn writing_the_rootfs_is_read_only() {
    let Some(rt) = runtime("writing_the_rootfs") else {
        return;
    };
    assert_eq!(attempt(&rt, true, &["create", "/breakout"]), EROFS);
    assert_eq!(attempt(&rt, false, &["create", "/breakout"]), "ok");
}
