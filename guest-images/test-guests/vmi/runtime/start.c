#include "vmi.h"

/* What every guest does first: console, then the ROM probe; without a usable ROM it runs native and powers off. */
void guest_main(void) __attribute__((noreturn));

void kmain(void)
{
    console_init();
    printf("vmi guest: probing for the VMI ROM\n");
    u32 rom = vmi_probe_rom();
    if (!rom || !vmi_activate(rom)) {
        printf("VMI: no usable ROM; running native\n");
        printf("native: powering off through port 0xf4\n");
        native_poweroff(0);
    }
    guest_main();
}

/* Default handlers; guests that expect an interrupt define their own. */
__attribute__((weak)) void timer_interrupt(struct frame *f) { (void)f; panic("unexpected timer interrupt"); }
__attribute__((weak)) void page_fault(struct frame *f) { printf("unexpected page fault at eip 0x%x\n", f->eip); panic("page fault"); }
__attribute__((weak)) void general_protection(struct frame *f) { printf("general protection fault at eip 0x%x, error 0x%x\n", f->eip, f->error); panic("#GP"); }
__attribute__((weak)) void invalid_opcode(struct frame *f) { printf("invalid opcode at eip 0x%x\n", f->eip); panic("invalid opcode"); }
