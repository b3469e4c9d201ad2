//! The legacy PC devices a Linux guest touches, emulated as little as works.
//!
//! A PC has dozens of devices at fixed I/O ports. With the in-kernel
//! interrupt controllers (`KVM_CREATE_IRQCHIP`: PIC, IOAPIC, a local APIC per
//! vCPU) and timer (`KVM_CREATE_PIT2`: the 8254 PIT and port 0x61), KVM
//! handles the busiest ones without leaving the kernel. What is left comes to
//! the VMM as `KVM_EXIT_IO` and ends up in `super::ports::LinuxPorts`:
//!
//! | ports | device | what we do |
//! |---|---|---|
//! | 0x3f8–0x3ff | 16550 UART, COM1 (`console=ttyS0`) | `vm-superio`'s `Serial`; output kept in a [`ConsoleLog`]; IRQ 4 through an irqfd |
//! | 0x60, 0x64 | i8042 keyboard controller | only the reset command 0xfe (`reboot=k`) matters: it ends the VM |
//! | 0x70, 0x71 | CMOS RTC | the host's current UTC time, so the guest's clock is right |
//! | 0xe0–0xe3 | the workload protocol (`workload::bare`) | as in `vm-bare` |
//! | anything else | (absent device) | reads return all ones, writes are dropped, as on a bus with nothing there |
//!
//! The i8042 deserves a word: Linux probes it at boot, and a controller that
//! does not answer commands costs hundreds of milliseconds of timeouts
//! (`drivers/input/serio/i8042.c`). Reporting "output buffer full" forever
//! makes the probe give up at once ("i8042: No controller found"), while the
//! "input buffer empty" bit lets the reboot path write its reset command
//! without waiting (`arch/x86/kernel/reboot.c`, `kb_wait`).

use crate::error::Error;
use crate::vm::Vm;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use vmm_sys_util::eventfd::EventFd;

/// COM1's base port and IRQ.
pub const COM1: u16 = 0x3f8;
pub const COM1_IRQ: u32 = 4;
/// i8042 data and command/status ports.
pub const I8042_DATA: u16 = 0x60;
pub const I8042_COMMAND: u16 = 0x64;
/// The i8042 command that pulses the CPU reset line.
pub const I8042_RESET: u8 = 0xfe;
/// CMOS index and data ports.
pub const CMOS_INDEX: u16 = 0x70;
pub const CMOS_DATA: u16 = 0x71;

/// How much of the serial console is kept for error messages.
pub const CONSOLE_TAIL: usize = 64 << 10;

/// The guest's serial console output: the last [`CONSOLE_TAIL`] bytes, and
/// optionally everything copied to a writer (a log file, stderr).
#[derive(Default)]
pub struct ConsoleLog {
    tail: VecDeque<u8>,
    total: u64,
    copy: Option<Box<dyn Write + Send>>,
}

impl ConsoleLog {
    pub fn new(copy: Option<Box<dyn Write + Send>>) -> ConsoleLog {
        ConsoleLog {
            tail: VecDeque::new(),
            total: 0,
            copy,
        }
    }

    /// Bytes written so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Everything kept, as text (carriage returns dropped).
    pub fn text(&self) -> String {
        let (a, b) = self.tail.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        String::from_utf8_lossy(&v).replace('\r', "")
    }

    /// The last `n` lines.
    pub fn last_lines(&self, n: usize) -> String {
        let text = self.text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Write for ConsoleLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.total += buf.len() as u64;
        self.tail.extend(buf);
        let excess = self.tail.len().saturating_sub(CONSOLE_TAIL);
        self.tail.drain(..excess);
        if let Some(w) = &mut self.copy {
            // A broken copy (full disk, closed pipe) must not stop the guest.
            if w.write_all(buf).is_err() {
                self.copy = None;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(w) = &mut self.copy {
            let _ = w.flush();
        }
        Ok(())
    }
}

/// A shared handle to the console, so the log can be read while the serial
/// device owns the writer.
#[derive(Clone, Default)]
pub struct SharedConsole(pub Arc<Mutex<ConsoleLog>>);

impl SharedConsole {
    pub fn new(copy: Option<Box<dyn Write + Send>>) -> SharedConsole {
        SharedConsole(Arc::new(Mutex::new(ConsoleLog::new(copy))))
    }
    /// The last `n` lines of the console (empty if the lock was poisoned).
    pub fn last_lines(&self, n: usize) -> String {
        self.0.lock().map(|c| c.last_lines(n)).unwrap_or_default()
    }
    pub fn text(&self) -> String {
        self.0.lock().map(|c| c.text()).unwrap_or_default()
    }
}

impl Write for SharedConsole {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut c) => c.write(buf),
            Err(_) => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Raises the UART's interrupt: a write to an eventfd that KVM turned into
/// an interrupt line with `KVM_IRQFD` (api.rst 4.75), so no ioctl per IRQ.
pub struct IrqLine(pub EventFd);

impl vm_superio::Trigger for IrqLine {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// The UART type we use.
pub type Uart = vm_superio::Serial<IrqLine, vm_superio::serial::NoEvents, SharedConsole>;

/// A tiny i8042: see the module docs.
#[derive(Debug, Default)]
pub struct I8042 {
    /// Set when the guest wrote the reset command.
    pub reset_requested: bool,
}

impl I8042 {
    pub fn read(&mut self, port: u16) -> u8 {
        match port {
            // Status: output buffer full (bit 0), input buffer empty (bit 1 clear).
            I8042_COMMAND => 0x01,
            _ => 0x00,
        }
    }
    pub fn write(&mut self, port: u16, value: u8) {
        if port == I8042_COMMAND && value == I8042_RESET {
            self.reset_requested = true;
        }
    }
}

/// The CMOS real-time clock, read-only, showing the host's UTC time.
#[derive(Debug, Default)]
pub struct Cmos {
    index: u8,
}

fn bcd(v: u64) -> u8 {
    (((v / 10) % 10) << 4 | (v % 10)) as u8
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, public domain).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Cmos {
    pub fn write(&mut self, port: u16, value: u8) {
        if port == CMOS_INDEX {
            // Bit 7 is the NMI mask, not part of the index.
            self.index = value & 0x7f;
        }
    }

    pub fn read(&mut self, port: u16) -> u8 {
        if port != CMOS_DATA {
            return 0xff;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (days, secs) = (now / 86_400, now % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        // Register numbers: MC146818 data sheet; Linux include/linux/mc146818rtc.h.
        match self.index {
            0x00 => bcd(secs % 60),
            0x02 => bcd(secs / 60 % 60),
            0x04 => bcd(secs / 3600),
            0x06 => bcd((days + 4) % 7 + 1), // 1970-01-01 was a Thursday; Sunday = 1
            0x07 => bcd(u64::from(day)),
            0x08 => bcd(u64::from(month)),
            0x09 => bcd(year.rem_euclid(100) as u64),
            0x32 => bcd((year / 100) as u64),
            0x0a => 0x26, // register A: no update in progress, 32.768 kHz time base
            0x0b => 0x02, // register B: 24-hour mode, BCD
            0x0c => 0x00, // register C: no interrupt flags
            0x0d => 0x80, // register D: valid RAM and time
            _ => 0x00,
        }
    }
}

/// The VM-wide devices KVM emulates in the kernel (see the module docs),
/// and the irqfd that raises the UART's IRQ 4; returns its eventfd.
pub fn create_in_kernel(vm: &Vm) -> Result<EventFd, Error> {
    let fd = vm.inner();
    // Intel VMX needs three pages for a real-mode TSS somewhere the guest
    // does not use (api.rst 4.33); the address is the one QEMU and
    // Firecracker use, just below the BIOS area at 4 GiB. AMD ignores it.
    fd.set_tss_address(0xfffb_d000)
        .map_err(|source| Error::Kvm {
            step: "KVM_SET_TSS_ADDR",
            source,
        })?;
    fd.create_irq_chip().map_err(|source| Error::Kvm {
        step: "KVM_CREATE_IRQCHIP",
        source,
    })?;
    let pit = kvm_bindings::kvm_pit_config {
        // Port 0x61 (the PC speaker gate) handled in the kernel too.
        flags: kvm_bindings::KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    fd.create_pit2(pit).map_err(|source| Error::Kvm {
        step: "KVM_CREATE_PIT2",
        source,
    })?;
    let irq = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| Error::Os {
        step: "eventfd for the UART interrupt",
        source,
    })?;
    fd.register_irqfd(&irq, COM1_IRQ)
        .map_err(|source| Error::Kvm {
            step: "KVM_IRQFD (UART IRQ 4)",
            source,
        })?;
    Ok(irq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_keeps_the_tail_and_splits_lines() {
        let mut c = ConsoleLog::new(None);
        c.write_all(b"one\r\ntwo\nthree\n").expect("in memory");
        assert_eq!(c.last_lines(2), "two\nthree");
        c.write_all(&vec![b'x'; CONSOLE_TAIL + 10])
            .expect("in memory");
        assert_eq!(c.text().len(), CONSOLE_TAIL);
        assert_eq!(c.total(), 15 + CONSOLE_TAIL as u64 + 10);
    }

    #[test]
    fn i8042_reset_is_seen() {
        let mut k = I8042::default();
        assert_eq!(
            k.read(I8042_COMMAND) & 0x02,
            0,
            "input buffer empty: the reset can be written"
        );
        k.write(I8042_COMMAND, 0xad);
        assert!(!k.reset_requested);
        k.write(I8042_COMMAND, I8042_RESET);
        assert!(k.reset_requested);
    }

    #[test]
    fn cmos_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let mut c = Cmos::default();
        c.write(CMOS_INDEX, 0x8b);
        assert_eq!(c.read(CMOS_DATA), 0x02);
        c.write(CMOS_INDEX, 0x08);
        let month = c.read(CMOS_DATA);
        assert!((0x01..=0x12).contains(&month), "{month:#x}");
    }
}
