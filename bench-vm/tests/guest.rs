//! Real boots of the bare guest on /dev/kvm (skipped loudly without KVM).

mod common;

use bench_vm::{BareVm, Config, Error, GuestFault, Image, PHASES};
use common::{guest_running, kvm_or_skip};
use std::time::{Duration, Instant};
use workload::protocol::{fault, Command, Message, Workload};

const T: Duration = Duration::from_secs(30);

fn run(vm: &mut BareVm, w: Workload, size: u64, iterations: u64) -> (u64, u64, u64) {
    let cmd = Command::Run {
        workload: w as u8,
        size,
        iterations,
    };
    match vm.request(cmd, T) {
        Ok(Message::Result {
            workload,
            ops,
            cycles,
            checksum,
        }) => {
            assert_eq!(workload, w as u8);
            assert!(cycles > 0, "{w:?}: no time measured");
            (ops, cycles, checksum)
        }
        Ok(other) => panic!("{w:?}: expected RESULT, got {other:?}"),
        Err(e) => panic!("{w:?}: {e}"),
    }
}

#[test]
fn boots_to_ready_with_phases_in_order() {
    if !kvm_or_skip("boots_to_ready_with_phases_in_order") {
        return;
    }
    let vm = BareVm::launch(&Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = vm.phases().durations().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, PHASES);
    let sum: Duration = vm.phases().durations().iter().map(|(_, d)| *d).sum();
    assert_eq!(sum, vm.phases().ready());
    // READY is one byte: exactly one port write so far.
    assert_eq!(vm.exits().io_out, 1, "{:?}", vm.exits());
    assert_eq!(vm.exits().total(), 1);
    // The teardown phase: EXIT, DONE, exit code 0, everything closed.
    let took = vm.teardown(T).unwrap_or_else(|e| panic!("{e}"));
    assert!(took > Duration::ZERO);
}

#[test]
fn every_workload_gives_the_native_answer() {
    if !kvm_or_skip("every_workload_gives_the_native_answer") {
        return;
    }
    let size = 8 << 20;
    let mut vm = BareVm::launch(&Config::with_scratch(size)).unwrap_or_else(|e| panic!("{e}"));

    // The very same functions computed here, natively, give the same checksums.
    let (ops, _, sum) = run(&mut vm, Workload::Cpu, 0, 100_000);
    assert_eq!((ops, sum), (100_000, workload::run::cpu(100_000)));

    let (ops, _, _) = run(&mut vm, Workload::MemBw, size, 3);
    assert_eq!(ops, 3 * size / 2);

    let (ops, _, sum) = run(&mut vm, Workload::RandomAccess, size, 50_000);
    let mut buf = vec![0u64; (size / 8) as usize];
    workload::run::make_cycle(&mut buf);
    assert_eq!((ops, sum), (50_000, workload::run::chase(&buf, 50_000)));

    let (ops, _, sum) = run(&mut vm, Workload::Syscall, 0, 100);
    assert_eq!((ops, sum), (100, 0), "the stub's syscall returns 0");

    let (ops, _, _) = run(&mut vm, Workload::Boundary, 0, 100);
    assert_eq!(ops, 100);
    assert_eq!(vm.pings(), 100, "one port exit per round trip");

    // Errors the workload reports itself come back as FAULT, and it goes on.
    let too_big = Command::Run {
        workload: Workload::MemBw as u8,
        size: 1 << 30,
        iterations: 1,
    };
    assert_eq!(
        vm.request(too_big, T).unwrap(),
        Message::Fault {
            code: fault::NO_MEMORY,
            detail: 1 << 30
        }
    );
    assert_eq!(
        vm.request(Command::Pong, T).unwrap().clone(),
        Message::Fault {
            code: fault::BAD_COMMAND,
            detail: 0x14
        }
    );
    assert_eq!(vm.shutdown(T).unwrap_or_else(|e| panic!("{e}")), 0);
    // A guest that exited takes no more commands.
    assert!(matches!(
        vm.request(Command::Exit, T),
        Err(Error::NotRunning(_))
    ));
}

#[test]
fn hold_touches_guest_ram() {
    if !kvm_or_skip("hold_touches_guest_ram") {
        return;
    }
    let mut vm = BareVm::launch(&Config::with_scratch(64 << 20)).unwrap();
    let before = vm.ram().resident_bytes().unwrap();
    assert!(before < 4 << 20, "an idle guest touched {before} bytes");
    let bytes = 32 << 20;
    assert_eq!(
        vm.request(Command::Hold { bytes }, T).unwrap(),
        Message::Held { bytes }
    );
    let after = vm.ram().resident_bytes().unwrap();
    assert!(
        after >= before + bytes,
        "HOLD of {bytes}: resident {before} -> {after}"
    );
    assert!(after <= before + bytes + (4 << 20), "resident {after}");
}

fn expect_fault(image: &[u8], timeout: Duration) -> (GuestFault, Error) {
    let config = Config {
        boot_timeout: timeout,
        ..Config::default()
    };
    match BareVm::launch_image(Image::Elf(image), &config) {
        Ok(_) => panic!("the faulty guest said READY"),
        Err(e) => (e.fault().cloned().unwrap_or(GuestFault::Halted), e),
    }
}

#[test]
fn divide_by_zero_is_reported_with_vector_and_rip() {
    if !kvm_or_skip("divide_by_zero_is_reported_with_vector_and_rip") {
        return;
    }
    // xor ecx, ecx ; div ecx
    let (image, at) = guest_running(&[0x31, 0xc9, 0xf7, 0xf1]);
    let (f, e) = expect_fault(&image, T);
    match f {
        GuestFault::Exception { vector, rip, .. } => {
            assert_eq!(vector, 0, "{e}");
            assert_eq!(rip, at + 2, "RIP of the div: {e}");
        }
        other => panic!("expected #DE, got {other:?}: {e}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("#DE divide error") && msg.contains(&format!("{:#x}", at + 2)),
        "{msg}"
    );
}

#[test]
fn bad_memory_access_is_a_page_fault_with_address() {
    if !kvm_or_skip("bad_memory_access_is_a_page_fault_with_address") {
        return;
    }
    // mov rax, [0x7fff_0000_0000]  (movabs: far outside guest RAM, unmapped)
    let mut code = vec![0x48, 0xa1];
    code.extend_from_slice(&0x7fff_0000_0000u64.to_le_bytes());
    let (image, at) = guest_running(&code);
    let (f, e) = expect_fault(&image, T);
    match f {
        GuestFault::Exception {
            vector,
            rip,
            cr2,
            error_code,
        } => {
            assert_eq!(vector, 14, "{e}");
            assert_eq!(rip, at, "{e}");
            assert_eq!(cr2, 0x7fff_0000_0000, "{e}");
            // Error code: not present (bit 0 clear), read, from user mode (bit 2).
            assert_eq!(error_code & 0b111, 0b100, "{e}");
        }
        other => panic!("expected #PF, got {other:?}: {e}"),
    }
}

#[test]
fn spinning_guest_is_stopped_by_the_timeout() {
    if !kvm_or_skip("spinning_guest_is_stopped_by_the_timeout") {
        return;
    }
    // jmp $  at CPL3 (natively fast on PVM too)
    let (image, at) = guest_running(&[0xeb, 0xfe]);
    let start = Instant::now();
    let (_, e) = expect_fault(&image, Duration::from_millis(200));
    let took = start.elapsed();
    match &e {
        Error::Timeout { regs, after } => {
            assert_eq!(regs.regs.rip, at, "stopped where it spun");
            assert_eq!(regs.cpl(), 3);
            assert_eq!(*after, Duration::from_millis(200));
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn spinning_cpl0_flat_guest_is_stopped_too() {
    if !kvm_or_skip("spinning_cpl0_flat_guest_is_stopped_too") {
        return;
    }
    let config = Config {
        boot_timeout: Duration::from_millis(100),
        ..Config::default()
    };
    match BareVm::launch_image(Image::Flat(&[0xeb, 0xfe]), &config) {
        Err(Error::Timeout { regs, .. }) => {
            assert_eq!(regs.regs.rip, workload::bare::IMAGE_BASE);
            assert_eq!(regs.cpl(), 0);
        }
        Err(e) => panic!("expected a timeout, got {e}"),
        Ok(_) => panic!("a spinning guest said READY"),
    }
}

#[test]
fn garbage_on_the_protocol_port_is_a_clear_error() {
    if !kvm_or_skip("garbage_on_the_protocol_port_is_a_clear_error") {
        return;
    }
    // mov al, 0xff ; out 0xe0, al ; jmp $
    let (image, _) = guest_running(&[0xb0, 0xff, 0xe6, 0xe0, 0xeb, 0xfe]);
    let (f, e) = expect_fault(&image, T);
    match f {
        GuestFault::Protocol(what) => assert!(what.contains("0xff"), "{what}"),
        other => panic!("expected a protocol error, got {other:?}: {e}"),
    }
    assert!(e.to_string().contains("broke the workload protocol"), "{e}");
}

#[test]
fn unknown_port_is_reported() {
    if !kvm_or_skip("unknown_port_is_reported") {
        return;
    }
    // out 0x80, al ; jmp $
    let (image, _) = guest_running(&[0xe6, 0x80, 0xeb, 0xfe]);
    let (f, e) = expect_fault(&image, T);
    assert_eq!(
        f,
        GuestFault::UnexpectedPort {
            port: 0x80,
            write: true,
            size: 1
        },
        "{e}"
    );
}

#[test]
fn exception_without_idt_is_a_triple_fault() {
    if !kvm_or_skip("exception_without_idt_is_a_triple_fault") {
        return;
    }
    // ud2 at CPL0 before any IDT exists: #UD -> #DF -> shutdown.
    let config = Config {
        boot_timeout: T,
        ..Config::default()
    };
    match BareVm::launch_image(Image::Flat(&[0x0f, 0x0b]), &config) {
        Err(e) => assert_eq!(e.fault(), Some(&GuestFault::TripleFault), "{e}"),
        Ok(_) => panic!("said READY"),
    }
}

#[test]
fn bad_images_are_rejected() {
    if !kvm_or_skip("bad_images_are_rejected") {
        return;
    }
    let e = BareVm::launch_image(Image::Elf(b"not an elf"), &Config::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::Image(_)), "{e}");
    let e = BareVm::launch_image(
        Image::Elf(bench_vm::GUEST_IMAGE),
        &Config {
            ram_bytes: 3 << 20,
            ..Config::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, Error::Memory { .. }), "{e}");
}

#[test]
fn own_process_mode_serves_the_socket_protocol() {
    if !kvm_or_skip("own_process_mode_serves_the_socket_protocol") {
        return;
    }
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let vmm = std::thread::spawn(move || {
        let mut announce = Vec::new();
        let r = bench_vm::process::serve(theirs.into(), &Config::default(), &mut announce);
        (r.map_err(|e| e.to_string()), announce)
    });
    let read_msg = |s: &mut UnixStream| {
        let mut d = workload::protocol::Decoder::new();
        let mut b = [0u8; 1];
        loop {
            s.read_exact(&mut b).unwrap();
            if let Some(m) = d.push(b[0]).unwrap() {
                return m;
            }
        }
    };
    assert_eq!(read_msg(&mut ours), Message::Ready);
    let run = Command::Run {
        workload: Workload::Cpu as u8,
        size: 0,
        iterations: 1000,
    };
    ours.write_all(run.encode().as_bytes()).unwrap();
    assert!(matches!(
        read_msg(&mut ours),
        Message::Result {
            workload: 1,
            ops: 1000,
            ..
        }
    ));
    ours.write_all(Command::Exit.encode().as_bytes()).unwrap();
    assert_eq!(read_msg(&mut ours), Message::Done);
    let (r, announce) = vmm.join().unwrap();
    assert_eq!(r, Ok(0));
    let line = String::from_utf8(announce).unwrap();
    let range = bench_vm::process::parse_announcement(&line).unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(range.end - range.start, Config::default().ram_bytes);
    let a = bench_vm::process::Announcement::parse(&line).unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(a.guest_ram, range);
    assert_eq!(a.mem_info, None, "the bare guest has no kernel to report");
    let names: Vec<&str> = a.phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, bench_vm::PHASES, "{line:?}");
    assert!(line.ends_with("\nend\n"), "{line:?}");
}

#[test]
fn the_uart_transport_carries_the_same_protocol() {
    if !kvm_or_skip("the_uart_transport_carries_the_same_protocol") {
        return;
    }
    let size = 4 << 20;
    let config = Config {
        transport: bench_vm::Transport::Uart,
        ..Config::with_scratch(size)
    };
    let mut vm = BareVm::launch(&config).unwrap_or_else(|e| panic!("{e}"));
    let (ops, _, sum) = run(&mut vm, Workload::Cpu, 0, 10_000);
    assert_eq!((ops, sum), (10_000, workload::run::cpu(10_000)));
    let (ops, _, _) = run(&mut vm, Workload::MemBw, size, 2);
    assert_eq!(ops, size);
    let (ops, _, _) = run(&mut vm, Workload::Boundary, 0, 100);
    assert_eq!(ops, 100);
    assert_eq!(vm.pings(), 100, "each PING through the UART answered");
    // Every byte crossed the UART: at least two exits (LSR, THR/RBR) each.
    assert!(vm.exits().io_in >= 2 * 100, "{:?}", vm.exits());
    vm.teardown(T).unwrap_or_else(|e| panic!("{e}"));
}
