//! No fd, thread or mapping is left behind after many launches in one
//! process. (Its own test binary: other tests running in parallel threads
//! would change the counts.)

mod common;

use bench_vm::{BareVm, Config};
use std::time::Duration;
use workload::protocol::{Command, Workload};

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

#[test]
fn two_hundred_launches_leave_nothing_behind() {
    if !common::kvm_or_skip("two_hundred_launches_leave_nothing_behind") {
        return;
    }
    // Warm up once: one-time allocations (the CPUID cache, the signal
    // handler, the allocator's arenas) are not leaks.
    let mut vm = BareVm::launch(&Config::default()).unwrap();
    let run = Command::Run {
        workload: Workload::Cpu as u8,
        size: 0,
        iterations: 10,
    };
    vm.request(run, Duration::from_secs(5)).unwrap();
    drop(vm);
    let (fds, threads, maps) = (count("/proc/self/fd"), count("/proc/self/task"), mappings());

    for i in 0..200 {
        let mut vm =
            BareVm::launch(&Config::default()).unwrap_or_else(|e| panic!("launch {i}: {e}"));
        vm.request(run, Duration::from_secs(5)).unwrap();
        match i % 3 {
            0 => assert_eq!(vm.shutdown(Duration::from_secs(5)).unwrap(), 0),
            1 => {
                // A request that times out: the timer and signal path, too.
                let spin = Command::Run {
                    workload: Workload::Cpu as u8,
                    size: 0,
                    iterations: u64::MAX,
                };
                assert!(vm.request(spin, Duration::from_millis(1)).is_err());
            }
            _ => {} // dropped while idle
        }
        drop(vm);
    }
    assert_eq!(count("/proc/self/fd"), fds, "file descriptors leaked");
    assert_eq!(count("/proc/self/task"), threads, "threads leaked");
    assert_eq!(mappings(), maps, "mappings leaked");
}
