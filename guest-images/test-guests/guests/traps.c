/*
 * traps: exceptions bounced to the set_trap_table handlers with Xen's frame — pv64: RCX and R11 on top,
 * CS with RPL cleared; pv32: EIP, CS, EFLAGS in ring 1 — #PF with cr2 in vcpu_info, #GP, #UD, int3,
 * software interrupts by DPL, event masking on entry, and the iret hypercall every handler returns through.
 */
#include "rt.h"

/* RT_EVENTS: the checks unmask events, so any pending upcall must find a callback. */
const struct guest_info guest = { "traps", RT_EVENTS };

#ifdef __x86_64__
#define UNMAPPED ((volatile void *)(VIRT_BASE + 0x40000000UL))
#define NON_CANONICAL ((volatile void *)0x8000000000000000UL)
#else
#define UNMAPPED ((volatile void *)(VIRT_BASE + 0x10000000UL))
#endif

void guest_main(void)
{
    struct vcpu_info *v = &rt_shared->vcpu_info[0];
    v->evtchn_upcall_mask = 0;   /* unmasked, so the mask checks below mean something */

    u32 faults = rt_fault_count;
    check_eq(probe_int3_regs(), 0, "int3 returns to the next instruction");
    check_eq(rt_fault_count, faults + 1, "int3 reached the #BP handler");
    check_eq(rt_last_fault.vector, 3, "the handler saw vector 3");
#ifdef __x86_64__
    check_eq(rt_last_fault.rcx, 0x1111, "the bounce frame held the interrupted RCX on top");
    check_eq(rt_last_fault.r11, 0x2222, "the bounce frame held the interrupted R11 next");
    check_eq(rt_last_fault.cs & 0xffff, FLAT_KERNEL_CS & ~3, "the saved CS is FLAT_KERNEL_CS with RPL 0 (interrupted in kernel mode)");
    check_eq(rt_last_fault.ss & 0xffff, FLAT_KERNEL_SS, "the saved SS is FLAT_KERNEL_SS");
#else
    check_eq(rt_last_fault.cs & 0xffff, FLAT_KERNEL_CS, "the saved CS is FLAT_RING1_CS (interrupted in ring 1)");
#endif
    check_eq(rt_last_fault.upcall_mask, 1, "events were masked on entry (trap_info flag 4)");
    check_eq(v->evtchn_upcall_mask, 0, "the iret hypercall restored the event mask from RFLAGS.IF");

    check_eq(probe_read(UNMAPPED), 1, "reading an unmapped address faults");
    check_eq(rt_last_fault.vector, 14, "it is delivered as #PF");
    check_eq(rt_last_fault.error_code, 0, "#PF error code is 0 (not present, read, kernel mode)");
    check(rt_last_fault.cr2 == (ulong)UNMAPPED, "vcpu_info cr2 holds the faulting address");
    check_eq(probe_write(UNMAPPED, 1), 1, "writing an unmapped address faults");
    check_eq(rt_last_fault.error_code, 2, "#PF error code is 2 (not present, write, kernel mode)");

#ifdef __x86_64__
    check_eq(probe_read(NON_CANONICAL), 1, "reading a non-canonical address faults");
    check_eq(rt_last_fault.vector, 13, "it is delivered as #GP");
    check_eq(rt_last_fault.error_code, 0, "#GP error code is 0");
#endif

    check_eq(probe_ud2(), 1, "ud2 faults");
    check_eq(rt_last_fault.vector, 6, "it is delivered as #UD");

    check_eq(rt_set_trap(0x80, 3, trap_0x80), 0, "set_trap_table can add one vector (0x80, DPL 3)");
    faults = rt_fault_count;
    check_eq(probe_int80(), 0, "int $0x80 returns to the next instruction");
    check_eq(rt_last_fault.vector, 0x80, "int $0x80 reached its handler as a software interrupt");
    check_eq(rt_fault_count, faults + 1, "exactly one bounce for int $0x80");

    check_eq(rt_set_trap(0x85, 0, trap_0x85), 0, "set_trap_table adds vector 0x85 with DPL 0");
    check_eq(probe_int85(), 1, "int $0x85 from the kernel is refused");
    check_eq(rt_last_fault.vector, 13, "the refusal is #GP");
    check_eq(rt_last_fault.error_code, 0x85 * 8 + 2, "#GP error code names IDT vector 0x85");

#ifdef __x86_64__
    struct trap_info bad[2] = {
        { 14, TI_MASK_EVENTS, FLAT_KERNEL_CS, 0x8000000000000000UL },
        { 0, 0, 0, 0 },
    };
    check_eq(hypercall1(HC_set_trap_table, bad), -XEN_EINVAL, "set_trap_table with a non-canonical handler returns -EINVAL");
#endif
    check_eq(probe_read(UNMAPPED), 1, "the #PF handler still works after the refused update");
}
