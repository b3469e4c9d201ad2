//! Sample results: realistic runs built the way `vmvc run` fills
//! `results.json`, with raw samples and statistics computed from them.

use reports::*;

/// Statistics over samples, computed the simple way (the real ones live in
/// the harness; the report only displays them).
pub fn stats(samples: &[f64]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        let nan = f64::NAN;
        return Stats {
            n,
            median: nan,
            p5: nan,
            p95: nan,
            mean: nan,
            stddev: nan,
            cv: nan,
            outliers: Vec::new(),
            median_ci_low: nan,
            median_ci_high: nan,
            ci_level: nan,
        };
    }
    let quantile = |q: f64| {
        let pos = q * (n - 1) as f64;
        let (i, frac) = (pos.floor() as usize, pos.fract());
        let next = sorted[(i + 1).min(n - 1)];
        sorted[i] + (next - sorted[i]) * frac
    };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    // One sample has no spread to speak of (and NaN would not round-trip
    // as equal): call it zero.
    let var = if n > 1 {
        sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)
    } else {
        0.0
    };
    // Order statistics around the median: ranks n/2 ± 1.96·√n/2.
    let half = 0.98 * (n as f64).sqrt();
    let rank = |r: f64| sorted[(r.clamp(0.0, (n - 1) as f64)) as usize];
    Stats {
        n,
        median: quantile(0.5),
        p5: quantile(0.05),
        p95: quantile(0.95),
        mean,
        stddev: var.sqrt(),
        cv: var.sqrt() / mean,
        outliers: tukey_outliers(samples, quantile(0.25), quantile(0.75)),
        median_ci_low: rank(n as f64 / 2.0 - half),
        median_ci_high: rank(n as f64 / 2.0 + half),
        ci_level: 0.95,
    }
}

/// Indices of the samples outside Tukey's fences.
pub fn tukey_outliers(samples: &[f64], q1: f64, q3: f64) -> Vec<usize> {
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    samples
        .iter()
        .enumerate()
        .filter(|(_, v)| **v < lo || **v > hi)
        .map(|(i, _)| i)
        .collect()
}

/// `n` positive samples around `median`, skewed right like real latencies;
/// deterministic (a small LCG) so the pictures do not change between runs.
pub fn samples(median: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            // Mostly within ±15 %, with an occasional slow outlier.
            let spread = if u > 0.97 { 2.5 } else { 0.85 + 0.3 * u };
            median * spread
        })
        .collect()
}

pub fn metric(unit: &str, samples: Vec<f64>) -> Metric {
    Metric {
        unit: unit.to_owned(),
        stats: stats(&samples),
        samples,
    }
}

/// Startup whose phases (medians in seconds) add up to the teardown total.
pub fn startup(phases: &[(&str, f64)], seed: u64) -> Startup {
    let n = 60;
    let per_phase: Vec<Vec<f64>> = phases
        .iter()
        .enumerate()
        .map(|(i, (_, m))| samples(*m, n, seed * 31 + i as u64))
        .collect();
    let before_teardown = phases.len().saturating_sub(1);
    let ready: Vec<f64> = (0..n)
        .map(|k| per_phase[..before_teardown].iter().map(|p| p[k]).sum())
        .collect();
    let torn_down: Vec<f64> = (0..n)
        .map(|k| per_phase.iter().map(|p| p[k]).sum())
        .collect();
    Startup {
        ready: metric("s", ready),
        torn_down: metric("s", torn_down),
        phases: phases
            .iter()
            .zip(per_phase)
            .map(|((name, _), s)| Phase {
                name: (*name).to_owned(),
                time: metric("s", s),
            })
            .collect(),
    }
}

pub fn memory(parts: &[(&str, bool, f64)], native_total: Option<f64>, seed: u64) -> Memory {
    const MIB: f64 = 1024.0 * 1024.0;
    let components: Vec<MemComponent> = parts
        .iter()
        .enumerate()
        .map(|(i, (name, counts, mib))| MemComponent {
            name: (*name).to_owned(),
            description: format!("{name}, as measured"),
            counts_in_total: *counts,
            bytes: metric("bytes", samples(mib * MIB, 10, seed + i as u64)),
        })
        .collect();
    let total_mib: f64 = parts.iter().filter(|p| p.1).map(|p| p.2).sum();
    let total = metric("bytes", samples(total_mib * MIB, 10, seed + 99));
    Memory {
        working_set_bytes: 64 * 1024 * 1024,
        overhead_vs_native_bytes: native_total.map(|n| total.stats.median - n),
        components,
        total,
    }
}

/// Throughput for the five workloads: native rates times `ratios`.
pub fn throughput(ratios: [f64; 5], paths: [&str; 5], seed: u64) -> Vec<Throughput> {
    let base = [
        ("cpu", "ops/s", 2.1e9),
        ("mem_bw", "bytes/s", 11.5e9),
        ("random_access", "ops/s", 38e6),
        ("syscall", "ops/s", 9.5e6),
        ("boundary", "ops/s", 210e3),
    ];
    base.iter()
        .zip(ratios)
        .zip(paths)
        .enumerate()
        .map(|(i, (((name, unit, rate), ratio), path))| Throughput {
            workload: (*name).to_owned(),
            unit: (*unit).to_owned(),
            rate: metric(unit, samples(rate * ratio, 20, seed + i as u64)),
            ratio_to_native: Some(ratio),
            path: Some(path.to_owned()),
        })
        .collect()
}

/// Density at N = 1, 2, 4, …, 16: per-instance cost `mib` (MemAvailable
/// view) of which `accounted` is counted per instance, shared memory making
/// the per-instance figure fall a little with N; startup rising slowly.
pub fn density(mib: f64, accounted: f64, ready_s: f64, seed: u64) -> Vec<DensityPoint> {
    const MIB: f64 = 1024.0 * 1024.0;
    [1u32, 2, 4, 8, 16]
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let shared = 1.5 / f64::from(n);
            DensityPoint {
                instances: n,
                mem_available_drop_per_instance: (mib + shared) * MIB,
                accounted_per_instance: accounted * MIB,
                ready: metric(
                    "s",
                    samples(
                        ready_s * (1.0 + 0.05 * i as f64),
                        n as usize,
                        seed + i as u64,
                    ),
                ),
                shared_pages: None,
            }
        })
        .collect()
}

pub fn env(name: &str, description: &str) -> EnvResult {
    EnvResult {
        name: name.to_owned(),
        description: description.to_owned(),
        rootless: false,
        skipped: None,
        startup: None,
        memory: None,
        throughput: Vec::new(),
        notes: Vec::new(),
        density: Vec::new(),
    }
}

pub const SKIP_REASON: &str =
    "a Linux guest cannot run on a PVM host: its kernel dies in the emulator";

/// One run of four environments on a PVM host, one of them skipped.
pub fn sample_run(run_id: &str, hostname: &str, scale: f64) -> Results {
    let native = EnvResult {
        startup: Some(startup(
            &[
                ("spawn", 95e-6 * scale),
                ("workload_start", 160e-6 * scale),
                ("teardown", 60e-6 * scale),
            ],
            1,
        )),
        memory: Some(memory(&[("workload", true, 64.4)], None, 10)),
        throughput: throughput([1.0; 5], ["CPU", "RAM", "RAM", "host kernel", "pipe"], 20),
        density: density(64.6, 64.4, 330e-6 * scale, 70),
        ..env("native", "a plain child process (fork/exec): the baseline")
    };
    let container = EnvResult {
        startup: Some(startup(
            &[
                ("cgroup_create", 180e-6 * scale),
                ("clone", 420e-6 * scale),
                ("rootfs_setup", 650e-6 * scale),
                ("exec", 120e-6 * scale),
                ("workload_start", 170e-6 * scale),
                ("teardown", 900e-6 * scale),
            ],
            2,
        )),
        memory: Some(memory(
            &[
                ("workload", true, 64.4),
                ("kernel_objects", true, 0.6),
                ("cgroup_charge", false, 64.9),
            ],
            Some(64.4 * 1024.0 * 1024.0),
            30,
        )),
        throughput: throughput(
            [0.998, 0.995, 0.99, 0.97, 0.96],
            ["CPU", "RAM", "RAM", "host kernel", "pipe"],
            40,
        ),
        notes: vec!["pivot_root + mount/pid/uts/ipc/net namespaces + cgroup v1 memory".to_owned()],
        density: density(66.2, 65.0, 1.6e-3 * scale, 80),
        ..env("container:full", "bench-container, full profile")
    };
    let vm_bare = EnvResult {
        startup: Some(startup(
            &[
                ("kvm_open", 15e-6 * scale),
                ("create_vm", 900e-6 * scale),
                ("guest_memory", 250e-6 * scale),
                ("load_image", 80e-6 * scale),
                ("vcpu_setup", 1.4e-3 * scale),
                ("guest_boot", 6.5e-3 * scale),
                ("teardown", 2.2e-3 * scale),
            ],
            3,
        )),
        memory: Some(memory(
            &[
                ("guest_ram_touched", true, 64.2),
                ("vmm_own", true, 2.8),
                ("kvm_kernel", true, 0.9),
                ("guest_stub", false, 0.05),
            ],
            Some(64.4 * 1024.0 * 1024.0),
            50,
        )),
        throughput: throughput(
            [1.0, 0.93, 0.71, 0.012, 0.004],
            [
                "CPU",
                "RAM",
                "RAM via nested paging",
                "guest stub (emulated)",
                "VM exit",
            ],
            60,
        ),
        notes: vec!["CPL0 stub emulated by PVM: syscall figures are emulation speed".to_owned()],
        density: density(69.5, 67.9, 9.5e-3 * scale, 90),
        ..env("vm-bare", "bench-vm with no guest OS")
    };
    let vm_linux = EnvResult {
        skipped: Some(SKIP_REASON.to_owned()),
        ..env("vm-linux", "bench-vm booting a Linux kernel")
    };
    Results {
        schema_version: SCHEMA_VERSION,
        run_id: run_id.to_owned(),
        started_at: "2026-11-28T08:30:00Z".to_owned(),
        wall_time_s: 212.4,
        vmvc_version: "0.1.0".to_owned(),
        quick: false,
        pinned_cpus: None,
        host: Host {
            hostname: hostname.to_owned(),
            cpu_model: "AMD EPYC 7B13 64-Core Processor".to_owned(),
            cores: 8,
            memory_bytes: 32 * 1024 * 1024 * 1024,
            kernel: "6.1.0-pvm".to_owned(),
            root: true,
            cgroup: CgroupLayout::Hybrid,
            virtualization: Virtualization::Pvm,
            virtualization_detail: "kvm_pvm module loaded, no vmx/svm".to_owned(),
            inside_vm: true,
            tsc_hz: 2.45e9,
        },
        workload: WorkloadBuild {
            linux_binary_bytes: 18_432,
            linux_binary_fnv64: "9c1d2f3a4b5c6d7e".to_owned(),
            guest_image_bytes: Some(12_288),
            parameters: vec![Parameter {
                name: "mem_bw buffer".to_owned(),
                value: 256,
                unit: "MiB".to_owned(),
            }],
        },
        guest_kernel: Some(GuestKernel {
            version: "6.1.0-27-amd64".to_owned(),
            path: "/boot/vmlinuz-6.1.0-27-amd64".to_owned(),
            size_bytes: 8_123_456,
            cmdline: "console=ttyS0 reboot=k panic=1 pci=off".to_owned(),
        }),
        environments: vec![native, container, vm_bare, vm_linux],
        identities: Vec::new(),
        concurrent_runs: Vec::new(),
    }
}
