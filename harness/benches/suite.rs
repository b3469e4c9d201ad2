//! `cargo bench`: criterion groups for startup and throughput per
//! environment, then the full suite into `results/<timestamp>/` with its
//! report, so `cargo bench` alone gives the whole picture.
//!
//! Launches take hundreds of microseconds to seconds, so every group uses
//! `iter_custom` (we time what DESIGN.md defines, not criterion's loop), a
//! small sample size and a measurement time that fits. `cargo bench -- --test`
//! runs each benchmark once and the suite in `--quick` mode (what CI runs).

use criterion::{Criterion, Throughput};
use harness::env::{self, Environment};
use harness::workload_exe::WorkloadExe;
use std::time::Duration;
use workload::protocol::Workload;

/// Benchmarks fail with a message and exit status 1, not a panic backtrace.
macro_rules! die {
    ($($arg:tt)*) => {{
        eprintln!("bench: error: {}", format!($($arg)*));
        std::process::exit(1)
    }};
}

/// Environments this host can run, built once.
fn environments(exe: &WorkloadExe, host: &reports::Host) -> Vec<Box<dyn Environment>> {
    let say = |m: &str| eprintln!("bench: {m}");
    let cx = env::Context {
        exe,
        kernel: None,
        kernel_cmdline: None,
        force: false,
        say: &say,
        vmvc_exe: Some(env!("CARGO_BIN_EXE_vmvc").into()),
        firecracker: None,
        cloud_hypervisor: None,
    };
    env::KNOWN
        .iter()
        .filter_map(|name| match env::by_name(name, &cx, false) {
            Ok(e) => match e.unavailable(host) {
                None => Some(e),
                Some(why) => {
                    eprintln!("bench: {name} skipped: {why}");
                    None
                }
            },
            Err(err) => {
                eprintln!("bench: {name}: {err:#}");
                None
            }
        })
        .collect()
}

fn startup(c: &mut Criterion, envs: &mut [Box<dyn Environment>]) {
    let mut g = c.benchmark_group("startup");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    for e in envs.iter_mut() {
        let name = e.name();
        g.bench_function(&name, |b| {
            // Time to READY per launch; teardown happens outside the timing.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    match e.launch() {
                        Ok(inst) => {
                            total += inst.launch().ready;
                            if let Err(err) = inst.teardown() {
                                die!("{name}: teardown failed: {err:#}");
                            }
                        }
                        Err(err) => die!("{name}: launch failed: {err:#}"),
                    }
                }
                total
            })
        });
    }
    g.finish();
}

fn throughput(c: &mut Criterion, envs: &mut [Box<dyn Environment>], tsc_hz: f64) {
    let plan = harness::experiment::Plan::new(true);
    for e in envs.iter_mut() {
        let name = e.name();
        let mut inst = match e.launch() {
            Ok(i) => i,
            Err(err) => die!("{name}: launch failed: {err:#}"),
        };
        let mut g = c.benchmark_group(format!("throughput/{name}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_millis(300));
        for w in Workload::ALL {
            let (size, iterations) = plan.params.get(w.name()).copied().unwrap_or((0, 1));
            // Criterion reports elements/s; for mem_bw an element is a byte copied.
            let per_run = if w == Workload::MemBw {
                size / 2 * iterations
            } else {
                iterations
            };
            g.throughput(Throughput::Elements(per_run));
            g.bench_function(w.name(), |b| {
                b.iter_custom(|iters| {
                    let mut ticks = 0u64;
                    for _ in 0..iters {
                        match harness::experiment::run_once(inst.as_mut(), w, size, iterations) {
                            Ok((_, cycles, _)) => ticks += cycles,
                            Err(err) => die!("{name}/{}: {err:#}", w.name()),
                        }
                    }
                    // The workload times itself with the TSC: the same clock in every environment.
                    Duration::from_secs_f64(ticks as f64 / tsc_hz)
                })
            });
        }
        g.finish();
        if let Err(err) = inst.teardown() {
            die!("{name}: teardown failed: {err:#}");
        }
    }
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default().configure_from_args();
    let exe = match WorkloadExe::install() {
        Ok(e) => e,
        Err(err) => die!("installing the workload binary: {err:#}"),
    };
    // Pinned like `vmvc run` by default (see `harness::run::default_pin`).
    let pin = harness::run::default_pin();
    if let Some(cpus) = &pin {
        if let Err(err) = harness::run::pin_to(cpus) {
            die!("{err:#}");
        }
    }
    let host = harness::host::detect();
    let mut envs = environments(&exe, &host);
    startup(&mut c, &mut envs);
    throughput(&mut c, &mut envs, host.tsc_hz);
    c.final_summary();
    drop(envs);

    // The full suite, written where `vmvc run` writes. cargo runs benches
    // from the package directory; results/ is at the workspace root.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    let id = harness::run::run_id(std::time::SystemTime::now());
    let opts = harness::run::RunOptions {
        envs: Vec::new(),
        quick: test_mode,
        out: Some(root.join("results").join(id)),
        quiet: false,
        pin,
        kernel: None,
        kernel_cmdline: None,
        force: false,
        vmvc_exe: Some(env!("CARGO_BIN_EXE_vmvc").into()),
        firecracker: None,
        cloud_hypervisor: None,
    };
    match harness::run::run(&opts) {
        Ok(o) => {
            println!("{}", harness::table::render(&o.results));
            println!("results: {}", o.json.display());
            println!("report:  {}", o.html.display());
            if !o.failed.is_empty() {
                die!("measurement failed for: {}", o.failed.join(", "));
            }
        }
        Err(err) => die!("vmvc suite: {err:#}"),
    }
}
