//! Prints the launch phases of the bare VM, medians over many launches:
//! `cargo run --release -p bench-vm --example vm_startup [RAM_MIB] [N]`.
use bench_vm::{BareVm, Config, PHASES};
use std::time::Instant;

fn main() -> Result<(), bench_vm::Error> {
    let mut args = std::env::args().skip(1);
    let ram_mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let config = Config {
        ram_bytes: ram_mib << 20,
        ..Config::default()
    };
    drop(BareVm::launch(&config)?); // warm-up
    let mut phases = vec![Vec::new(); PHASES.len()];
    let (mut ready, mut teardown) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let vm = BareVm::launch(&config)?;
        for (i, (_, d)) in vm.phases().durations().iter().enumerate() {
            phases[i].push(*d);
        }
        ready.push(vm.phases().ready());
        let t = Instant::now();
        drop(vm);
        teardown.push(t.elapsed());
    }
    ready.sort();
    teardown.sort();
    println!("guest RAM {ram_mib} MiB, {n} launches");
    for (name, d) in PHASES.iter().zip(&mut phases) {
        d.sort();
        println!("  {name:<13} median {:>9.1?}", d[d.len() / 2]);
    }
    println!(
        "  ready median {:?}, teardown median {:?}",
        ready[ready.len() / 2],
        teardown[teardown.len() / 2]
    );
    Ok(())
}
