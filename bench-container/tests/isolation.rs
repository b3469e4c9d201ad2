//! Isolation, asserted from inside: what the program sees in each profile.
mod common;

use bench_container::{Exit, Profile, Runtime};
use common::*;

#[test]
fn full_sees_itself_as_pid_1_with_only_lo_and_its_own_hostname() {
    if !root_or_skip("full_sees_itself_as_pid_1") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    let (out, exit) = probe(&rt, &fs, "iso-pid", Profile::Full, &["pid"]);
    assert_eq!((out.trim(), exit), ("1", Exit::Code(0)));

    let (out, _) = probe(&rt, &fs, "iso-net", Profile::Full, &["netdevs"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["lo"],
        "a new net namespace has only lo"
    );

    let (out, _) = probe(&rt, &fs, "iso-uts", Profile::Full, &["hostname"]);
    assert_eq!(out.trim(), "iso-uts");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host hostname");
    assert_ne!(host.trim(), "iso-uts", "the host's hostname is untouched");
}

#[test]
fn chroot_shares_pids_network_and_hostname_with_the_host() {
    if !root_or_skip("chroot_shares_pids") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    // No /proc in a chroot rootfs: the probe cannot read it; its pid is a host pid.
    let (out, exit) = probe(&rt, &fs, "iso-chroot-pid", Profile::Chroot, &["pid"]);
    assert_eq!(exit, Exit::Code(0));
    let pid: u32 = out.trim().parse().expect("a pid");
    assert!(pid > 1, "a chroot does not get its own pid numbering");
    let (out, _) = probe(
        &rt,
        &fs,
        "iso-chroot-mounts",
        Profile::Chroot,
        &["exists", "/proc/self"],
    );
    assert_eq!(
        out.trim(),
        "/proc/self no",
        "nothing is mounted in a chroot"
    );
}

#[test]
fn full_sees_none_of_the_hosts_mounts_or_files() {
    if !root_or_skip("full_sees_none_of_the_hosts_mounts") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    let (out, _) = probe(&rt, &fs, "iso-mounts", Profile::Full, &["mounts"]);
    let mounts: Vec<&str> = out.lines().collect();
    // The rootfs (read-only), its /proc, and over parts of /proc the
    // read-only and masked paths of the security defaults; nothing else.
    let fields = |l: &str| l.split(' ').map(String::from).collect::<Vec<_>>();
    assert!(mounts.len() > 2, "mounts seen inside: {out}");
    for m in &mounts[2..] {
        let f = fields(m);
        assert!(f[4].starts_with("/proc/"), "only /proc is covered: {m}");
        // Read-only, or /dev/null bound over a masked file (as runc does:
        // writes to it go nowhere).
        let ro = f[5].split(',').any(|o| o == "ro");
        assert!(ro || f[3] == "/null", "read-only or /dev/null: {m}");
    }
    let root = fields(mounts[0]);
    assert_eq!(root[4], "/");
    assert!(
        root[5].split(',').any(|o| o == "ro"),
        "rootfs is read-only: {}",
        mounts[0]
    );
    assert_eq!(fields(mounts[1])[4], "/proc");

    let probe_paths = [
        "/etc/passwd",
        "/usr",
        "/sys",
        "/home",
        "/probe",
        "/vmvc-workload",
        "/proc/1",
    ];
    let args: Vec<&str> = std::iter::once("exists").chain(probe_paths).collect();
    let (out, _) = probe(&rt, &fs, "iso-files", Profile::Full, &args);
    let seen: Vec<&str> = out.lines().collect();
    assert_eq!(
        seen,
        [
            "/etc/passwd no",
            "/usr no",
            "/sys no",
            "/home no",
            "/probe yes",
            "/vmvc-workload yes",
            "/proc/1 yes",
        ]
    );
    assert!(
        host_mounts_with(fs.root().to_str().expect("utf-8 path")).is_empty(),
        "no container mount shows on the host"
    );
}

/// The classic escape: chroot into a subdirectory, climb `..` past the
/// root, chroot(".") at the real top. It works against `chroot` and fails
/// against pivot_root in a mount namespace. The "host file" looked for is
/// a marker in a throwaway directory; the probe only stats it.
#[test]
fn root_escapes_chroot_but_not_full() {
    if !root_or_skip("root_escapes_chroot_but_not_full") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    let throwaway = std::env::temp_dir().join(format!("vmvc-escape-test-{}", std::process::id()));
    std::fs::create_dir_all(&throwaway).expect("throwaway dir");
    let marker = throwaway.join("host-secret");
    std::fs::write(&marker, "outside the container").expect("marker");
    let marker_s = marker.to_str().expect("utf-8 path");

    let (chroot_out, _) = probe(
        &rt,
        &fs,
        "esc-chroot",
        Profile::Chroot,
        &["escape", marker_s],
    );
    let (cg_out, _) = probe(
        &rt,
        &fs,
        "esc-chroot-cg",
        Profile::ChrootCgroup,
        &["escape", marker_s],
    );
    let (full_out, _) = probe(&rt, &fs, "esc-full", Profile::Full, &["escape", marker_s]);
    let _ = std::fs::remove_dir_all(&throwaway);

    assert_eq!(
        chroot_out.trim(),
        "escaped",
        "a root process walks out of a chroot"
    );
    assert_eq!(cg_out.trim(), "escaped", "a cgroup limits use, not sight");
    assert_eq!(
        full_out.trim(),
        "contained",
        "after pivot_root the host tree is gone"
    );
}
