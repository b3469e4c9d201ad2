//! Shared helpers of the bench-vm tests: KVM detection and test guests.
#![allow(dead_code)]

/// True if KVM is usable here. Without it the test is skipped, loudly —
/// unless VMVC_REQUIRE_KVM=1 (as in CI), where a skip is a failure.
pub fn kvm_or_skip(test: &str) -> bool {
    match bench_vm::Kvm::open() {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("VMVC_REQUIRE_KVM").as_deref() == Ok("1") {
                panic!("{test}: KVM is required (VMVC_REQUIRE_KVM=1) but unusable: {e}");
            }
            // Written to stderr directly: libtest captures eprintln! output
            // of passing tests, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: KVM is not usable here: {e}\n\
                 *** (set VMVC_REQUIRE_KVM=1 to make this a failure)\n"
            );
            false
        }
    }
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Address and file offset of symbol `name` in an ELF64 image, from its
/// section headers and `.symtab` (ELF spec, "Sections" and "Symbol Table").
pub fn symbol(elf: &[u8], name: &str) -> (u64, usize) {
    let shoff = u64_at(elf, 0x28) as usize;
    let shentsize = u16_at(elf, 0x3a);
    let shnum = u16_at(elf, 0x3c);
    let sh = |i: usize| shoff + i * shentsize;
    let symtab = (0..shnum)
        .find(|&i| u32_at(elf, sh(i) + 4) == 2) // SHT_SYMTAB
        .expect("the guest image has a symbol table");
    let (off, size) = (
        u64_at(elf, sh(symtab) + 0x18) as usize,
        u64_at(elf, sh(symtab) + 0x20) as usize,
    );
    let strtab = u32_at(elf, sh(symtab) + 0x28) as usize;
    let stroff = u64_at(elf, sh(strtab) + 0x18) as usize;
    let value = (off..off + size)
        .step_by(24)
        .find(|&s| {
            let n = stroff + u32_at(elf, s) as usize;
            let end = n + elf[n..].iter().position(|&c| c == 0).unwrap();
            &elf[n..end] == name.as_bytes()
        })
        .map(|s| u64_at(elf, s + 8))
        .unwrap_or_else(|| panic!("symbol {name} not in the guest image"));
    // The file offset: through the section that holds the address.
    let file_off = (0..shnum)
        .find_map(|i| {
            let (addr, off, size) = (
                u64_at(elf, sh(i) + 0x10),
                u64_at(elf, sh(i) + 0x18),
                u64_at(elf, sh(i) + 0x20),
            );
            let nobits = u32_at(elf, sh(i) + 4) == 8;
            (!nobits && addr != 0 && (addr..addr + size).contains(&value))
                .then(|| (off + value - addr) as usize)
        })
        .expect("the symbol lies in a section with file contents");
    (value, file_off)
}

/// The real guest with the start of its CPL3 workload (`vmvc_main`)
/// replaced by `code`: the real stub, GDT, TSS and IDT stay in place, so a
/// fault in `code` goes through the guest's own exception handlers.
/// Returns the image and the address `code` runs at.
pub fn guest_running(code: &[u8]) -> (Vec<u8>, u64) {
    let mut image = bench_vm::GUEST_IMAGE.to_vec();
    let (addr, off) = symbol(&image, "vmvc_main");
    image[off..off + code.len()].copy_from_slice(code);
    (image, addr)
}
