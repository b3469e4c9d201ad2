//! What machine is this? Recorded in every result, printed by `vmvc doctor`.
//!
//! The virtualization kind matters most: on hardware KVM (Intel VT-x `vmx`,
//! AMD-V `svm`) guest code runs natively at every privilege level; on PVM
//! (the `kvm_pvm` module, a software hypervisor that needs no hardware
//! support) guest user-mode code runs natively but guest kernel-mode code is
//! emulated, so a VM's kernel work costs thousands of times more.

use reports::{CgroupLayout, Host, Virtualization};
use std::path::Path;
use std::time::{Duration, Instant};

/// Detects everything in [`Host`]. Takes ~50 ms (TSC calibration).
pub fn detect() -> Host {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpu_flags(&cpuinfo);
    let (virtualization, virtualization_detail) = virtualization(&flags);
    Host {
        hostname: nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown".into()),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|r| r.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into()),
        cores: online_cpus(),
        memory_bytes: crate::procfs::meminfo("MemTotal:").unwrap_or(0),
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into()),
        root: nix::unistd::geteuid().is_root(),
        cgroup: cgroup_layout(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()),
        virtualization,
        virtualization_detail,
        inside_vm: flags.iter().any(|f| f == "hypervisor"),
        tsc_hz: tsc_hz(),
    }
}

/// The machine's online CPUs. Not `available_parallelism`, which counts
/// only the CPUs this process may run on: after `--pin` that is one, and the
/// report said "logical CPUs 1" on a 2-core machine.
fn online_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|list| cpu_list_len(&list))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}

/// The number of CPUs in a kernel CPU list such as `0-3,8,10-11`
/// (Documentation/admin-guide/cputopology.rst); `None` if it is not one.
pub fn cpu_list_len(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.trim().split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                b.checked_sub(a)? + 1
            }
            None => {
                part.parse::<u32>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

/// The `flags` line of the first CPU.
pub fn cpu_flags(cpuinfo: &str) -> Vec<String> {
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .and_then(|r| r.split_once(':'))
        .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Classifies `/dev/kvm`: which module provides it decides the kind.
fn virtualization(flags: &[String]) -> (Virtualization, String) {
    let module = |m: &str| Path::new("/sys/module").join(m).exists();
    let dev = Path::new("/dev/kvm");
    if !dev.exists() {
        return (
            Virtualization::None,
            "no /dev/kvm: load kvm_intel or kvm_amd (hardware) or run on a host that offers KVM"
                .into(),
        );
    }
    if module("kvm_pvm") {
        return (
            Virtualization::Pvm,
            "/dev/kvm is provided by kvm_pvm, a software hypervisor: guest user-mode code runs \
             natively, guest kernel-mode code is emulated one instruction at a time"
                .into(),
        );
    }
    let has = |f: &str| flags.iter().any(|x| x == f);
    if module("kvm_intel") || has("vmx") {
        return (
            Virtualization::Hardware,
            "/dev/kvm on Intel VT-x (kvm_intel)".into(),
        );
    }
    if module("kvm_amd") || has("svm") {
        return (
            Virtualization::Hardware,
            "/dev/kvm on AMD-V (kvm_amd)".into(),
        );
    }
    (
        Virtualization::None,
        "/dev/kvm exists but no known KVM backend module (kvm_intel, kvm_amd, kvm_pvm) is loaded"
            .into(),
    )
}

/// cgroup layout from `/proc/self/mountinfo` (proc(5)): the filesystem type
/// follows the ` - ` separator.
pub fn cgroup_layout(mountinfo: &str) -> CgroupLayout {
    let mut v1 = false;
    let mut v2 = false;
    for line in mountinfo.lines() {
        let Some((_, after)) = line.split_once(" - ") else {
            continue;
        };
        match after.split_whitespace().next() {
            Some("cgroup") => v1 = true,
            Some("cgroup2") => v2 = true,
            _ => {}
        }
    }
    match (v1, v2) {
        (true, true) => CgroupLayout::Hybrid,
        (true, false) => CgroupLayout::V1,
        (false, true) => CgroupLayout::V2,
        (false, false) => CgroupLayout::None,
    }
}

/// Measures the time-stamp counter's rate against the monotonic clock.
/// Workloads report TSC ticks; this turns them into seconds. (An invariant
/// TSC runs at a constant rate; in a VM it runs at the host's rate.)
pub fn tsc_hz() -> f64 {
    let read = || {
        // SAFETY: RDTSC only reads a counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    };
    // Three 20 ms windows (< 0.1 % error each); the median resists one
    // window stretched by preemption.
    let mut rates: Vec<f64> = (0..3)
        .map(|_| {
            let (t0, c0) = (Instant::now(), read());
            std::thread::sleep(Duration::from_millis(20));
            let (t1, c1) = (Instant::now(), read());
            c1.wrapping_sub(c0) as f64 / (t1 - t0).as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[1]
}

/// How to get /dev/kvm by group, as udev sets it up on most distributions.
pub fn kvm_group_fix() -> String {
    use std::os::unix::fs::MetadataExt;
    let group = std::fs::metadata("/dev/kvm")
        .ok()
        .and_then(|m| nix::unistd::Group::from_gid(m.gid().into()).ok().flatten())
        .map(|g| g.name);
    match group.as_deref() {
        Some(g) if g != "root" => format!(
            "add yourself to the group {g} that owns /dev/kvm: `sudo usermod -aG {g} $USER`, \
             then log in again (or `newgrp {g}`)"
        ),
        _ => "/dev/kvm belongs to root alone: `sudo groupadd -f kvm && sudo chgrp kvm /dev/kvm && \
              sudo chmod 660 /dev/kvm` (what udev's rule does), then `sudo usermod -aG kvm $USER` \
              and log in again; or run vmvc as root"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_cgroup_layouts() {
        let v1 = "30 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let v2 = "31 25 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_layout(v1), CgroupLayout::V1);
        assert_eq!(cgroup_layout(v2), CgroupLayout::V2);
        assert_eq!(cgroup_layout(&format!("{v1}{v2}")), CgroupLayout::Hybrid);
        assert_eq!(
            cgroup_layout("1 0 0:1 / / rw - ext4 /dev/sda rw\n"),
            CgroupLayout::None
        );
    }

    #[test]
    fn reads_cpu_flags() {
        let f = cpu_flags("processor : 0\nflags\t\t: fpu svm hypervisor\n");
        assert_eq!(f, ["fpu", "svm", "hypervisor"]);
    }

    #[test]
    fn counts_cpu_lists() {
        assert_eq!(cpu_list_len("0-1\n"), Some(2));
        assert_eq!(cpu_list_len("0-3,8,10-11"), Some(7));
        assert_eq!(cpu_list_len("5"), Some(1));
        assert_eq!(cpu_list_len(""), None);
        assert_eq!(cpu_list_len("3-1"), None);
        assert_eq!(cpu_list_len("x"), None);
    }

    #[test]
    fn counts_the_machines_cpus_also_when_pinned() {
        use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
        use nix::unistd::Pid;
        let machine = online_cpus();
        let me = Pid::from_raw(0); // this test's thread only
        let Ok(all) = sched_getaffinity(me) else {
            return;
        };
        let mut one = CpuSet::new();
        if one.set(0).is_err() || sched_setaffinity(me, &one).is_err() {
            return;
        }
        let pinned = online_cpus();
        let _ = sched_setaffinity(me, &all);
        assert_eq!(
            pinned, machine,
            "pinning must not change the machine's CPU count"
        );
    }
}
