//! What a Linux kernel expects at its first instruction: memory laid out,
//! the zero page filled in, the CPU described and in 64-bit mode.
//!
//! The contract is the x86 boot protocol, `Documentation/arch/x86/boot.rst`,
//! section "64-bit BOOT PROTOCOL": the kernel is entered in 64-bit mode with
//! paging on, an identity mapping of the kernel, the zero page and the
//! command line, a GDT with flat `__BOOT_CS` (0x10) and `__BOOT_DS` (0x18),
//! interrupts off, and `%rsi` pointing at `struct boot_params` (the "zero
//! page"). Everything a BIOS would have told the kernel travels in that
//! page: the memory map (e820), where the command line and the initramfs
//! are. There is no BIOS, no ACPI table and no PCI bus in this VM.
//!
//! Guest physical memory (addresses in hex):
//!
//! ```text
//!        500  GDT (null, null, __BOOT_CS, __BOOT_DS)
//!       1000  page tables: identity map of all RAM with 2 MiB pages (crate::x86)
//!       7000  zero page (struct boot_params)
//!       8ff0  initial stack (the kernel switches to its own at once)
//!      20000  kernel command line
//!      9fc00  -- 640 KiB: legacy hole (EBDA, VGA, BIOS), not RAM in the e820 map --
//!     100000  bzImage: its protected-mode part (entry at +0x200);
//!    1000000  vmlinux (ELF): its segments at their physical addresses (16 MiB)
//!   top - n   initramfs, page aligned, as high as the kernel allows
//! ```
//!
//! The CPU: KVM tells what it can virtualise (`KVM_GET_SUPPORTED_CPUID`); we
//! pass that on and add the *hypervisor* bit (CPUID.1:ECX[31]). Only with it
//! does Linux look at the KVM leaves 0x40000000+ and use the paravirtual
//! clock (kvm-clock); without it, a guest may hang in "Calibrating delay
//! loop" on a host whose TSC it cannot trust. A few MSRs get the values
//! Firecracker gives them (fast strings on; MTRRs on, write-back by default).

use super::bzimage::{BzImage, KernelImageError};
use crate::error::Error;
use kvm_bindings::{kvm_fpu, kvm_lapic_state, kvm_msr_entry, CpuId, Msrs};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Where the zero page goes.
pub const BOOT_PARAMS: u64 = 0x7000;
/// The initial stack pointer.
pub const BOOT_STACK: u64 = 0x8ff0;
/// Where the command line goes.
pub const CMDLINE: u64 = 0x2_0000;
/// Start of the legacy hole below 1 MiB (Extended BIOS Data Area).
pub const EBDA_START: u64 = 0x9_fc00;
/// Start of "high memory": kernels load at or above 1 MiB.
pub const HIMEM_START: u64 = 0x10_0000;
/// Our boot GDT: selectors `__BOOT_CS` = 0x10 and `__BOOT_DS` = 0x18 (boot.rst).
pub const GDT: u64 = 0x500;
pub const BOOT_CS: u16 = 0x10;
pub const BOOT_DS: u16 = 0x18;
/// Guest RAM stays below the 32-bit MMIO hole where the IOAPIC (0xfec00000)
/// and local APIC (0xfee00000) live.
pub const MAX_RAM: u64 = 3 << 30;

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

/// A kernel to boot, recognised by its first bytes.
#[derive(Debug, Clone)]
pub enum KernelImage {
    /// A bzImage (`/boot/vmlinuz-*`): the guest decompresses it itself.
    BzImage(Vec<u8>),
    /// An uncompressed ELF `vmlinux`, entered at its 64-bit entry point.
    Vmlinux(Vec<u8>),
}

impl KernelImage {
    /// Recognises a bzImage or an ELF vmlinux, and checks its header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<KernelImage, KernelImageError> {
        if super::bzimage::is_elf(&bytes) {
            check_elf(&bytes)?;
            return Ok(KernelImage::Vmlinux(bytes));
        }
        BzImage::parse(&bytes)?;
        Ok(KernelImage::BzImage(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            KernelImage::BzImage(b) | KernelImage::Vmlinux(b) => b,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            KernelImage::BzImage(_) => "bzImage",
            KernelImage::Vmlinux(_) => "vmlinux (ELF)",
        }
    }
}

fn check_elf(b: &[u8]) -> Result<(), KernelImageError> {
    // ELF header: class 2 = 64-bit at 4, data 1 = little endian at 5,
    // e_machine 62 = x86-64 at 18 (the System V gABI).
    if b.len() < 64 {
        return Err(KernelImageError::TooShort { len: b.len() });
    }
    if b[4] != 2 || b[5] != 1 || u16::from_le_bytes([b[18], b[19]]) != 62 {
        return Err(KernelImageError::Decompress {
            compression: super::bzimage::Compression::None,
            detail: "the ELF file is not a 64-bit x86-64 program".into(),
        });
    }
    Ok(())
}

/// Where things were put, and the zero page that describes them.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Where the vCPU starts.
    pub entry: u64,
    /// End of the kernel's memory while it boots (its image, bss and, for a
    /// bzImage, the room its decompressor needs).
    pub kernel_end: u64,
    pub initramfs_addr: u64,
    pub initramfs_size: u64,
    pub params: boot_params,
}

/// Why a kernel and initramfs cannot be laid out in the guest.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("guest RAM of {ram} bytes is out of range: vm-linux needs 64 MiB to 3 GiB (a multiple of 2 MiB)")]
    Ram { ram: u64 },
    #[error("linux-loader could not load the {kind}: {detail}")]
    Load { kind: &'static str, detail: String },
    #[error("the initramfs ({size} bytes) does not fit: guest RAM is {ram} bytes, the kernel needs memory up to {kernel_end:#x} and the initramfs must end below {limit:#x}. Give the VM more memory")]
    InitramfsTooLarge {
        size: u64,
        ram: u64,
        kernel_end: u64,
        limit: u64,
    },
    #[error("the kernel command line is {len} bytes; this kernel accepts at most {max}")]
    CmdlineTooLong { len: usize, max: usize },
    #[error("the kernel command line contains a NUL byte or a non-ASCII character")]
    CmdlineBad,
    #[error("writing {what} into guest memory failed: {detail}")]
    Write { what: &'static str, detail: String },
}

fn write_err(what: &'static str) -> impl Fn(vm_memory::GuestMemoryError) -> LayoutError {
    move |e| LayoutError::Write {
        what,
        detail: e.to_string(),
    }
}

/// Loads the kernel and the initramfs, writes the command line and the zero
/// page. Pure memory work: testable without KVM.
pub fn load(
    mem: &GuestMemoryMmap,
    ram: u64,
    kernel: &KernelImage,
    initramfs: &[u8],
    cmdline: &str,
) -> Result<Layout, LayoutError> {
    use linux_loader::loader::KernelLoader;
    if !(64 << 20..=MAX_RAM).contains(&ram) || ram & ((2 << 20) - 1) != 0 {
        return Err(LayoutError::Ram { ram });
    }
    let mut cursor = std::io::Cursor::new(kernel.bytes());
    let (entry, kernel_end, mut hdr) = match kernel {
        KernelImage::BzImage(bytes) => {
            let r = linux_loader::loader::BzImage::load(
                mem,
                None,
                &mut cursor,
                Some(GuestAddress(HIMEM_START)),
            )
            .map_err(|e| LayoutError::Load {
                kind: "bzImage",
                detail: e.to_string(),
            })?;
            let hdr = r.setup_header.ok_or(LayoutError::Load {
                kind: "bzImage",
                detail: "no setup header".into(),
            })?;
            // The decompressor runs at its load address and unpacks the
            // kernel to pref_address (16 MiB), needing init_size bytes there.
            let info = BzImage::parse(bytes).map_err(|e| LayoutError::Load {
                kind: "bzImage",
                detail: e.to_string(),
            })?;
            let end = r
                .kernel_end
                .max(info.header.pref_address + u64::from(info.header.init_size));
            // The 64-bit entry point is 0x200 past the start of the
            // protected-mode code (boot.rst, "64-bit BOOT PROTOCOL").
            (r.kernel_load.0 + 0x200, end, hdr)
        }
        KernelImage::Vmlinux(_) => {
            let r = linux_loader::loader::Elf::load(
                mem,
                None,
                &mut cursor,
                Some(GuestAddress(HIMEM_START)),
            )
            .map_err(|e| LayoutError::Load {
                kind: "vmlinux",
                detail: e.to_string(),
            })?;
            // No setup header in an ELF file: fill in what the kernel
            // checks (boot.rst: boot_flag, header, a protocol version).
            let hdr = linux_loader::loader::bootparam::setup_header {
                boot_flag: 0xaa55,
                header: super::bzimage::HDRS_MAGIC,
                version: 0x020f,
                kernel_alignment: 0x100_0000,
                cmdline_size: 2048,
                initrd_addr_max: 0x7fff_ffff,
                ..Default::default()
            };
            (r.kernel_load.0, r.kernel_end, hdr)
        }
    };

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
        .map_err(write_err("the command line"))?;

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
            .map_err(write_err("the initramfs"))?;
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
        .map_err(write_err("the zero page"))?;

    // Our GDT with the selectors the protocol names (crate::x86 wrote a
    // 3-entry one for the bare guest at the same place; this one replaces it).
    let gdt: [u64; 4] = [0, 0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        mem.write_obj(*d, GuestAddress(GDT + 8 * i as u64))
            .map_err(write_err("the GDT"))?;
    }

    Ok(Layout {
        entry,
        kernel_end,
        initramfs_addr: addr,
        initramfs_size: size,
        params,
    })
}

/// The supported CPUID with the hypervisor bit set (see the module docs).
pub fn guest_cpuid(supported: &CpuId) -> CpuId {
    let mut cpuid = supported.clone();
    for e in cpuid.as_mut_slice() {
        if e.function == 1 {
            e.ecx |= 1 << 31;
            // Initial APIC id (bits 31..24) of vCPU 0.
            e.ebx &= 0x00ff_ffff;
        }
    }
    cpuid
}

/// True if the CPUID has KVM's signature leaf ("KVMKVMKVM" at 0x40000000).
pub fn has_kvm_leaves(cpuid: &CpuId) -> bool {
    cpuid.as_slice().iter().any(|e| {
        e.function == 0x4000_0000
            && e.ebx == u32::from_le_bytes(*b"KVMK")
            && e.ecx == u32::from_le_bytes(*b"VMKV")
    })
}

/// MSR numbers (Intel SDM Vol. 4; Linux arch/x86/include/asm/msr-index.h).
pub mod msr {
    pub const IA32_TSC: u32 = 0x10;
    pub const IA32_SYSENTER_CS: u32 = 0x174;
    pub const IA32_SYSENTER_ESP: u32 = 0x175;
    pub const IA32_SYSENTER_EIP: u32 = 0x176;
    pub const IA32_MISC_ENABLE: u32 = 0x1a0;
    pub const MTRR_DEF_TYPE: u32 = 0x2ff;
    pub const STAR: u32 = 0xc000_0081;
    pub const LSTAR: u32 = 0xc000_0082;
    pub const CSTAR: u32 = 0xc000_0083;
    pub const SYSCALL_MASK: u32 = 0xc000_0084;
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
}

/// The MSRs set before boot: a clean syscall state, fast strings, and MTRRs
/// enabled with write-back as the default memory type.
pub fn boot_msrs() -> Vec<kvm_msr_entry> {
    let e = |index, data| kvm_msr_entry {
        index,
        data,
        ..Default::default()
    };
    vec![
        e(msr::IA32_SYSENTER_CS, 0),
        e(msr::IA32_SYSENTER_ESP, 0),
        e(msr::IA32_SYSENTER_EIP, 0),
        e(msr::STAR, 0),
        e(msr::CSTAR, 0),
        e(msr::KERNEL_GS_BASE, 0),
        e(msr::SYSCALL_MASK, 0),
        e(msr::LSTAR, 0),
        e(msr::IA32_TSC, 0),
        e(msr::IA32_MISC_ENABLE, 1),          // fast-string operations
        e(msr::MTRR_DEF_TYPE, (1 << 11) | 6), // MTRRs enabled, default WB
    ]
}

/// Sets up the vCPU's CPUID, MSRs, FPU, local APIC and registers for the
/// 64-bit entry.
pub fn setup_vcpu(kvm: &crate::Kvm, vcpu: &crate::Vcpu, layout: &Layout) -> Result<(), Error> {
    let fd = vcpu.inner();
    let cpuid = guest_cpuid(kvm.supported_cpuid()?);
    fd.set_cpuid2(&cpuid).map_err(|source| Error::Kvm {
        step: "KVM_SET_CPUID2 (with the hypervisor bit)",
        source,
    })?;
    let entries = boot_msrs();
    let msrs = Msrs::from_entries(&entries).map_err(|_| Error::Unsupported("a small MSR list"))?;
    let set = fd.set_msrs(&msrs).map_err(|source| Error::Kvm {
        step: "KVM_SET_MSRS",
        source,
    })?;
    if set != entries.len() {
        // KVM stops at the first MSR it refuses.
        return Err(Error::Image(format!(
            "KVM refused boot MSR {:#x} ({} of {} set)",
            entries.get(set).map_or(0, |e| e.index),
            set,
            entries.len()
        )));
    }
    // x87 control word and SSE MXCSR at their reset defaults (SDM Vol. 1, 8.1.5, 10.2.3.1).
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    fd.set_fpu(&fpu).map_err(|source| Error::Kvm {
        step: "KVM_SET_FPU",
        source,
    })?;
    // Local APIC: LINT0 delivers the 8259 PIC's interrupts (ExtINT), LINT1
    // is NMI: the "virtual wire" a BIOS would set up (Intel MP spec, 3.6.2.2).
    let mut lapic = fd.get_lapic().map_err(|source| Error::Kvm {
        step: "KVM_GET_LAPIC",
        source,
    })?;
    set_lint(&mut lapic);
    fd.set_lapic(&lapic).map_err(|source| Error::Kvm {
        step: "KVM_SET_LAPIC",
        source,
    })?;
    vcpu.enter_long_mode(&crate::vcpu::LongModeEntry {
        rip: layout.entry,
        rsp: BOOT_STACK,
        rdi: 0,
        rsi: BOOT_PARAMS,
    })?;
    // The selectors and GDT of the boot protocol (see `load`).
    let mut sregs = fd.get_sregs().map_err(|source| Error::Kvm {
        step: "KVM_GET_SREGS",
        source,
    })?;
    sregs.cs.selector = BOOT_CS;
    for s in [
        &mut sregs.ds,
        &mut sregs.es,
        &mut sregs.fs,
        &mut sregs.gs,
        &mut sregs.ss,
    ] {
        s.selector = BOOT_DS;
    }
    sregs.gdt.base = GDT;
    sregs.gdt.limit = 4 * 8 - 1;
    fd.set_sregs(&sregs).map_err(|source| Error::Kvm {
        step: "KVM_SET_SREGS",
        source,
    })
}

const APIC_LVT0: usize = 0x350;
const APIC_LVT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

fn lapic_reg(l: &kvm_lapic_state, off: usize) -> u32 {
    u32::from_le_bytes([
        l.regs[off] as u8,
        l.regs[off + 1] as u8,
        l.regs[off + 2] as u8,
        l.regs[off + 3] as u8,
    ])
}

fn set_lapic_reg(l: &mut kvm_lapic_state, off: usize, v: u32) {
    for (i, b) in v.to_le_bytes().iter().enumerate() {
        l.regs[off + i] = *b as _;
    }
}

/// Sets the delivery modes of LINT0 (ExtINT) and LINT1 (NMI).
pub fn set_lint(l: &mut kvm_lapic_state) {
    let with_mode = |reg: u32, mode: u32| (reg & !0x700) | (mode << 8);
    let v0 = lapic_reg(l, APIC_LVT0);
    set_lapic_reg(l, APIC_LVT0, with_mode(v0, APIC_MODE_EXTINT));
    let v1 = lapic_reg(l, APIC_LVT1);
    set_lapic_reg(l, APIC_LVT1, with_mode(v1, APIC_MODE_NMI));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux::bzimage::tests::fake_bzimage;
    use vm_memory::GuestMemoryBackend;

    fn mem(size: u64) -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)]).expect("test memory")
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
        let ram = 64 << 20;
        let m = mem(ram);
        let kernel =
            KernelImage::from_bytes(fake_bzimage(&[0x1f, 0x8b, 0, 0, 0, 0, 0, 0])).expect("fake");
        // The fake kernel needs up to 16 MiB + 32 MiB: 40 MiB of initramfs cannot fit.
        let e = load(&m, ram, &kernel, &vec![0u8; 40 << 20], DEFAULT_CMDLINE).unwrap_err();
        assert!(matches!(e, LayoutError::InitramfsTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("more memory"));
    }

    #[test]
    fn bad_command_lines_are_refused() {
        let ram = 64 << 20;
        let m = mem(ram);
        let kernel =
            KernelImage::from_bytes(fake_bzimage(&[0x1f, 0x8b, 0, 0, 0, 0, 0, 0])).expect("fake");
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

    #[test]
    fn not_a_kernel_is_refused() {
        assert!(KernelImage::from_bytes(b"hello".to_vec()).is_err());
        let mut elf32 = b"\x7fELF".to_vec();
        elf32.resize(64, 0);
        elf32[4] = 1;
        assert!(KernelImage::from_bytes(elf32).is_err());
    }

    #[test]
    fn cpuid_gets_the_hypervisor_bit_and_msrs_are_sane() {
        let mut supported = CpuId::new(2).expect("small cpuid");
        supported.as_mut_slice()[0].function = 1;
        supported.as_mut_slice()[0].ebx = 0x0a00_0800;
        supported.as_mut_slice()[1].function = 0x4000_0000;
        supported.as_mut_slice()[1].ebx = u32::from_le_bytes(*b"KVMK");
        supported.as_mut_slice()[1].ecx = u32::from_le_bytes(*b"VMKV");
        let c = guest_cpuid(&supported);
        assert_eq!(c.as_slice()[0].ecx >> 31, 1);
        assert_eq!(c.as_slice()[0].ebx >> 24, 0);
        assert!(has_kvm_leaves(&c));
        let msrs = boot_msrs();
        assert!(msrs
            .iter()
            .any(|m| m.index == msr::MTRR_DEF_TYPE && m.data == 0x806));
    }

    #[test]
    fn lint_modes() {
        let mut l = kvm_lapic_state::default();
        set_lint(&mut l);
        assert_eq!(lapic_reg(&l, APIC_LVT0) & 0x700, 0x700);
        assert_eq!(lapic_reg(&l, APIC_LVT1) & 0x700, 0x400);
    }
}
