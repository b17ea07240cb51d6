/*
 * xenstore: one XS_READ of "domid" (relative to /local/domain/<domid>) and one of a missing path over
 * the ring named in start_info, notified with EVTCHNOP_send and waited for with SCHEDOP_poll.
 */
#include "rt.h"

const struct guest_info guest = { "xenstore", RT_SHARED_INFO };

#define MS 1000000ULL

static volatile struct xenstore_domain_interface *ring;

static void ring_put(const void *data, u32 len)
{
    const char *p = data;
    for (u32 i = 0; i < len; i++) {
        u32 prod = ring->req_prod;
        ring->req[prod % sizeof(ring->req)] = p[i];
        barrier();
        ring->req_prod = prod + 1;
    }
}

/* Waits (bounded) until n bytes of response are available; returns 0 on timeout. */
static int ring_wait(u32 n)
{
    u32 port = rt_si->store_evtchn;
    u64 deadline = rt_now_ns() + 2000 * MS;
    while (ring->rsp_prod - ring->rsp_cons < n) {
        if (rt_now_ns() > deadline)
            return 0;
        struct sched_poll p = { .ports = &port, .nr_ports = 1, .timeout = rt_now_ns() + 10 * MS };
        hypercall2(HC_sched_op, SCHEDOP_poll, &p);
        rt_clear_port(port);
    }
    return 1;
}

static void ring_get(void *data, u32 len)
{
    char *p = data;
    for (u32 i = 0; i < len; i++) {
        u32 cons = ring->rsp_cons;
        p[i] = ring->rsp[cons % sizeof(ring->rsp)];
        barrier();
        ring->rsp_cons = cons + 1;
    }
}

/* Sends XS_READ(path) and reads the reply; returns its payload length, or -1 on timeout/oversize. */
static long xs_read(u32 req_id, const char *path, struct xsd_sockmsg *reply, char *payload, u32 cap)
{
    struct xsd_sockmsg msg = { XS_READ, req_id, 0, (u32)strlen(path) + 1 };
    ring_put(&msg, sizeof(msg));
    ring_put(path, msg.len);
    mb();
    rt_evtchn_send(rt_si->store_evtchn);
    if (!ring_wait(sizeof(*reply)))
        return -1;
    ring_get(reply, sizeof(*reply));
    if (reply->len > cap || !ring_wait(reply->len))
        return -1;
    ring_get(payload, reply->len);
    rt_evtchn_send(rt_si->store_evtchn);
    return reply->len;
}

void guest_main(void)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = rt_si->store_evtchn };
    check_eq(hypercall2(HC_event_channel_op, EVTCHNOP_status, &st), 0, "evtchn status of the xenstore port returns 0");
    check_eq(st.status, EVTCHNSTAT_interdomain, "the xenstore port is interdomain");

    ring = rt_mfn_to_virt(rt_si->store_mfn);
    check(rt_mfn_to_pfn(rt_si->store_mfn) < rt_si->nr_pages, "M2P maps the xenstore MFN to a guest PFN");
    rt_mask_port(rt_si->store_evtchn);   /* replies are polled for; no upcall handler here */

    struct xsd_sockmsg reply;
    char payload[64];
    long len = xs_read(7, "domid", &reply, payload, sizeof(payload));
    check(len > 0, "XS_READ domid gets a reply");
    check_eq(reply.type, XS_READ, "the reply type is XS_READ");
    check_eq(reply.req_id, 7, "the reply echoes the request id");
    int digits = len > 0;
    for (long i = 0; i < len; i++)
        if (!((payload[i] >= '0' && payload[i] <= '9') || (i == len - 1 && payload[i] == '\0')))
            digits = 0;
    check(digits, "domid is a decimal number");

    len = xs_read(8, "shim-test/does-not-exist", &reply, payload, sizeof(payload));
    check(len > 0, "XS_READ of a missing path gets a reply");
    check_eq(reply.type, XS_ERROR, "the reply type is XS_ERROR");
    check(len >= 6 && memcmp(payload, "ENOENT", 6) == 0, "the error is ENOENT");
}
