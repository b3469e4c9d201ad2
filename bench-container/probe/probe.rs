//! `vmvc-probe`: a tiny static program that reports what it sees from
//! inside a container. Built by bench-container's build.rs (rustc,
//! `+crt-static`), copied into test rootfs; the tests assert on its output.
//!
//! ```text
//! vmvc-probe pid              its own pid
//! vmvc-probe netdevs          network devices (from /proc/net/dev)
//! vmvc-probe hostname         the hostname (from /proc/sys/kernel/hostname)
//! vmvc-probe mounts           its mount table (/proc/self/mountinfo)
//! vmvc-probe ids              its uid as it sees it, then its uid_map and gid_map
//! vmvc-probe exists PATH...   "PATH yes|no" per path
//! vmvc-probe escape MARKER    the classic chroot escape, then "escaped" if the
//!                             host path MARKER is visible, else "contained"
//! vmvc-probe forkbomb N       start up to N sleeping copies of itself
//! vmvc-probe sleep            sleep for an hour
//! ```
use std::path::Path;
use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    match cmd {
        "pid" => println!("{}", std::process::id()),
        "netdevs" => {
            let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
            // Two header lines, then "  name: counters...".
            for line in dev.lines().skip(2) {
                if let Some((name, _)) = line.split_once(':') {
                    println!("{}", name.trim());
                }
            }
        }
        "hostname" => print!(
            "{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
        ),
        "mounts" => print!(
            "{}",
            std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
        ),
        "ids" => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("Uid: ?");
            println!("{}", uid.split_whitespace().nth(1).unwrap_or("?"));
            for f in ["/proc/self/uid_map", "/proc/self/gid_map"] {
                let map = std::fs::read_to_string(f).unwrap_or_default();
                println!("{}", map.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
        "exists" => {
            for p in &args[2..] {
                let yes = Path::new(p).exists();
                println!("{p} {}", if yes { "yes" } else { "no" });
            }
        }
        "escape" => {
            let Some(marker) = args.get(2) else { exit(2) };
            // 1. chroot into a subdirectory while the current directory
            //    stays where it is: now cwd is *outside* the root;
            // 2. ".." from outside the root is never stopped at the root,
            //    so climb to the real top;
            // 3. chroot(".") there: the root is the top of the mount
            //    namespace again. Only stat()s follow: nothing is changed.
            if let Err(e) = std::os::unix::fs::chroot("/tmp") {
                println!("chroot failed: {e}");
                exit(1);
            }
            for _ in 0..64 {
                let _ = std::env::set_current_dir("..");
            }
            if let Err(e) = std::os::unix::fs::chroot(".") {
                println!("chroot . failed: {e}");
                exit(1);
            }
            let seen = Path::new(marker).exists();
            println!("{}", if seen { "escaped" } else { "contained" });
        }
        "forkbomb" => {
            let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
            let me = &args[0];
            let mut spawned = 0;
            let mut failed = String::from("none");
            for _ in 0..n {
                match Command::new(me).arg("sleep").spawn() {
                    Ok(_) => spawned += 1,
                    Err(e) => {
                        failed = format!("{}", e.raw_os_error().unwrap_or(0));
                        break;
                    }
                }
            }
            println!("spawned {spawned} failed {failed}");
        }
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        _ => {
            eprintln!("usage: vmvc-probe pid|netdevs|hostname|mounts|ids|exists|escape|forkbomb|sleep");
            exit(2)
        }
    }
}
