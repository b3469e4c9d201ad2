//! Finding what vmvc runs own on this host, and which run owns each thing.
//!
//! Every resource a run creates is named after its owner, the `vmvc`
//! process, by pid and start time (`PID-STARTTIME`, see
//! `bench_container::owner`), or is found through something so named:
//!
//! | kind | where | how its owner is known |
//! |---|---|---|
//! | process | `/proc/PID` | `VMVC_OWNER=<tag>` in its inherited environment (`/proc/PID/environ`), or a cgroup `vmvc/<tag>…` in `/proc/PID/cgroup`, or a root directory inside `vmvc-rootfs.<tag>…` (`/proc/PID/root`), see proc(5) |
//! | VM fd | `/proc/PID/fd/*` of those processes (and of the run itself) | a link to `/dev/kvm` or `anon_inode:kvm-vm` / `kvm-vcpu` |
//! | cgroup | `<each cgroup mount>/vmvc/<tag>…` and every directory below | the name |
//! | mount | `/proc/self/mountinfo` | a mount point inside one of our temp dirs |
//! | network namespace | `/run/netns/vmvc-<tag>…` | the name |
//! | temp dir | `$TMPDIR` and `/dev/shm`: `vmvc-rootfs.`, `vmvc-peer.`, `vmvc-snapshot-` + tag | the name |
//! | OCI state | `/run/crun`, `/run/runc` and the rootless state roots: `vmvc-<tag>-<n>` | the container id |
//! | run file | the run registry ([`super::registry`]): `run.<tag>` | the name |

use super::registry;
use bench_container::owner::Owner;
use std::path::{Path, PathBuf};

/// The environment variable every process of a run inherits: its owner tag.
pub const OWNER_ENV: &str = "VMVC_OWNER";

/// Prefixes of our temp dirs (bench-container's rootfs, the peers' bundles,
/// bench-vm's snapshots); each is followed by the owner tag.
pub const TEMP_PREFIXES: [&str; 3] = ["vmvc-rootfs.", "vmvc-peer.", "vmvc-snapshot-"];

/// The kinds of resource counted, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Process,
    VmFd,
    Cgroup,
    Mount,
    NetNs,
    TempDir,
    OciState,
    RunFile,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Process,
        Kind::VmFd,
        Kind::Cgroup,
        Kind::Mount,
        Kind::NetNs,
        Kind::TempDir,
        Kind::OciState,
        Kind::RunFile,
    ];

    /// Singular and plural, for "1 cgroup, 2 mounts".
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            Kind::Process => ("process", "processes"),
            Kind::VmFd => ("VM fd", "VM fds"),
            Kind::Cgroup => ("cgroup", "cgroups"),
            Kind::Mount => ("mount", "mounts"),
            Kind::NetNs => ("network namespace", "network namespaces"),
            Kind::TempDir => ("temp dir", "temp dirs"),
            Kind::OciState => ("OCI state dir", "OCI state dirs"),
            Kind::RunFile => ("run file", "run files"),
        }
    }
}

/// Where one found resource is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    Pid(i32),
    /// A VM fd: the process and the fd's link text.
    Fd(i32, String),
    Path(PathBuf),
}

/// One resource and its owner.
#[derive(Debug, Clone)]
pub struct Item {
    pub owner: Owner,
    pub kind: Kind,
    pub at: At,
}

/// Everything owned by some vmvc run on this host now. `run` is the pid of
/// a live run whose own VM fds count too (its process is not a leftover).
pub fn scan(run: Option<u32>) -> Vec<Item> {
    let mut items = Vec::new();
    processes(&mut items, run);
    cgroups(&mut items);
    mounts(&mut items);
    named_dirs(&mut items, Path::new("/run/netns"), &["vmvc-"], Kind::NetNs);
    for dir in temp_parents() {
        named_dirs(&mut items, &dir, &TEMP_PREFIXES, Kind::TempDir);
    }
    for root in oci_roots() {
        named_dirs(&mut items, &root, &["vmvc-"], Kind::OciState);
    }
    if let Some(dir) = registry::dir() {
        named_dirs(&mut items, &dir, &[registry::PREFIX], Kind::RunFile);
    }
    items
}

/// The owner a name carries after `prefix`.
fn owner_after(name: &str, prefixes: &[&str]) -> Option<Owner> {
    prefixes
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .and_then(Owner::parse)
}

fn named_dirs(items: &mut Vec<Item>, parent: &Path, prefixes: &[&str], kind: Kind) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        if let Some(owner) = owner_after(&e.file_name().to_string_lossy(), prefixes) {
            items.push(Item {
                owner,
                kind,
                at: At::Path(e.path()),
            });
        }
    }
}

/// Where our temp dirs go: `$TMPDIR` (else /tmp) and /dev/shm (snapshots).
pub fn temp_parents() -> Vec<PathBuf> {
    let mut v = vec![std::env::temp_dir()];
    if Path::new("/dev/shm").is_dir() && v[0] != Path::new("/dev/shm") {
        v.push("/dev/shm".into());
    }
    v
}

/// The OCI runtimes' state roots: root's defaults and our rootless ones.
fn oci_roots() -> Vec<PathBuf> {
    let uid = nix::unistd::getuid().as_raw();
    let mut v = Vec::new();
    for tool in ["crun", "runc"] {
        v.push(Path::new("/run").join(tool));
        if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            v.push(PathBuf::from(d).join(format!("vmvc-{tool}")));
        }
        v.push(std::env::temp_dir().join(format!("vmvc-{tool}-{uid}")));
    }
    v
}

/// Mount points of every cgroup hierarchy, v1 and v2 (mountinfo, proc(5)).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    mountinfo()
        .into_iter()
        .filter(|(_, fstype)| fstype == "cgroup" || fstype == "cgroup2")
        .map(|(point, _)| point)
        .collect()
}

/// `(mount point, fstype)` of every mount this process sees.
fn mountinfo() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            // "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts"
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            Some((PathBuf::from(unescape(point)), fstype.to_owned()))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (b[i], oct) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The owner named by any component of `path` after one of `prefixes`.
fn owner_in_path(path: &Path, prefixes: &[&str]) -> Option<Owner> {
    path.components()
        .find_map(|c| owner_after(&c.as_os_str().to_string_lossy(), prefixes))
}

fn mounts(items: &mut Vec<Item>) {
    for (point, fstype) in mountinfo() {
        let netns = point.starts_with("/run/netns");
        let owner = match netns {
            true => owner_in_path(&point, &["vmvc-"]),
            false => owner_in_path(&point, &TEMP_PREFIXES),
        };
        if let Some(owner) = owner {
            let kind = match netns || fstype == "nsfs" {
                true => Kind::NetNs,
                false => Kind::Mount,
            };
            items.push(Item {
                owner,
                kind,
                at: At::Path(point),
            });
        }
    }
}

fn cgroups(items: &mut Vec<Item>) {
    fn walk(items: &mut Vec<Item>, owner: Owner, dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(items, owner, &e.path());
                }
            }
        }
        // Children first: that is also the order they can be removed in.
        items.push(Item {
            owner,
            kind: Kind::Cgroup,
            at: At::Path(dir.to_owned()),
        });
    }
    for mount in cgroup_mounts() {
        let parent = mount.join(bench_container::cgroup::PARENT);
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for e in entries.flatten() {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if let Some(owner) = Owner::parse(&e.file_name().to_string_lossy()).filter(|_| is_dir) {
                walk(items, owner, &e.path());
            }
        }
    }
}

/// The owner of process `pid`, if it is one of a run's (see the module docs).
pub fn process_owner(pid: i32) -> Option<Owner> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    // A zombie holds nothing but its pid, and its parent reaps it.
    let state = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let environ = std::fs::read(proc.join("environ")).unwrap_or_default();
    let marker = format!("{OWNER_ENV}=");
    let from_env = environ
        .split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix(&marker).and_then(Owner::parse));
    from_env
        .or_else(|| {
            // "5:memory:/vmvc/123-456-0/w1" (v1) or "0::/vmvc/…" (v2).
            let cg = std::fs::read_to_string(proc.join("cgroup")).ok()?;
            cg.lines().find_map(|l| {
                let path = l.splitn(3, ':').nth(2)?;
                let mut parts = path.split('/');
                parts.find(|c| *c == bench_container::cgroup::PARENT)?;
                Owner::parse(parts.next()?)
            })
        })
        .or_else(|| {
            let root = std::fs::read_link(proc.join("root")).ok()?;
            owner_in_path(&root, &TEMP_PREFIXES[..1])
        })
}

/// The VM fds process `pid` holds: links to `/dev/kvm` or KVM's anonymous inodes.
pub fn vm_fds(pid: i32) -> Vec<String> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .filter(|l| l == "/dev/kvm" || l.starts_with("anon_inode:kvm-"))
        .collect()
}

fn processes(items: &mut Vec<Item>, run: Option<u32>) {
    let me = std::process::id() as i32;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let owner = if Some(pid as u32) == run {
            // The live run itself: not a leftover, but its VM fds count.
            bench_container::owner::start_time(pid as u32).map(|start| Owner {
                pid: pid as u32,
                start,
            })
        } else if pid == me {
            None
        } else {
            process_owner(pid)
        };
        let Some(owner) = owner else { continue };
        if pid as u32 != owner.pid {
            items.push(Item {
                owner,
                kind: Kind::Process,
                at: At::Pid(pid),
            });
        }
        for link in vm_fds(pid) {
            items.push(Item {
                owner,
                kind: Kind::VmFd,
                at: At::Fd(pid, link),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/x\\"), r"/x\\");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn owners_in_names() {
        let o = owner_after("vmvc-rootfs.12-34-5", &TEMP_PREFIXES).expect("owner");
        assert_eq!((o.pid, o.start), (12, 34));
        assert!(owner_after("vmvc-cache-0", &TEMP_PREFIXES).is_none());
        let p = Path::new("/tmp/vmvc-peer.7-8-0/bundle/rootfs");
        assert_eq!(owner_in_path(p, &TEMP_PREFIXES).map(|o| o.pid), Some(7));
    }
}
