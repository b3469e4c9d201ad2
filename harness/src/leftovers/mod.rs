//! Leftovers: what a vmvc run owns on the host, counted, and what a killed
//! run left, removed by the next one, which says so.
//!
//! A run creates processes (workloads, VMM processes, the peers' tools),
//! cgroups, temp dirs, OCI state, sometimes mounts and VM file descriptors.
//! Each is released by its owner's `Drop` on every path that runs code:
//! success, error, panic, SIGINT and SIGTERM ([`crate::interrupt`]). SIGKILL
//! runs no code, so what a SIGKILLed run held stays on the host until the
//! next `vmvc run` starts: that run [`clean_dead`]s it and prints one line
//! per dead run, e.g. `cleaned leftovers of a killed run (pid 1234): 2
//! cgroups, 1 temp dir`.
//!
//! **Scope: one run.** Every resource is tied to its owner, the `vmvc`
//! process, by pid *and* start time ([`scan`] says how for each kind), so a
//! census can be asked for one run ([`Scope::Run`]) and a clean-up touches
//! only runs whose process is gone ([`Scope::Dead`]). A second run going on
//! at the same time is alive: neither counted nor touched. The
//! [`registry`] tells live runs apart for the results ("was another run
//! measuring at the same time?").

pub mod registry;
pub mod scan;

use bench_container::owner::Owner;
use scan::{At, Item, Kind};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use scan::OWNER_ENV;

/// Whose resources to look at.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// One run's (alive or not).
    Run(Owner),
    /// Those of every run whose process is gone.
    Dead,
}

impl Scope {
    fn holds(&self, owner: &Owner) -> bool {
        match self {
            Scope::Run(o) => o == owner,
            Scope::Dead => !owner.is_alive(),
        }
    }
}

/// How many resources of each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    counts: BTreeMap<Kind, usize>,
    /// What was found, one line each (for a failing test's message).
    pub found: Vec<String>,
}

impl Census {
    fn add(&mut self, item: &Item) {
        *self.counts.entry(item.kind).or_default() += 1;
        self.found.push(match &item.at {
            At::Pid(pid) => format!("process {pid}"),
            At::Fd(pid, link) => format!("process {pid} holds {link}"),
            At::Path(p) => format!("{:?} {}", item.kind, p.display()),
        });
    }

    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Census) {
        for (k, n) in &other.counts {
            *self.counts.entry(*k).or_default() += n;
        }
        self.found.extend(other.found.iter().cloned());
    }

    /// Every kind with its count, zeros included: `0 processes, 0 VM fds, …`.
    pub fn all_kinds(&self) -> String {
        Kind::ALL
            .iter()
            .map(|k| counted(self.count(*k), *k))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `1 cgroup`, `2 temp dirs`.
fn counted(n: usize, kind: Kind) -> String {
    let (one, many) = kind.words();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The non-zero kinds: `2 cgroups, 1 temp dir` (or `nothing`).
impl std::fmt::Display for Census {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = Kind::ALL
            .iter()
            .filter(|k| self.count(**k) > 0)
            .map(|k| counted(self.count(*k), *k))
            .collect();
        match parts.is_empty() {
            true => f.write_str("nothing"),
            false => f.write_str(&parts.join(", ")),
        }
    }
}

/// Counts what `scope` owns on this host now.
pub fn census(scope: Scope) -> Census {
    let live_run = match scope {
        Scope::Run(o) if o.is_alive() => Some(o.pid),
        _ => None,
    };
    let mut c = Census::default();
    for item in scan::scan(live_run)
        .iter()
        .filter(|i| scope.holds(&i.owner))
    {
        c.add(item);
    }
    c
}

/// `vmvc leftovers`: what every vmvc run (live or gone) owns on this host,
/// one line per run; with `clean`, what runs that are gone left is removed
/// first (live runs are never touched).
pub fn report(clean: bool) -> String {
    let mut out = String::new();
    if clean {
        for line in clean_dead().lines() {
            out += &format!("{line}\n");
        }
    }
    let mut by_run: BTreeMap<(u32, u64), Census> = BTreeMap::new();
    for item in scan::scan(None) {
        by_run
            .entry((item.owner.pid, item.owner.start))
            .or_default()
            .add(&item);
    }
    for ((pid, start), c) in &by_run {
        let state = match (Owner {
            pid: *pid,
            start: *start,
        })
        .is_alive()
        {
            true => "running",
            false => "gone: `vmvc leftovers --clean` or the next `vmvc run` removes this",
        };
        out += &format!("run pid {pid} ({state}): {c}\n");
    }
    if by_run.is_empty() {
        out += "no vmvc run owns anything on this host\n";
    }
    out
}

/// What [`clean_dead`] removed, per dead run.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub runs: Vec<(Owner, Census)>,
}

impl Cleaned {
    /// One line per dead run: `cleaned leftovers of a killed run (pid N): …`.
    pub fn lines(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|(o, c)| format!("cleaned leftovers of a killed run (pid {}): {c}", o.pid))
            .collect()
    }
}

/// How long killed leftover processes get to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Removes everything of every run whose process is gone: kills its
/// processes first (they hold the rest), then deletes OCI state (with the
/// tool, which also removes the container's cgroup), cgroups (deepest
/// first), mounts, network namespaces, temp dirs and run files. Live runs
/// are never touched. What could not be removed stays for the next try and
/// is not counted as cleaned.
pub fn clean_dead() -> Cleaned {
    let items: Vec<Item> = scan::scan(None)
        .into_iter()
        .filter(|i| Scope::Dead.holds(&i.owner))
        .collect();
    let mut by_run: BTreeMap<(u32, u64), Census> = BTreeMap::new();
    let mut note = |item: &Item| {
        by_run
            .entry((item.owner.pid, item.owner.start))
            .or_default()
            .add(item)
    };
    // Processes: SIGKILL, after checking again that the pid is still the
    // leftover one (pids are reused), then wait for them to go.
    let mut killed = Vec::new();
    for item in items.iter().filter(|i| i.kind == Kind::Process) {
        if let At::Pid(pid) = item.at {
            if scan::process_owner(pid) == Some(item.owner) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                killed.push(pid);
                note(item);
            }
        }
    }
    let deadline = Instant::now() + KILL_WAIT;
    while killed.iter().any(|p| scan::process_owner(*p).is_some()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Their VM fds went with them.
    for item in items.iter().filter(|i| i.kind == Kind::VmFd) {
        if let At::Fd(pid, _) = item.at {
            if killed.contains(&pid) {
                note(item);
            }
        }
    }
    for kind in [
        Kind::OciState,
        Kind::Mount,
        Kind::NetNs,
        Kind::Cgroup,
        Kind::TempDir,
        Kind::RunFile,
    ] {
        // Deepest mounts first, so none is busy with one below it.
        let mut of_kind: Vec<&Item> = items.iter().filter(|i| i.kind == kind).collect();
        if matches!(kind, Kind::Mount | Kind::NetNs) {
            of_kind.sort_by_key(|i| match &i.at {
                At::Path(p) => std::cmp::Reverse(p.components().count()),
                _ => std::cmp::Reverse(0),
            });
        }
        for item in of_kind {
            let At::Path(path) = &item.at else { continue };
            let removed = match kind {
                Kind::OciState => crate::env::peer::delete_oci_state(path).is_ok(),
                Kind::Mount | Kind::NetNs => {
                    let unmounted = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
                    if kind == Kind::NetNs {
                        let _ = std::fs::remove_file(path);
                    }
                    unmounted.is_ok() || !path.exists()
                }
                // Listed children first (see `scan`), so each is empty now.
                Kind::Cgroup => crate::env::peer::remove_cgroup(path).is_ok(),
                Kind::TempDir => std::fs::remove_dir_all(path).is_ok() || !path.exists(),
                _ => std::fs::remove_file(path).is_ok(),
            };
            if removed {
                note(item);
            }
        }
    }
    Cleaned {
        runs: by_run
            .into_iter()
            .map(|((pid, start), c)| (Owner { pid, start }, c))
            .collect(),
    }
}

/// Puts this process's owner tag into its environment ([`OWNER_ENV`]), so
/// that every process it starts carries it (environ(7)). Call it while the
/// process has one thread: changing the environment races with other
/// threads reading it (setenv(3), "MT-Unsafe").
pub fn mark_owner() {
    std::env::set_var(OWNER_ENV, Owner::current().tag());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owner that cannot be alive: this process's pid with another start time.
    fn dead_owner(n: u64) -> Owner {
        let me = Owner::current();
        Owner {
            pid: me.pid,
            start: me.start + n,
        }
    }

    /// One clean-up at a time among these tests (each cleans every dead run).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_dead_runs_temp_dir_is_counted_cleaned_and_said() {
        let _one = ONE_AT_A_TIME.lock();
        let dead = dead_owner(1);
        let dir = std::env::temp_dir().join(format!("vmvc-rootfs.{}-0", dead.tag()));
        std::fs::create_dir_all(dir.join("root")).expect("temp dir");
        let before = census(Scope::Run(dead));
        assert_eq!(before.count(Kind::TempDir), 1, "{:?}", before.found);
        assert_eq!(before.to_string(), "1 temp dir");
        let cleaned = clean_dead();
        let line = format!(
            "cleaned leftovers of a killed run (pid {}): 1 temp dir",
            dead.pid
        );
        assert!(cleaned.lines().contains(&line), "{:?}", cleaned.lines());
        assert!(!dir.exists());
        assert_eq!(census(Scope::Run(dead)).total(), 0);
    }

    #[test]
    fn a_live_runs_things_are_counted_but_never_cleaned() {
        let _one = ONE_AT_A_TIME.lock();
        let me = Owner::current();
        let dir = std::env::temp_dir().join(format!("vmvc-peer.{}-999", me.tag()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        clean_dead();
        assert!(dir.exists(), "a live run's temp dir was removed");
        assert!(census(Scope::Run(me)).count(Kind::TempDir) >= 1);
        std::fs::remove_dir(&dir).expect("remove");
    }

    #[test]
    fn a_dead_runs_cgroups_are_removed_children_first() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED a_dead_runs_cgroups_are_removed_children_first: needs root");
            assert!(std::env::var("VMVC_REQUIRE_ROOT").as_deref() != Ok("1"));
            return;
        }
        let _one = ONE_AT_A_TIME.lock();
        let dead = dead_owner(2);
        let Some(mount) = scan::cgroup_mounts().into_iter().next() else {
            panic!("no cgroup hierarchy mounted");
        };
        let dir = mount
            .join(bench_container::cgroup::PARENT)
            .join(format!("{}-0", dead.tag()));
        std::fs::create_dir_all(dir.join("w1")).expect("cgroups");
        assert_eq!(census(Scope::Run(dead)).count(Kind::Cgroup), 2);
        let cleaned = clean_dead();
        // Container tests running meanwhile clean dead runs' cgroups too
        // (bench-container's `Cgroups::new`): then ours has nothing to say.
        let ours = cleaned.runs.iter().find(|(o, _)| *o == dead);
        if let Some((_, c)) = ours {
            assert_eq!(c.count(Kind::Cgroup), 2, "{c}");
        }
        assert!(!dir.exists());
        assert_eq!(census(Scope::Run(dead)).total(), 0);
    }

    #[test]
    fn census_lines_name_every_kind() {
        let c = Census::default();
        assert_eq!(c.to_string(), "nothing");
        assert_eq!(
            c.all_kinds(),
            "0 processes, 0 VM fds, 0 cgroups, 0 mounts, 0 network namespaces, 0 temp dirs, \
             0 OCI state dirs, 0 run files"
        );
    }
}
