/*
 * hostile: hypercall arguments a hostile or buggy guest passes — unmapped and hypervisor-owned pointers,
 * impossible counts, bad ports and unknown numbers — must get Xen's error codes, never crash the VMM.
 */
#include "rt.h"

const struct guest_info guest = { "hostile", RT_SHARED_INFO };

#define UNMAPPED ((void *)0x1000)
#define XEN_OWNED ((void *)HYPERVISOR_VIRT_START)

void guest_main(void)
{
    check_eq(hypercall3(HC_console_io, CONSOLEIO_write, 16, UNMAPPED), -XEN_EFAULT, "console_io(write) from an unmapped buffer returns -EFAULT");
    check_eq(hypercall3(HC_console_io, CONSOLEIO_write, 0xffffffffUL, UNMAPPED), -XEN_EFAULT, "console_io(write) of 4 GiB from an unmapped buffer returns -EFAULT");
    check_eq(hypercall3(HC_console_io, 0x7fff, 0, NULL), -XEN_ENOSYS, "console_io with an unknown command returns -ENOSYS");

    check_eq(hypercall2(HC_xen_version, XENVER_extraversion, UNMAPPED), -XEN_EFAULT, "xen_version(extraversion) into an unmapped buffer returns -EFAULT");
    check_eq(hypercall2(HC_xen_version, XENVER_get_features, XEN_OWNED), -XEN_EFAULT, "xen_version(get_features) into the hypervisor's range returns -EFAULT");
    check_eq(hypercall2(HC_memory_op, XENMEM_machphys_mapping, UNMAPPED), -XEN_EFAULT, "memory_op(machphys_mapping) into an unmapped buffer returns -EFAULT");
    check_eq(hypercall2(HC_memory_op, XENMEM_maximum_reservation, UNMAPPED), -XEN_EFAULT, "memory_op(maximum_reservation) with an unmapped domid returns -EFAULT");

    check_eq(hypercall4(HC_mmu_update, UNMAPPED, 1, NULL, DOMID_SELF), -XEN_EFAULT, "mmu_update with an unmapped request list returns -EFAULT");
    check_eq(hypercall4(HC_mmu_update, UNMAPPED, 0, NULL, DOMID_SELF), 0, "mmu_update with zero requests returns 0");
    check_eq(hypercall4(HC_mmuext_op, XEN_OWNED, 1, NULL, DOMID_SELF), -XEN_EFAULT, "mmuext_op with a request list in the hypervisor's range returns -EFAULT");
#ifdef __x86_64__   /* pv32: what Xen answers depends on how it maps its compat M2P */
    check_eq(rt_update_va_mapping(XEN_OWNED, 0, UVMF_INVLPG), -XEN_EINVAL, "update_va_mapping of a hypervisor address returns -EINVAL");
#endif
    check_eq(hypercall2(HC_multicall, UNMAPPED, 1), -XEN_EFAULT, "multicall with an unmapped entry list returns -EFAULT");
    check_eq(hypercall1(HC_set_trap_table, UNMAPPED), -XEN_EFAULT, "set_trap_table from an unmapped table returns -EFAULT");

    check_eq(hypercall2(HC_event_channel_op, EVTCHNOP_send, UNMAPPED), -XEN_EFAULT, "event_channel_op(send) with an unmapped argument returns -EFAULT");
    check_eq(rt_evtchn_send(4095), -XEN_EINVAL, "send on an unbound high port returns -EINVAL");
    check_eq(hypercall2(HC_event_channel_op, 0x7fff, UNMAPPED), -XEN_ENOSYS, "event_channel_op with an unknown command returns -ENOSYS");
    check_eq(hypercall3(HC_grant_table_op, GNTTABOP_query_size, XEN_OWNED, 1), -XEN_EFAULT, "grant_table_op(query_size) in the hypervisor's range returns -EFAULT");
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_register_runstate_memory_area, 0, UNMAPPED), -XEN_EFAULT, "vcpu_op(register_runstate_memory_area) with an unmapped argument returns -EFAULT");
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_set_singleshot_timer, 0, UNMAPPED), -XEN_EFAULT, "vcpu_op(set_singleshot_timer) with an unmapped argument returns -EFAULT");
    check_eq(hypercall2(HC_sched_op, SCHEDOP_shutdown, UNMAPPED), -XEN_EFAULT, "sched_op(shutdown) with an unmapped reason returns -EFAULT and the guest runs on");
    check_eq(hypercall2(HC_callback_op, CALLBACKOP_register, UNMAPPED), -XEN_EFAULT, "callback_op(register) with an unmapped argument returns -EFAULT");

    check_eq(hypercall0(11), -XEN_ENOSYS, "the unused hypercall number 11 returns -ENOSYS");
    check_eq(hypercall0(60), -XEN_ENOSYS, "hypercall number 60 returns -ENOSYS");
    check_ge(hypercall2(HC_xen_version, XENVER_version, 0) >> 16, 3, "the guest is still healthy afterwards");
}
