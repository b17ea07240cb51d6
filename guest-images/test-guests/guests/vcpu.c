/* vcpu: vcpu_op is_up, runstate area, vcpu_info placement, and the rules for other vCPUs and bad sub-ops. */
#include "rt.h"

const struct guest_info guest = { "vcpu", RT_SHARED_INFO };

static struct vcpu_runstate_info runstate;
static u8 vcpu_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

void guest_main(void)
{
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_is_up, 0, NULL), 1, "vcpu_op(is_up, vcpu 0) returns 1");
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_is_up, 4096, NULL), -XEN_ENOENT, "vcpu_op(is_up) of a vCPU that does not exist returns -ENOENT");

    runstate.state = -1;
    struct vcpu_register_runstate_memory_area area = { &runstate };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_register_runstate_memory_area, 0, &area), 0, "vcpu_op(register_runstate_memory_area) returns 0");
    hypercall2(HC_sched_op, SCHEDOP_yield, 0);
    check_eq(runstate.state, RUNSTATE_running, "the runstate area says running");
    check(runstate.state_entry_time != 0, "the runstate area has a state entry time");

    struct vcpu_runstate_info info;
    memset(&info, 0xff, sizeof(info));
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_get_runstate_info, 0, &info), 0, "vcpu_op(get_runstate_info) returns 0");
    check_eq(info.state, RUNSTATE_running, "get_runstate_info says running");

    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = 1 };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_set_singleshot_timer, 1, &t), -XEN_ENOENT,
             "set_singleshot_timer for a vCPU that does not exist returns -ENOENT");

    u8 old_mask = rt_shared->vcpu_info[0].evtchn_upcall_mask;
    struct vcpu_register_vcpu_info crossing = { rt_virt_to_mfn(vcpu_info_page), PAGE_SIZE - 32, 0 };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_register_vcpu_info, 0, &crossing), -XEN_EINVAL,
             "register_vcpu_info crossing a page boundary returns -EINVAL");
    struct vcpu_register_vcpu_info reg = { rt_virt_to_mfn(vcpu_info_page), 128, 0 };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_register_vcpu_info, 0, &reg), 0, "vcpu_op(register_vcpu_info) returns 0");
    volatile struct vcpu_info *moved = (volatile struct vcpu_info *)(vcpu_info_page + 128);
    check_eq(moved->evtchn_upcall_mask, old_mask, "the moved vcpu_info keeps the event mask");
    hypercall2(HC_sched_op, SCHEDOP_yield, 0);
    check((moved->time.version & 1) == 0 && moved->time.system_time != 0, "the moved vcpu_info carries system time");

    check_eq(hypercall3(HC_vcpu_op, 0x7fff, 0, NULL), -XEN_ENOSYS, "vcpu_op with an unknown command returns -ENOSYS");
}
