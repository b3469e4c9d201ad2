//! Startup benchmark: time to READY of the `full` profile against a bare
//! clone() with the same flags plus a cgroup attach, and against `crun run`
//! of the same binary where crun is installed. Run as root:
//!
//! ```text
//! cargo run --release -p bench-container --example startup [-- ITERATIONS]
//! ```
//!
//! Every variant runs the real workload and stops at its READY on the
//! inherited socket; figures are medians (and p5/p95) over the iterations,
//! the variants interleaved so that drift hits them all alike.

use bench_container::{Container, Profile, Rootfs, RootfsBuilder, Runtime, Spec};
use nix::sched::CloneFlags;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::protocol::{tag, Command};

struct Variant {
    name: &'static str,
    profile: Profile,
    bare: bool,
    namespaces: CloneFlags,
    /// `Spec::secure`: the full profile's security defaults.
    secure: bool,
    ready: Vec<Duration>,
    phases: Vec<Vec<(&'static str, Duration)>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !bench_container::is_root() {
        eprintln!("SKIP: the startup benchmark needs root");
        return Ok(());
    }
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let rt = Runtime::new()?;
    println!(
        "{}",
        rt.layout().map_or("no cgroups".into(), |l| l.describe())
    );
    let rootfs = Arc::new(
        RootfsBuilder::new()
            .file(
                std::env::var_os("VMVC_WORKLOAD_EXE")
                    .unwrap_or_else(|| env!("VMVC_WORKLOAD_EXE").into()),
                "/vmvc-workload",
            )
            .build()?,
    );
    let full = Profile::Full.namespaces();
    let no_net = full - CloneFlags::CLONE_NEWNET;
    let v = |name, profile, bare, namespaces| Variant {
        name,
        profile,
        bare,
        namespaces,
        secure: true,
        ready: Vec::new(),
        phases: Vec::new(),
    };
    let mut variants = vec![
        v(
            "bare fork+exec (no ns, no cgroup)",
            Profile::Chroot,
            true,
            CloneFlags::empty(),
        ),
        v(
            "bare + cgroup",
            Profile::ChrootCgroup,
            true,
            CloneFlags::empty(),
        ),
        v(
            "bare + pid/mnt/uts/ipc + cgroup",
            Profile::Full,
            true,
            no_net,
        ),
        v(
            "bare + all 5 ns + cgroup  [baseline]",
            Profile::Full,
            true,
            full,
        ),
        v("chroot", Profile::Chroot, false, CloneFlags::empty()),
        v(
            "chroot+cgroup",
            Profile::ChrootCgroup,
            false,
            CloneFlags::empty(),
        ),
        v("full without net ns", Profile::Full, false, no_net),
        v("full", Profile::Full, false, full),
        Variant {
            secure: false,
            ..v("full without security defaults", Profile::Full, false, full)
        },
    ];
    for i in 0..iterations + 10 {
        for var in variants.iter_mut() {
            let mut spec = Spec::new(
                &format!("bench-{i}"),
                var.profile,
                rootfs.clone(),
                "/vmvc-workload",
            );
            spec.bare = var.bare;
            spec.namespaces = var.namespaces;
            spec.secure = var.secure && spec.secure;
            let (c, ready) = launch(&rt, spec)?;
            if i >= 10 {
                // The first 10 rounds are warm-up.
                var.ready.push(ready.duration_since(c.t0()));
                let mut prev = c.t0();
                let mut ph: Vec<(&'static str, Duration)> = c
                    .marks()
                    .iter()
                    .map(|(n, at)| {
                        let d = at.saturating_duration_since(prev);
                        prev = *at;
                        (*n, d)
                    })
                    .collect();
                ph.push(("workload_start", ready.saturating_duration_since(prev)));
                let t = c.teardown(Duration::from_secs(5))?;
                ph.push(("teardown", t.took));
                var.phases.push(ph);
            } else {
                c.teardown(Duration::from_secs(5))?;
            }
        }
    }
    println!(
        "\ntime to READY over {iterations} launches (median [p5, p95]) and median phases, µs:"
    );
    for var in &variants {
        let (m, p5, p95) = stats(&var.ready);
        print!("  {:40} {:7.0} [{:5.0}, {:5.0}]  ", var.name, m, p5, p95);
        let names: Vec<&str> = var.phases[0].iter().map(|p| p.0).collect();
        for (k, n) in names.iter().enumerate() {
            let col: Vec<Duration> = var.phases.iter().map(|p| p[k].1).collect();
            print!(" {n}={:.0}", stats(&col).0);
        }
        println!();
    }
    let med = |name: &str| {
        variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| stats(&v.ready).0)
    };
    let (full_m, base_m) = (
        med("full").unwrap_or(0.0),
        med("bare + all 5 ns + cgroup  [baseline]").unwrap_or(1.0),
    );
    // The goal is for the runtime's own work (mounts, pivot_root) against
    // the bare clone: without the security defaults, which are a price a
    // real runtime pays too (crun and runc apply the same); with them, for
    // what they add.
    let nosec_m = med("full without security defaults").unwrap_or(0.0);
    println!(
        "\nfull without security defaults / bare clone baseline = {:.2} (goal <= 1.2)",
        nosec_m / base_m
    );
    println!(
        "full / bare clone baseline = {:.2} (the security defaults add {:.0} µs)",
        full_m / base_m,
        full_m - nosec_m
    );
    drop(rt);

    match crun(&rootfs, iterations.min(50)) {
        Ok(Some(samples)) => {
            let (m, p5, p95) = stats(&samples);
            println!(
                "crun run: {m:.0} µs [{p5:.0}, {p95:.0}] over {} runs",
                samples.len()
            );
            println!("full / crun = {:.2} (goal <= 0.3)", full_m / m);
        }
        Ok(None) => println!("crun: not installed (apt-get install crun), skipped"),
        Err(e) => println!("crun: failed: {e}"),
    }
    Ok(())
}

/// Spawns and waits for READY; returns the container and when READY came.
fn launch(
    rt: &Runtime,
    mut spec: Spec,
) -> Result<(Container, Instant), Box<dyn std::error::Error>> {
    let (mut ours, theirs) = UnixStream::pair()?;
    let fd = theirs.as_raw_fd();
    spec.args = vec![fd.to_string()];
    spec.keep_fds = vec![fd];
    let c = rt.spawn(&spec)?;
    drop(theirs);
    let mut b = [0u8; 1];
    ours.read_exact(&mut b)?;
    let ready = Instant::now();
    if b[0] != tag::READY {
        return Err(format!("expected READY, got 0x{:02x}", b[0]).into());
    }
    ours.write_all(Command::Exit.encode().as_bytes())?;
    Ok((c, ready))
}

/// Median, p5, p95 in µs.
fn stats(d: &[Duration]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.05), at(0.95))
}

/// `crun run` of the same rootfs and binary: an OCI bundle whose process is
/// the workload with the socket passed as fd 3 (`--preserve-fds 1`).
/// crun refuses this host's hybrid cgroup layout, so (as DESIGN.md says) it
/// runs in a private mount namespace where the empty cgroup2 mount is hidden.
fn crun(rootfs: &Rootfs, runs: usize) -> Result<Option<Vec<Duration>>, Box<dyn std::error::Error>> {
    use std::process::{Command as Proc, Stdio};
    if Proc::new("crun").arg("--version").output().is_err() {
        return Ok(None);
    }
    let bundle = std::env::temp_dir().join(format!("vmvc-crun-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&bundle)?;
    let config = serde_like_config(rootfs.root().to_str().ok_or("non-UTF-8 rootfs path")?);
    std::fs::write(bundle.join("config.json"), config)?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    let _ = nix::mount::umount2("/sys/fs/cgroup/unified", nix::mount::MntFlags::MNT_DETACH);
    let mut samples = Vec::new();
    for i in 0..runs + 3 {
        let (mut ours, theirs) = UnixStream::pair()?;
        let t0 = Instant::now();
        let mut child = {
            let mut cmd = Proc::new("crun");
            cmd.args(["run", "--preserve-fds", "1", "--bundle"])
                .arg(&bundle)
                .arg(format!("vmvc-crun-{}-{i}", std::process::id()))
                .stdin(Stdio::null());
            let raw = theirs.as_raw_fd();
            // SAFETY: between fork and exec only dup2 (async-signal-safe) runs.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    nix::unistd::dup2(raw, 3)
                        .map(|_| ())
                        .map_err(std::io::Error::from)
                });
            }
            cmd.spawn()?
        };
        drop(theirs);
        let mut b = [0u8; 1];
        let got = ours.read_exact(&mut b);
        let ready = t0.elapsed();
        let _ = ours.write_all(Command::Exit.encode().as_bytes());
        let status = child.wait()?;
        if got.is_err() || b[0] != tag::READY {
            let _ = std::fs::remove_dir_all(&bundle);
            return Err(format!("crun run did not bring the workload to READY ({status})").into());
        }
        if i >= 3 {
            samples.push(ready);
        }
    }
    let _ = std::fs::remove_dir_all(&bundle);
    Ok(Some(samples))
}

/// A minimal OCI runtime config with the same namespaces as `full`.
fn serde_like_config(root: &str) -> String {
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "process": {{ "terminal": false, "user": {{ "uid": 0, "gid": 0 }},
               "args": ["/vmvc-workload", "3"], "env": [], "cwd": "/",
               "capabilities": {{ "bounding": [], "effective": [], "permitted": [] }},
               "noNewPrivileges": true }},
  "root": {{ "path": "{root}", "readonly": true }},
  "hostname": "vmvc",
  "mounts": [ {{ "destination": "/proc", "type": "proc", "source": "proc" }} ],
  "linux": {{
    "namespaces": [ {{ "type": "pid" }}, {{ "type": "network" }}, {{ "type": "ipc" }},
                    {{ "type": "uts" }}, {{ "type": "mount" }} ]
  }}
}}"#
    )
}
