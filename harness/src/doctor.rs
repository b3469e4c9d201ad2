//! `vmvc doctor`: what this host can run, and how to fix what is missing.

use crate::host;
use reports::{CgroupLayout, Virtualization};
use std::path::Path;

/// One line of the doctor's report.
pub struct Check {
    pub what: &'static str,
    pub ok: bool,
    pub found: String,
    /// How to fix it when not ok.
    pub fix: String,
}

fn in_path(bin: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// Runs every check.
pub fn checks() -> Vec<Check> {
    let h = host::detect();
    let mut v = Vec::new();
    let kvm_open = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm");
    v.push(Check {
        what: "KVM",
        ok: h.virtualization != Virtualization::None && kvm_open.is_ok(),
        found: match (&kvm_open, h.virtualization) {
            (Err(e), Virtualization::None) => format!("none ({}; {e})", h.virtualization_detail),
            (Err(e), _) => format!("{} but cannot open /dev/kvm: {e}", h.virtualization.as_str()),
            (Ok(_), _) => format!("{}: {}", h.virtualization.as_str(), h.virtualization_detail),
        },
        fix: match h.virtualization {
            Virtualization::None => "enable VT-x/AMD-V in the firmware and `modprobe kvm_intel` or `modprobe kvm_amd`; in a cloud VM, pick an instance type with nested virtualization".into(),
            _ => "run as root or add yourself to the `kvm` group".into(),
        },
    });
    if h.virtualization == Virtualization::Pvm {
        v.push(Check {
            what: "Linux guests",
            ok: false,
            found: "not on PVM: a stock Linux kernel's kernel-mode code is emulated and dies; vm-bare runs (its workload is at CPL3)".into(),
            fix: "measure vm-linux on a host with hardware KVM, or in the project's QEMU rig (rig/)".into(),
        });
    }
    let kernel = crate::kernel::locate(None);
    v.push(Check {
        what: "guest kernel",
        ok: kernel.is_ok(),
        found: match &kernel {
            Ok(k) => format!(
                "{} ({}, {})",
                k.release.as_deref().unwrap_or("unknown release"),
                k.bzimage.display(),
                k.origin
            ),
            Err(e) => format!("none: {e}"),
        },
        fix: "run `vmvc kernel fetch` (Debian/Ubuntu), or give `vmvc run --kernel PATH`".into(),
    });
    v.push(Check {
        what: "root",
        ok: h.root,
        found: if h.root { "yes".into() } else { "no".into() },
        fix: "containers need root (namespaces, mounts, cgroups): run with sudo".into(),
    });
    v.push(Check {
        what: "cgroups",
        ok: h.cgroup != CgroupLayout::None,
        found: match h.cgroup {
            CgroupLayout::Hybrid => "hybrid (controllers in v1, a v2 hierarchy beside them)".into(),
            other => other.as_str().into(),
        },
        fix: "mount cgroup2 at /sys/fs/cgroup (systemd does this on current distributions)".into(),
    });
    let ns: Vec<&str> = ["mnt", "pid", "uts", "ipc", "net", "user", "cgroup"]
        .into_iter()
        .filter(|n| Path::new("/proc/self/ns").join(n).exists())
        .collect();
    v.push(Check {
        what: "namespaces",
        ok: ["mnt", "pid", "uts", "ipc", "net"]
            .iter()
            .all(|n| ns.contains(n)),
        found: ns.join(" "),
        fix: "use a kernel built with CONFIG_NAMESPACES and its children".into(),
    });
    for (bin, fix) in [
        (
            "qemu-system-x86_64",
            "apt-get install qemu-system-x86 (peer:qemu)",
        ),
        ("crun", "apt-get install crun"),
        ("runc", "apt-get install runc"),
        ("bwrap", "apt-get install bubblewrap"),
        (
            "firecracker",
            "not packaged: download a release binary from \
             https://github.com/firecracker-microvm/firecracker/releases and put it on PATH \
             or give `vmvc run --firecracker PATH`",
        ),
        (
            "cloud-hypervisor",
            "not packaged: download a release binary from \
             https://github.com/cloud-hypervisor/cloud-hypervisor/releases and put it on PATH \
             or give `vmvc run --cloud-hypervisor PATH`",
        ),
    ] {
        let p = in_path(bin);
        v.push(Check {
            what: bin,
            ok: p.is_some(),
            found: p.map_or("not found".into(), |p| p.display().to_string()),
            fix: format!("optional peer: {fix}"),
        });
    }
    v
}

/// The doctor's report as text.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{} {:<20} {}\n",
            if c.ok { "ok  " } else { "MISS" },
            c.what,
            c.found
        ));
        if !c.ok {
            out.push_str(&format!("     {:<20} fix: {}\n", "", c.fix));
        }
    }
    out
}
