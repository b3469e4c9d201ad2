//! Guest faults and isolation (issue 13): a guest that misbehaves on
//! purpose must end its launch with a clear error, touch nothing outside
//! its own RAM, and leave nothing behind in the VMM process: no VM or vCPU
//! file descriptor (`anon_inode:kvm-vm`, `anon_inode:kvm-vcpu:N`), no
//! `/dev/kvm` fd, no thread.
//!
//! | scenario | the guest | what must happen |
//! |---|---|---|
//! | triple fault | `ud2` at CPL0 before any IDT exists | KVM reports a shutdown exit; the error says "triple fault" |
//! | spinning | `jmp $` at CPL3 in the real guest | the VMM's timeout stops it; the error says where it spun |
//! | port exit storm | `in al, PING` forever (each one a VM exit the VMM answers) | the VMM serves every exit and still stops the guest at its deadline |
//! | MMIO storm | stores to guest-physical memory that is not plugged, in a loop | the first MMIO exit is refused: the launch ends there |
//! | outside guest RAM | CPL0 code maps guest-physical 4 GiB (beyond its 64 MiB) and writes there | KVM hands the write to the VMM as an MMIO exit, which refuses it; guest RAM is unchanged but for the guest's own page-table edit |
//!
//! One test function runs them in turn: tests of one binary run in
//! parallel threads, which would change the fd and thread counts.
//! Hand-assembled guest code keeps the production guest free of test-only
//! commands; each byte sequence is spelled out next to its assembly.

mod common;

use bench_vm::vcpu::LongModeEntry;
use bench_vm::{BareVm, Config, Error, Flow, GuestFault, Image, Kvm, PortIo, Vcpu, Vm};
use common::{guest_running, kvm_or_skip};
use std::time::{Duration, Instant};
use vm_memory::{Bytes, GuestAddress};
use workload::bare::{IMAGE_BASE, PORT_PING};

/// What the process holds that a VM could leak: KVM fds and threads.
#[derive(Debug, PartialEq, Eq)]
struct Held {
    kvm_vm: usize,
    kvm_vcpu: usize,
    dev_kvm: usize,
    fds: usize,
    threads: usize,
}

fn held() -> Held {
    let links: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let count = |f: &dyn Fn(&str) -> bool| links.iter().filter(|l| f(l)).count();
    Held {
        kvm_vm: count(&|l| l == "anon_inode:kvm-vm"),
        kvm_vcpu: count(&|l| l.starts_with("anon_inode:kvm-vcpu")),
        dev_kvm: count(&|l| l == "/dev/kvm"),
        fds: links.len(),
        threads: std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count()),
    }
}

fn say(line: String) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs `scenario`, checks that its error is the expected one (by
/// `check`), and that the VM left nothing behind.
fn scenario(name: &str, run: impl FnOnce() -> Result<String, String>) {
    let before = held();
    let start = Instant::now();
    let outcome = run();
    let took = start.elapsed();
    let after = held();
    match outcome {
        Ok(what) => say(format!("vm fault {name}: {what} ({took:.2?})")),
        Err(why) => panic!("scenario {name}: {why}"),
    }
    assert_eq!(after, before, "scenario {name} left something behind");
    assert_eq!(
        (after.kvm_vm, after.kvm_vcpu),
        (0, 0),
        "no VM fd stays open"
    );
}

fn config(timeout: Duration) -> Config {
    Config {
        boot_timeout: timeout,
        ..Config::default()
    }
}

fn triple_fault() -> Result<String, String> {
    // ud2 (0f 0b) at CPL0 before any IDT: #UD -> #DF -> shutdown.
    match BareVm::launch_image(Image::Flat(&[0x0f, 0x0b]), &config(Duration::from_secs(10))) {
        Err(e) if e.fault() == Some(&GuestFault::TripleFault) => {
            let msg = e.to_string();
            if msg.contains("triple fault") {
                Ok(format!("\"{}\"", first_line(&msg)))
            } else {
                Err(format!("the error does not say triple fault: {msg}"))
            }
        }
        Err(e) => Err(format!("expected a triple fault, got {e}")),
        Ok(_) => Err("the guest said READY".into()),
    }
}

fn spinning() -> Result<String, String> {
    // jmp $ (eb fe) at CPL3, in place of the real guest's workload.
    let (image, at) = guest_running(&[0xeb, 0xfe]);
    let deadline = Duration::from_millis(300);
    match BareVm::launch_image(Image::Elf(&image), &config(deadline)) {
        Err(Error::Timeout { regs, after }) if after == deadline && regs.regs.rip == at => {
            Ok(format!(
                "stopped by the {deadline:?} timeout at rip {at:#x}, CPL{}",
                regs.cpl()
            ))
        }
        Err(e) => Err(format!("expected a timeout where it spun, got {e}")),
        Ok(_) => Err("a spinning guest said READY".into()),
    }
}

fn mmio_storm() -> Result<String, String> {
    // At CPL3 in the real guest, store to 16 MiB (in the scratch region,
    // which is plugged into the VM only with the first command) forever:
    //   l: mov dword [0x1000000], eax   89 04 25 00 00 00 01
    //      jmp l                        eb f7
    let code = [0x89, 0x04, 0x25, 0x00, 0x00, 0x00, 0x01, 0xeb, 0xf7];
    let (image, _) = guest_running(&code);
    match BareVm::launch_image(Image::Elf(&image), &config(Duration::from_secs(10))) {
        Err(e) => {
            let msg = e.to_string();
            match e.fault() {
                Some(GuestFault::UnexpectedExit(what))
                    if what.contains("MMIO write") && what.contains("0x1000000") =>
                {
                    Ok(format!(
                        "refused at the first exit: \"{}\"",
                        first_line(&msg)
                    ))
                }
                _ => Err(format!(
                    "expected a refused MMIO write at 0x1000000, got {msg}"
                )),
            }
        }
        Ok(_) => Err("the guest said READY".into()),
    }
}

fn port_storm_through_the_real_vmm() -> Result<String, String> {
    // At CPL3 in the real guest: l: in al, PING (e4 e1) ; jmp l (eb fc).
    // Every `in` is a VM exit the VMM answers (PONG) and the guest goes on:
    // only the deadline ends it.
    let (image, _) = guest_running(&[0xe4, PORT_PING as u8, 0xeb, 0xfc]);
    let deadline = Duration::from_millis(500);
    match BareVm::launch_image(Image::Elf(&image), &config(deadline)) {
        Err(Error::Timeout { after, .. }) if after == deadline => {
            Ok(format!("stopped by the {deadline:?} timeout"))
        }
        Err(e) => Err(format!("expected a timeout, got {e}")),
        Ok(_) => Err("the storming guest said READY".into()),
    }
}

/// A VM put together from bench-vm's parts, with all 64 MiB plugged, to
/// see its RAM and exit counts after the guest was stopped.
struct TestVm {
    vcpu: Vcpu,
    vm: Vm,
    _kvm: Kvm,
}

const RAM: u64 = 64 << 20;

fn test_vm(code: &[u8]) -> Result<TestVm, String> {
    let kvm = Kvm::open().map_err(|e| e.to_string())?;
    let mut vm = Vm::create(&kvm).map_err(|e| e.to_string())?;
    vm.map_ram(RAM).map_err(|e| e.to_string())?;
    vm.plug(0, 0, RAM).map_err(|e| e.to_string())?;
    let ram = vm.ram().map_err(|e| e.to_string())?;
    bench_vm::bare::load(ram, Image::Flat(code)).map_err(|e| e.to_string())?;
    bench_vm::x86::write_boot_tables(ram).map_err(|e| e.to_string())?;
    let vcpu = Vcpu::create(&kvm, &vm, 0).map_err(|e| e.to_string())?;
    vcpu.enter_long_mode(&LongModeEntry {
        rip: IMAGE_BASE,
        ..LongModeEntry::default()
    })
    .map_err(|e| e.to_string())?;
    Ok(TestVm {
        vcpu,
        vm,
        _kvm: kvm,
    })
}

/// Answers PING reads, refuses every other port.
struct PingOnly(u64);

impl PortIo for PingOnly {
    fn write(&mut self, port: u16, data: &[u8]) -> Result<Flow, GuestFault> {
        Err(GuestFault::UnexpectedPort {
            port,
            write: true,
            size: data.len(),
        })
    }
    fn read(&mut self, port: u16, data: &mut [u8]) -> Result<Flow, GuestFault> {
        match (port, data) {
            (PORT_PING, [b]) => {
                self.0 += 1;
                *b = workload::protocol::tag::PONG;
                Ok(Flow::Continue)
            }
            (port, data) => Err(GuestFault::UnexpectedPort {
                port,
                write: false,
                size: data.len(),
            }),
        }
    }
}

fn counted_port_storm() -> Result<String, String> {
    // CPL0, flat: l: in al, PING (e4 e1) ; jmp l (eb fc).
    let mut t = test_vm(&[0xe4, PORT_PING as u8, 0xeb, 0xfc])?;
    let mut io = PingOnly(0);
    let deadline = Duration::from_millis(500);
    match t.vcpu.run(&mut io, Some(deadline)) {
        Err(Error::Timeout { .. }) => {}
        other => return Err(format!("expected a timeout, got {other:?}")),
    }
    let exits = t.vcpu.exits();
    if exits.io_in != io.0 || io.0 == 0 {
        return Err(format!("{} port exits, {} answered", exits.io_in, io.0));
    }
    Ok(format!(
        "{} port exits served in {deadline:?} ({:.0} per second), then stopped by the timeout",
        io.0,
        io.0 as f64 / deadline.as_secs_f64()
    ))
}

fn write_outside_guest_ram() -> Result<String, String> {
    // CPL0, flat. Point the 2 MiB page at virtual 62 MiB (page directory
    // entry 31, at PD0 0x3000 + 31*8 = 0x30f8) to guest-physical 4 GiB,
    // where this 64 MiB VM has no RAM, and store there:
    //   movabs rax, 0x1_0000_0087       48 b8 87 00 00 00 01 00 00 00  (P|W|U|PS)
    //   mov [0x30f8], rax               48 89 04 25 f8 30 00 00
    //   invlpg [0x3e00000]              0f 01 3c 25 00 00 e0 03
    //   mov dword [0x3e00000], 0xdeadbeef  c7 04 25 00 00 e0 03 ef be ad de
    //   jmp $                           eb fe
    let code: &[u8] = &[
        0x48, 0xb8, 0x87, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, //
        0x48, 0x89, 0x04, 0x25, 0xf8, 0x30, 0x00, 0x00, //
        0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0xe0, 0x03, //
        0xc7, 0x04, 0x25, 0x00, 0x00, 0xe0, 0x03, 0xef, 0xbe, 0xad, 0xde, //
        0xeb, 0xfe,
    ];
    let mut t = test_vm(code)?;
    let ram = t.vm.ram().map_err(|e| e.to_string())?;
    let mut before = vec![0u8; RAM as usize];
    ram.mem()
        .read_slice(&mut before, GuestAddress(0))
        .map_err(|e| e.to_string())?;
    let result = t.vcpu.run(&mut PingOnly(0), Some(Duration::from_secs(10)));
    let what = match result {
        Err(Error::Guest {
            fault: GuestFault::UnexpectedExit(what),
            ..
        }) if what.contains("MMIO write of 4 bytes at guest physical 0x100000000") => what,
        other => {
            return Err(format!(
                "expected a refused MMIO write at 4 GiB, got {other:?}"
            ))
        }
    };
    // Guest RAM: the same bytes, but for the page-directory entry the guest
    // rewrote itself. The store went to no memory at all.
    let ram = t.vm.ram().map_err(|e| e.to_string())?;
    let mut after = vec![0u8; RAM as usize];
    ram.mem()
        .read_slice(&mut after, GuestAddress(0))
        .map_err(|e| e.to_string())?;
    // The CPU itself sets the accessed and dirty bits (5, 6) of the
    // page-table entries it walks (SDM Vol. 3A, 5.8 "Accessed and Dirty Flags").
    let page_tables = bench_vm::x86::PML4 as usize..bench_vm::x86::PAGE_TABLES_END as usize;
    let changed: Vec<(usize, u8, u8)> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .filter(|&i| !(0x30f8..0x3100).contains(&i))
        .filter(|&i| !(page_tables.contains(&i) && i % 8 == 0 && before[i] ^ after[i] & !0x60 == 0))
        .map(|i| (i, before[i], after[i]))
        .collect();
    if !changed.is_empty() {
        return Err(format!(
            "guest RAM changed outside the page-table entry: {} bytes: {:x?}",
            changed.len(),
            &changed[..changed.len().min(8)]
        ));
    }
    // The value stored appears only where it was before: in the code.
    let beef = |m: &[u8]| {
        m.windows(4)
            .filter(|w| *w == [0xef, 0xbe, 0xad, 0xde])
            .count()
    };
    if beef(&after) != beef(&before) {
        return Err("0xdeadbeef landed in guest RAM".into());
    }
    if t.vcpu.exits().mmio != 1 {
        return Err(format!("{} MMIO exits", t.vcpu.exits().mmio));
    }
    Ok(format!(
        "refused: \"{what}\"; guest RAM unchanged but for the guest's own page-table entry"
    ))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[test]
fn faulty_guests_end_cleanly_and_leave_nothing() {
    if !kvm_or_skip("faulty_guests_end_cleanly_and_leave_nothing") {
        return;
    }
    // One launch first: one-time allocations (CPUID cache, the timeout's
    // signal handler) are not leaks.
    let warm = BareVm::launch(&Config::default()).map(drop);
    assert!(warm.is_ok(), "a normal launch works: {:?}", warm.err());
    scenario("triple_fault", triple_fault);
    scenario("spinning", spinning);
    scenario("port_storm", port_storm_through_the_real_vmm);
    scenario("port_storm_counted", counted_port_storm);
    scenario("mmio_storm", mmio_storm);
    scenario("write_outside_guest_ram", write_outside_guest_ram);
    // And the VMM still works afterwards.
    let after = BareVm::launch(&Config::default()).map(drop);
    assert!(
        after.is_ok(),
        "a normal launch after the faults: {:?}",
        after.err()
    );
}
