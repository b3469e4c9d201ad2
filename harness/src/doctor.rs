//! `vmvc doctor`: what this host can run, and how to fix what is missing.
//!
//! First the prerequisites (KVM, user namespaces, id ranges, cgroups, the
//! tools), then one line per environment, from the same `unavailable` check
//! `vmvc run` uses, so that the doctor and the table never disagree. Run as
//! a normal user, it says what runs rootless and what each missing piece
//! takes: the kvm group, cgroup delegation, subordinate ids, a sysctl.

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
            _ => host::kvm_group_fix(),
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
        what: "user",
        ok: true,
        found: if h.root {
            "root: containers and peers run as root (the root rows)".into()
        } else {
            format!(
                "uid {} (not root): containers and peers run rootless, in user namespaces; \
                 run vmvc as root for the root rows",
                nix::unistd::Uid::current()
            )
        },
        fix: String::new(),
    });
    v.extend(rootless_checks(h.root));
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
            "apt-get install qemu-system-x86 (peer:qemu, peer:qemu-linux)",
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

/// User namespaces, the id map and cgroup delegation: what rootless needs.
fn rootless_checks(root: bool) -> Vec<Check> {
    use bench_container::{cgroup::delegation, userns, IdMap};
    let probe = userns::probe();
    let map = IdMap::detect();
    let mut v = vec![
        Check {
            what: "user namespaces",
            ok: probe.is_ok(),
            found: match &probe {
                Ok(()) => "an unprivileged user may create them".into(),
                Err(why) => why.clone(),
            },
            fix: String::new(),
        },
        Check {
            what: "id map (rootless)",
            ok: true,
            found: match map {
                IdMap::Single { .. } => format!(
                    "{}; for a range of ids inside: apt-get install uidmap and \
                     `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER`",
                    map.describe()
                ),
                IdMap::Subordinate { .. } => map.describe(),
            },
            fix: String::new(),
        },
    ];
    if !root {
        let d = delegation::find();
        v.push(Check {
            what: "cgroup delegation",
            ok: d.is_ok(),
            found: match &d {
                Ok(l) => format!("rootless containers get cgroups in {}", l.describe()),
                Err(_) => {
                    "none: container:chroot+cgroup and container:full do not run rootless".into()
                }
            },
            fix: d.err().unwrap_or_default(),
        });
    }
    v
}

/// One line per environment: runs here (and how), or why not.
pub fn environments() -> Vec<Check> {
    let mut v = Vec::new();
    let host = host::detect();
    let exe = match crate::workload_exe::WorkloadExe::install() {
        Ok(e) => e,
        Err(e) => {
            v.push(Check {
                what: "workload",
                ok: false,
                found: format!("{e:#}"),
                fix: "make the cache directory writable ($VMVC_CACHE or ~/.cache/vmvc)".into(),
            });
            return v;
        }
    };
    let cx = crate::env::Context::plain(&exe);
    for name in crate::env::KNOWN {
        // vm-linux would look for (and fetch) a guest kernel: see the
        // "KVM", "Linux guests" and "guest kernel" lines instead.
        if name.starts_with("vm-linux") {
            continue;
        }
        // Its kernel is vm-linux's: only QEMU, KVM and the host are checked here.
        if *name == "peer:qemu-linux" {
            let why = crate::env::peer::qemu_linux::why_not_here(None);
            v.push(Check {
                what: name,
                ok: why.is_none(),
                found: why.unwrap_or_else(|| "runs (with vm-linux's kernel)".into()),
                fix: String::new(),
            });
            continue;
        }
        // The checks need no vmvc binary: `vm-bare:process` is checked as `vm-bare`.
        let built = crate::env::by_name(name.replace(":process", "").as_str(), &cx, false);
        let (ok, found) = match built {
            Ok(env) => match env.unavailable(&host) {
                None if env.rootless() => (true, "runs, rootless".into()),
                None => (true, "runs".into()),
                Some(why) => (false, why),
            },
            Err(e) => (false, format!("{e:#}")),
        };
        v.push(Check {
            what: name,
            ok,
            found,
            fix: String::new(),
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
        if !c.ok && !c.fix.is_empty() {
            out.push_str(&format!("     {:<20} fix: {}\n", "", c.fix));
        }
    }
    out
}
