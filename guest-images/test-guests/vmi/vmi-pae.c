/*
 * VMI paging (PAE): PAE page tables registered with AllocatePage(PAE), entries written with SetPxELong, a
 * directory cloned with AllocatePage(CLONE) for the PAGE_OFFSET gigabyte (as Linux clones the kernel half),
 * a 2 MiB page, then paging on through SetCR4(PAE)/SetCR3/SetCR0 and a fault repaired with UpdatePxELong.
 */
#include "vmi.h"

#define PAGE_OFFSET 0xC0000000u
#define BIG_LINEAR 0x80000000u
#define TEST_LINEAR 0x40000000u

static u64 pdpt[4] __attribute__((aligned(32)));
static u64 low_directory[512] __attribute__((aligned(4096)));
static u64 kernel_directory[512] __attribute__((aligned(4096)));
static u64 big_directory[512] __attribute__((aligned(4096)));
static u64 test_directory[512] __attribute__((aligned(4096)));
static u64 low_table[512] __attribute__((aligned(4096)));
static u64 test_table[512] __attribute__((aligned(4096)));
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
    test_table[0] = (u32)test_page | PTE_P | PTE_RW; /* native write, then the notification */
    vmi_update_pxe(&test_table[0], VMI_PAGE_PT);
}

void guest_main(void)
{
    idt_set_gate(14, page_fault_entry);
    idt_install();

    const u32 l1 = VMI_PAGE_PT | VMI_PAGE_PAE | VMI_PAGE_ZEROED, l2 = VMI_PAGE_PD | VMI_PAGE_PAE | VMI_PAGE_ZEROED;
    vmi_allocate_page(pfn(low_directory), l2, 0, 0, 0);
    vmi_allocate_page(pfn(big_directory), l2, 0, 0, 0);
    vmi_allocate_page(pfn(test_directory), l2, 0, 0, 0);
    vmi_allocate_page(pfn(low_table), l1, 0, 0, 0);
    vmi_allocate_page(pfn(test_table), l1, 0, 0, 0);

    vmi_set_lazy_mode(1);
    for (u32 i = 0; i < 512; i++)
        vmi_set_pxe_long(i << 12 | PTE_P | PTE_RW, &low_table[i], VMI_PAGE_PT);
    vmi_set_pxe_long((u32)low_table | PTE_P | PTE_RW, &low_directory[0], VMI_PAGE_PD);
    vmi_set_pxe_long(0 | PTE_P | PTE_RW | PTE_PS, &big_directory[0], VMI_PAGE_PD); /* 2 MiB page at physical 0 */
    vmi_set_pxe_long((u32)test_table | PTE_P | PTE_RW, &test_directory[0], VMI_PAGE_PD);
    vmi_set_lazy_mode(0);

    /* The kernel gigabyte starts as a clone of the low directory's entries. */
    vmi_allocate_page(pfn(kernel_directory), l2 | VMI_PAGE_CLONE, pfn(low_directory), 0, 512);
    printf("cloned directory entry 0: %s\n", kernel_directory[0] == low_directory[0] ? "same as the source" : "different");

    vmi_set_pxe_long((u32)low_directory | PTE_P, &pdpt[0], VMI_PAGE_PDP);
    vmi_set_pxe_long((u32)test_directory | PTE_P, &pdpt[TEST_LINEAR >> 30], VMI_PAGE_PDP);
    vmi_set_pxe_long((u32)big_directory | PTE_P, &pdpt[BIG_LINEAR >> 30], VMI_PAGE_PDP);
    vmi_set_pxe_long((u32)kernel_directory | PTE_P, &pdpt[PAGE_OFFSET >> 30], VMI_PAGE_PDP);

    vmi_set_cr4(vmi_get_cr4() | CR4_PAE);
    vmi_set_cr3((u32)pdpt);
    vmi_set_cr0(vmi_get_cr0() | CR0_PG | CR0_WP);
    printf("PAE paging on: cr0 0x%x, cr4 0x%x\n", vmi_get_cr0(), vmi_get_cr4());

    *(volatile u32 *)((u32)&marker + PAGE_OFFSET) = 0xfeedface;
    printf("write through the cloned PAGE_OFFSET directory: 0x%x\n", marker);
    const volatile u32 *rom_signature = (const volatile u32 *)(BIG_LINEAR + 0xC8000 + 8);
    printf("ROM signature through the 2 MiB page: %s\n", *rom_signature == 0x696D5663 ? "cVmi" : "missing");

    *(volatile u32 *)TEST_LINEAR = 0xabcd;
    printf("after the fault: test page holds 0x%x\n", test_page[0]);

    vmi_set_pxe_long(0, &test_table[0], VMI_PAGE_PT);
    vmi_flush_tlb(VMI_FLUSH_TLB);
    printf("unmapped with SetPxELong: reading 0x%x\n", *(volatile u32 *)TEST_LINEAR);

    vmi_release_page(pfn(test_table), VMI_PAGE_PT | VMI_PAGE_PAE);
    printf("faults taken: %d\n", faults);
    printf("VMI: shutting down through the ROM\n");
    vmi_shutdown();
}
