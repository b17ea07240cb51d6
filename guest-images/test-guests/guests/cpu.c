/*
 * cpu (pv64): CPU state a PV kernel manages through hypercalls — FS/GS bases with set_segment_base, the
 * virtual CR0.TS with fpu_taskswitch (#NM, cleared by Xen on delivery), stack_switch, vm_assist and
 * callback_op rules, and the Xen CPUID leaves behind the forced-emulation prefix.
 */
#include "rt.h"

const struct guest_info guest = { "cpu", RT_TRAPS };

static volatile u64 fs_target = 0xf5f5f5f5f5f5f5f5ULL;
static volatile u64 gs_target = 0x6565656565656565ULL;

static long set_base(unsigned which, ulong base) { return hypercall2(HC_set_segment_base, which, base); }

void guest_main(void)
{
    check_eq(set_base(SEGBASE_FS, (ulong)&fs_target), 0, "set_segment_base(FS) returns 0");
    check(rt_read_fs0() == fs_target, "%fs:0 reads through the new FS base");
    check_eq(set_base(SEGBASE_GS_KERNEL, (ulong)&gs_target), 0, "set_segment_base(GS_KERNEL) returns 0");
    check(rt_read_gs0() == gs_target, "%gs:0 reads through the new kernel GS base");
    check_eq(set_base(SEGBASE_GS_USER, (ulong)&fs_target), 0, "set_segment_base(GS_USER) returns 0");
    check(rt_read_gs0() == gs_target, "setting the user GS base leaves the kernel's GS alone");
    check_eq(set_base(SEGBASE_FS, 0x8000000000000000UL), -XEN_EINVAL, "a non-canonical FS base returns -EINVAL");
    check_eq(set_base(7, 0), -XEN_EINVAL, "an unknown segment selector for set_segment_base returns -EINVAL");
    set_base(SEGBASE_FS, 0);
    set_base(SEGBASE_GS_KERNEL, 0);

    check_eq(probe_fnop(), 0, "an x87 instruction runs while the virtual CR0.TS is clear");
    check_eq(hypercall1(HC_fpu_taskswitch, 1), 0, "fpu_taskswitch(1) returns 0");
    check_eq(probe_fnop(), 1, "with the virtual CR0.TS set an x87 instruction faults");
    check_eq(rt_last_fault.vector, 7, "the fault is #NM");
    check_eq(probe_fnop(), 0, "Xen cleared the virtual CR0.TS when it delivered #NM");
    check_eq(hypercall1(HC_fpu_taskswitch, 1), 0, "fpu_taskswitch(1) returns 0 again");
    check_eq(hypercall1(HC_fpu_taskswitch, 0), 0, "fpu_taskswitch(0) returns 0");
    check_eq(probe_fnop(), 0, "fpu_taskswitch(0) cleared the virtual CR0.TS: no #NM");

    u64 here;
    check_eq(hypercall2(HC_stack_switch, FLAT_KERNEL_SS, (ulong)&here), 0, "stack_switch(FLAT_KERNEL_SS, sp) returns 0");

    check_eq(hypercall2(HC_vm_assist, VMASST_CMD_enable, 31), -XEN_EINVAL, "vm_assist of an unknown type returns -EINVAL");
    struct callback_register event = { .type = CALLBACKTYPE_event };
    check_eq(hypercall2(HC_callback_op, CALLBACKOP_unregister, &event), -XEN_EINVAL, "callback_op(unregister) of the event callback returns -EINVAL");

    u32 regs[4];
    rt_xen_cpuid(0x40000000, regs);
    check(regs[1] == 0x566e6558 && regs[2] == 0x65584d4d && regs[3] == 0x4d4d566e, "CPUID 0x40000000 (forced emulation) says XenVMMXenVMM");
    check(regs[0] >= 0x40000002 && regs[0] < 0x40000100, "CPUID 0x40000000 EAX names the last Xen leaf");
    rt_xen_cpuid(0x40000001, regs);
    check_ge(regs[0] >> 16, 3, "CPUID 0x40000001 gives Xen major version 3 or later");
    rt_xen_cpuid(0x40000002, regs);
    check_eq(regs[0], 1, "CPUID 0x40000002 says one hypercall page");
}
