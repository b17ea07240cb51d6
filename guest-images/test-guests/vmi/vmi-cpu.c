/*
 * VMI CPU-state calls not covered elsewhere: descriptor-table reads (GetGDT/GetIDT), LDT and task register,
 * WriteLDTEntry, CR2, debug registers, CLTS, SetIOPLMask (seen in the EFLAGS of an exception frame),
 * SetLinearMapping, WallclockUpdated; the run ends with the ROM's Reboot.
 */
#include "vmi.h"

#define PAGE_OFFSET 0xC0000000u

static u64 gdt[16] __attribute__((aligned(8)));
static u64 ldt[4] __attribute__((aligned(8)));
static volatile u32 frame_eflags;

void invalid_opcode(struct frame *f)
{
    frame_eflags = f->eflags;
    f->eip += 2;
}

void guest_main(void)
{
    struct dtr gdtr = {sizeof gdt - 1, (u32)gdt}, back;
    gdt[2] = 0x00CF9A000000FFFFull; /* the boot selectors stay valid */
    gdt[3] = 0x00CF92000000FFFFull;
    vmi_set_gdt(&gdtr);
    vmi_get_gdt(&back);
    printf("GetGDT: base matches %s, limit 0x%x\n", back.base == (u32)gdt ? "yes" : "no", back.limit);

    idt_set_gate(6, invalid_opcode_entry);
    idt_install();
    vmi_get_idt(&back);
    printf("GetIDT: limit 0x%x\n", back.limit);

    vmi_write_ldt_entry(ldt, 1, 0x0000FFFF, 0x00CFF200);
    printf("WriteLDTEntry stored: %s\n", ldt[1] == 0x00CFF2000000FFFFull ? "yes" : "no");
    vmi_set_ldt(0x40);
    vmi_set_tr(0x38);
    printf("LDT selector 0x%x, task register 0x%x\n", vmi_get_ldt(), vmi_get_tr());

    vmi_set_cr2(0xdeadb000);
    printf("CR2 0x%x\n", vmi_get_cr2());
    vmi_set_dr(7, 0x401);
    vmi_set_dr(0, 0x12340);
    printf("DR0 0x%x, DR7 0x%x\n", vmi_get_dr(0), vmi_get_dr(7));

    vmi_set_cr0(vmi_get_cr0() | 0x8);
    u32 with_ts = vmi_get_cr0();
    vmi_clts();
    printf("CR0.TS set 0x%x, after CLTS 0x%x\n", with_ts & 0x8, vmi_get_cr0() & 0x8);

    vmi_set_iopl_mask(0x3000);
    __asm__ volatile("ud2");
    printf("IOPL in the exception frame: %u\n", (frame_eflags >> 12) & 3);

    vmi_set_linear_mapping(0, PAGE_OFFSET, 0x8000, 0);
    printf("wall clock updated since boot: %u\n", vmi_wallclock_updated());

    printf("VMI: rebooting through the ROM\n");
    vmi_reboot(1);
}
