/*
 * user (pv64): the guest-kernel / guest-user toggle. The kernel registers a syscall callback, a kernel stack
 * (stack_switch) and a user page table (NEW_USER_BASEPTR, sharing the kernel's L4 as XTF does), sets a user GS
 * base, and irets to CS 0xe033. User code reads %gs:0 and executes `syscall`, which must land in the callback
 * in kernel mode with Xen's frame describing the user context.
 */
#include "rt.h"

/* RT_EVENTS: user mode runs with events unmasked, so any pending upcall must find a callback. */
const struct guest_info guest = { "user", RT_EVENTS };

static u8 kernel_stack[8192] __attribute__((aligned(16)));
static u8 user_stack[8192] __attribute__((aligned(16)));
static volatile u64 user_gs_target = 0x0123456789abcdefULL;
static volatile u64 kernel_gs_target = 0xfedcba9876543210ULL;

void guest_main(void)
{
    struct callback_register cb = { .type = CALLBACKTYPE_syscall, .flags = CALLBACKF_mask_events, .address = (ulong)rt_syscall_entry };
    check_eq(hypercall2(HC_callback_op, CALLBACKOP_register, &cb), 0, "callback_op(register, syscall) returns 0");
    check_eq(hypercall2(HC_stack_switch, FLAT_KERNEL_SS, (ulong)(kernel_stack + sizeof(kernel_stack))), 0, "stack_switch to the kernel stack returns 0");
    struct mmuext_op user_root = { MMUEXT_NEW_USER_BASEPTR, rt_virt_to_mfn((void *)rt_si->pt_base), 0 };
    check_eq(hypercall4(HC_mmuext_op, &user_root, 1, NULL, DOMID_SELF), 0, "mmuext_op(new_user_baseptr) with the kernel's L4 returns 0");
    check_eq(hypercall2(HC_set_segment_base, SEGBASE_GS_USER, (ulong)&user_gs_target), 0, "set_segment_base(GS_USER) returns 0");
    check_eq(hypercall2(HC_set_segment_base, SEGBASE_GS_KERNEL, (ulong)&kernel_gs_target), 0, "set_segment_base(GS_KERNEL) returns 0");

    u8 mask_before = rt_shared->vcpu_info[0].evtchn_upcall_mask;
    u64 seen = rt_enter_user(rt_user_code, user_stack + sizeof(user_stack));

    check(seen == user_gs_target, "user code ran with the user GS base and reached the syscall callback");
    check(rt_read_gs0() == kernel_gs_target, "back in kernel mode the kernel GS base is active again");
    check(rt_user_frame[0] == (ulong)rt_user_syscall_return, "the callback frame's RCX is the user return address");
    check((rt_user_frame[1] & 0x200) != 0, "the callback frame's R11 holds the user RFLAGS (IF set)");
    check(rt_user_frame[2] == (ulong)rt_user_syscall_return, "the callback frame's RIP is the user return address");
    check_eq(rt_user_frame[3] & 0xffff, FLAT_KERNEL_CS, "the callback frame's CS is 0xe033 (interrupted in user mode)");
    check(rt_user_frame[5] > (ulong)user_stack && rt_user_frame[5] <= (ulong)(user_stack + sizeof(user_stack)), "the callback frame's RSP is on the user stack");
    check_eq(rt_shared->vcpu_info[0].evtchn_upcall_mask, 1, "the syscall callback was entered with events masked (CALLBACKF_mask_events)");
    rt_shared->vcpu_info[0].evtchn_upcall_mask = mask_before;
}
