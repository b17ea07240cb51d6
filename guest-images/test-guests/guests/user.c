/*
 * user: the guest-kernel / guest-user split.
 * pv64: the kernel registers a syscall callback, a kernel stack (stack_switch) and a user page table
 * (NEW_USER_BASEPTR, sharing the kernel's L4 as XTF does), sets a user GS base, and irets to CS 0xe033. User code
 * reads %gs:0 and executes `syscall`, which must land in the callback in kernel mode with Xen's frame describing
 * the user context.
 * pv32pae: the ring-1 kernel registers int $0x80 with DPL 3 and a ring-1 stack (stack_switch), makes one code
 * page and one stack page user-accessible, and irets to FLAT_RING3_CS. User code loads FLAT_RING3_DS, and its
 * `int $0x80` must arrive in the ring-1 handler on the kernel stack with Xen's outer-ring frame (EIP, CS, EFLAGS,
 * ESP, SS).
 */
#include "rt.h"

/* RT_EVENTS: user mode runs with events unmasked, so any pending upcall must find a callback. */
const struct guest_info guest = { "user", RT_EVENTS };

#ifdef __x86_64__

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
#else

#define FLAT_RING3_CS 0xe02b
#define FLAT_RING3_DS 0xe033
#define USER_MAGIC 0x5a5a1234

/*
 * u32 user32_enter(u32 eip, u32 esp): saves the kernel's callee-saved registers and stack, then irets (hypercall
 * 23) to ring 3. The int $0x80 handler copies Xen's frame to user32_frame, records its own ESP and the user's
 * EAX/EBX, reloads the kernel data selectors and resumes the saved kernel context, returning the user's EAX.
 */
__asm__(
    ".text\n"
    ".globl user32_enter, user32_int80\n"
    "user32_enter:\n"
    "    push %ebx; push %ebp; push %esi; push %edi\n"
    "    mov %esp, user32_kernel_sp\n"
    "    mov 20(%esp), %eax\n"          /* eip */
    "    mov 24(%esp), %ecx\n"          /* esp */
    "    push $" "0xe033" "\n"           /* SS: FLAT_RING3_SS */
    "    push %ecx\n"
    "    push $0x202\n"                 /* EFLAGS: IF */
    "    push $" "0xe02b" "\n"           /* CS: FLAT_RING3_CS */
    "    push %eax\n"
    "    push %eax\n"                   /* the iret hypercall's EAX slot */
    "    mov $23, %eax\n"
    "    int $0x82\n"
    "    ud2\n"
    "user32_int80:\n"
    "    mov %esp, %ss:user32_handler_sp\n"
    "    push %eax\n"
    "    mov $0xe021, %eax\n"           /* FLAT_RING1_DS: the user left its own selectors loaded */
    "    mov %eax, %ds\n"
    "    mov %eax, %es\n"
    "    pop %eax\n"
    "    mov %eax, user32_eax\n"
    "    mov %ebx, user32_ebx\n"
    "    mov 0(%esp), %ecx; mov %ecx, user32_frame+0\n"
    "    mov 4(%esp), %ecx; mov %ecx, user32_frame+4\n"
    "    mov 8(%esp), %ecx; mov %ecx, user32_frame+8\n"
    "    mov 12(%esp), %ecx; mov %ecx, user32_frame+12\n"
    "    mov 16(%esp), %ecx; mov %ecx, user32_frame+16\n"
    "    mov user32_kernel_sp, %esp\n"
    "    pop %edi; pop %esi; pop %ebp; pop %ebx\n"
    "    mov user32_eax, %eax\n"
    "    ret\n"
    /* The user page: the only code ring 3 can fetch. */
    ".section .text.user, \"ax\"\n"
    ".balign 4096\n"
    ".globl user32_code, user32_after_int80\n"
    "user32_code:\n"
    "    mov $0xe033, %ecx\n"
    "    mov %ecx, %ds\n"
    "    mov %ecx, %es\n"
    "    mov %cs, %ebx\n"
    "    mov $0x5a5a1234, %eax\n"
    "    int $0x80\n"
    "user32_after_int80:\n"
    "    ud2\n"
    ".balign 4096\n"
    ".text\n");

extern void user32_code(void), user32_after_int80(void), user32_int80(void);
u32 user32_enter(u32 eip, u32 esp);
volatile u32 user32_kernel_sp, user32_handler_sp, user32_eax, user32_ebx;
/* Xen's ring-3 → ring-1 frame: EIP, CS | saved mask << 16, EFLAGS, ESP, SS. */
volatile u32 user32_frame[5];

static u8 kernel_stack[8192] __attribute__((aligned(4096)));
static u8 user_stack[4096] __attribute__((aligned(4096)));

static long make_user_page(const volatile void *va)
{
    u64 pte = ((u64)rt_virt_to_mfn(va) << 12) | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
    return rt_update_va_mapping(va, pte, UVMF_INVLPG);
}

void guest_main(void)
{
    struct trap_info int80[2] = { { 0x80, 3, FLAT_KERNEL_CS, (ulong)user32_int80 }, { 0, 0, 0, 0 } };
    check_eq(hypercall1(HC_set_trap_table, int80), 0, "set_trap_table(int $0x80, DPL 3, events not masked) returns 0");
    check_eq(hypercall2(HC_stack_switch, FLAT_KERNEL_SS, (ulong)(kernel_stack + sizeof(kernel_stack))), 0, "stack_switch to the ring-1 stack returns 0");
    check_eq(make_user_page((void *)user32_code), 0, "update_va_mapping makes the user code page user-accessible");
    check_eq(make_user_page(user_stack), 0, "update_va_mapping makes the user stack page user-accessible");

    u32 seen = user32_enter((u32)(ulong)user32_code, (u32)(ulong)(user_stack + sizeof(user_stack)));

    check_eq(seen, USER_MAGIC, "ring-3 code reached the int $0x80 handler with its EAX");
    check_eq(user32_ebx, FLAT_RING3_CS, "the user code ran with CS = FLAT_RING3_CS (ring 3)");
    check_eq(user32_frame[0], (u32)(ulong)user32_after_int80, "the frame's EIP is after the user's int $0x80");
    check_eq(user32_frame[1] & 0xffff, FLAT_RING3_CS, "the frame's CS is FLAT_RING3_CS (interrupted in ring 3)");
    check_eq((user32_frame[1] >> 16) & 0xff, 0, "the frame's saved event mask is clear (the iret to ring 3 unmasked events)");
    check((user32_frame[2] & 0x200) != 0, "the frame's EFLAGS has IF set");
    check(user32_frame[3] > (u32)(ulong)user_stack && user32_frame[3] <= (u32)(ulong)(user_stack + sizeof(user_stack)), "the frame's ESP is on the user stack");
    check_eq(user32_frame[4] & 0xffff, FLAT_RING3_DS, "the frame's SS is FLAT_RING3_SS");
    check(user32_handler_sp >= (u32)(ulong)kernel_stack && user32_handler_sp < (u32)(ulong)(kernel_stack + sizeof(kernel_stack)), "the handler ran on the stack_switch stack");
}
#endif
