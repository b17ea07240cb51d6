/*
 * VMI paging (2-level): register page tables with AllocatePage, fill them with SetPxE in lazy-MMU mode, load
 * them with SetCR3/SetCR0, use a PAGE_OFFSET alias like Linux's direct map, then take page faults through the
 * guest IDT and repair them with SetPxE, and with a native write + UpdatePxE + InvalPage.
 */
#include "vmi.h"

#define PAGE_OFFSET 0xC0000000u
#define TEST_LINEAR 0x40000000u

static u32 page_directory[1024] __attribute__((aligned(4096)));
static u32 low_table[1024] __attribute__((aligned(4096)));   /* 0-4 MiB, also mapped at PAGE_OFFSET */
static u32 test_table[1024] __attribute__((aligned(4096)));  /* TEST_LINEAR's 4 MiB */
static u32 test_page[1024] __attribute__((aligned(4096)));
static volatile u32 marker;
static volatile int faults;

static u32 pfn(const void *p) { return (u32)p >> 12; }

void page_fault(struct frame *f)
{
    u32 cr2 = vmi_get_cr2();
    faults++;
    printf("page fault %d at 0x%x, error 0x%x\n", faults, cr2, f->error);
    if (cr2 != TEST_LINEAR)
        panic("unexpected fault address");
    vmi_set_pxe((u32)test_page | PTE_P | PTE_RW, &test_table[0], VMI_PAGE_PT);
}

void guest_main(void)
{
    idt_set_gate(14, page_fault_entry);
    idt_install();

    vmi_allocate_page(pfn(page_directory), VMI_PAGE_PD | VMI_PAGE_ZEROED, 0, 0, 0);
    vmi_allocate_page(pfn(low_table), VMI_PAGE_PT | VMI_PAGE_ZEROED, 0, 0, 0);
    vmi_allocate_page(pfn(test_table), VMI_PAGE_PT | VMI_PAGE_ZEROED, 0, 0, 0);
    vmi_set_lazy_mode(1);
    for (u32 i = 0; i < 1024; i++)
        vmi_set_pxe(i << 12 | PTE_P | PTE_RW, &low_table[i], VMI_PAGE_PT);
    vmi_set_pxe((u32)low_table | PTE_P | PTE_RW, &page_directory[0], VMI_PAGE_PD);
    vmi_set_pxe((u32)low_table | PTE_P | PTE_RW, &page_directory[PAGE_OFFSET >> 22], VMI_PAGE_PD);
    vmi_set_pxe((u32)test_table | PTE_P | PTE_RW, &page_directory[TEST_LINEAR >> 22], VMI_PAGE_PD);
    vmi_set_lazy_mode(0);
    printf("page tables: directory at 0x%x, 1024 entries set in lazy-MMU mode\n", (u32)page_directory);

    vmi_set_cr3((u32)page_directory);
    vmi_set_cr0(vmi_get_cr0() | CR0_PG | CR0_WP);
    printf("paging on: cr0 0x%x, cr3 0x%x\n", vmi_get_cr0(), vmi_get_cr3());

    *(volatile u32 *)((u32)&marker + PAGE_OFFSET) = 0x600dcafe;
    printf("write through PAGE_OFFSET alias seen at identity address: 0x%x\n", marker);
    const volatile u32 *rom_signature = (const volatile u32 *)(PAGE_OFFSET + 0xC8000 + 8);
    printf("ROM signature through the direct map: %s\n", *rom_signature == 0x696D5663 ? "cVmi" : "missing");

    *(volatile u32 *)TEST_LINEAR = 0x1234;
    printf("after the fault: test page holds 0x%x\n", test_page[0]);

    test_table[0] = 0; /* native write, then the notification Linux's pte_update sends */
    vmi_update_pxe(&test_table[0], VMI_PAGE_PT);
    vmi_inval_page(TEST_LINEAR);
    printf("unmapped again: reading 0x%x\n", *(volatile u32 *)TEST_LINEAR);

    vmi_flush_tlb(VMI_FLUSH_TLB);
    vmi_release_page(pfn(test_table), VMI_PAGE_PT);
    printf("faults taken: %d\n", faults);
    printf("VMI: shutting down through the ROM\n");
    vmi_shutdown();
}
