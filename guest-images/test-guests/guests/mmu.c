/*
 * mmu: mmu_update, update_va_mapping and mmuext_op, including the rejections Xen applies to a domU
 * (no writable mapping of a page-table page: -EBUSY; no cache-attribute bits: -EINVAL; pinning a
 * writably mapped page: -EINVAL), batch semantics, pin/unpin, and writable page tables (direct PTE
 * writes emulated only after VMASST_TYPE_writable_pagetables).
 */
#include "rt.h"

const struct guest_info guest = { "mmu", RT_TRAPS | RT_SHARED_INFO };

static volatile u64 page_a[512] __attribute__((aligned(PAGE_SIZE)));
static volatile u64 page_b[512] __attribute__((aligned(PAGE_SIZE)));
static volatile u64 page_c[512] __attribute__((aligned(PAGE_SIZE)));

#define MARK_A 0xa0a0a0a0a0a0a0a0UL
#define MARK_B 0xb0b0b0b0b0b0b0b0UL
#define RW_FLAGS (PTE_P | PTE_RW | PTE_A | PTE_D)

static u64 maddr(const volatile void *va) { return (u64)rt_virt_to_mfn(va) << 12; }

static long uvm(const volatile void *va, u64 pte)
{
    return rt_update_va_mapping(va, pte, UVMF_INVLPG);
}

static long mmuext(u32 cmd, ulong arg1)
{
    struct mmuext_op op = { cmd, arg1, 0 };
    unsigned done = 0;
    return hypercall4(HC_mmuext_op, &op, 1, &done, DOMID_SELF);
}

static u64 read_a(void)
{
    return page_a[0];
}

void guest_main(void)
{
    page_a[0] = MARK_A;
    page_b[0] = MARK_B;
    volatile u64 *pte_a;
    u64 pte_a_maddr = rt_pte_maddr(page_a, &pte_a);
    u64 l1_frame = pte_a_maddr & ~0xfffULL;
    check(pte_a_maddr != 0, "the boot page tables map the test page (walked from pt_base with the M2P)");

    struct mmu_update req = { pte_a_maddr | MMU_NORMAL_PT_UPDATE, maddr(page_b) | RW_FLAGS };
    unsigned done = 0;
    check_eq(hypercall4(HC_mmu_update, &req, 1, &done, DOMID_SELF), 0, "mmu_update(normal PT update) returns 0");
    check_eq(done, 1, "mmu_update reports one request done");
    check_eq(mmuext(MMUEXT_INVLPG_LOCAL, (ulong)page_a), 0, "mmuext_op(invlpg_local) returns 0");
    check(read_a() == MARK_B, "after mmu_update the test VA reads the new frame");
    check_eq(uvm(page_a, maddr(page_a) | RW_FLAGS), 0, "update_va_mapping restores the original frame");
    check(read_a() == MARK_A, "after update_va_mapping(UVMF_INVLPG) the test VA reads its own frame again");

    check_eq(uvm(page_a, l1_frame | RW_FLAGS), -XEN_EBUSY, "update_va_mapping: writable mapping of a page-table page is refused with -EBUSY");
    check_eq(uvm(page_a, maddr(page_b) | RW_FLAGS | PTE_PCD), -XEN_EINVAL, "update_va_mapping: cache-attribute bits are refused with -EINVAL");
    check(read_a() == MARK_A, "refused updates leave the mapping unchanged");

    struct mmu_update batch[2] = {
        { pte_a_maddr | MMU_NORMAL_PT_UPDATE, maddr(page_b) | RW_FLAGS },
        { pte_a_maddr | MMU_NORMAL_PT_UPDATE, l1_frame | RW_FLAGS },
    };
    done = 0;
    check_eq(hypercall4(HC_mmu_update, batch, 2, &done, DOMID_SELF), -XEN_EBUSY, "mmu_update batch stops at the bad second request with -EBUSY");
    check_eq(done, 1, "mmu_update batch reports the first request done");
    check_eq(uvm(page_a, maddr(page_a) | RW_FLAGS), 0, "update_va_mapping restores the test page after the batch");

    struct mmu_update bad_cmd = { pte_a_maddr | 7, maddr(page_a) | RW_FLAGS };
    check_eq(hypercall4(HC_mmu_update, &bad_cmd, 1, NULL, DOMID_SELF), -XEN_ENOSYS, "mmu_update with an unknown command returns -ENOSYS");
    check_eq(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0, "mmuext_op(tlb_flush_local) returns 0");
    check_eq(mmuext(0x7fff, 0), -XEN_ENOSYS, "mmuext_op with an unknown command returns -ENOSYS");

    /* Pinning: an all-empty, read-only page becomes an L1 table; while pinned it cannot be mapped writable. */
    for (int i = 0; i < 512; i++)
        page_c[i] = 0;
    ulong mfn_c = rt_virt_to_mfn(page_c);
    check_eq(uvm(page_c, maddr(page_c) | PTE_P | PTE_A), 0, "update_va_mapping makes a page read-only");
    check_eq(mmuext(MMUEXT_PIN_L1_TABLE, mfn_c), 0, "mmuext_op(pin_l1_table) of an empty read-only page returns 0");
    check_eq(uvm(page_a, maddr(page_c) | RW_FLAGS), -XEN_EBUSY, "a pinned L1 table cannot be mapped writable (-EBUSY)");
    check_eq(mmuext(MMUEXT_UNPIN_TABLE, mfn_c), 0, "mmuext_op(unpin_table) returns 0");
    check_eq(mmuext(MMUEXT_UNPIN_TABLE, mfn_c), -XEN_EINVAL, "unpinning a table that is not pinned returns -EINVAL");
    check_eq(uvm(page_c, maddr(page_c) | RW_FLAGS), 0, "the unpinned page can be mapped writable again");
    check_eq(mmuext(MMUEXT_PIN_L1_TABLE, rt_virt_to_mfn(page_b)), -XEN_EINVAL, "pinning a writably mapped page as L1 returns -EINVAL");

    /* Writable page tables: direct writes to an L1 entry fault until the guest enables the assist. */
    u64 original = *pte_a;
    check_eq(probe_write(pte_a, original), 1, "a direct write to a read-only L1 entry faults without writable_pagetables");
    check_eq(rt_last_fault.vector, 14, "that fault is delivered as #PF");
    check(rt_last_fault.cr2 == (ulong)pte_a, "#PF reports the L1 entry's address in vcpu_info cr2");
    check_eq(hypercall2(HC_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables), 0, "vm_assist(enable, writable_pagetables) returns 0");
    check_eq(probe_write(pte_a, maddr(page_b) | RW_FLAGS), 0, "a direct L1 entry write is emulated with writable_pagetables");
    mmuext(MMUEXT_INVLPG_LOCAL, (ulong)page_a);
    check(read_a() == MARK_B, "the emulated write took effect");
    check_eq(probe_write(pte_a, l1_frame | RW_FLAGS), 1, "a direct write mapping a page table writable faults");
    check_eq(rt_last_fault.vector, 14, "that refusal is delivered as #PF");
    check((rt_last_fault.error_code & 3) == 3, "its error code says present and write");
    check_eq(probe_write(pte_a, maddr(page_a) | RW_FLAGS), 0, "a direct write restores the original mapping");
    mmuext(MMUEXT_INVLPG_LOCAL, (ulong)page_a);
    check(read_a() == MARK_A, "the test VA reads its own frame at the end");
}
