//! The [`Platform`]: the one thing that differs between environments.
//!
//! The workloads, the protocol and the command loop are the same code
//! everywhere; what a Linux process does with a system call, the bare guest
//! does with an I/O port. A platform says how bytes reach the launcher, how
//! to read the clock, where scratch memory comes from, what a "trivial
//! system call" is there, and how to exit: `crate::linux` (raw syscalls),
//! `crate::bare` (ports, no OS) and `crate::vm_init` (a Linux guest's
//! `/init`, syscalls and ports) implement it.

/// What a workload needs from the environment it runs in.
pub trait Platform {
    /// Sends bytes to the launcher; a failure ends the program.
    fn send(&mut self, bytes: &[u8]);
    /// Fills `buf` with bytes from the launcher; false when the launcher is gone.
    fn recv(&mut self, buf: &mut [u8]) -> bool;
    /// Reads the time-stamp counter. The launcher converts ticks to seconds
    /// with the host's TSC rate, so every environment is timed by one clock.
    fn cycles(&mut self) -> u64 {
        // SAFETY: RDTSC has no memory effects; CR4.TSD is clear on Linux and in
        // the bare guest, so it is allowed at any privilege level.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    /// Memory the workload may use: at least `bytes`, writable, owned by the
    /// workload alone and valid until the next call. `None` if unavailable.
    fn scratch(&mut self, bytes: usize) -> Option<*mut u8>;
    /// One trivial system call into whatever kernel is underneath; returns its result.
    fn trivial_syscall(&mut self) -> u64;
    /// One round trip to the launcher and back; false if it failed.
    fn round_trip(&mut self) -> bool;
    /// Ends the program.
    fn exit(&mut self, code: i32) -> !;
}
