//! A launcher SIGKILLed halfway leaves things behind; the next run removes
//! them, and only them.
mod common;

use bench_container::{Profile, Runtime, Spec};
use common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Not a test on its own: the launcher that `killed_launcher_is_cleaned_up`
/// starts as a separate process and SIGKILLs.
#[test]
#[ignore = "helper process for killed_launcher_is_cleaned_up"]
fn helper_launcher() {
    if std::env::var("VMVC_CRASH_HELPER").is_err() {
        return;
    }
    let rt = Runtime::new().expect("runtime");
    let fs = rootfs();
    let mut line = format!("LEFT {}", fs.root().parent().expect("temp dir").display());
    // The containers must not hold our stdout (the test reads it to EOF).
    let devnull = std::fs::File::create("/dev/null").expect("/dev/null");
    for (name, profile) in [
        ("crash-full", Profile::Full),
        ("crash-chroot", Profile::Chroot),
        ("crash-cg", Profile::ChrootCgroup),
    ] {
        let mut spec = Spec::new(name, profile, fs.clone(), "/probe").arg("sleep");
        spec.stdout = Some(std::os::fd::AsRawFd::as_raw_fd(&devnull));
        let c = rt.spawn(&spec).expect("spawn");
        line += &format!(" {}", c.pid());
        std::mem::forget(c); // as if we were killed right now
    }
    for d in rt.cgroup_dirs() {
        line += &format!(" {}", d.display());
    }
    println!("{line}");
    std::thread::sleep(std::time::Duration::from_secs(60));
}

#[test]
fn killed_launcher_is_cleaned_up_by_the_next_run() {
    if !root_or_skip("killed_launcher_is_cleaned_up_by_the_next_run") {
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("test exe"))
        .args([
            "--ignored",
            "--exact",
            "helper_launcher",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VMVC_CRASH_HELPER", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the helper launcher");
    let out = child.stdout.take().expect("stdout");
    // libtest may print "test helper_launcher ... " on the same line.
    let line = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("LEFT ").map(|(_, rest)| rest.to_string()));
    let Some(line) = line else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the helper did not report what it started");
    };
    child.kill().expect("SIGKILL the launcher");
    child.wait().expect("reap the launcher");

    let mut words = line.split(' ');
    let rootfs_dir = PathBuf::from(words.next().expect("rootfs dir"));
    let pids: Vec<u32> = (0..3)
        .map(|_| words.next().and_then(|w| w.parse().ok()).expect("pid"))
        .collect();
    let cgroup_dirs: Vec<PathBuf> = words.map(PathBuf::from).collect();
    assert!(rootfs_dir.exists() && !cgroup_dirs.is_empty());
    assert!(
        cgroup_dirs.iter().all(|d| d.exists()),
        "the crash left cgroups"
    );
    assert!(pids.iter().all(|&p| !gone(p)), "the crash left processes");

    // Something of ours that is alive must survive the cleanup.
    let alive = Runtime::new().expect("runtime of a live owner");
    let next = Runtime::new().expect("the next run");
    assert!(pids.iter().all(|&p| gone(p)), "leftover processes killed");
    assert!(
        cgroup_dirs.iter().all(|d| !d.exists()),
        "leftover cgroups removed"
    );
    assert!(!rootfs_dir.exists(), "leftover rootfs removed");
    assert!(
        alive.cgroup_dirs().iter().all(|d| d.exists()),
        "a live run's cgroups are kept"
    );
    drop(next);
    drop(alive);
}
