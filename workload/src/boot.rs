//! How the bare guest was booted, and what it learns from that: which VMM
//! started it, the transport to use and where its scratch memory is.
//!
//! One image, three ways in (the entry code is in `src/bin/bare.rs`):
//!
//! | entered by | at | registers | RAM map from |
//! |---|---|---|---|
//! | our VMM (`bench-vm`) | `_start`, 64-bit, our page tables | r8 = [`BOOT_PORTS`] or [`BOOT_UART`], rdi/rsi = scratch | the registers |
//! | QEMU microvm, Cloud Hypervisor | the PVH entry, 32-bit, paging off | ebx = `hvm_start_info` | its memory map |
//! | Firecracker | `_start`, 64-bit, the VMM's page tables | rsi = Linux zero page | its E820 table |
//!
//! PVH is Xen's direct-boot protocol that Linux and these VMMs adopted:
//! the ELF note `XEN_ELFNOTE_PHYS32_ENTRY` (type 18, owner "Xen") names a
//! 32-bit entry point, entered in protected mode with paging off and `ebx`
//! pointing to a `struct hvm_start_info` (Xen `include/public/arch-x86/hvm/start_info.h`;
//! Linux `arch/x86/platform/pvh/`, `Documentation/x86/boot.rst`). The
//! 64-bit entry of Firecracker follows the Linux boot protocol's
//! "64-bit boot protocol" (`rsi` = `struct boot_params`, the zero page,
//! whose `e820_table` lists RAM; Linux `arch/x86/include/uapi/asm/bootparam.h`).
//!
//! A foreign VMM's page tables are replaced by the image's own (identity
//! map of the first [`MAPPED_BYTES`], user-accessible), so scratch memory
//! stops there.

pub use crate::bare::Transport;
use crate::bare::SCRATCH_BASE;

/// r8 at `_start` from our VMM: talk through the protocol ports.
pub const BOOT_PORTS: u64 = 0x564d_0001;
/// r8 at `_start` from our VMM: talk through the UART, as under a foreign VMM.
pub const BOOT_UART: u64 = 0x564d_0002;
/// Set by the PVH entry code: rdi = `hvm_start_info`.
pub const BOOT_PVH: u64 = 0x564d_0003;
/// Set by `_start` for any other 64-bit boot (Firecracker): rdi = zero page.
pub const BOOT_LINUX64: u64 = 0x564d_0004;

/// What the image's own page tables map (one page directory of 2 MiB pages).
pub const MAPPED_BYTES: u64 = 1 << 30;

/// `hvm_start_info.magic` ("xEn3" with the 0x80 bit cleared, as Xen defines it).
pub const PVH_MAGIC: u32 = 0x336e_c578;
/// E820 / PVH memory-map type of usable RAM.
const RAM: u32 = 1;

/// What the guest learned at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootInfo {
    pub transport: Transport,
    /// Whether a foreign VMM booted us (it knows nothing of our phases, so
    /// the guest reports its own boot timings after READY).
    pub foreign: bool,
    pub scratch: u64,
    pub scratch_len: u64,
}

/// Reads guest physical memory (identity-mapped in the guest; a byte
/// buffer in tests).
pub trait Phys {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool;
    fn u32(&self, addr: u64) -> Option<u32> {
        let mut b = [0; 4];
        self.read(addr, &mut b).then(|| u32::from_le_bytes(b))
    }
    fn u64(&self, addr: u64) -> Option<u64> {
        let mut b = [0; 8];
        self.read(addr, &mut b).then(|| u64::from_le_bytes(b))
    }
}

/// Makes sense of the registers `vmvc_main` was entered with (`a` = rdi,
/// `b` = rsi, `boot` = the boot kind). `None`: an unknown boot kind.
pub fn decode(a: u64, b: u64, boot: u64, mem: &dyn Phys) -> Option<BootInfo> {
    let ours = |transport| BootInfo {
        transport,
        foreign: false,
        scratch: a,
        scratch_len: b,
    };
    let foreign = |ram_end: Option<u64>| {
        let end = ram_end.unwrap_or(0).min(MAPPED_BYTES);
        BootInfo {
            transport: Transport::Uart,
            foreign: true,
            scratch: SCRATCH_BASE,
            scratch_len: end.saturating_sub(SCRATCH_BASE),
        }
    };
    match boot {
        BOOT_PORTS => Some(ours(Transport::Ports)),
        BOOT_UART => Some(ours(Transport::Uart)),
        BOOT_PVH => Some(foreign(pvh_ram_end(mem, a))),
        BOOT_LINUX64 => Some(foreign(zero_page_ram_end(mem, a))),
        _ => None,
    }
}

/// The end of the RAM range that holds [`SCRATCH_BASE`], from a PVH
/// `hvm_start_info` at `info` (version 1 and up carry the memory map:
/// `memmap_paddr` at offset 40, `memmap_entries` at 48; each entry is
/// `addr: u64, size: u64, type: u32, reserved: u32`).
pub fn pvh_ram_end(mem: &dyn Phys, info: u64) -> Option<u64> {
    if mem.u32(info)? != PVH_MAGIC || mem.u32(info + 4)? < 1 {
        return None;
    }
    let map = mem.u64(info + 40)?;
    let n = mem.u32(info + 48)?;
    ram_end(mem, map, n.min(128), 24)
}

/// The same from a Linux zero page at `zp` (`e820_entries`: u8 at 0x1e8,
/// `e820_table` at 0x2d0, 20-byte entries `addr: u64, size: u64, type: u32`).
pub fn zero_page_ram_end(mem: &dyn Phys, zp: u64) -> Option<u64> {
    let mut n = [0u8; 1];
    if !mem.read(zp + 0x1e8, &mut n) {
        return None;
    }
    ram_end(mem, zp + 0x2d0, u32::from(n[0]).min(128), 20)
}

fn ram_end(mem: &dyn Phys, table: u64, entries: u32, stride: u64) -> Option<u64> {
    (0..u64::from(entries)).find_map(|i| {
        let e = table + i * stride;
        let (addr, size, kind) = (mem.u64(e)?, mem.u64(e + 8)?, mem.u32(e + 16)?);
        let end = addr.checked_add(size)?;
        (kind == RAM && addr <= SCRATCH_BASE && SCRATCH_BASE < end).then_some(end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Buf(std::vec::Vec<u8>);
    impl Phys for Buf {
        fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
            let a = addr as usize;
            match self.0.get(a..a + buf.len()) {
                Some(s) => {
                    buf.copy_from_slice(s);
                    true
                }
                None => false,
            }
        }
    }
    fn put(m: &mut [u8], at: usize, v: &[u8]) {
        m[at..at + v.len()].copy_from_slice(v);
    }

    #[test]
    fn pvh_memory_map_gives_the_scratch_region() {
        let mut m = std::vec![0u8; 4096];
        put(&mut m, 0, &PVH_MAGIC.to_le_bytes());
        put(&mut m, 4, &1u32.to_le_bytes());
        put(&mut m, 40, &0x100u64.to_le_bytes());
        put(&mut m, 48, &2u32.to_le_bytes());
        // [0, 640 KiB) RAM, then [1 MiB, 132 MiB) RAM.
        put(&mut m, 0x100 + 8, &(640u64 << 10).to_le_bytes());
        put(&mut m, 0x100 + 16, &1u32.to_le_bytes());
        put(&mut m, 0x118, &(1u64 << 20).to_le_bytes());
        put(&mut m, 0x118 + 8, &(131u64 << 20).to_le_bytes());
        put(&mut m, 0x118 + 16, &1u32.to_le_bytes());
        let b = decode(0, 0, BOOT_PVH, &Buf(m.clone())).expect("known boot");
        assert_eq!(b.transport, Transport::Uart);
        assert_eq!(b.scratch, SCRATCH_BASE);
        assert_eq!(b.scratch_len, (132u64 << 20) - SCRATCH_BASE);
        // Wrong magic: no RAM found, no scratch (RUN then answers NO_MEMORY).
        put(&mut m, 0, &0u32.to_le_bytes());
        assert_eq!(
            decode(0, 0, BOOT_PVH, &Buf(m)).map(|b| b.scratch_len),
            Some(0)
        );
    }

    #[test]
    fn zero_page_e820_is_capped_at_the_mapped_gigabyte() {
        let mut m = std::vec![0u8; 4096];
        m[0x1e8] = 1;
        put(&mut m, 0x2d0 + 8, &(4u64 << 30).to_le_bytes());
        put(&mut m, 0x2d0 + 16, &1u32.to_le_bytes());
        let b = decode(0, 0, BOOT_LINUX64, &Buf(m)).expect("known boot");
        assert_eq!(b.scratch_len, MAPPED_BYTES - SCRATCH_BASE);
    }

    #[test]
    fn our_vmm_passes_everything_in_registers() {
        let none = Buf(std::vec::Vec::new());
        let b = decode(5, 7, BOOT_PORTS, &none).expect("known boot");
        assert_eq!(
            (b.transport, b.foreign, b.scratch, b.scratch_len),
            (Transport::Ports, false, 5, 7)
        );
        assert_eq!(
            decode(5, 7, BOOT_UART, &none).map(|b| b.transport),
            Some(Transport::Uart)
        );
        assert_eq!(decode(5, 7, 0, &none), None);
    }
}
