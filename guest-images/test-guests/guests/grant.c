/* grant: grant_table_op query_size, set_version(1), get_version, setup_table, mapping the frame, and errors. */
#include "rt.h"

const struct guest_info guest = { "grant", 0 };

static u8 grant_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static long gnttab(int cmd, void *arg, u32 count) { return hypercall3(HC_grant_table_op, cmd, arg, count); }

void guest_main(void)
{
    struct gnttab_query_size q = { DOMID_SELF, 0, 0, 0, 0, 0 };
    check_eq(gnttab(GNTTABOP_query_size, &q, 1), 0, "grant_table_op(query_size) returns 0");
    check_eq(q.status, GNTST_okay, "query_size status is GNTST_okay");
    check(q.nr_frames >= 1 && q.max_nr_frames >= q.nr_frames, "query_size: 1 <= nr_frames <= max_nr_frames");

    struct gnttab_set_version v1 = { 1 };
    check_eq(gnttab(GNTTABOP_set_version, &v1, 1), 0, "grant_table_op(set_version 1) returns 0");
    check_eq(v1.version, 1, "set_version reports version 1");
    struct gnttab_get_version gv = { DOMID_SELF, 0, 0 };
    check_eq(gnttab(GNTTABOP_get_version, &gv, 1), 0, "grant_table_op(get_version) returns 0");
    check_eq(gv.version, 1, "get_version says 1");
    struct gnttab_set_version v3 = { 3 };
    check_eq(gnttab(GNTTABOP_set_version, &v3, 1), -XEN_EINVAL, "set_version 3 returns -EINVAL");

    xen_pfn_t frame = 0;
    struct gnttab_setup_table setup = { .dom = DOMID_SELF, .nr_frames = 1, .frame_list = &frame };
    check_eq(gnttab(GNTTABOP_setup_table, &setup, 1), 0, "grant_table_op(setup_table, 1 frame) returns 0");
    check_eq(setup.status, GNTST_okay, "setup_table status is GNTST_okay");
    check(frame != 0, "setup_table returns a frame");

    u64 pte = ((u64)frame << 12) | PTE_P | PTE_RW | PTE_A | PTE_D;
    check_eq(rt_update_va_mapping(grant_page, pte, UVMF_INVLPG), 0, "the grant frame can be mapped writable");
    volatile struct grant_entry_v1 *entries = (volatile struct grant_entry_v1 *)grant_page;
    entries[8].domid = 0;
    entries[8].frame = 0x12345;
    barrier();
    check_eq(entries[8].frame, 0x12345, "a grant entry written through the mapping reads back");

    xen_pfn_t frames[1];
    struct gnttab_setup_table too_many = { .dom = DOMID_SELF, .nr_frames = q.max_nr_frames + 1, .frame_list = frames };
    check_eq(gnttab(GNTTABOP_setup_table, &too_many, 1), 0, "setup_table beyond max_nr_frames returns 0 ...");
    check_eq(too_many.status, GNTST_general_error, "... with status GNTST_general_error");

    check_eq(gnttab(GNTTABOP_query_size, (void *)0x1000, 1), -XEN_EFAULT, "query_size with an unmapped argument returns -EFAULT");
    check_eq(gnttab(0x7fff, &q, 1), -XEN_ENOSYS, "grant_table_op with an unknown command returns -ENOSYS");
}
