/*
 * console_ring: all output goes through the PV console ring (start_info console.domU.mfn, found with
 * the M2P) and EVTCHNOP_send; the runtime waits until the back end consumed each write. More than the
 * ring's 2048 bytes are written, so its indexes wrap.
 */
#include "rt.h"

const struct guest_info guest = { "console_ring", RT_RING_CONSOLE };

void guest_main(void)
{
    volatile struct xencons_interface *ring = rt_mfn_to_virt(rt_si->console_mfn);
    u64 pfn = rt_mfn_to_pfn(rt_si->console_mfn);
    check(pfn < rt_si->nr_pages, "M2P maps the console MFN to a guest PFN");
    check_eq(rt_pfn_to_mfn(pfn), rt_si->console_mfn, "P2M and M2P agree for the console frame");
    check_eq(ring->out_cons, ring->out_prod, "the back end has consumed everything written so far");

    u32 start = ring->out_prod;
    for (int i = 0; i < 20; i++)
        rt_printf("ring line %02d: 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\n", i);
    check_ge((long)(ring->out_prod - start), 2048, "more than one ring's worth of output went through");
    check_eq(ring->out_cons, ring->out_prod, "the back end consumed all of it");
}
