//! The Linux guest every `vm-linux` VM is: how much RAM it gets, how long
//! its boot may take, its kernel image, and its own view of its memory.
//!
//! The guest kernel is read as an uncompressed ELF `vmlinux` or a `bzImage`
//! (`bench_vm::linux::KernelImage`; the x86 boot protocol,
//! `Documentation/arch/x86/boot.rst`). Once booted, `/init` reports what the
//! guest kernel says in its `/proc/meminfo`: RAM it keeps for itself is RAM
//! minus `MemTotal`, and what it used by then is `MemTotal - MemFree`; both
//! are inside guest RAM, so that part is shown for information only ("each
//! VM carries its own kernel"). Shared by the in-process VM and by both
//! sides of the VMM process.

use crate::measure::MemPart;
use anyhow::Context;
use bench_vm::linux::{GuestMemInfo, KernelImage};
use std::path::Path;
use std::time::Duration;

/// Guest RAM: the kernel (~60 MiB with its page structures), the initramfs,
/// and the largest buffer the plans use (64 MiB), with room to spare.
/// Untouched RAM costs nothing (MAP_NORESERVE).
pub const RAM_BYTES: u64 = 384 << 20;
/// Boot to READY, on hardware KVM (a boot takes well under a second there;
/// minutes would mean it hangs). The rig is slower: see [`RIG_BOOT_TIMEOUT`].
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// Under the rig's emulation a boot takes 5-10 s.
pub const RIG_BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// With `--force` on PVM: enough to see it fail, not to wait forever.
pub const FORCED_PVM_TIMEOUT: Duration = Duration::from_secs(20);
/// Teardown and other requests outside the plans.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads and checks the guest kernel image at `path` (vmlinux or bzImage).
pub(super) fn read_kernel(path: &Path) -> anyhow::Result<KernelImage> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the guest kernel {}", path.display()))?;
    KernelImage::from_bytes(bytes).with_context(|| format!("the guest kernel {}", path.display()))
}

/// The guest kernel's own memory as the guest reports it (info only: it is
/// inside guest RAM).
pub(crate) fn guest_kernel_part(ram_bytes: u64, info: GuestMemInfo) -> MemPart {
    MemPart {
        name: "guest_kernel",
        description: "the guest kernel's own memory as the guest sees it: RAM it keeps for itself \
                      (RAM - MemTotal) plus what was in use at boot (MemTotal - MemFree)",
        bytes: ram_bytes.saturating_sub(info.mem_free),
        counts_in_total: false,
    }
}
