/* memory: memory_op queries a PV guest makes at boot, and the P2M/M2P relationship. */
#include "rt.h"

const struct guest_info guest = { "memory", 0 };

void guest_main(void)
{
    u16 self = DOMID_SELF;
    long max = hypercall2(HC_memory_op, XENMEM_maximum_reservation, &self);
    check_ge(max, (long)rt_si->nr_pages, "memory_op(maximum_reservation) is at least start_info nr_pages");
    long current = hypercall2(HC_memory_op, XENMEM_current_reservation, &self);
    check_eq(current, (long)rt_si->nr_pages, "memory_op(current_reservation) equals start_info nr_pages");

    struct xen_machphys_mapping mapping = { 0, 0, 0 };
    check_eq(hypercall2(HC_memory_op, XENMEM_machphys_mapping, &mapping), 0, "memory_op(machphys_mapping) returns 0");
    /* Xen reports MACH2PHYS_VIRT_START; Shim may report another read-only view inside the hypervisor area
       (on KVM-PVM pv64 it does: slot 256 is not natively walkable). Either way it must be the same table. */
    check(mapping.v_start >= HYPERVISOR_VIRT_START && mapping.v_start < mapping.v_end && mapping.v_end <= HYPERVISOR_VIRT_END,
          "machphys_mapping lies inside the hypervisor area");
    int views_agree = 1;
    for (ulong pfn = 0; pfn < rt_si->nr_pages; pfn += 97) {
        ulong mfn = rt_pfn_to_mfn(pfn);
        if (((const volatile ulong *)mapping.v_start)[mfn] != rt_mfn_to_pfn(mfn))
            views_agree = 0;
    }
    check(views_agree, "the M2P at machphys_mapping v_start agrees with MACH2PHYS_VIRT_START");

    ulong highest = 0;
    int m2p_ok = 1;
    for (ulong pfn = 0; pfn < rt_si->nr_pages; pfn++) {
        ulong mfn = rt_pfn_to_mfn(pfn);
        if (mfn > highest)
            highest = mfn;
        if (rt_mfn_to_pfn(mfn) != pfn)
            m2p_ok = 0;
    }
    check(m2p_ok, "M2P[P2M[pfn]] == pfn for every guest page");
    check(mapping.max_mfn >= highest, "machphys_mapping max_mfn covers every guest frame");
    long max_ram = hypercall2(HC_memory_op, XENMEM_maximum_ram_page, 0);
    check(max_ram >= (long)highest, "memory_op(maximum_ram_page) covers every guest frame");

    static struct e820_entry map[16];
    struct xen_memory_map memmap = { ARRAY_SIZE(map), map };
    long rc = hypercall2(HC_memory_op, XENMEM_memory_map, &memmap);
    int map_ok = 0;
    if (rc == -XEN_ENOSYS) {
        map_ok = 1;   /* a domU without a toolstack-set map: Linux falls back to nr_pages of RAM */
    } else if (rc == 0 && memmap.nr_entries >= 1 && memmap.nr_entries <= ARRAY_SIZE(map)) {
        u64 ram = 0;
        for (u32 i = 0; i < memmap.nr_entries; i++)
            if (map[i].type == E820_RAM)
                ram += map[i].size;
        map_ok = ram >= (u64)rt_si->nr_pages * PAGE_SIZE;
    }
    check(map_ok, "memory_op(memory_map) is -ENOSYS or a map whose RAM covers nr_pages");

    check_eq(hypercall2(HC_memory_op, 0x7fff, 0), -XEN_ENOSYS, "memory_op with an unknown command returns -ENOSYS");
}
