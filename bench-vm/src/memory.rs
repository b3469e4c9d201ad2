//! Guest RAM: ordinary memory of the VMM process, lent to the guest.
//!
//! A KVM guest's "physical" memory is just an `mmap` in the VMM. The VMM
//! tells KVM "guest physical addresses [0, size) are these host virtual
//! addresses" with `KVM_SET_USER_MEMORY_REGION` (api.rst), and
//! from then on the guest's loads and stores go straight to those pages
//! through a second level of address translation (EPT/NPT in hardware, or
//! shadow page tables under PVM).
//!
//! The mapping is anonymous, private and `MAP_NORESERVE`: nothing is
//! allocated until the guest (or the VMM) first touches a page, so a VM with
//! 1 GiB of RAM that touches 2 MiB costs 2 MiB. [`GuestRam::resident_bytes`]
//! counts what was really touched, with `mincore(2)`.
//!
//! We use `vm-memory`'s `GuestMemoryMmap`, the rust-vmm type every loader
//! (`linux-loader`) and device crate understands.

use crate::error::{Error, Result};
use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

/// The guest's RAM: one region starting at guest physical address 0.
pub struct GuestRam {
    mem: GuestMemoryMmap,
    /// Host virtual address of guest physical 0 (kept as a number so that
    /// `GuestRam` stays `Send`; vm-memory owns the mapping).
    host_addr: u64,
    size: u64,
}

impl GuestRam {
    /// Maps `size` bytes (a multiple of 2 MiB) of lazily allocated memory.
    pub fn new(size: u64) -> Result<GuestRam> {
        let bad = |reason: String| Error::Memory { size, reason };
        if size == 0 || !size.is_multiple_of(2 << 20) {
            return Err(bad("the size must be a non-zero multiple of 2 MiB".into()));
        }
        let len = usize::try_from(size).map_err(|_| bad("too large for this host".into()))?;
        let region = MmapRegion::<()>::build(
            None,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        )
        .map_err(|e| bad(format!("mmap failed: {e}")))?;
        let host_addr = region.as_ptr() as u64;
        let region = GuestRegionMmap::new(region, GuestAddress(0))
            .ok_or_else(|| bad("region does not fit the guest address space".into()))?;
        let mem = GuestMemoryMmap::from_regions(vec![region])
            .map_err(|e| bad(format!("vm-memory refused the region: {e}")))?;
        Ok(GuestRam {
            mem,
            host_addr,
            size,
        })
    }

    /// The memory as vm-memory sees it (for loaders and `Bytes` accesses).
    pub fn mem(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the guest's physical address 0 is in this process.
    pub fn host_addr(&self) -> *mut u8 {
        self.host_addr as *mut u8
    }

    /// The host virtual address range of the mapping (for /proc/self/smaps).
    pub fn host_range(&self) -> std::ops::Range<u64> {
        let start = self.host_addr;
        start..start + self.size
    }

    /// Bytes of guest RAM actually backed by host memory now (pages the
    /// guest or the VMM touched), counted with `mincore(2)`.
    pub fn resident_bytes(&self) -> Result<u64> {
        let page = page_size();
        let pages = (self.size as usize).div_ceil(page);
        // Ask in chunks so the vector stays small for large guests.
        const CHUNK: usize = 1 << 16;
        let mut vec = vec![0u8; CHUNK.min(pages)];
        let mut resident = 0u64;
        let mut done = 0usize;
        while done < pages {
            let n = CHUNK.min(pages - done);
            // SAFETY: [host_addr + done*page, + n*page) lies inside our own
            // live mapping, and `vec` has room for the n result bytes.
            let rc = unsafe {
                libc::mincore(
                    self.host_addr().add(done * page).cast(),
                    n * page,
                    vec.as_mut_ptr(),
                )
            };
            if rc != 0 {
                return Err(Error::os("mincore on guest RAM")(
                    std::io::Error::last_os_error(),
                ));
            }
            resident += vec[..n].iter().filter(|b| **b & 1 != 0).count() as u64;
            done += n;
        }
        Ok(resident * page as u64)
    }
}

/// The host's page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as usize
    } else {
        4096
    }
}
