/* VMI hello: probe, Init, relocate and patch, then use CPU-state, interrupt-flag and time calls; shut down by ROM. */
#include "vmi.h"

void guest_main(void)
{
    u32 cr0 = vmi_get_cr0();
    printf("cr0 0x%08x (protected mode, paging off)\n", cr0);
    vmi_set_cr4(vmi_get_cr4() | 0x10);
    printf("cr4 after SetCR4(PSE) 0x%x\n", vmi_get_cr4());

    vmi_irq_disable();
    u32 flags = vmi_save_fl();
    vmi_irq_enable();
    printf("interrupt mask: 0x%x while disabled, 0x%x after enable\n", flags, vmi_save_fl());
    vmi_restore_fl(0);
    printf("interrupt mask after SetInterruptMask(0): 0x%x\n", vmi_save_fl());

    vmi_wbinvd();  /* NOP answer: the site became a ret */
    vmi_io_delay();
    u64 t0 = vmi_rdtsc(); /* NONE answer: native rdtsc */
    u64 t1 = vmi_rdtsc();
    printf("native rdtsc advances: %s\n", t1 > t0 ? "yes" : "no");

    u64 hz = vmi_get_cycle_frequency();
    u64 c0 = vmi_get_cycle_counter(VMI_CYCLES_REAL);
    u64 c1 = vmi_get_cycle_counter(VMI_CYCLES_AVAILABLE);
    printf("cycle counter: %u MHz, advances: %s\n", (u32)hz / 1000000u, c1 > c0 ? "yes" : "no");
    u64 wall = vmi_get_wallclock();
    printf("wall clock after 2020: %s\n", wall > 1577836800ull * 1000000000ull ? "yes" : "no");

    vmi_apic_write(0x80, 0x20);
    printf("APIC TPR reads back 0x%x\n", vmi_apic_read(0x80));

    printf("VMI: shutting down through the ROM\n");
    vmi_shutdown();
}
