//! `vmvc-guest`: the workload as a bare KVM guest — its whole "kernel".
//!
//! The VMM (`bench-vm`) loads this ELF at 1 MiB and starts the vCPU at
//! `_start` already in 64-bit long mode at CPL0 (see `workload::bare` for the
//! boot protocol). The stub below does only what the CPU needs before it can
//! run the workload at CPL3 (user mode):
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
//! The IDT gates and the TSS descriptor split addresses into bit fields,
//! which the assembler cannot do with symbols; the linker computes them
//! instead (`src/bare.ld`), since the image is linked at a fixed address.
#![no_std]
#![no_main]

use workload::bare::{self, BarePlatform, PORT_EXCEPTION};
use workload::protocol::{fault, Message};

// Selectors (GDT index * 8, | 3 for requested privilege level 3). The order
// user-data-then-user-code is what SYSRET requires (SDM Vol. 2B, SYSRET).
//   0x08 kernel code   0x10 kernel data   0x18 user data   0x20 user code
//   0x28 TSS (16 bytes)
core::arch::global_asm!(
    ".section .text.vmvc_entry, \"ax\"",
    ".globl _start",
    "_start:",
    "   lea rsp, [rip + vmvc_stack0_top]",
    "   lgdt [rip + vmvc_gdtr]",
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
    // The iretq frame: SS, RSP, RFLAGS, CS, RIP. rdi/rsi (scratch region)
    // pass through untouched as vmvc_main's arguments.
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
    "   .fill 0x68 - 12, 1, 0",
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
    exception_port = const PORT_EXCEPTION,
);

/// The workload, entered at CPL3 by the stub's `iretq`. Its arguments are
/// rdi/rsi as the VMM set them (the scratch region); the stub leaves both alone.
#[no_mangle]
extern "C" fn vmvc_main(scratch: u64, scratch_len: u64) -> ! {
    workload::serve(&mut BarePlatform::new(
        scratch as usize as *mut u8,
        scratch_len as usize,
    ))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let m = Message::Fault {
        code: fault::PANIC,
        detail: 0,
    };
    for b in m.encode().as_bytes() {
        bare::outb(bare::PORT_PROTOCOL, *b);
    }
    bare::exit(101)
}
