//! Ctrl-C and `kill`: how `vmvc run` stops on SIGINT and SIGTERM without
//! leaving anything behind.
//!
//! By default SIGINT (Ctrl-C) and SIGTERM (`kill PID`, what systemd and
//! `timeout(1)` send) end a process at once (signal(7), "Standard signals":
//! action "Term"), so no destructor runs: cgroups, rootfs temp dirs and
//! OCI state of the live instances would stay for the next run to clean.
//! Instead, [`install`] gives both signals a handler that only records which
//! one came (a store to an atomic: one of the few things a handler may do,
//! signal-safety(7)). The run checks [`check`] between launches and between
//! measurements; once a signal is recorded, `check` fails with
//! [`Interrupted`], the error unwinds through the experiments, and every
//! instance, environment and runtime on the way is dropped: torn down, its
//! processes killed and reaped, its cgroups removed (their `Drop`s). `main`
//! then says what happened and exits with the shell's code for "killed by
//! signal N", 128 + N: 130 for SIGINT, 143 for SIGTERM.
//!
//! A second signal ends the process at once, as uncaught (for a user who
//! will not wait for the teardown); like SIGKILL, which cannot be caught at
//! all (signal(7)), it leaves what was live for the next run to find and
//! remove ([`crate::leftovers`]).
//!
//! A signal that arrives while a launch is in flight waits for that launch
//! (milliseconds; a launch that hangs ends at its own timeout). The
//! handler is installed with `SA_RESTART` (sigaction(2)): an interrupted
//! system call restarts, so no half-read message is lost to `EINTR`.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // A second signal: the user does not want to wait for the teardown.
        // SAFETY: signal(2) and raise(3) are async-signal-safe
        // (signal-safety(7)); with the default action back, the process
        // ends as if it had never caught the signal.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// The run stopped because of a signal.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted by {name}: stopped launching, tore down every live instance and removed this \
     run's cgroups and temp dirs; no results were written"
)]
pub struct Interrupted {
    /// The signal's number (2 or 15).
    pub signal: i32,
    /// `SIGINT` or `SIGTERM`.
    pub name: &'static str,
}

impl Interrupted {
    /// The exit code a shell gives a process killed by this signal.
    pub fn exit_code(&self) -> i32 {
        128 + self.signal
    }
}

/// Catches SIGINT and SIGTERM from now on (see the module docs).
pub fn install() -> anyhow::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe (signal-safety(7)); it touches no other state.
        unsafe { sigaction(sig, &action) }
            .map_err(|e| anyhow::anyhow!("installing a handler for {sig}: {e}"))?;
    }
    Ok(())
}

/// Says why the run stopped and what it left (nothing, once every `Drop`
/// ran); returns the exit code, 128 + the signal.
pub fn report(e: &anyhow::Error) -> i32 {
    let code = e
        .downcast_ref::<Interrupted>()
        .map_or(1, Interrupted::exit_code);
    eprintln!("vmvc: {e}");
    let me = bench_container::owner::Owner::current();
    let left = crate::leftovers::census(crate::leftovers::Scope::Run(me));
    if left.total() > 0 {
        eprintln!("vmvc: left behind (the next run removes it): {left}");
    }
    code
}

/// The signal received so far, if any.
pub fn pending() -> Option<Interrupted> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(Interrupted {
            signal: sig,
            name: match sig {
                libc::SIGINT => "SIGINT",
                libc::SIGTERM => "SIGTERM",
                _ => "a signal",
            },
        }),
    }
}

/// Fails with [`Interrupted`] once SIGINT or SIGTERM came.
pub fn check() -> anyhow::Result<()> {
    match pending() {
        Some(i) => Err(i.into()),
        None => Ok(()),
    }
}
