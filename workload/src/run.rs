//! The five throughput workloads (DESIGN.md, "Throughput").
//!
//! Each returns a RESULT with the operations done, the TSC ticks they took and
//! a checksum that depends on every operation (so the compiler cannot drop
//! the work). Setup (allocating and filling buffers) is outside the timed part.

use crate::platform::Platform;
use crate::protocol::{fault, Message, Workload};
use core::hint::black_box;

/// Largest buffer a RUN or HOLD may ask for (16 GiB): a guard against garbage.
pub const MAX_SIZE: u64 = 16 << 30;

fn bad(code: u32, detail: u64) -> Message {
    Message::Fault { code, detail }
}

/// Scratch memory of `size` bytes as a slice of `T`.
fn scratch<P: Platform + ?Sized, T>(p: &mut P, size: u64) -> Result<&'static mut [T], Message> {
    if size > MAX_SIZE || (size as usize) < core::mem::size_of::<T>() {
        return Err(bad(fault::BAD_PARAMETER, size));
    }
    let ptr = p
        .scratch(size as usize)
        .ok_or(bad(fault::NO_MEMORY, size))?;
    if !ptr.cast::<T>().is_aligned() {
        return Err(bad(fault::NO_MEMORY, size));
    }
    // SAFETY: the platform promises `size` writable bytes at `ptr`, owned by
    // the workload alone until the next `scratch` call; we checked alignment.
    // The slice does not outlive this RUN or HOLD (the next call invalidates
    // it, and every caller drops it before returning).
    Ok(unsafe {
        core::slice::from_raw_parts_mut(ptr.cast::<T>(), size as usize / core::mem::size_of::<T>())
    })
}

/// Touches `bytes` of scratch memory (one write per 4 KiB page), so that the
/// memory experiment measures an instance holding a known working set.
pub fn hold<P: Platform + ?Sized>(p: &mut P, bytes: u64) -> Result<(), Message> {
    if bytes == 0 {
        return Ok(());
    }
    let buf: &mut [u8] = scratch(p, bytes)?;
    for page in buf.chunks_mut(4096) {
        page[0] = 1;
    }
    black_box(&buf[0]);
    Ok(())
}

/// Runs one workload and returns its RESULT (or a FAULT).
pub fn run<P: Platform + ?Sized>(
    p: &mut P,
    workload: u8,
    size: u64,
    iterations: u64,
) -> Result<Message, Message> {
    let w = Workload::from_u8(workload).ok_or(bad(fault::BAD_WORKLOAD, u64::from(workload)))?;
    let (ops, cycles, checksum) = match w {
        Workload::Cpu => timed(p, |_| (iterations, cpu(iterations))),
        Workload::MemBw => {
            let buf: &mut [u8] = scratch(p, size)?;
            let (src, dst) = buf.split_at_mut(buf.len() / 2);
            // Fill once outside the timed part so every page is really there.
            src.fill(0x5a);
            dst.fill(0);
            timed(p, |_| {
                for i in 0..iterations {
                    dst.copy_from_slice(src);
                    // Make each pass depend on the one before.
                    dst[0] = dst[0].wrapping_add(i as u8);
                    black_box(&mut *dst);
                }
                (iterations * dst.len() as u64, u64::from(dst[0]))
            })
        }
        Workload::RandomAccess => {
            let buf: &mut [u64] = scratch(p, size)?;
            make_cycle(buf);
            timed(p, |_| (iterations, chase(buf, iterations)))
        }
        Workload::Syscall => timed(p, |p| {
            let mut sum = 0u64;
            for _ in 0..iterations {
                sum = sum.wrapping_add(p.trivial_syscall());
            }
            (iterations, sum)
        }),
        Workload::Boundary => {
            let mut ok = true;
            let r = timed(p, |p| {
                let mut n = 0;
                while n < iterations && ok {
                    ok = p.round_trip();
                    n += 1;
                }
                (n, n)
            });
            if !ok {
                return Err(bad(fault::BOUNDARY, r.0));
            }
            r
        }
    };
    Ok(Message::Result {
        workload,
        ops,
        cycles,
        checksum,
    })
}

/// Runs `f` between two TSC reads; returns (ops, ticks, checksum).
fn timed<P: Platform + ?Sized>(p: &mut P, f: impl FnOnce(&mut P) -> (u64, u64)) -> (u64, u64, u64) {
    let start = p.cycles();
    let (ops, sum) = f(p);
    let end = p.cycles();
    (ops, end.wrapping_sub(start), sum)
}

/// Integer work in registers: xorshift64 plus a multiply-add chain. Each
/// iteration depends on the one before, so the rate is set by the core alone.
pub fn cpu(iterations: u64) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut acc: u64 = 0;
    for _ in 0..black_box(iterations) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = acc.wrapping_mul(31).wrapping_add(x);
    }
    acc
}

/// Fills `buf` with one random cycle through all its slots (Sattolo's
/// algorithm), so a chase visits every slot before repeating and the
/// hardware prefetcher cannot guess the next address.
pub fn make_cycle(buf: &mut [u64]) {
    let n = buf.len();
    for (i, slot) in buf.iter_mut().enumerate() {
        *slot = i as u64;
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % i as u64) as usize; // j < i: Sattolo, one single cycle
        buf.swap(i, j);
    }
}

/// Follows the cycle for `steps` loads; each load's address is the previous
/// load's value, so the loads cannot overlap: this measures latency.
pub fn chase(buf: &[u64], steps: u64) -> u64 {
    let mut i = 0usize;
    for _ in 0..steps {
        // Indices come from make_cycle and are < buf.len(); `get` keeps a
        // corrupted buffer from reading out of bounds.
        i = match buf.get(i) {
            Some(&next) => next as usize,
            None => 0,
        };
    }
    i as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_visits_every_slot() {
        let mut buf = vec![0u64; 1000];
        make_cycle(&mut buf);
        let mut seen = vec![false; buf.len()];
        let mut i = 0usize;
        for _ in 0..buf.len() {
            assert!(!seen[i], "slot {i} visited twice");
            seen[i] = true;
            i = buf[i] as usize;
        }
        assert_eq!(i, 0, "the chase returns to its start after n steps");
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn cpu_depends_on_iterations() {
        assert_ne!(cpu(1000), cpu(1001));
        assert_eq!(cpu(0), 0);
    }
}
