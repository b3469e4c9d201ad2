//! What a workload and its launcher say to each other, independent of bytes.
//!
//! The workload speaks [`Message`]s (READY, RESULT, ...), the launcher
//! [`Command`]s (RUN, HOLD, EXIT, PONG). Numbers inside them name things both
//! sides must agree on: the throughput [`Workload`]s (DESIGN.md,
//! "Throughput"), the [`fault`] codes and the [`info`] keys. How they become
//! bytes is [`super::codec`].

/// The throughput workloads (DESIGN.md, "Throughput").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Workload {
    /// Integer work that stays in registers and L1.
    Cpu = 1,
    /// Sequential copy over a large buffer: memory bandwidth.
    MemBw = 2,
    /// Pointer chase over a large buffer: latency, TLB and nested paging.
    RandomAccess = 3,
    /// A trivial system call: whatever kernel the workload runs on.
    Syscall = 4,
    /// A round trip to the launcher: pipe/socket for a process, VM exit for a VM.
    Boundary = 5,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Cpu,
        Workload::MemBw,
        Workload::RandomAccess,
        Workload::Syscall,
        Workload::Boundary,
    ];

    pub fn from_u8(v: u8) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| *w as u8 == v)
    }

    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Cpu => "cpu",
            Workload::MemBw => "mem_bw",
            Workload::RandomAccess => "random_access",
            Workload::Syscall => "syscall",
            Workload::Boundary => "boundary",
        }
    }

    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// FAULT codes a workload can report.
pub mod fault {
    /// A command tag the workload does not know.
    pub const BAD_COMMAND: u32 = 1;
    /// RUN named an unknown workload.
    pub const BAD_WORKLOAD: u32 = 2;
    /// Scratch memory of the requested size could not be had (detail: bytes).
    pub const NO_MEMORY: u32 = 3;
    /// The workload panicked.
    pub const PANIC: u32 = 4;
    /// A parameter was out of range (detail: the value).
    pub const BAD_PARAMETER: u32 = 5;
    /// The platform's round trip failed (launcher gone or wrong answer).
    pub const BOUNDARY: u32 = 6;
    /// Set by a bare-guest exception handler: detail is the vector.
    pub const EXCEPTION: u32 = 7;
    /// Sent by a VMM process whose VM could not be started (no /dev/kvm
    /// access, no memory, ...); the VMM prints the cause on its stderr.
    pub const LAUNCH: u32 = 8;

    pub fn describe(code: u32) -> &'static str {
        match code {
            BAD_COMMAND => "unknown command",
            BAD_WORKLOAD => "unknown workload",
            NO_MEMORY => "scratch memory unavailable",
            PANIC => "workload panicked",
            BAD_PARAMETER => "parameter out of range",
            BOUNDARY => "round trip to the launcher failed",
            EXCEPTION => "CPU exception",
            LAUNCH => "the VMM could not start the VM",
            _ => "unknown fault code",
        }
    }
}

/// INFO keys: facts a workload reports about the system it sees.
pub mod info {
    /// `MemTotal` as the (guest) kernel reports it, bytes.
    pub const MEM_TOTAL: u8 = 1;
    /// `MemFree`, bytes.
    pub const MEM_FREE: u8 = 2;
    /// `MemAvailable`, bytes.
    pub const MEM_AVAILABLE: u8 = 3;
    /// The workload's own pid as it sees it.
    pub const PID: u8 = 4;
    /// Bare guest under a VMM that is not ours: the TSC at the guest's
    /// first instruction (a VMM that resets the TSC with the vCPU, as QEMU
    /// does, makes this the time from reset: the firmware's).
    pub const FIRST_INSTRUCTION_TSC: u8 = 5;
    /// The TSC when the workload started at CPL3 (the entry code's end).
    pub const CPL3_TSC: u8 = 6;
    /// The TSC just before READY was sent.
    pub const READY_TSC: u8 = 7;
    /// A Linux guest's `/init` under a VMM that is not ours: the guest
    /// kernel's `CLOCK_BOOTTIME` just before READY, nanoseconds: how long
    /// the kernel had been keeping time (from `timekeeping_init`, early in
    /// `start_kernel`), so what came before it (firmware) can be told apart.
    pub const KERNEL_CLOCK_NS: u8 = 8;
}

/// A message from the workload to its launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The workload's entry point is running: the end of startup.
    Ready,
    /// One finished RUN: `ops` operations took `cycles` time-stamp-counter ticks;
    /// `checksum` depends on every operation so none can be optimised away.
    Result {
        workload: u8,
        ops: u64,
        cycles: u64,
        checksum: u64,
    },
    /// HOLD done: `bytes` of scratch memory are touched and stay so.
    Held { bytes: u64 },
    /// Answer to EXIT; the workload exits right after.
    Done,
    /// Something went wrong; see [`fault`].
    Fault { code: u32, detail: u64 },
    /// A fact about the system as the workload sees it; see [`info`].
    Info { key: u8, value: u64 },
    /// First half of a boundary round trip; the launcher answers PONG.
    Ping,
}

/// A command from the launcher to the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run `workload` over a buffer of `size` bytes for `iterations`.
    Run {
        workload: u8,
        size: u64,
        iterations: u64,
    },
    /// Touch `bytes` of scratch memory, answer HELD and keep it touched.
    Hold { bytes: u64 },
    /// Answer DONE and exit with status 0.
    Exit,
    /// Second half of a boundary round trip.
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names() {
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
            assert_eq!(Workload::from_u8(w as u8), Some(w));
        }
        assert_eq!(Workload::from_name("gpu"), None);
        assert_eq!(Workload::from_u8(0), None);
    }
}
