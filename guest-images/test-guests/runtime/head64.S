/*
 * pv64 entry, Xen ELF notes, exception/event entry stubs, the iret-hypercall return path and
 * fault probes for Shim's test guests.
 */

#define VIRT_BASE 0xffffffff80000000

/* ---- Xen ELF notes (name "Xen"; see shared/reference/xen-pv-abi.md section 1.1) ---- */
.macro XEN_NOTE type, body:vararg
    .balign 4
    .long 2f - 1f
    .long 4f - 3f
    .long \type
1:  .asciz "Xen"
2:  .balign 4
3:  \body
4:  .balign 4
.endm
/* GAS strips the quotes of a quoted macro argument, so strings are re-quoted here. */
.macro XEN_NOTE_STR type, text
    XEN_NOTE \type, .asciz "\text"
.endm
.macro XEN_NOTE_NUM type, value
    XEN_NOTE \type, .quad \value
.endm

    .section .note.Xen, "a", @note
    XEN_NOTE_STR 6, "Shim-test"          /* GUEST_OS */
    XEN_NOTE_STR 7, "1"                  /* GUEST_VERSION */
    XEN_NOTE_STR 5, "xen-3.0"            /* XEN_VERSION */
    XEN_NOTE_STR 8, "generic"            /* LOADER */
    XEN_NOTE_NUM 3, VIRT_BASE            /* VIRT_BASE */
    XEN_NOTE_NUM 4, 0                    /* PADDR_OFFSET: p_paddr are already physical */
    XEN_NOTE_NUM 1, _start               /* ENTRY */
    XEN_NOTE_STR 10, "!writable_page_tables|pae_pgdir_above_4gb" /* FEATURES */
#ifdef HYPERCALL_PAGE
    XEN_NOTE_NUM 2, hypercall_page       /* HYPERCALL_PAGE */
#endif

/* ---- entry: RSI = start_info, RSP = the builder's boot stack ---- */
    .section .text.head, "ax"
    .code64
    .globl _start
_start:
    mov %rsi, %r12
    lea _bss_start(%rip), %rdi
    lea _bss_end(%rip), %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    cld
    rep stosb
    lea rt_stack_top(%rip), %rsp
    mov %r12, %rdi
    call rt_start
    ud2

#ifdef HYPERCALL_PAGE
/* Filled by the domain builder; 0xc3 (ret) poison lets rt_start see whether that happened. */
    .section .text.hypercall_page, "ax"
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0xc3
#endif

    .text
/*
 * Exception and event entry. Xen's pv64 bounce frame has the interrupted RCX and R11 on top
 * (it enters via SYSRET); below them an error code for some vectors, then RIP, CS, RFLAGS, RSP, SS.
 * Each stub pops RCX/R11 and pushes a vector number (and a 0 error code where the CPU pushes none),
 * so trap_common sees one layout: struct trap_frame in rt.h.
 */
.macro TRAP_NOERR vec
    .globl trap_\vec
trap_\vec:
    pop %rcx
    pop %r11
    push $0
    push $\vec
    jmp trap_common
.endm

.macro TRAP_ERR vec
    .globl trap_\vec
trap_\vec:
    pop %rcx
    pop %r11
    push $\vec
    jmp trap_common
.endm

    TRAP_NOERR 0
    TRAP_NOERR 1
    TRAP_NOERR 3
    TRAP_NOERR 4
    TRAP_NOERR 5
    TRAP_NOERR 6
    TRAP_NOERR 7
    TRAP_ERR   8
    TRAP_NOERR 9
    TRAP_ERR   10
    TRAP_ERR   11
    TRAP_ERR   12
    TRAP_ERR   13
    TRAP_ERR   14
    TRAP_NOERR 16
    TRAP_ERR   17
    TRAP_NOERR 18
    TRAP_NOERR 19
    TRAP_NOERR 0x80
    TRAP_NOERR 0x85
    /* Event upcall: no error code; vector 0x100 marks it for rt_trap. */
    TRAP_NOERR 0x100
    /* Failsafe callback: DS ES FS GS sit above RCX/R11; rt_trap only reports it and crashes. */
    TRAP_NOERR 0x101

trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    mov %rsp, %rbx
    and $-16, %rsp
    call rt_trap
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp           /* vector and error code */
    /* Fall through: the stack now holds an iretq frame (RIP CS RFLAGS RSP SS). */

/*
 * HYPERVISOR_iret: push flags (0 = not VGCF_in_syscall), then RCX, R11, RAX, and hypercall 23.
 * Xen restores RIP/CS/RFLAGS/RSP/SS and RAX/R11/RCX from this frame and sets the event mask to !IF.
 */
    .globl rt_iret
rt_iret:
    push $0
#ifdef HYPERCALL_PAGE
    jmp hypercall_page + 23 * 32
#else
    push %rcx
    push %r11
    push %rax
    mov $23, %eax
    syscall
    ud2
#endif

/*
 * Fault probes: each returns 0 if its instruction completed, 1 if it faulted (rt_trap finds the
 * instruction in rt_fixups, records the fault and resumes at probe_done with RAX = 1).
 */
    .globl probe_read, probe_write, probe_ud2, probe_outb, probe_int85, probe_int3_regs, probe_int80, probe_fnop
probe_read:                 /* long probe_read(const volatile void *addr) */
    xor %eax, %eax
probe_read_insn:
    mov (%rdi), %rdx
    ret
probe_write:                /* long probe_write(volatile void *addr, u64 value) */
    xor %eax, %eax
probe_write_insn:
    mov %rsi, (%rdi)
    ret
probe_ud2:
    xor %eax, %eax
probe_ud2_insn:
    ud2
    ret
probe_outb:                 /* long probe_outb(u16 port) */
    mov %edi, %edx
    xor %eax, %eax
probe_outb_insn:
    outb %al, (%dx)
    ret
probe_int85:                /* vector 0x85 is registered with DPL 0: int from the kernel must #GP */
    xor %eax, %eax
probe_int85_insn:
    int $0x85
    ret
probe_int3_regs:            /* int3 with known RCX/R11, to check the bounce frame saved them */
    push %rbx
    mov $0x1111, %rcx
    mov $0x2222, %r11
    xor %eax, %eax
    int3
    pop %rbx
    ret
probe_int80:                /* registered with DPL 3: delivered as a software interrupt */
    xor %eax, %eax
    int $0x80
    ret
probe_fnop:                 /* an x87 instruction: #NM while the virtual CR0.TS is set */
    xor %eax, %eax
probe_fnop_insn:
    fnop
    ret
probe_done:
    ret

/* void rt_xen_cpuid(u32 leaf, u32 regs[4]): CPUID through Xen's forced-emulation prefix (ud2a; "xen"; cpuid). */
    .globl rt_xen_cpuid
rt_xen_cpuid:
    push %rbx
    mov %rsi, %r8
    mov %edi, %eax
    xor %ecx, %ecx
    ud2
    .ascii "xen"
    cpuid
    mov %eax, (%r8)
    mov %ebx, 4(%r8)
    mov %ecx, 8(%r8)
    mov %edx, 12(%r8)
    pop %rbx
    ret

#ifndef HYPERCALL_PAGE   /* keeps hypercall-page guests free of any `syscall` instruction */
/*
 * User mode (pv64). u64 rt_enter_user(void (*fn)(void), void *user_sp): saves the kernel's callee-saved
 * registers and stack, then irets (hypercall, CS = FLAT_USER_CS with RPL 3) to fn on user_sp in guest-user
 * mode. fn ends with a `syscall`, which Xen bounces to the registered syscall callback (rt_syscall_entry) in
 * guest-kernel mode on the stack_switch stack; that callback records the frame and resumes the kernel
 * continuation, so rt_enter_user returns the RDI the user code passed.
 */
    .globl rt_enter_user, rt_syscall_entry, rt_user_frame, rt_user_rdi
rt_enter_user:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, kernel_continuation(%rip)
    pushq $0xe02b           /* SS: FLAT_USER_SS */
    push %rsi               /* RSP */
    pushq $0x202            /* RFLAGS: IF */
    pushq $0xe033           /* CS: FLAT_USER_CS, RPL 3 => switch to guest-user mode */
    push %rdi               /* RIP */
    jmp rt_iret

rt_syscall_entry:
    /* Frame from Xen: RCX, R11, RIP, CS, RFLAGS, RSP, SS (no error code), events masked. */
    lea rt_user_frame(%rip), %rax
    mov 0(%rsp), %rcx
    mov %rcx, 0(%rax)
    mov 8(%rsp), %rcx
    mov %rcx, 8(%rax)
    mov 16(%rsp), %rcx
    mov %rcx, 16(%rax)
    mov 24(%rsp), %rcx
    mov %rcx, 24(%rax)
    mov 32(%rsp), %rcx
    mov %rcx, 32(%rax)
    mov 40(%rsp), %rcx
    mov %rcx, 40(%rax)
    mov 48(%rsp), %rcx
    mov %rcx, 48(%rax)
    mov %rdi, rt_user_rdi(%rip)
    mov kernel_continuation(%rip), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    mov rt_user_rdi(%rip), %rax
    ret

/* Runs in guest-user mode: passes the quadword at %gs:0 (the user GS base) back through the syscall. */
    .globl rt_user_code, rt_user_syscall_return
rt_user_code:
    mov %gs:0, %rdi
    syscall
rt_user_syscall_return:
    ud2

    .data
    .balign 8
kernel_continuation:
    .quad 0
rt_user_frame:
    .fill 7, 8, 0
rt_user_rdi:
    .quad 0
    .text

#endif

/* u64 rt_read_fs0(void), rt_read_gs0(void): the quadword at offset 0 of FS / GS. */
    .globl rt_read_fs0, rt_read_gs0
rt_read_fs0:
    mov %fs:0, %rax
    ret
rt_read_gs0:
    mov %gs:0, %rax
    ret

    .section .rodata
    .balign 8
    .globl rt_fixups, rt_fixups_end
rt_fixups:
    .quad probe_read_insn, probe_done
    .quad probe_write_insn, probe_done
    .quad probe_ud2_insn, probe_done
    .quad probe_outb_insn, probe_done
    .quad probe_int85_insn, probe_done
    .quad probe_fnop_insn, probe_done
rt_fixups_end:
