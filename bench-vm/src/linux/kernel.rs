//! The kernel to boot: recognising the file, and copying it into guest RAM.
//!
//! A VMM can boot a kernel in two forms (boot.rst, "64-bit BOOT PROTOCOL"):
//!
//! - a **bzImage** (`/boot/vmlinuz-*`, see `super::bzimage`): its
//!   protected-mode part goes at 1 MiB and is entered 0x200 past its start;
//!   it decompresses the real kernel to its preferred address (16 MiB) first,
//!   needing `init_size` bytes there;
//! - an uncompressed ELF **vmlinux** (extracted on the host, see
//!   `super::extract`): its segments go to their physical addresses and it is
//!   entered at the ELF entry point. It has no setup header, so the VMM
//!   makes up the fields the kernel checks.
//!
//! Either way the result is an entry point, the end of the kernel's memory
//! and a setup header for the zero page (`super::zero_page`). The copying is
//! linux-loader's (rust-vmm), as in Firecracker and Cloud Hypervisor.

use super::bzimage::{self, BzImage, Compression, KernelImageError};
use super::layout::{LayoutError, HIMEM_START};
use linux_loader::loader::bootparam::setup_header;
use linux_loader::loader::{KernelLoader, KernelLoaderResult};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

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
        if bzimage::is_elf(&bytes) {
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
            compression: Compression::None,
            detail: "the ELF file is not a 64-bit x86-64 program".into(),
        });
    }
    Ok(())
}

/// A kernel copied into guest RAM.
#[derive(Debug, Clone)]
pub struct LoadedKernel {
    /// Where the vCPU starts.
    pub entry: u64,
    /// End of the kernel's memory while it boots.
    pub kernel_end: u64,
    /// The setup header for the zero page.
    pub header: setup_header,
}

/// Copies `kernel` into `mem` (see the module docs).
pub fn load(mem: &GuestMemoryMmap, kernel: &KernelImage) -> Result<LoadedKernel, LayoutError> {
    match kernel {
        KernelImage::BzImage(bytes) => {
            let kind = "bzImage";
            let r = load_with::<linux_loader::loader::BzImage>(mem, bytes, kind)?;
            let header = r.setup_header.ok_or(LayoutError::Load {
                kind,
                detail: "no setup header".into(),
            })?;
            // The decompressor runs at its load address and unpacks the
            // kernel to pref_address (16 MiB), needing init_size bytes there.
            let info = BzImage::parse(bytes).map_err(LayoutError::load(kind))?;
            let kernel_end = r
                .kernel_end
                // Saturating: both fields come from the file.
                .max(
                    info.header
                        .pref_address
                        .saturating_add(u64::from(info.header.init_size)),
                );
            Ok(LoadedKernel {
                // The 64-bit entry point is 0x200 past the start of the
                // protected-mode code (boot.rst, "64-bit BOOT PROTOCOL").
                entry: r.kernel_load.0 + 0x200,
                kernel_end,
                header,
            })
        }
        KernelImage::Vmlinux(bytes) => {
            let r = load_with::<linux_loader::loader::Elf>(mem, bytes, "vmlinux")?;
            // linux-loader takes e_entry as it is; one outside what it loaded
            // would start the vCPU in empty or unmapped memory (found by
            // bench-vm/tests/fuzz_loaders.rs).
            // Nor does it check that memsz fits in guest RAM (the zeroed
            // tail is not written): a kernel that ends beyond RAM would
            // overwrite, and run from, memory that is not there.
            let last = GuestAddress(r.kernel_end.saturating_sub(1));
            if !mem.address_in_range(last) {
                return Err(LayoutError::Load {
                    kind: "vmlinux",
                    detail: format!(
                        "it needs memory up to {:#x}, beyond guest RAM: \
                         give the VM more memory, or the ELF file is corrupt",
                        r.kernel_end
                    ),
                });
            }
            if !(HIMEM_START..r.kernel_end).contains(&r.kernel_load.0) {
                return Err(LayoutError::Load {
                    kind: "vmlinux",
                    detail: format!(
                        "its entry point {:#x} is outside the loaded kernel [{HIMEM_START:#x}, {:#x}): \
                         a corrupt or foreign ELF file",
                        r.kernel_load.0, r.kernel_end
                    ),
                });
            }
            Ok(LoadedKernel {
                entry: r.kernel_load.0,
                kernel_end: r.kernel_end,
                header: elf_setup_header(),
            })
        }
    }
}

/// linux-loader's loader `L` (bzImage or ELF), at or above 1 MiB.
fn load_with<L: KernelLoader>(
    mem: &GuestMemoryMmap,
    bytes: &[u8],
    kind: &'static str,
) -> Result<KernelLoaderResult, LayoutError> {
    let mut cursor = std::io::Cursor::new(bytes);
    L::load(mem, None, &mut cursor, Some(GuestAddress(HIMEM_START)))
        .map_err(LayoutError::load(kind))
}

/// No setup header in an ELF file: the fields the kernel checks (boot.rst:
/// boot_flag, header, a protocol version), and the limits a bzImage of the
/// same protocol would state.
fn elf_setup_header() -> setup_header {
    setup_header {
        boot_flag: 0xaa55,
        header: bzimage::HDRS_MAGIC,
        version: 0x020f,
        kernel_alignment: 0x100_0000,
        cmdline_size: 2048,
        initrd_addr_max: 0x7fff_ffff,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_kernel_is_refused() {
        assert!(KernelImage::from_bytes(b"hello".to_vec()).is_err());
        let mut elf32 = b"\x7fELF".to_vec();
        elf32.resize(64, 0);
        elf32[4] = 1;
        assert!(KernelImage::from_bytes(elf32).is_err());
    }
}
