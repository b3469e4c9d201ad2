//! `vmvc-guest`: the workload as a bare KVM guest — its whole "kernel".
//!
//! The VMM (`bench-vm`) loads this ELF at 1 MiB and starts the vCPU at
//! `_start` already in 64-bit long mode at CPL0 (see `workload::bare` for the
//! boot protocol). Other VMMs enter the same image elsewhere
//! (`workload::boot`): QEMU and Cloud Hypervisor at the PVH entry, in 32-bit
//! protected mode with paging off; Firecracker at `_start` with page tables
//! of its own that CPL3 may not use. Both then first reach the state our VMM
//! sets up (see "Foreign entries" below). The stub below does only what the
//! CPU needs before it can run the workload at CPL3 (user mode):
//!
//! 1. `lgdt`: our Global Descriptor Table — kernel and user code/data
//!    segments and a Task State Segment (TSS). In long mode segments are
//!    flat; what matters is each one's privilege level (DPL).
//! 2. `ltr`: the TSS. Its `rsp0` is the stack the CPU switches to when an
//!    exception interrupts CPL3 code (Intel SDM Vol. 3A, 8.7 "Task
//!    Management in 64-bit Mode"; AMD APM Vol. 2, 12.2.5).
//! 3. `lidt`: the Interrupt Descriptor Table: vectors 0-31 (the CPU
//!    exceptions) go to handlers that report the vector, error code and RIP
//!    to the VMM through a port, then halt (SDM Vol. 3A, 7.14 "Exception and
//!    Interrupt Handling in 64-bit Mode").
//! 4. `wrmsr` STAR/LSTAR: `syscall` from CPL3 enters `vmvc_syscall`, which
//!    answers with `iretq` (SDM Vol. 2B, SYSCALL; Vol. 3A, 7.14.4 IRET).
//! 5. `iretq` to `vmvc_main` at CPL3 with RFLAGS.IOPL=3, so that user code may
//!    use `in`/`out` (SDM Vol. 1, 19.5.1 "I/O Privilege Level").
//!
//! Why CPL3 at all? On hardware KVM (VMX/SVM) it would make no difference.
//! On PVM (a software hypervisor, what /dev/kvm is on our build machines)
//! guest CPL0 code is emulated instruction by instruction (~1 µs each) while
//! guest CPL3 code runs natively. So the stub is kept to ~30 instructions and
//! everything measured runs at CPL3.
//!
//! **Foreign entries.** The PVH entry (named by the ELF note
//! `XEN_ELFNOTE_PHYS32_ENTRY`, Linux `arch/x86/platform/pvh/head.S` does
//! the same for a kernel) enables long mode the way SDM Vol. 3A, 10.8.5
//! lists it: CR4.PAE, CR3, EFER.LME, CR0.PG, then a far jump into a 64-bit
//! code segment. The page tables it loads are not built by code: they are
//! data in the image, computed by the assembler (the image is linked at a
//! fixed address), identity-mapping the first GiB with 2 MiB user pages as
//! our VMM's do. On PVM every CPL0 instruction is emulated (~1 µs), so a
//! loop writing 512 entries would cost more than the whole stub. Each
//! foreign entry also reads the TSC first (`vmvc_entry_tsc`): the guest
//! reports it after READY, so that the launcher can split QEMU's startup
//! from the guest's own.
//!
//! The IDT gates and the TSS descriptor split addresses into bit fields,
//! which the assembler cannot do with symbols; the linker computes them
//! instead (`src/bare.ld`), since the image is linked at a fixed address.
#![no_std]
#![no_main]

use workload::bare::{self, BarePlatform, PORT_EXCEPTION};
use workload::boot::{self, BOOT_LINUX64, BOOT_PORTS, BOOT_PVH, BOOT_UART};
use workload::protocol::{fault, info, Message};

// Selectors (GDT index * 8, | 3 for requested privilege level 3). The order
// user-data-then-user-code is what SYSRET requires (SDM Vol. 2B, SYSRET).
//   0x08 kernel code   0x10 kernel data   0x18 user data   0x20 user code
//   0x28 TSS (16 bytes)
core::arch::global_asm!(
    // The PVH note (Xen `include/public/elfnote.h`): name "Xen", type 18
    // (XEN_ELFNOTE_PHYS32_ENTRY), the 32-bit entry's physical address. The
    // address is 8 bytes, as in Linux's vmlinux: readers take 4 or 8.
    ".section .note.Xen, \"a\", @note",
    ".balign 4",
    "   .long 4, 8, 18",
    "   .asciz \"Xen\"",
    "   .quad vmvc_pvh_start",
    ".section .text.vmvc_entry, \"ax\"",
    // 64-bit entry. r8 says who booted us: our VMM sets BOOT_PORTS or
    // BOOT_UART; anything else is a foreign 64-bit boot (Firecracker, rsi
    // = zero page), whose page tables CPL3 may not use.
    ".globl _start",
    "_start:",
    "   cmp r8, {boot_ports}",
    "   je vmvc_cpl0",
    "   cmp r8, {boot_uart}",
    "   je vmvc_cpl0",
    "   rdtsc",
    "   mov [rip + vmvc_entry_tsc], eax",
    "   mov [rip + vmvc_entry_tsc + 4], edx",
    "   mov rdi, rsi",
    "   mov r8d, {boot_linux64}",
    "   lea rax, [rip + vmvc_pml4]",
    "   mov cr3, rax",
    "   mov eax, {cr4}",
    "   mov cr4, rax",
    "   mov ecx, 0xc0000080", // IA32_EFER: add SCE (syscall) to LME/LMA
    "   rdmsr",
    "   or eax, 1",
    "   wrmsr",
    "   jmp vmvc_cpl0",
    // The PVH entry: 32-bit protected mode, paging off, ebx = start_info.
    ".code32",
    "vmvc_pvh_start:",
    "   rdtsc",
    "   mov [vmvc_entry_tsc], eax",
    "   mov [vmvc_entry_tsc + 4], edx",
    "   mov eax, {cr4}",
    "   mov cr4, eax",
    "   mov eax, offset vmvc_pml4",
    "   mov cr3, eax",
    "   mov ecx, 0xc0000080", // IA32_EFER: LME (long mode) and SCE (syscall)
    "   mov eax, 0x101",
    "   xor edx, edx",
    "   wrmsr",
    "   mov eax, {cr0}",
    "   mov cr0, eax",
    "   lgdt [vmvc_gdtr]", // a 32-bit lgdt reads the low 4 bytes of the base: enough
    // ljmp 0x08:vmvc_pvh64, spelled out (opcode EA, offset32, selector16).
    "   .byte 0xea",
    "   .long vmvc_pvh64",
    "   .word 0x08",
    ".code64",
    "vmvc_pvh64:",
    "   mov edi, ebx",
    "   mov r8d, {boot_pvh}",
    "   jmp vmvc_gdt_loaded",
    // Every entry ends up here, in long mode at CPL0 with RAM identity-mapped.
    "vmvc_cpl0:",
    "   lgdt [rip + vmvc_gdtr]",
    "vmvc_gdt_loaded:",
    "   lea rsp, [rip + vmvc_stack0_top]",
    "   mov ax, 0x28",
    "   ltr ax",
    "   lidt [rip + vmvc_idtr]",
    // syscall: CS/SS for CPL0 from STAR[47:32], for sysret from STAR[63:48].
    "   mov ecx, 0xc0000081", // IA32_STAR
    "   xor eax, eax",
    "   mov edx, 0x00100008",
    "   wrmsr",
    "   mov ecx, 0xc0000082", // IA32_LSTAR: where syscall enters
    "   lea rax, [rip + vmvc_syscall]",
    "   mov rdx, rax",
    "   shr rdx, 32",
    "   wrmsr",
    // The iretq frame: SS, RSP, RFLAGS, CS, RIP. rdi/rsi pass through
    // untouched as vmvc_main's first two arguments, r8 (the boot kind)
    // becomes its third.
    "   mov rdx, r8",
    "   push 0x1b",
    // As if vmvc_main had been called: the ABI wants rsp+8 16-byte aligned.
    "   lea rax, [rip + vmvc_stack3_top - 8]",
    "   push rax",
    "   push 0x3002", // IOPL=3, bit 1 (always 1), interrupts off
    "   push 0x23",
    "   lea rax, [rip + vmvc_main]",
    "   push rax",
    "   iretq",
    // The trivial system call: return 0 to the caller at CPL3. `syscall`
    // left the caller's RIP in rcx and did not switch stacks; we return with
    // `iretq` on our own stack (KVM's instruction emulator, which runs guest
    // CPL0 code under PVM, does not implement `sysretq`).
    "vmvc_syscall:",
    "   mov rax, rsp",
    "   lea rsp, [rip + vmvc_stack0_top]",
    "   push 0x1b",
    "   push rax",
    "   push 0x3002",
    "   push 0x23",
    "   push rcx",
    "   xor eax, eax",
    "   iretq",
    // One entry per exception vector; the CPU pushes an error code only for
    // some (8, 10-14, 17, 21, 29, 30), the others push 0 to match.
    ".macro vmvc_vector n, err",
    "   .balign 16",
    "   .globl vmvc_vec_\\n",
    "vmvc_vec_\\n:",
    "   .if \\err == 0",
    "   push 0",
    "   .endif",
    "   push \\n",
    "   jmp vmvc_exception",
    ".endm",
    "vmvc_vector 0,0",
    "vmvc_vector 1,0",
    "vmvc_vector 2,0",
    "vmvc_vector 3,0",
    "vmvc_vector 4,0",
    "vmvc_vector 5,0",
    "vmvc_vector 6,0",
    "vmvc_vector 7,0",
    "vmvc_vector 8,1",
    "vmvc_vector 9,0",
    "vmvc_vector 10,1",
    "vmvc_vector 11,1",
    "vmvc_vector 12,1",
    "vmvc_vector 13,1",
    "vmvc_vector 14,1",
    "vmvc_vector 15,0",
    "vmvc_vector 16,0",
    "vmvc_vector 17,1",
    "vmvc_vector 18,0",
    "vmvc_vector 19,0",
    "vmvc_vector 20,0",
    "vmvc_vector 21,1",
    "vmvc_vector 22,0",
    "vmvc_vector 23,0",
    "vmvc_vector 24,0",
    "vmvc_vector 25,0",
    "vmvc_vector 26,0",
    "vmvc_vector 27,0",
    "vmvc_vector 28,0",
    "vmvc_vector 29,1",
    "vmvc_vector 30,1",
    "vmvc_vector 31,0",
    // Stack now: vector, error code, then the CPU's frame (RIP first).
    "vmvc_exception:",
    "   pop rax",
    "   pop rsi",
    "   mov rdi, [rsp]",
    "   mov dx, {exception_port}",
    "   out dx, eax",
    "2: hlt",
    "   jmp 2b",
    // Tables. GDT entries per SDM Vol. 3A, 3.4.5 "Segment Descriptors".
    ".section .data.vmvc_tables, \"aw\"",
    ".balign 16",
    "vmvc_gdt:",
    "   .quad 0",
    "   .quad 0x00af9a000000ffff", // 0x08 kernel code: 64-bit (L), DPL0
    "   .quad 0x00cf92000000ffff", // 0x10 kernel data: DPL0
    "   .quad 0x00cff2000000ffff", // 0x18 user data: DPL3
    "   .quad 0x00affa000000ffff", // 0x20 user code: 64-bit (L), DPL3
    "   .quad vmvc_tss_desc_lo",   // 0x28 TSS, filled in by the linker
    "   .quad vmvc_tss_desc_hi",
    "vmvc_gdt_end:",
    "vmvc_gdtr:",
    "   .word vmvc_gdt_end - vmvc_gdt - 1",
    "   .quad vmvc_gdt",
    "vmvc_idtr:",
    "   .word 32 * 16 - 1",
    "   .quad vmvc_idt", // 32 gates, built by the linker (src/bare.ld)
    // The 64-bit TSS (SDM Vol. 3A, Figure 8-11): only rsp0 is used.
    ".balign 16",
    ".globl vmvc_tss",
    "vmvc_tss:",
    "   .long 0",
    "   .quad vmvc_stack0_top", // rsp0: stack for exceptions from CPL3
    "   .fill 0x66 - 12, 1, 0",
    "   .word 0x68", // the I/O permission bitmap follows the TSS
    // The I/O permission bitmap (SDM Vol. 1, 19.5.2): one bit per port, 0 =
    // allowed, and a final 0xff byte. IOPL=3 alone should let CPL3 use every
    // port, but on PVM hosts a port whose bit lies past the TSS limit (0x3f8
    // did, 0xe0 did not) raised #GP: so every port is allowed here too.
    "   .fill 65536 / 8, 1, 0",
    "   .byte 0xff",
    ".globl vmvc_tss_end",
    "vmvc_tss_end:",
    // The IDT: 32 gates whose two halves the linker computed.
    ".balign 16",
    "vmvc_idt:",
    ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
    "   .quad vmvc_gate_lo_\\n, vmvc_gate_hi_\\n",
    ".endr",
    ".section .bss.vmvc_stacks, \"aw\", @nobits",
    ".balign 16",
    "   .skip 4096",
    "vmvc_stack0_top:",
    "   .skip 65536",
    "vmvc_stack3_top:",
    // The foreign entries' page tables (SDM Vol. 3A, 5.5): PML4[0] -> PDPT,
    // PDPT[0] -> PD, 512 PD entries of 2 MiB pages identity-mapping the
    // first GiB; present, writable, user (7), PS for a 2 MiB page (0x80).
    ".section .data.vmvc_page_tables, \"aw\"",
    ".balign 4096",
    "vmvc_pml4:",
    "   .quad vmvc_pdpt + 7",
    "   .fill 511, 8, 0",
    "vmvc_pdpt:",
    "   .quad vmvc_pd + 7",
    "   .fill 511, 8, 0",
    "vmvc_pd:",
    ".set vmvc_page, 0",
    ".rept 512",
    "   .quad (vmvc_page << 21) | 0x87",
    ".set vmvc_page, vmvc_page + 1",
    ".endr",
    ".section .bss.vmvc_entry_tsc, \"aw\", @nobits",
    ".balign 8",
    ".globl vmvc_entry_tsc",
    "vmvc_entry_tsc:",
    "   .skip 8",
    exception_port = const PORT_EXCEPTION,
    boot_ports = const BOOT_PORTS,
    boot_uart = const BOOT_UART,
    boot_pvh = const BOOT_PVH,
    boot_linux64 = const BOOT_LINUX64,
    // PAE, OSFXSR and OSXMMEXCPT (SSE, which the workload's code uses), as
    // bench-vm's x86.rs sets them.
    cr4 = const (1u32 << 5) | (1 << 9) | (1 << 10),
    // PE, MP, ET, NE, WP, PG (bench-vm's x86.rs).
    cr0 = const 0x8001_0033u32,
);

extern "C" {
    /// The TSC at the first instruction of a foreign entry (0 otherwise).
    static vmvc_entry_tsc: u64;
}

/// The guest's RAM, read through the identity map (`workload::boot`).
struct IdentityMapped;

impl boot::Phys for IdentityMapped {
    fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        let Some(end) = addr.checked_add(buf.len() as u64) else {
            return false;
        };
        if addr == 0 || end > boot::MAPPED_BYTES {
            return false;
        }
        // SAFETY: [addr, end) lies in the first GiB, which every entry
        // identity-maps for CPL3; the VMM placed its boot information
        // there and nothing else writes it while we read.
        unsafe {
            core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len());
        }
        true
    }
}

/// The workload, entered at CPL3 by the stub's `iretq`. Its arguments are
/// rdi/rsi as the VMM set them (the scratch region, or a pointer to the
/// boot information) and the boot kind (`workload::boot`).
#[no_mangle]
extern "C" fn vmvc_main(a: u64, b: u64, kind: u64) -> ! {
    let cpl3_tsc = rdtsc();
    let Some(boot) = boot::decode(a, b, kind, &IdentityMapped) else {
        // Not a boot we know: nobody to talk to but the exit port.
        bare::exit(102)
    };
    let mut p = BarePlatform::new(
        boot.scratch as usize as *mut u8,
        boot.scratch_len as usize,
        boot.transport,
    );
    if !boot.foreign {
        workload::serve(&mut p)
    }
    let ready_tsc = rdtsc();
    workload::send(&mut p, Message::Ready);
    // SAFETY: written once by the entry code before CPL3 was entered.
    let entry_tsc = unsafe { core::ptr::read_volatile(&raw const vmvc_entry_tsc) };
    for (key, value) in [
        (info::FIRST_INSTRUCTION_TSC, entry_tsc),
        (info::CPL3_TSC, cpl3_tsc),
        (info::READY_TSC, ready_tsc),
    ] {
        workload::send(&mut p, Message::Info { key, value });
    }
    workload::command_loop(&mut p)
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; allowed at CPL3 (CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let m = Message::Fault {
        code: fault::PANIC,
        detail: 0,
    };
    // The ports: the transport is not known here. Under a foreign VMM the
    // FAULT is lost, and the exit below ends QEMU (isa-debug-exit).
    for b in m.encode().as_bytes() {
        bare::outb(bare::PORT_PROTOCOL, *b);
    }
    bare::exit(101)
}
