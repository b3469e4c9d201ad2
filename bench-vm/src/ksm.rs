//! KSM: the kernel merging identical pages of different VMs into one.
//!
//! Kernel Samepage Merging (Linux `Documentation/admin-guide/mm/ksm.rst`)
//! is a kernel thread, `ksmd`, that scans the memory regions a process
//! marked with `madvise(MADV_MERGEABLE)`, finds pages with the same
//! content, and maps them all to one read-only copy; a write to it takes a
//! private copy again (copy on write). It was written for VMs: many guests
//! running the same kernel and programs hold many identical pages. It costs
//! CPU time (the scanning) and has a price in isolation: a guest can tell
//! from a write's timing whether a page was merged with another guest's,
//! which is why public clouds turn it off between tenants.
//!
//! [`Ksm::start`] turns `ksmd` on (`/sys/kernel/mm/ksm/run`) and makes it
//! scan faster (`pages_to_scan`), remembering both settings and writing
//! them back when dropped; only regions marked by [`mergeable`] are
//! scanned, so only our own VMs' RAM. [`Ksm::settle`] waits for full scans
//! (`full_scans`), after which equal pages are merged.

use crate::error::{Error, Result};
use crate::memory::GuestRam;
use std::path::Path;
use std::time::{Duration, Instant};

const DIR: &str = "/sys/kernel/mm/ksm";
/// Pages `ksmd` scans per wake-up while we run (the default is 100).
const PAGES_TO_SCAN: &str = "4096";

/// `ksmd` running on our behalf; its previous settings are restored on drop.
#[derive(Debug)]
pub struct Ksm {
    old_run: String,
    old_pages_to_scan: String,
}

fn read(name: &str) -> Result<String> {
    std::fs::read_to_string(Path::new(DIR).join(name))
        .map(|s| s.trim().to_owned())
        .map_err(Error::os("reading /sys/kernel/mm/ksm"))
}

fn write(name: &str, value: &str) -> Result<()> {
    std::fs::write(Path::new(DIR).join(name), value)
        .map_err(Error::os("writing /sys/kernel/mm/ksm (needs root)"))
}

/// True when this kernel has KSM (`CONFIG_KSM`).
pub fn available() -> bool {
    Path::new(DIR).join("run").exists()
}

impl Ksm {
    /// Starts `ksmd` (if it was off) with a faster scan rate.
    pub fn start() -> Result<Ksm> {
        let ksm = Ksm {
            old_run: read("run")?,
            old_pages_to_scan: read("pages_to_scan")?,
        };
        // From here on, Drop puts the old values back.
        write("pages_to_scan", PAGES_TO_SCAN)?;
        write("run", "1")?;
        Ok(ksm)
    }

    /// Waits until `ksmd` has finished `scans` more full scans (two whole
    /// ones are needed to merge a page: the first records it, the second
    /// merges; the scan under way when this is called counts as one).
    pub fn settle(&self, scans: u64, timeout: Duration) -> Result<()> {
        let count = || -> Result<u64> {
            read("full_scans")?
                .parse()
                .map_err(|_| Error::Unsupported("a numeric /sys/kernel/mm/ksm/full_scans"))
        };
        let target = count()? + scans;
        let deadline = Instant::now() + timeout;
        while count()? < target {
            if Instant::now() >= deadline {
                return Err(Error::Os {
                    step: "waiting for ksmd's full scans",
                    source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

impl Drop for Ksm {
    fn drop(&mut self) {
        // Stopping ksmd (run = 0) keeps merged pages merged; they go when
        // their VMs unmap them. Errors cannot be reported from here.
        let _ = write("run", &self.old_run);
        let _ = write("pages_to_scan", &self.old_pages_to_scan);
    }
}

/// Marks guest RAM as mergeable (`madvise(MADV_MERGEABLE)`): `ksmd` may
/// now merge its pages with equal pages of other mergeable regions.
pub fn mergeable(ram: &GuestRam) -> Result<()> {
    // SAFETY: the range is this VM's own guest-RAM mapping; MADV_MERGEABLE
    // changes no contents (a merged page reads the same and is copied on
    // write).
    let rc = unsafe {
        libc::madvise(
            ram.host_addr().cast(),
            ram.size() as usize,
            libc::MADV_MERGEABLE,
        )
    };
    if rc != 0 {
        return Err(Error::os("madvise(MADV_MERGEABLE) on guest RAM")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
