/*
 * Hypercall wrappers. Two mechanisms, chosen at build time:
 *  - default: the raw instruction — pv64 `syscall` from guest-kernel mode, as Linux 6.1 stable and GRUB
 *    issue it (number in RAX, arguments in RDI RSI RDX R10 R8; RCX/R11 clobbered); pv32 `int $0x82`
 *    (number in EAX, arguments in EBX ECX EDX ESI EDI);
 *  - HYPERCALL_PAGE: `call` into the page the domain builder fills (slot = number * 32).
 * Debug Xen builds clobber argument registers on return, so every argument register is an output.
 */
#ifndef SHIM_TEST_HYPERCALL_H
#define SHIM_TEST_HYPERCALL_H

#include "types.h"

#ifdef HYPERCALL_PAGE
extern u8 hypercall_page[4096];
#define HYPERCALL_INSN "call *%[stub]"
/* "rm": on pv32 all six GPRs but EBP already hold the number and arguments. */
#define HYPERCALL_STUB(nr) [stub] "rm"(hypercall_page + (nr) * 32)
#elif defined(__x86_64__)
#define HYPERCALL_INSN "syscall"
#else
#define HYPERCALL_INSN "int $0x82"
#endif

static inline long hypercall5(long nr, long a1, long a2, long a3, long a4, long a5)
{
#ifdef __x86_64__
    register long rax __asm__("rax") = nr;
    register long rdi __asm__("rdi") = a1;
    register long rsi __asm__("rsi") = a2;
    register long rdx __asm__("rdx") = a3;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    __asm__ volatile(HYPERCALL_INSN
                     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r10), "+r"(r8)
#ifdef HYPERCALL_PAGE
                     : HYPERCALL_STUB(nr)
#else
                     :
#endif
                     : "rcx", "r11", "memory");
    return rax;
#else
    long eax = nr;
    __asm__ volatile(HYPERCALL_INSN
                     : "+a"(eax), "+b"(a1), "+c"(a2), "+d"(a3), "+S"(a4), "+D"(a5)
#ifdef HYPERCALL_PAGE
                     : HYPERCALL_STUB(nr)
#else
                     :
#endif
                     : "memory");
    return eax;
#endif
}

#define hypercall0(nr) hypercall5((nr), 0, 0, 0, 0, 0)
#define hypercall1(nr, a) hypercall5((nr), (long)(a), 0, 0, 0, 0)
#define hypercall2(nr, a, b) hypercall5((nr), (long)(a), (long)(b), 0, 0, 0)
#define hypercall3(nr, a, b, c) hypercall5((nr), (long)(a), (long)(b), (long)(c), 0, 0)
#define hypercall4(nr, a, b, c, d) hypercall5((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0)

#endif
