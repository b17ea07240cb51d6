/*
 * events: event channels with the 2-level ABI — alloc_unbound, bind_virq, bind_ipi, send, status,
 * unmask, close — upcall delivery (also on unmask), and VIRQ_TIMER ticks from the singleshot and
 * periodic VCPUOP timers and from set_timer_op.
 */
#include "rt.h"

const struct guest_info guest = { "events", RT_EVENTS };

#define MS 1000000ULL

static long evtchn(int cmd, void *arg) { return hypercall2(HC_event_channel_op, cmd, arg); }

static long status_of(u32 port, struct evtchn_status *st)
{
    memset(st, 0, sizeof(*st));
    st->dom = DOMID_SELF;
    st->port = port;
    return evtchn(EVTCHNOP_status, st);
}

static long singleshot_in(u64 ns)
{
    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = rt_now_ns() + ns };
    return hypercall3(HC_vcpu_op, VCPUOP_set_singleshot_timer, 0, &t);
}

void guest_main(void)
{
    struct evtchn_status st;

    /* The 10 ms periodic timer every PV vCPU starts with would make tick counts depend on timing. */
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_stop_periodic_timer, 0, NULL), 0, "vcpu_op(stop_periodic_timer) returns 0");

    struct evtchn_alloc_unbound unbound = { DOMID_SELF, 0, 0 };
    check_eq(evtchn(EVTCHNOP_alloc_unbound, &unbound), 0, "evtchn alloc_unbound returns 0");
    check(unbound.port != 0, "alloc_unbound gives a non-zero port");
    check_eq(status_of(unbound.port, &st), 0, "evtchn status of the unbound port returns 0");
    check_eq(st.status, EVTCHNSTAT_unbound, "status says unbound");
    check_eq(st.u.unbound.dom, 0, "status names the remote domain given to alloc_unbound");
    check_eq(rt_evtchn_send(unbound.port), 0, "send on an unbound port is silently dropped (returns 0)");

    struct evtchn_bind_virq timer = { VIRQ_TIMER, 0, 0 };
    check_eq(evtchn(EVTCHNOP_bind_virq, &timer), 0, "evtchn bind_virq(VIRQ_TIMER) returns 0");
    check(timer.port != 0 && timer.port < 256 && timer.port != unbound.port, "VIRQ_TIMER gets its own port");
    check_eq(status_of(timer.port, &st), 0, "evtchn status of the VIRQ port returns 0");
    check_eq(st.status, EVTCHNSTAT_virq, "status says virq");
    check_eq(st.u.virq, VIRQ_TIMER, "status names VIRQ_TIMER");
    struct evtchn_bind_virq again = { VIRQ_TIMER, 0, 0 };
    check_eq(evtchn(EVTCHNOP_bind_virq, &again), -XEN_EEXIST, "binding VIRQ_TIMER twice returns -EEXIST");
    struct evtchn_bind_virq bad_virq = { NR_VIRQS, 0, 0 };
    check_eq(evtchn(EVTCHNOP_bind_virq, &bad_virq), -XEN_EINVAL, "bind_virq of a VIRQ number past the last returns -EINVAL");

    struct evtchn_bind_ipi ipi = { 0, 0 };
    check_eq(evtchn(EVTCHNOP_bind_ipi, &ipi), 0, "evtchn bind_ipi(vcpu 0) returns 0");
    check(ipi.port != 0 && ipi.port < 256, "the IPI port is usable");
    check_eq(status_of(ipi.port, &st), 0, "evtchn status of the IPI port returns 0");
    check_eq(st.status, EVTCHNSTAT_ipi, "status says ipi");

    /* Upcalls: delivered as soon as events are enabled, including on EVTCHNOP_unmask of a pending port. */
    rt_events_enable();
    u32 before = rt_port_count[ipi.port];
    check_eq(rt_evtchn_send(ipi.port), 0, "send on the IPI port returns 0");
    check_eq(rt_port_count[ipi.port], before + 1, "the upcall handler saw the IPI port before send returned");
    rt_mask_port(ipi.port);
    check_eq(rt_evtchn_send(ipi.port), 0, "send on the masked IPI port returns 0");
    check(rt_port_pending(ipi.port), "the masked port is pending in shared_info");
    check_eq(rt_port_count[ipi.port], before + 1, "no upcall for a masked port");
    check_eq(rt_evtchn_unmask(ipi.port), 0, "evtchn unmask returns 0");
    check_eq(rt_port_count[ipi.port], before + 2, "unmasking a pending port delivers the upcall");

    /* Timer ticks. */
    volatile u32 *ticks = &rt_port_count[timer.port];
    check_eq(singleshot_in(MS), 0, "vcpu_op(set_singleshot_timer, now + 1 ms) returns 0");
    check_ge(rt_block_until(ticks, 1, 1000 * MS), 1, "SCHEDOP_block wakes up for the singleshot VIRQ_TIMER");
    u32 base = *ticks;
    for (int i = 0; i < 5; i++) {
        singleshot_in(MS);
        rt_block_until(ticks, base + i + 1, 1000 * MS);
    }
    check_eq(*ticks, base + 5, "five re-armed singleshot timers give exactly five ticks");

    struct vcpu_set_periodic_timer periodic = { .period_ns = 2 * MS };
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_set_periodic_timer, 0, &periodic), 0, "vcpu_op(set_periodic_timer, 2 ms) returns 0");
    base = *ticks;
    check_ge(rt_block_until(ticks, base + 3, 1000 * MS), base + 3, "the periodic timer ticks at least three times");
    check_eq(hypercall3(HC_vcpu_op, VCPUOP_stop_periodic_timer, 0, NULL), 0, "vcpu_op(stop_periodic_timer) stops it again");

    base = *ticks;
    check_eq(rt_set_timer_op(rt_now_ns() + MS), 0, "set_timer_op(now + 1 ms) returns 0");
    check_ge(rt_block_until(ticks, base + 1, 1000 * MS), base + 1, "set_timer_op raises VIRQ_TIMER");

    /* Close. */
    struct evtchn_port_op close = { ipi.port };
    check_eq(evtchn(EVTCHNOP_close, &close), 0, "evtchn close of the IPI port returns 0");
    check_eq(status_of(ipi.port, &st), 0, "status of the closed port returns 0");
    check_eq(st.status, EVTCHNSTAT_closed, "status says closed");
    check_eq(evtchn(EVTCHNOP_close, &close), -XEN_EINVAL, "closing it again returns -EINVAL");
    check_eq(rt_evtchn_send(ipi.port), -XEN_EINVAL, "send on a closed port returns -EINVAL");
    check_eq(rt_evtchn_send(100000), -XEN_EINVAL, "send on a port past the table returns -EINVAL");
    check_eq(status_of(100000, &st), -XEN_EINVAL, "status of a port past the table returns -EINVAL");
    check_eq(rt_evtchn_unmask(100000), -XEN_EINVAL, "unmask of a port past the table returns -EINVAL");
    check_eq(evtchn(0x7fff, &close), -XEN_ENOSYS, "event_channel_op with an unknown command returns -ENOSYS");
    rt_events_disable();
}
