//! The zero page: everything a BIOS and a boot loader would tell the kernel.
//!
//! At its 64-bit entry the kernel finds `%rsi` pointing at `struct
//! boot_params`, the "zero page" (`Documentation/arch/x86/zero-page.rst`;
//! boot.rst, "64-bit BOOT PROTOCOL"). Its first part is the setup header
//! (`super::kernel`) with the boot loader's answers filled in: who loaded
//! the kernel (`type_of_loader`), where the command line and the initramfs
//! are. The rest describes the machine; here, only the memory map, in the
//! form the BIOS call INT 15h/E820 gives it: a list of (start, length, type)
//! ranges. There is no BIOS, no ACPI table and no PCI bus in this VM, so
//! this page is all the kernel learns about it before probing devices.
//!
//! [`load`] places the kernel, the command line and the initramfs where
//! `super::layout` says, then writes the zero page and the boot GDT: pure
//! memory work, testable without KVM.

use super::kernel::{self, KernelImage};
use super::layout::{
    Layout, LayoutError, BOOT_PARAMS, CMDLINE, EBDA_START, GDT, HIMEM_START, MAX_RAM,
};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// e820 type of usable RAM.
pub const E820_RAM: u32 = 1;

/// The zero page's `type_of_loader` for "a boot loader without an assigned id".
pub const LOADER_UNDEFINED: u8 = 0xff;
/// `loadflags`: the protected-mode code is loaded at 1 MiB (LOADED_HIGH);
/// the heap end pointer is valid (CAN_USE_HEAP).
pub const LOADED_HIGH: u8 = 0x01;
pub const CAN_USE_HEAP: u8 = 0x80;

/// The default command line: Firecracker's boot arguments (what its CI
/// measures boot time with), plus `quiet` (each console byte is a VM exit),
/// `panic=-1` (a panicking guest resets at once, so we can report it), and
/// `rdinit=/init`.
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd quiet rdinit=/init";

/// Loads the kernel and the initramfs, writes the command line and the zero
/// page. Pure memory work: testable without KVM.
pub fn load(
    mem: &GuestMemoryMmap,
    ram: u64,
    kernel: &KernelImage,
    initramfs: &[u8],
    cmdline: &str,
) -> Result<Layout, LayoutError> {
    if !(64 << 20..=MAX_RAM).contains(&ram) || ram & ((2 << 20) - 1) != 0 {
        return Err(LayoutError::Ram { ram });
    }
    let kernel::LoadedKernel {
        entry,
        kernel_end,
        header: mut hdr,
    } = kernel::load(mem, kernel)?;

    // Command line: boot.rst says cmdline_size excludes the NUL.
    if cmdline.bytes().any(|b| b == 0 || !b.is_ascii()) {
        return Err(LayoutError::CmdlineBad);
    }
    let max = if hdr.cmdline_size == 0 {
        255
    } else {
        hdr.cmdline_size as usize
    };
    if cmdline.len() > max {
        return Err(LayoutError::CmdlineTooLong {
            len: cmdline.len(),
            max,
        });
    }
    let mut line = cmdline.as_bytes().to_vec();
    line.push(0);
    mem.write_slice(&line, GuestAddress(CMDLINE))
        .map_err(LayoutError::write("the command line"))?;

    // The initramfs: as high as allowed, page aligned (as boot loaders do).
    let size = initramfs.len() as u64;
    let limit = ram.min(u64::from(hdr.initrd_addr_max) + 1);
    let addr = limit.saturating_sub(size) & !0xfff;
    if size > 0 && (addr < kernel_end || size > limit) {
        return Err(LayoutError::InitramfsTooLarge {
            size,
            ram,
            kernel_end,
            limit,
        });
    }
    if size > 0 {
        mem.write_slice(initramfs, GuestAddress(addr))
            .map_err(LayoutError::write("the initramfs"))?;
    }

    // The zero page.
    hdr.type_of_loader = LOADER_UNDEFINED;
    hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
    hdr.heap_end_ptr = 0xfe00;
    hdr.cmd_line_ptr = CMDLINE as u32;
    if size > 0 {
        hdr.ramdisk_image = addr as u32;
        hdr.ramdisk_size = size as u32;
    }
    let mut params = boot_params {
        hdr,
        ..Default::default()
    };
    let map = [(0, EBDA_START), (HIMEM_START, ram - HIMEM_START)];
    for (i, (start, len)) in map.iter().enumerate() {
        params.e820_table[i] = boot_e820_entry {
            addr: *start,
            size: *len,
            r#type: E820_RAM,
        };
    }
    params.e820_entries = map.len() as u8;
    mem.write_obj(params, GuestAddress(BOOT_PARAMS))
        .map_err(LayoutError::write("the zero page"))?;

    // Our GDT with the selectors the protocol names (crate::x86 wrote a
    // 3-entry one for the bare guest at the same place; this one replaces it).
    let gdt: [u64; 4] = [0, 0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        mem.write_obj(*d, GuestAddress(GDT + 8 * i as u64))
            .map_err(LayoutError::write("the GDT"))?;
    }

    Ok(Layout {
        entry,
        kernel_end,
        initramfs_addr: addr,
        initramfs_size: size,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::bzimage::tests::fake_bzimage;
    use linux_loader::loader::bootparam::boot_params;
    use vm_memory::GuestMemoryBackend;

    fn mem(size: u64) -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)]).expect("test memory")
    }

    /// 64 MiB of guest RAM and a fake bzImage.
    fn small_vm() -> (u64, GuestMemoryMmap, KernelImage) {
        let ram = 64 << 20;
        let kernel =
            KernelImage::from_bytes(fake_bzimage(&[0x1f, 0x8b, 0, 0, 0, 0, 0, 0])).expect("fake");
        (ram, mem(ram), kernel)
    }

    fn read_params(m: &GuestMemoryMmap) -> boot_params {
        m.read_obj(GuestAddress(BOOT_PARAMS)).expect("zero page")
    }

    #[test]
    fn zero_page_of_a_bzimage() {
        let ram = 128 << 20;
        let m = mem(ram);
        let kernel = KernelImage::from_bytes(fake_bzimage(&[0x1f, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0]))
            .expect("fake bzImage");
        let initrd = vec![7u8; 10_000];
        let l = load(&m, ram, &kernel, &initrd, "console=ttyS0 quiet").expect("fits");
        assert_eq!(l.entry, HIMEM_START + 0x200);
        let p = read_params(&m);
        let hdr = p.hdr;
        assert_eq!({ hdr.type_of_loader }, LOADER_UNDEFINED);
        assert_eq!({ hdr.loadflags } & LOADED_HIGH, LOADED_HIGH);
        assert_eq!({ hdr.cmd_line_ptr }, CMDLINE as u32);
        assert_eq!({ hdr.ramdisk_size }, 10_000);
        let at = u64::from(hdr.ramdisk_image);
        assert_eq!(at % 4096, 0);
        assert!(at + 10_000 <= ram && at >= l.kernel_end);
        let mut back = vec![0u8; 10_000];
        m.read_slice(&mut back, GuestAddress(at))
            .expect("initrd readable");
        assert_eq!(back, initrd);
        // e820: low RAM below the EBDA, then everything from 1 MiB.
        assert_eq!(p.e820_entries, 2);
        let e0 = p.e820_table[0];
        let e1 = p.e820_table[1];
        assert_eq!(
            ({ e0.addr }, { e0.size }, { e0.r#type }),
            (0, EBDA_START, E820_RAM)
        );
        assert_eq!(({ e1.addr }, { e1.size }), (HIMEM_START, ram - HIMEM_START));
        // Command line, NUL-terminated.
        let mut line = [0u8; 20];
        m.read_slice(&mut line, GuestAddress(CMDLINE))
            .expect("cmdline");
        assert_eq!(&line, b"console=ttyS0 quiet\0");
        // The protected-mode code is at 1 MiB.
        let mut first = [0u8; 2];
        m.read_slice(&mut first, GuestAddress(HIMEM_START + 0x40))
            .expect("kernel");
        assert_eq!(first, [0x1f, 0x8b]);
        assert!(m.last_addr().0 >= at);
    }

    #[test]
    fn initramfs_too_large_is_named() {
        let (ram, m, kernel) = small_vm();
        // The fake kernel needs up to 16 MiB + 32 MiB: 40 MiB of initramfs cannot fit.
        let e = load(&m, ram, &kernel, &vec![0u8; 40 << 20], DEFAULT_CMDLINE).unwrap_err();
        assert!(matches!(e, LayoutError::InitramfsTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("more memory"));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let (ram, m, kernel) = small_vm();
        let long = "x".repeat(3000);
        assert!(matches!(
            load(&m, ram, &kernel, &[], &long),
            Err(LayoutError::CmdlineTooLong {
                len: 3000,
                max: 2047
            })
        ));
        assert!(matches!(
            load(&m, ram, &kernel, &[], "a\0b"),
            Err(LayoutError::CmdlineBad)
        ));
        assert!(matches!(
            load(&m, 1 << 20, &kernel, &[], ""),
            Err(LayoutError::Ram { .. })
        ));
    }
}
