//! Bad input gives a clear error and leaves nothing behind.
mod common;

use bench_container::{Error, Layout, Profile, Rootfs, RootfsBuilder, Runtime, Spec};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

#[test]
fn bad_names_are_refused_before_anything_is_created() {
    for name in ["a/b", "..", ".", "", "../escape", "x y", &"n".repeat(65)] {
        let e = bench_container::validate_name(name).expect_err(name);
        assert!(matches!(e, Error::InvalidName { .. }), "{name:?}: {e}");
        assert!(
            e.to_string().contains("A-Za-z0-9"),
            "the message says what is allowed: {e}"
        );
    }
    bench_container::validate_name("ok-name_1.2").expect("a good name");
    if !root_or_skip("bad_names_leave_nothing") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    for name in ["a/b", "..", "../../etc"] {
        let e = rt
            .spawn(&Spec::new(name, Profile::Full, fs.clone(), "/probe"))
            .expect_err("bad name");
        assert!(matches!(e, Error::InvalidName { .. }), "{e}");
    }
    assert!(cgroups_left(&rt).is_empty());
}

#[test]
fn missing_rootfs_is_a_clear_error() {
    let e = Rootfs::existing("/nonexistent/vmvc-rootfs").expect_err("missing");
    assert!(matches!(e, Error::MissingRootfs { .. }));
    assert!(e.to_string().contains("/nonexistent/vmvc-rootfs"), "{e}");

    let e = RootfsBuilder::new()
        .file("/nonexistent/vmvc-workload", "/vmvc-workload")
        .build()
        .expect_err("missing binary");
    assert!(matches!(e, Error::MissingFile { .. }), "{e}");

    if !root_or_skip("missing_rootfs_leaves_nothing") {
        return;
    }
    // A rootfs that exists but lacks the program, then is removed.
    let rt = Runtime::new().expect("runtime");
    let empty = std::env::temp_dir().join(format!("vmvc-empty-rootfs-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("dir");
    let fs = Arc::new(Rootfs::existing(&empty).expect("exists"));
    let e = rt
        .spawn(&Spec::new("no-prog", Profile::Full, fs, "/vmvc-workload"))
        .expect_err("no program");
    assert!(matches!(e, Error::MissingFile { .. }), "{e}");
    std::fs::remove_dir(&empty).expect("remove");
    assert!(matches!(
        Rootfs::existing(&empty),
        Err(Error::MissingRootfs { .. })
    ));
    assert!(cgroups_left(&rt).is_empty());
}

#[test]
fn non_executable_program_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("vmvc-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let plain = dir.join("plain");
    std::fs::write(&plain, b"#!/nothing\n").expect("write");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, [0u8; 64]).expect("write");
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let fs = Arc::new(
        RootfsBuilder::new()
            .file(&plain, "/plain")
            .file(&garbage, "/garbage")
            .build()
            .expect("rootfs"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    if !root_or_skip("non_executable_program") {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    // Not executable: caught before anything is created.
    let e = rt
        .spawn(&Spec::new("noexec", Profile::Full, fs.clone(), "/plain"))
        .expect_err("not executable");
    assert!(matches!(e, Error::NotExecutable { .. }), "{e}");
    assert!(e.to_string().contains("chmod +x"), "{e}");
    // Executable bit but not a program: execve fails inside the child,
    // and the error comes back through the report pipe.
    for profile in bench_container::Profile::ALL {
        let e = rt
            .spawn(&Spec::new("garbage", profile, fs.clone(), "/garbage"))
            .expect_err("exec format error");
        match &e {
            Error::Setup { step, errno } => {
                assert_eq!(*step, "execve");
                assert_eq!(*errno, nix::Error::ENOEXEC);
            }
            other => panic!("expected a setup error, got {other}"),
        }
        assert!(cgroups_left(&rt).is_empty(), "{profile:?} left a cgroup");
    }
    let root = fs.root().to_owned();
    drop(fs);
    assert!(!root.exists(), "rootfs removed on drop");
}

/// A cgroup tree we may not write: a second, read-only mount of cgroup2.
#[test]
fn unwritable_cgroup_tree_is_a_clear_error() {
    if !root_or_skip("unwritable_cgroup_tree") {
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let dir = std::env::temp_dir().join(format!("vmvc-ro-cgroup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let guard = Unmount(dir.clone());
    nix::mount::mount(
        Some("none"),
        &dir,
        Some("cgroup2"),
        nix::mount::MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .expect("mount a read-only cgroup2");
    let e = Runtime::with_layout(Layout::v2(&dir)).expect_err("read-only tree");
    assert!(matches!(e, Error::CgroupUnwritable { .. }), "{e}");
    assert!(e.to_string().contains("run as root"), "{e}");
    drop(guard);
    assert!(!dir.exists());
}
