/* sched: SCHEDOP_yield, SCHEDOP_block until a timer event, SCHEDOP_poll (pending port, timeout, bad arguments). */
#include "rt.h"

const struct guest_info guest = { "sched", RT_EVENTS };

#define MS 1000000ULL

static long poll(u32 *ports, u32 n, u64 timeout)
{
    struct sched_poll p = { .ports = ports, .nr_ports = n, .timeout = timeout };
    return hypercall2(HC_sched_op, SCHEDOP_poll, &p);
}

void guest_main(void)
{
    check_eq(hypercall2(HC_sched_op, SCHEDOP_yield, 0), 0, "sched_op(yield) returns 0");
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_stop_periodic_timer, 0, NULL), 0, "vcpu_op(stop_periodic_timer) returns 0");

    struct evtchn_bind_virq timer = { VIRQ_TIMER, 0, 0 };
    check_eq(hypercall2(HC_event_channel_op, EVTCHNOP_bind_virq, &timer), 0, "bind_virq(VIRQ_TIMER) returns 0");
    volatile u32 *ticks = &rt_port_count[timer.port];

    u64 start = rt_now_ns();
    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = start + 5 * MS };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_set_singleshot_timer, 0, &t), 0, "singleshot timer armed 5 ms ahead");
    rt_events_disable();
    check_eq(hypercall2(HC_sched_op, SCHEDOP_block, 0), 0, "sched_op(block) returns 0");
    /* Returning from block with events unmasked delivers pending upcalls before this line runs; an unrelated
     * event (console, xenstore) may end the block early, so keep blocking until the tick or a deadline. */
    rt_block_until(ticks, 1, 1000 * MS);
    check_eq(*ticks, 1, "the singleshot timer event arrived exactly once");
    /* Xen may fire a timer up to its slop (50 us by default) early, hence 4 of the 5 ms. */
    check_ge((s64)(rt_now_ns() - start), (s64)(4 * MS), "block slept until (about) the timer's deadline");
    check_eq(rt_shared->vcpu_info[0].evtchn_upcall_mask, 0, "block left events enabled");

    struct evtchn_bind_ipi ipi = { 0, 0 };
    hypercall2(HC_event_channel_op, EVTCHNOP_bind_ipi, &ipi);
    u32 port = ipi.port;
    rt_mask_port(port);
    rt_events_disable();
    rt_evtchn_send(port);
    check_eq(poll(&port, 1, 0), 0, "poll on a pending port returns 0 at once");
    rt_clear_port(port);

    start = rt_now_ns();
    check_eq(poll(&port, 1, start + 3 * MS), 0, "poll on an idle port with a timeout returns 0");
    check_ge((s64)(rt_now_ns() - start), (s64)(2 * MS), "poll waited for (about) its timeout");

    static u32 many[129];
    check_eq(poll(many, 129, 0), -XEN_EINVAL, "poll with more than 128 ports returns -EINVAL");
    u32 bad_port = 100000;
    check_eq(poll(&bad_port, 1, 0), -XEN_EINVAL, "poll on a port past the table returns -EINVAL");
    check_eq(poll((u32 *)0x1000, 1, 0), -XEN_EFAULT, "poll with an unmapped port list returns -EFAULT");
    rt_events_enable();

    check_eq(hypercall2(HC_sched_op, 0x7fff, 0), -XEN_ENOSYS, "sched_op with an unknown command returns -ENOSYS");
}
