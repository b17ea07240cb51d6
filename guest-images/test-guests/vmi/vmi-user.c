/*
 * VMI descriptors and user mode: a Linux-style GDT loaded with SetGDT (kernel selectors reloaded with the ring
 * Init reported), a TLS-like entry added with WriteGDTEntry and used through %fs, UpdateKernelStack, SYSENTER_CS
 * written with a native WRMSR (which the shim completes), then user mode entered once by IRET and once by SYSEXIT;
 * each time the user code comes back through an invalid-opcode exception on the kernel stack.
 */
#include "vmi.h"

#define KERNEL_CS 0x60
#define KERNEL_DS 0x68
#define USER_CS 0x73
#define USER_DS 0x7b
#define TLS_ENTRY 16
#define MSR_SYSENTER_CS 0x174

static u64 gdt[32] __attribute__((aligned(8)));
static u32 tls_word = 0x7105beef;
static u8 kernel_stack[4096] __attribute__((aligned(16)));
static u8 user_stack[4096] __attribute__((aligned(16)));
static int returns_from_user;

extern char user_code_iret[], user_code_sysexit[];
__asm__(".pushsection .text\n"
        "user_code_iret:\n\tmov %fs, %ebx\n\tmov $0x7b, %ax\n\tmov %ax, %ds\n\tmov %ax, %es\n\tmov $0x1234, %eax\n\tud2\n"
        "user_code_sysexit:\n\toutb %al, $0xf4\n\tmov $0x5678, %eax\n\tud2\n"
        ".popsection");

static u64 flat_descriptor(u32 type_dpl) /* base 0, limit 4 GiB, 32-bit, page granular */
{
    return 0x00CF000000000000ull | (u64)type_dpl << 40 | 0xFFFF;
}

static void wrmsr(u32 index, u64 value) { __asm__ volatile("wrmsr" : : "c"(index), "a"((u32)value), "d"((u32)(value >> 32))); }
static u64 rdmsr(u32 index)
{
    u32 low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
    return (u64)high << 32 | low;
}

/* Ring 3 has no I/O permission: its port write (to the power-off port!) must fault into this kernel. */
void general_protection(struct frame *f)
{
    if ((f->cs & 3) != 3)
        panic("general protection fault in the kernel");
    printf("user port write refused with #GP (error 0x%x)\n", f->error);
    f->eip += 2; /* skip the outb */
}

void invalid_opcode(struct frame *f)
{
    const u32 *outer = (const u32 *)(f + 1); /* ESP, SS pushed because the gate raised privilege */
    if ((f->cs & 3) != 3)
        panic("invalid opcode in the kernel");
    u16 cs = read_cs();
    printf("back in the kernel (cs 0x%x) from user cs 0x%x ss 0x%x: eax 0x%x\n", cs, f->cs, outer[1], f->eax);
    if (++returns_from_user == 1) {
        printf("kernel %%fs seen by user code after IRET: 0x%x\n", f->ebx);
        printf("entering user mode with SYSEXIT\n");
        vmi_sysexit(0, (u32)user_code_sysexit, (u32)user_stack + sizeof user_stack);
    }
    printf("VMI: shutting down through the ROM\n");
    vmi_shutdown();
}

void guest_main(void)
{
    u32 rpl = (u32)kernel_rpl;
    gdt[KERNEL_CS >> 3] = flat_descriptor(0x9A);
    gdt[KERNEL_DS >> 3] = flat_descriptor(0x92);
    gdt[USER_CS >> 3] = flat_descriptor(0xFA);
    gdt[USER_DS >> 3] = flat_descriptor(0xF2);
    struct dtr gdtr = {sizeof gdt - 1, (u32)gdt};
    vmi_set_gdt(&gdtr);
    __asm__ volatile("pushl %0\n\tpushl $1f\n\tlretl\n1:\n\t"
                     "mov %1, %%ds\n\tmov %1, %%es\n\tmov %1, %%ss"
                     : : "r"(KERNEL_CS | rpl), "r"(KERNEL_DS | rpl) : "memory");
    printf("own GDT loaded: cs 0x%x\n", read_cs());

    u32 base = (u32)&tls_word;
    vmi_write_gdt_entry(gdt, TLS_ENTRY, (base << 16) | 0xFFFF, (base & 0xFF000000) | 0x00CF9200 | ((base >> 16) & 0xFF));
    u32 through_fs;
    __asm__ volatile("mov %1, %%fs\n\tmovl %%fs:0, %0" : "=r"(through_fs) : "r"(TLS_ENTRY << 3 | rpl));
    printf("WriteGDTEntry: %%fs:0 reads 0x%x\n", through_fs);

    wrmsr(MSR_SYSENTER_CS, KERNEL_CS);
    printf("native wrmsr/rdmsr of SYSENTER_CS: 0x%x\n", (u32)rdmsr(MSR_SYSENTER_CS));

    idt_set_gate(6, invalid_opcode_entry);
    idt_set_gate(13, general_protection_entry);
    idt_install();
    vmi_update_kernel_stack(KERNEL_DS, (u32)kernel_stack + sizeof kernel_stack);
    printf("entering user mode with IRET\n");
    enter_user_iret((u32)user_code_iret, (u32)user_stack + sizeof user_stack);
}
