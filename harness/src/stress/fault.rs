//! The faults a stress run injects into launches, and how each is done.
//!
//! - **kill-instance** / **kill-vmm**: a thread waits a random time from 0 to
//!   about one launch's length, then SIGKILLs every process that is new
//!   among this process's descendants: the workload, the container's
//!   processes, the peer tool, or the VMM process (`vm-bare:process`,
//!   `peer:qemu`: then it is a kill of the VMM). Depending on when it fires
//!   it lands mid-launch (the launch fails) or after READY (the next request
//!   or the teardown fails). Descendants are found as the sampler finds
//!   them ([`crate::procfs::descendants`]).
//! - **oom**: a `container:full` held to [`OOM_LIMIT`] of memory is asked to
//!   hold [`OOM_ASK`]; the kernel's OOM killer ends the workload
//!   (Documentation/admin-guide/cgroup-v1/memory.rst, "OOM Control";
//!   cgroup-v2.rst, `memory.max`) and the request fails saying so.

use std::collections::BTreeSet;
use std::time::Duration;

/// The memory limit of the OOM fault's container.
pub const OOM_LIMIT: u64 = 32 << 20;
/// What its workload is asked to hold: well past the limit.
pub const OOM_ASK: u64 = 96 << 20;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL of the instance's processes (the workload, a container's
    /// processes, a peer tool) at a random point of the launch.
    KillInstance,
    /// SIGKILL of the VMM process of a VM in its own process.
    KillVmm,
    /// The workload in a memory-limited container allocates past the limit.
    Oom,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillInstance => "kill-instance",
            Fault::KillVmm => "kill-vmm",
            Fault::Oom => "oom",
        }
    }

    /// The kill fault for environment `env`, or `None` where the instance
    /// has no process of its own to kill (an in-process VM).
    pub fn kill_for(env: &str) -> Option<Fault> {
        match env {
            "vm-bare:process"
            | "vm-linux:process"
            | "peer:qemu"
            | "peer:firecracker"
            | "peer:cloud-hypervisor" => Some(Fault::KillVmm),
            e if e.starts_with("vm-") => None,
            _ => Some(Fault::KillInstance),
        }
    }
}

/// The pids of every descendant of `root` now.
fn descendants(root: u32) -> BTreeSet<u32> {
    crate::procfs::descendants(root).into_iter().collect()
}

/// A killer armed for one launch: after `delay`, SIGKILLs this process's
/// descendants that were not there when it was armed.
pub struct Killer {
    thread: std::thread::JoinHandle<usize>,
}

impl Killer {
    pub fn arm(delay: Duration) -> Killer {
        let me = std::process::id();
        let before = descendants(me);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut killed = 0;
            for pid in descendants(me).difference(&before) {
                let pid = nix::unistd::Pid::from_raw(*pid as i32);
                if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok() {
                    killed += 1;
                }
            }
            killed
        });
        Killer { thread }
    }

    /// Waits for the kill; how many processes it killed.
    pub fn join(self) -> usize {
        self.thread.join().unwrap_or(0)
    }
}
