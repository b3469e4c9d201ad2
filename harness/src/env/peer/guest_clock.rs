//! The guest's own clock readings, placed on the launcher's clock: how the
//! phases inside a third-party VMM are seen from outside ([`super::vmm`]'s
//! module docs explain the phases).
//!
//! The guest reads its TSC (`rdtsc`) at known points and reports the
//! values after READY. Where the guest's TSC is the host's (PVM; KVM with
//! a zero TSC offset) they are instants on our clock; where the VMM reset
//! the guest's TSC with the vCPU (QEMU on hardware KVM sets it to 0 at
//! reset), they are durations since that reset, placed back from READY.
//! A Linux guest also reports its kernel's `CLOCK_BOOTTIME`, which starts
//! early in the kernel's boot (clock_gettime(2); `timekeeping_init`).

use std::time::{Duration, Instant};

/// Reads the host's TSC.
pub(super) fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The guest's TSC readings, turned into instants on the launcher's clock.
pub(super) struct GuestClock {
    /// The host's TSC at `t0`.
    pub(super) tsc0: u64,
    pub(super) hz: f64,
}

impl GuestClock {
    fn secs(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.hz)
    }

    /// The phase marks (see the module docs) from the guest's readings
    /// `[first instruction, CPL3, READY]`.
    pub(super) fn marks(
        &self,
        t0: Instant,
        spawned: Instant,
        ready: Instant,
        [entry, cpl3, ready_tsc]: [u64; 3],
    ) -> Vec<(&'static str, Instant)> {
        let mut marks = vec![("spawn", spawned)];
        let host_now = self.tsc0 + ((ready - t0).as_secs_f64() * self.hz) as u64;
        if entry >= self.tsc0 && ready_tsc <= host_now && entry <= cpl3 {
            // One clock: the guest's readings are host TSC values.
            let at = |tsc: u64| t0 + self.secs(tsc - self.tsc0);
            marks.push(("vmm_start", at(entry)));
            marks.push(("entry_code", at(cpl3)));
        } else if entry <= cpl3 && cpl3 <= ready_tsc {
            // The VMM reset the guest's TSC: durations, placed back from READY.
            let at_cpl3 = ready.checked_sub(self.secs(ready_tsc - cpl3));
            let at_entry = at_cpl3.and_then(|c| c.checked_sub(self.secs(cpl3 - entry)));
            let at_reset = at_entry.and_then(|e| e.checked_sub(self.secs(entry)));
            if let (Some(reset), Some(e), Some(c)) = (at_reset, at_entry, at_cpl3) {
                if reset >= spawned {
                    marks.push(("vmm_start", reset));
                    marks.push(("firmware", e));
                } else {
                    marks.push(("vmm_start", e));
                }
                marks.push(("entry_code", c));
            }
        }
        marks.push(("guest_boot", ready));
        // Phases run back to back: no mark before the one it follows.
        for i in 1..marks.len() {
            marks[i].1 = marks[i].1.clamp(marks[i - 1].1, ready);
        }
        marks
    }

    /// The phase marks of a Linux guest from its `/init`'s readings at
    /// READY: the TSC and the guest kernel's clock (`ready_tsc`,
    /// `kernel_ns`). Where the VMM reset the TSC with the vCPU, the reset
    /// is placed back from READY (`vmm_start` ends there) and the firmware
    /// runs from it to the start of the kernel's clock; where the TSC is
    /// the host's, the reset cannot be seen and `vmm_start` runs to the
    /// kernel's clock. `kernel_boot` ends at READY.
    pub(super) fn linux_marks(
        &self,
        t0: Instant,
        spawned: Instant,
        ready: Instant,
        ready_tsc: u64,
        kernel_ns: u64,
    ) -> Vec<(&'static str, Instant)> {
        let mut marks = vec![("spawn", spawned)];
        let host_now = self.tsc0 + ((ready - t0).as_secs_f64() * self.hz) as u64;
        let kernel = ready.checked_sub(Duration::from_nanos(kernel_ns));
        let one_clock = ready_tsc >= self.tsc0 && ready_tsc <= host_now;
        let reset = (!one_clock)
            .then(|| ready.checked_sub(self.secs(ready_tsc)))
            .flatten()
            .filter(|r| *r >= spawned);
        match (reset, kernel) {
            (Some(r), Some(k)) if kernel_ns > 0 && k >= r => {
                marks.push(("vmm_start", r));
                marks.push(("firmware", k));
            }
            (_, Some(k)) if kernel_ns > 0 => marks.push(("vmm_start", k)),
            _ => {}
        }
        marks.push(("kernel_boot", ready));
        for i in 1..marks.len() {
            marks[i].1 = marks[i].1.clamp(marks[i - 1].1, ready);
        }
        marks
    }
}
#[cfg(test)]
mod tests {
    use super::GuestClock;
    use std::time::{Duration, Instant};

    const MS: u64 = 1_000_000; // ticks of a 1 GHz TSC

    fn names(marks: &[(&'static str, Instant)]) -> Vec<&'static str> {
        marks.iter().map(|(n, _)| *n).collect()
    }

    /// A 1 GHz clock whose TSC read 7 s at `t0`; the VMM spawned at 1 ms,
    /// READY at 50 ms: (clock, t0, spawned, ready).
    fn setting() -> (GuestClock, Instant, Instant, Instant) {
        let clock = GuestClock {
            tsc0: 7_000 * MS,
            hz: 1e9,
        };
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        (clock, t0, t0 + ms(1), t0 + ms(50))
    }

    #[test]
    fn a_guest_on_the_host_clock_gives_instants() {
        let (clock, t0, spawned, ready) = setting();
        let tsc = [
            clock.tsc0 + 40 * MS,
            clock.tsc0 + 41 * MS,
            clock.tsc0 + 49 * MS,
        ];
        let m = clock.marks(t0, spawned, ready, tsc);
        assert_eq!(
            names(&m),
            ["spawn", "vmm_start", "entry_code", "guest_boot"]
        );
        assert_eq!(m[1].1 - t0, Duration::from_millis(40));
        assert_eq!(m[2].1 - t0, Duration::from_millis(41));
        assert_eq!(m[3].1, ready);
    }

    #[test]
    fn a_guest_tsc_reset_by_the_vmm_splits_out_the_firmware() {
        let (clock, t0, spawned, ready) = setting();
        // 5 ms of firmware after reset, 1 ms of entry code, 2 ms to READY.
        let m = clock.marks(t0, spawned, ready, [5 * MS, 6 * MS, 8 * MS]);
        assert_eq!(
            names(&m),
            ["spawn", "vmm_start", "firmware", "entry_code", "guest_boot"]
        );
        assert_eq!(ready - m[1].1, Duration::from_millis(8));
        assert_eq!(ready - m[2].1, Duration::from_millis(3));
        assert_eq!(ready - m[3].1, Duration::from_millis(2));
    }

    #[test]
    fn readings_out_of_order_give_no_inner_phases() {
        let (clock, t0, spawned, ready) = setting();
        let m = clock.marks(t0, spawned, ready, [9 * MS, 6 * MS, 8 * MS]);
        assert_eq!(names(&m), ["spawn", "guest_boot"]);
    }

    #[test]
    fn a_linux_guest_whose_tsc_was_reset_shows_vmm_firmware_and_kernel() {
        let (clock, t0, spawned, ready) = setting();
        // READY 40 ms after the vCPU's reset; the kernel's clock ran 30 ms.
        let m = clock.linux_marks(t0, spawned, ready, 40 * MS, 30_000_000);
        assert_eq!(names(&m), ["spawn", "vmm_start", "firmware", "kernel_boot"]);
        assert_eq!(ready - m[1].1, Duration::from_millis(40));
        assert_eq!(ready - m[2].1, Duration::from_millis(30));
        assert_eq!(m[3].1, ready);
    }

    #[test]
    fn a_linux_guest_on_the_host_clock_or_without_a_kernel_clock() {
        let (clock, t0, spawned, ready) = setting();
        let on_host = clock.tsc0 + 49 * MS;
        let m = clock.linux_marks(t0, spawned, ready, on_host, 30_000_000);
        assert_eq!(names(&m), ["spawn", "vmm_start", "kernel_boot"]);
        assert_eq!(ready - m[1].1, Duration::from_millis(30));
        let m = clock.linux_marks(t0, spawned, ready, 40 * MS, 0);
        assert_eq!(names(&m), ["spawn", "kernel_boot"]);
    }
}
