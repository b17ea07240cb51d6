/*
 * pv32pae entry, Xen ELF notes, exception/event entry stubs, the iret-hypercall return path and fault
 * probes for Shim's 32-bit test guests. The kernel runs in ring 1; hypercalls use int $0x82.
 */

#define VIRT_BASE 0xc0000000

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
    XEN_NOTE \type, .long \value
.endm

    .section .note.Xen, "a", @note
    XEN_NOTE_STR 6,  "Shim-test"          /* GUEST_OS */
    XEN_NOTE_STR 7,  "1"                  /* GUEST_VERSION */
    XEN_NOTE_STR 5,  "xen-3.0"            /* XEN_VERSION */
    XEN_NOTE_STR 8,  "generic"            /* LOADER */
    XEN_NOTE_NUM 3,  VIRT_BASE            /* VIRT_BASE */
    XEN_NOTE_NUM 4,  0                    /* PADDR_OFFSET: p_paddr are already physical */
    XEN_NOTE_NUM 1,  _start               /* ENTRY */
    XEN_NOTE_STR 10, "!writable_page_tables|pae_pgdir_above_4gb" /* FEATURES */
    XEN_NOTE_STR 9,  "yes"                /* PAE_MODE: PAE, extended-cr3 capable */
    XEN_NOTE_NUM 12, 0xf5800000           /* HV_START_LOW: the default compat M2P start */
#ifdef HYPERCALL_PAGE
    XEN_NOTE_NUM 2,  hypercall_page       /* HYPERCALL_PAGE */
#endif

/* ---- entry: ESI = start_info, ESP = the builder's boot stack ---- */
    .section .text.head, "ax"
    .code32
    .globl _start
_start:
    mov %esi, %ebx
    mov $_bss_start, %edi
    mov $_bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    cld
    rep stosb
    mov $rt_stack_top, %esp
    push %ebx
    call rt_start
    ud2

#ifdef HYPERCALL_PAGE
    .section .text.hypercall_page, "ax"
    .balign 4096
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0xc3
#endif

    .text
/*
 * Xen's pv32 bounce frame for a fault in ring 1: [error code], EIP, CS (event mask in bits 16-23),
 * EFLAGS; no stack switch, so no ESP/SS. Stubs push a vector (and a 0 error code where the CPU pushes
 * none), then trap_common saves the GPRs with pusha: struct trap_frame in rt.h.
 */
.macro TRAP_NOERR vec
    .globl trap_\vec
trap_\vec:
    push $0
    push $\vec
    jmp trap_common
.endm

.macro TRAP_ERR vec
    .globl trap_\vec
trap_\vec:
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
    TRAP_NOERR 0x100        /* event upcall */
    TRAP_NOERR 0x101        /* failsafe callback (DS ES FS GS above EIP); only reported */

trap_common:
    pusha
    mov %esp, %eax
    push %eax
    call rt_trap
    add $4, %esp
    popa
    add $8, %esp            /* vector and error code */
    /* Fall through: EIP, CS, EFLAGS remain. */

/*
 * HYPERVISOR_iret (pv32): push EAX on top of EIP/CS/EFLAGS and make hypercall 23. Xen restores them
 * (returning to ring 1 needs no ESP/SS) and sets the event mask to !EFLAGS.IF.
 */
    .globl rt_iret
rt_iret:
#ifdef HYPERCALL_PAGE
    jmp hypercall_page + 23 * 32
#else
    push %eax
    mov $23, %eax
    int $0x82
    ud2
#endif

/* Fault probes (cdecl): 0 if the instruction completed, 1 if it faulted (see rt_fixups). */
    .globl probe_read, probe_write, probe_ud2, probe_outb, probe_int85, probe_int3_regs, probe_int80, probe_fnop
probe_read:                 /* long probe_read(const volatile void *addr) */
    mov 4(%esp), %ecx
    xor %eax, %eax
probe_read_insn:
    mov (%ecx), %edx
    ret
probe_write:                /* long probe_write(volatile void *addr, u64 value): low word, then high word */
    mov 4(%esp), %ecx
    mov 8(%esp), %edx
    xor %eax, %eax
probe_write_insn:
    mov %edx, (%ecx)
    mov 12(%esp), %edx
probe_write_insn_high:
    mov %edx, 4(%ecx)
    ret
probe_ud2:
    xor %eax, %eax
probe_ud2_insn:
    ud2
    ret
probe_outb:                 /* long probe_outb(u16 port) */
    mov 4(%esp), %edx
    xor %eax, %eax
probe_outb_insn:
    outb %al, (%dx)
    ret
probe_int85:                /* vector 0x85 is registered with DPL 0: int from the kernel must #GP */
    xor %eax, %eax
probe_int85_insn:
    int $0x85
    ret
probe_int3_regs:            /* pv32 frames carry no RCX/R11; kept for a common probe set */
    xor %eax, %eax
    int3
    ret
probe_int80:
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

    .section .rodata
    .balign 4
    .globl rt_fixups, rt_fixups_end
rt_fixups:
    .long probe_read_insn, probe_done
    .long probe_write_insn, probe_done
    .long probe_write_insn_high, probe_done
    .long probe_ud2_insn, probe_done
    .long probe_outb_insn, probe_done
    .long probe_int85_insn, probe_done
    .long probe_fnop_insn, probe_done
rt_fixups_end:
