//! Fuzzing what the VMM reads from files and from guests (issue 13): the
//! bzImage parser and decompressor, the kernel and bare-guest ELF loaders,
//! the initramfs (cpio) writer and reader, and the VMM's end of the
//! protocol (ports and UART). No KVM needed: loaders write into guest RAM
//! that is an ordinary mapping of this process.
//!
//! Properties: arbitrary or mutated input never panics and ends in a typed
//! error or a result that is safe to use; round trips hold where they exist
//! (an initramfs written and read back). `VMVC_FUZZ_CASES` sets the cases
//! per target for a long run (docs/fuzzing.md); regressions are kept in
//! `tests/proptest-regressions/fuzz_loaders.txt`.

#[path = "../../workload/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use bench_vm::bare::{self, Image};
use bench_vm::linux::bzimage::{BzImage, HDRS_MAGIC};
use bench_vm::linux::initramfs::{parse_cpio, Initramfs};
use bench_vm::linux::{kernel, KernelImage};
use bench_vm::memory::GuestRam;
use bench_vm::protocol_ports::ProtocolPorts;
use bench_vm::protocol_uart::ProtocolUart;
use fuzz_support::{fuzz, header_mutations, mutated, mutations};
use proptest::prelude::*;
use std::io::Write;
use workload::protocol::{Command, Message};
use workload::uart::COM1;

/// Guest RAM for the loaders: 64 MiB, lazily allocated (only what a loader
/// writes is touched).
const RAM: u64 = 64 << 20;

/// A valid bzImage around `payload` (boot.rst, "DETAILS OF HEADER FIELDS"):
/// the fields a loader reads, nothing else.
fn bzimage(payload: &[u8]) -> Vec<u8> {
    let pm = 2 * 512;
    let payload_offset = 0x40usize;
    let mut b = vec![0u8; pm + payload_offset + payload.len()];
    let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
    b[0x1f1] = 1; // setup_sects
    put(&mut b, 0x1fe, &0xaa55u16.to_le_bytes());
    put(&mut b, 0x202, &HDRS_MAGIC.to_le_bytes());
    put(&mut b, 0x206, &0x020fu16.to_le_bytes());
    put(&mut b, 0x20e, &0x100u16.to_le_bytes());
    put(&mut b, 0x300, b"6.1.0-fuzz (x) #1\0");
    b[0x211] = 1;
    put(&mut b, 0x214, &0x10_0000u32.to_le_bytes());
    put(&mut b, 0x22c, &0x7fff_ffffu32.to_le_bytes());
    put(&mut b, 0x230, &0x20_0000u32.to_le_bytes());
    b[0x234] = 1;
    put(&mut b, 0x236, &0x7fu16.to_le_bytes());
    put(&mut b, 0x238, &2047u32.to_le_bytes());
    put(&mut b, 0x248, &(payload_offset as u32).to_le_bytes());
    put(&mut b, 0x24c, &(payload.len() as u32).to_le_bytes());
    put(&mut b, 0x258, &0x100_0000u64.to_le_bytes());
    put(&mut b, 0x260, &0x200_0000u32.to_le_bytes());
    put(&mut b, pm + payload_offset, payload);
    b
}

/// A small x86-64 ELF file: the bare guest itself.
fn elf() -> Vec<u8> {
    bench_vm::GUEST_IMAGE.to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// A valid bzImage whose payload is the gzipped guest ELF.
fn valid_bzimage() -> Vec<u8> {
    bzimage(&gzip(&elf()[..4096]))
}

/// Uses everything a parsed bzImage offers (any panic fails the property).
fn exercise_bzimage(bytes: &[u8]) {
    if let Ok(bz) = BzImage::parse(bytes) {
        let _ = bz.protected_mode_code().len();
        let _ = bz.payload().len();
        let _ = bz.compression();
        let _ = bz.release();
        let _ = bz.decompress();
    }
}

#[test]
fn bzimage_parse_and_decompress_never_panic() {
    let valid = valid_bzimage();
    let input = prop_oneof![
        3 => header_mutations(0x300, 6),
        1 => mutations(6),
    ];
    fuzz("bzimage", file!(), 5000, input, |ms| {
        exercise_bzimage(&mutated(valid.clone(), &ms));
        Ok(())
    });
}

#[test]
fn kernel_loader_never_panics() {
    // Both forms a kernel comes in: a bzImage and an ELF vmlinux (here the
    // bare guest's ELF, which is x86-64 like a vmlinux).
    let ram = GuestRam::new(RAM).expect("64 MiB of address space");
    let (bz, vmlinux) = (valid_bzimage(), elf());
    let input = (any::<bool>(), header_mutations(0x300, 6));
    fuzz("kernel_loader", file!(), 1500, input, |(use_bz, ms)| {
        let base = if use_bz { &bz } else { &vmlinux };
        if let Ok(k) = KernelImage::from_bytes(mutated(base.clone(), &ms)) {
            if let Ok(loaded) = kernel::load(ram.mem(), &k) {
                prop_assert!(
                    loaded.entry < RAM,
                    "entry {:#x} outside guest RAM",
                    loaded.entry
                );
            }
        }
        Ok(())
    });
}

/// The checks the fuzzer led to still let a real kernel through: the
/// distribution's vmlinux in vmvc's cache, when `vmvc kernel fetch` put one there.
#[test]
fn the_cached_debian_vmlinux_still_loads() {
    let cache = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/vmvc/kernel"))
        .and_then(|d| std::fs::read_dir(d).ok());
    let Some(vmlinux) = cache
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("vmlinux"))
        .find(|p| p.is_file())
    else {
        eprintln!(
            "SKIPPED the_cached_debian_vmlinux_still_loads: no vmlinux in ~/.cache/vmvc/kernel"
        );
        return;
    };
    let bytes = std::fs::read(&vmlinux).expect("reading the cached vmlinux");
    let ram = GuestRam::new(256 << 20).expect("256 MiB of address space");
    let k = KernelImage::from_bytes(bytes).expect("a vmlinux");
    let loaded = kernel::load(ram.mem(), &k).expect("the real kernel loads");
    assert!(loaded.entry >= 1 << 20 && loaded.entry < loaded.kernel_end);
}

#[test]
fn bare_elf_loader_never_panics() {
    let ram = GuestRam::new(RAM).expect("64 MiB of address space");
    let image = elf();
    // ELF header (64 bytes) and program headers (56 bytes each), where
    // every offset and size the loader trusts is.
    let input = prop_oneof![
        3 => header_mutations(64 + 8 * 56, 6),
        1 => mutations(4),
    ];
    fuzz("bare_elf_loader", file!(), 1500, input, |ms| {
        let bytes = mutated(image.clone(), &ms);
        if let Ok(entry) = bare::load(&ram, Image::Elf(&bytes)) {
            prop_assert!(entry < RAM, "entry {entry:#x} outside guest RAM");
        }
        let _ = bare::load(&ram, Image::Flat(&bytes));
        Ok(())
    });
}

fn any_entry() -> impl Strategy<Value = (u8, String, u32, Vec<u8>)> {
    (
        0u8..3,
        prop_oneof![
            4 => proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect()),
            // What a cpio reader treats specially: the end marker, a NUL
            // (the name's terminator), slashes, nothing at all.
            1 => Just("TRAILER!!!".to_owned()),
            1 => proptest::collection::vec(prop_oneof![Just('\0'), Just('/'), Just('a')], 0..6)
                .prop_map(|c| c.into_iter().collect()),
        ],
        0u32..0o7777,
        proptest::collection::vec(any::<u8>(), 0..300),
    )
}

#[test]
fn initramfs_round_trips_or_refuses() {
    let input = proptest::collection::vec(any_entry(), 0..8);
    fuzz("initramfs_writer", file!(), 3000, input, |entries| {
        let mut fs = Initramfs::new();
        for (kind, name, perm, data) in &entries {
            match kind {
                0 => fs.dir(name, *perm),
                1 => fs.char_dev(name, *perm, *perm >> 4, *perm & 0xf),
                _ => fs.file(name, *perm, data.clone()),
            };
        }
        match fs.to_cpio() {
            // What was written reads back as the same entries...
            Ok(cpio) => {
                prop_assert_eq!(cpio.len() % 4, 0);
                let back = parse_cpio(&cpio).map_err(TestCaseError::fail)?;
                prop_assert_eq!(back.as_slice(), fs.entries());
            }
            // ...or the writer refused, naming why.
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        Ok(())
    });
}

#[test]
fn cpio_reader_never_panics() {
    let valid = Initramfs::for_init(&elf()[..2000])
        .to_cpio()
        .expect("the vm-linux initramfs is valid");
    fuzz("cpio_reader", file!(), 5000, mutations(8), |ms| {
        let _ = parse_cpio(&mutated(valid.clone(), &ms));
        Ok(())
    });
}

/// One thing a guest (or the VMM) does to the protocol ports.
#[derive(Debug, Clone)]
enum PortOp {
    Write(u8),
    ReadCommand,
    Ping,
    Exit([u8; 4]),
    Send(u8, u64),
    Take,
}

fn port_op() -> impl Strategy<Value = PortOp> {
    prop_oneof![
        6 => any::<u8>().prop_map(PortOp::Write),
        2 => Just(PortOp::ReadCommand),
        1 => Just(PortOp::Ping),
        1 => any::<[u8; 4]>().prop_map(PortOp::Exit),
        1 => (any::<u8>(), any::<u64>()).prop_map(|(w, n)| PortOp::Send(w, n)),
        1 => Just(PortOp::Take),
    ]
}

fn command(w: u8, n: u64) -> Command {
    match w % 4 {
        0 => Command::Run {
            workload: w,
            size: n,
            iterations: n,
        },
        1 => Command::Hold { bytes: n },
        2 => Command::Exit,
        _ => Command::Pong,
    }
}

#[test]
fn protocol_ports_never_panic() {
    let input = proptest::collection::vec(port_op(), 0..64);
    fuzz("protocol_ports", file!(), 5000, input, |ops| {
        let mut p = ProtocolPorts::default();
        for op in ops {
            match op {
                PortOp::Write(b) => {
                    let _ = p.message_byte(b);
                }
                PortOp::ReadCommand => {
                    let _ = p.command_byte();
                }
                PortOp::Ping => prop_assert_eq!(p.ping(), workload::protocol::tag::PONG),
                PortOp::Exit(code) => {
                    p.exit(code);
                }
                PortOp::Send(w, n) => p.send(command(w, n)),
                PortOp::Take => {
                    let _ = p.take_message();
                }
            }
        }
        Ok(())
    });
}

#[test]
fn protocol_uart_never_panics_and_carries_messages() {
    // Valid message bytes, mutated, sent through the UART's transmit
    // register, mixed with accesses to all eight registers.
    let input = (
        proptest::collection::vec((0u16..8, any::<u8>(), any::<bool>()), 0..32),
        mutations(4),
    );
    fuzz("protocol_uart", file!(), 3000, input, |(regs, ms)| {
        let mut proto = ProtocolPorts::default();
        let mut uart = ProtocolUart::default();
        // An unmutated READY arrives whole.
        let ready = Message::Ready.encode();
        for b in ready.as_bytes() {
            let _ = uart.write(&mut proto, COM1, *b);
        }
        prop_assert_eq!(proto.take_message(), Ok(Message::Ready));
        for (reg, value, write) in regs {
            if write {
                let _ = uart.write(&mut proto, COM1 + reg, value);
            } else {
                let _ = uart.read(COM1 + reg);
            }
        }
        let _ = uart.send(Command::Exit);
        let stream = mutated(Message::Ping.encode().as_bytes().to_vec(), &ms);
        for b in stream {
            let _ = uart.write(&mut proto, COM1, b);
        }
        Ok(())
    });
}

/// The inputs the fuzzer found, as plain tests: they hold even if a change
/// of the strategies makes the saved seeds draw other inputs.
#[test]
fn found_by_fuzzing() {
    use fuzz_support::Mutation::{FlipBit, Huge};
    let ram = GuestRam::new(RAM).expect("64 MiB of address space");
    // e_entry (at 24) made 0xffff_ffff / u64::MAX: outside the loaded image.
    let bare = mutated(elf(), &[Huge(20, u64::MAX)]);
    assert!(bare::load(&ram, Image::Elf(&bare)).is_err());
    let vmlinux = mutated(elf(), &[Huge(24, u64::MAX)]);
    let k = KernelImage::from_bytes(vmlinux).expect("still an x86-64 ELF");
    assert!(kernel::load(ram.mem(), &k).is_err());
    // A program header's memsz made huge: the kernel would end beyond RAM.
    let vmlinux = mutated(elf(), &[Huge(160, u64::from(u32::MAX)), FlipBit(27, 2)]);
    let k = KernelImage::from_bytes(vmlinux).expect("still an x86-64 ELF");
    assert!(kernel::load(ram.mem(), &k).is_err());
    // An entry named like the end marker.
    let mut fs = Initramfs::new();
    fs.dir("TRAILER!!!", 0);
    let e = fs.to_cpio().expect_err("refused");
    assert!(e.to_string().contains("end of a cpio archive"), "{e}");
}
