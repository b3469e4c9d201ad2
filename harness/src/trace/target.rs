//! The traced side of `vmvc trace`: this process, re-run under strace in a
//! hidden mode, makes one launch of one environment and tears it down,
//! writing a marker to stderr at t0, at READY and at the end so that the
//! narration can cut the launch out of everything else the process did
//! (loading itself, writing out the workload, building the rootfs).

use crate::env::{self, Context};
use crate::workload_exe::WorkloadExe;

/// The hidden subcommand: `vmvc __trace-target ENV`.
pub const SUBCOMMAND: &str = "__trace-target";

/// The markers, as the traced process writes them (one `write(2, …)` each).
pub const T0: &str = "vmvc-trace: t0";
pub const READY: &str = "vmvc-trace: ready";
pub const END: &str = "vmvc-trace: torn down";

/// Entry point of the hidden mode; the exit code says how it went.
pub fn main(mut args: impl Iterator<Item = String>) -> i32 {
    let Some(name) = args.next() else {
        eprintln!("vmvc {SUBCOMMAND}: usage: vmvc {SUBCOMMAND} ENV");
        return 2;
    };
    match once(&name) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("vmvc {SUBCOMMAND}: {e:#}");
            1
        }
    }
}

fn once(name: &str) -> anyhow::Result<()> {
    let exe = WorkloadExe::install()?;
    let cx = Context::plain(&exe);
    let mut env = env::by_name(name, &cx, true)?;
    let host = crate::host::detect();
    if let Some(why) = env.unavailable(&host) {
        anyhow::bail!("{name} cannot run here: {why}");
    }
    // One launch first, untraced in spirit (the narration starts at the
    // marker): it builds what every launch shares (rootfs, cgroup parent).
    let warm = env.launch()?;
    warm.teardown()?;
    marker(T0);
    let inst = env.launch()?;
    marker(READY);
    inst.teardown()?;
    marker(END);
    Ok(())
}

/// One `write(2, …)` that strace shows whole.
fn marker(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{text}\n").as_bytes());
}
