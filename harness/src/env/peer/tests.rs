//! The peers, for real: each tool launches, runs every workload, reports
//! its memory and tears down leaving nothing behind, also when an instance
//! is dropped without teardown and when a crashed vmvc left leftovers.
//! Needs the tools (and root for crun on a hybrid host); skips loudly
//! without them, or fails under VMVC_REQUIRE_PEERS=1 (CI). As a normal user
//! they test the rootless peers (scripts/rootless.sh runs them so).

use super::tool::ToolCmd;
use super::*;
use crate::procfs::{comm, descendants};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether `tool` can be tested here; prints a loud SKIPPED line when
/// not, or fails when VMVC_REQUIRE_PEERS=1 (CI).
fn testable(env: &PeerEnv) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let Some(why) = env.why_not(root) else {
        return true;
    };
    let name = env.name();
    if std::env::var("VMVC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{name}: {why}; VMVC_REQUIRE_PEERS=1 forbids skipping");
    }
    eprintln!("\n*** SKIPPED {name} test: {why} ***\n");
    false
}

fn env(tool: Tool) -> PeerEnv {
    let exe = crate::workload_exe::WorkloadExe::install().expect("workload installed");
    PeerEnv::new(tool, exe.path().to_owned())
}

/// Nothing of launch `id` (with cgroup `cgroup`) is left on the host.
fn assert_nothing_left(tool: &ToolCmd, id: &str, cgroup: Option<&str>) {
    if tool.kind.is_oci() {
        let listed = tool.list().expect("tool list");
        assert!(
            !listed.iter().any(|l| l == id),
            "{id} still listed by {}",
            tool.kind.name()
        );
        let state = oci::state_dir(tool, id).expect("state dir");
        assert!(!state.exists(), "{} left behind", state.display());
    }
    if let Some(cg) = cgroup {
        for mount in cleanup::cgroup_mounts() {
            let dir = mount.join(cg.trim_start_matches('/'));
            assert!(!dir.exists(), "cgroup {} left behind", dir.display());
        }
    }
}

fn launch_run_measure_teardown(tool: Tool) {
    let mut env = env(tool);
    if !testable(&env) {
        return;
    }
    let name = env.name();
    for round in 0..2 {
        let mut inst = env.start().expect("READY");
        let (id, cgroup) = (inst.id.clone(), inst.cgroup.clone());
        let tool_cmd = inst.tool.clone();
        let l = inst.launch().clone();
        let names: Vec<&str> = l.phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["spawn", "workload_start"]);
        eprintln!(
            "{name} launch {round}: READY after {:.2} ms {:?}",
            l.ready.as_secs_f64() * 1e3,
            l.phases
        );
        crate::env::run_every_workload_once(&mut inst, READY_TIMEOUT);
        if let Some(pid) = inst.proc.pid() {
            let tree: Vec<(u32, Option<String>)> =
                descendants(pid).into_iter().map(|p| (p, comm(p))).collect();
            eprintln!("{name}: tool pid {pid} and below it {tree:?}");
        }
        let mem = crate::env::memory_said(&mut inst, &name);
        for part in ["runtime", "workload", "page_tables"] {
            let bytes = crate::env::part(&mem, part);
            assert!(
                bytes.unwrap_or(0) > 0,
                "{name}: memory part {part}: {bytes:?}"
            );
        }
        let took = Box::new(inst).teardown().expect("clean teardown");
        eprintln!("{name} teardown {:.2} ms", took.as_secs_f64() * 1e3);
        assert_nothing_left(&tool_cmd, &id, cgroup.as_deref());
    }
    // Dropping an instance without teardown (the error path) also
    // leaves nothing: the workload is killed, state and cgroup removed.
    let inst = env.start().expect("READY");
    let (id, cgroup, tool_cmd) = (inst.id.clone(), inst.cgroup.clone(), inst.tool.clone());
    let tool_pid = inst.proc.pid().expect("tool running");
    let below = descendants(tool_pid);
    drop(inst);
    assert_nothing_left(&tool_cmd, &id, cgroup.as_deref());
    // SIGKILL is delivered at once but dying takes a moment: allow it
    // a second to be gone (or a zombie, no longer running).
    let gone = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        matches!(state, None | Some("Z") | Some("X"))
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    for pid in below {
        while !gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(gone(pid), "process {pid} ({:?}) survived", comm(pid));
    }
    // And the environment's temp dir goes with the environment.
    let dir = env
        .shared
        .as_ref()
        .map(|s| s.dir.path.clone())
        .expect("state");
    drop(env);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn crun_launch_run_measure_teardown() {
    launch_run_measure_teardown(Tool::Crun);
}

#[test]
fn runc_launch_run_measure_teardown() {
    launch_run_measure_teardown(Tool::Runc);
}

#[test]
fn bwrap_launch_run_measure_teardown() {
    launch_run_measure_teardown(Tool::Bwrap);
}

/// What a crashed vmvc left (a cgroup and a temp dir tagged with a dead
/// owner) is removed by the next environment's first launch.
#[test]
fn leftovers_of_a_dead_owner_are_removed() {
    let mut env = env(Tool::Runc);
    if !testable(&env) {
        return;
    }
    // No process has pid 0x3fffffff (above pid_max): a dead owner.
    let dead = "1073741823-1";
    // A leftover cgroup only as root: rootless runc gets no cgroup.
    let cg = nix::unistd::geteuid().is_root().then(|| {
        let mount = cleanup::cgroup_mounts()
            .into_iter()
            .find(|m| m.join("cgroup.procs").exists())
            .expect("a cgroup hierarchy");
        let parent = mount.join(bench_container::cgroup::PARENT);
        std::fs::create_dir_all(&parent).expect("vmvc parent");
        let cg = parent.join(format!("{dead}-peer-runc-1"));
        std::fs::create_dir(&cg).expect("leftover cgroup");
        cg
    });
    let tmp = std::env::temp_dir().join(format!("{}{dead}-0", cleanup::DIR_PREFIX));
    std::fs::create_dir(&tmp).expect("leftover temp dir");
    let inst = env.start().expect("READY");
    if let Some(cg) = cg {
        assert!(!cg.exists(), "{} not removed", cg.display());
    }
    assert!(!tmp.exists(), "{} not removed", tmp.display());
    Box::new(inst).teardown().expect("teardown");
}

#[test]
fn config_matches_container_full() {
    let c = oci::config(Path::new("/tmp/r"), Some("/vmvc/1-2-peer-crun-3"), None).expect("config");
    assert_eq!(c["root"]["path"], "/tmp/r");
    assert_eq!(c["root"]["readonly"], true);
    assert_eq!(c["process"]["args"], json!(["/vmvc-workload", "3"]));
    assert_eq!(c["linux"]["cgroupsPath"], "/vmvc/1-2-peer-crun-3");
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
    // The same security defaults as container:full.
    use bench_container::container::security::{caps, paths, seccomp};
    assert_eq!(c["linux"]["maskedPaths"], json!(paths::MASKED));
    assert_eq!(c["linux"]["readonlyPaths"], json!(paths::READONLY));
    let kept: Vec<String> = caps::DEFAULT.iter().map(|c| c.to_string()).collect();
    assert_eq!(c["process"]["capabilities"]["bounding"], json!(kept));
    assert_eq!(c["process"]["noNewPrivileges"], true);
    let denied: Vec<&str> = seccomp::DENIED.iter().map(|d| d.1).collect();
    assert_eq!(c["linux"]["seccomp"]["syscalls"][0]["names"], json!(denied));
    assert!(c["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .any(|m| m["destination"] == "/proc" && m["type"] == "proc"));
    // Rootless: a user namespace mapping root to the user, and no cgroup.
    let ids = oci::RootlessIds { uid: 1234, gid: 99 };
    let c = oci::config(Path::new("/tmp/r"), None, Some(&ids)).expect("config");
    assert!(c["linux"]["cgroupsPath"].is_null());
    assert_eq!(c["linux"]["namespaces"][5]["type"], "user");
    assert_eq!(
        c["linux"]["uidMappings"],
        json!([{ "containerID": 0, "hostID": 1234, "size": 1 }])
    );
    assert_eq!(c["linux"]["gidMappings"][0]["hostID"], 99);
}

#[test]
fn names_and_plain_reasons() {
    for t in Tool::ALL {
        let name = format!("peer:{}", t.name());
        let env = PeerEnv::from_name(&name, PathBuf::from("/nonexistent")).expect("known");
        assert_eq!(env.name(), name);
        if let Some(why) = env.why_not(false) {
            assert!(
                why.contains("apt-get install") || why.contains("root"),
                "{why}"
            );
        }
    }
    assert!(PeerEnv::from_name("peer:docker", PathBuf::new()).is_none());
}
