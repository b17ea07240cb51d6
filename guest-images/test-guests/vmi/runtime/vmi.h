/* VMI test-guest runtime: console, the ROM probe and activation a Linux VMI kernel performs, and the VMI calls. */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define VMI_CALLS 74
#define VMI_CALL_IRET 33

/* Relocation types (GetRelocationInfo, DL). */
#define VMI_RELOCATION_NONE 0
#define VMI_RELOCATION_CALL_REL 1
#define VMI_RELOCATION_JUMP_REL 2
#define VMI_RELOCATION_NOP 3

/* Page levels and flags (API 3.0). */
#define VMI_PAGE_PT 0x01
#define VMI_PAGE_PD 0x02
#define VMI_PAGE_PDP 0x04
#define VMI_PAGE_PAE 0x10
#define VMI_PAGE_CLONE 0x20
#define VMI_PAGE_ZEROED 0x40
#define VMI_PAGE_DEFER 0x20
#define VMI_FLUSH_TLB 0x01

/* Time. */
#define VMI_CYCLES_REAL 0
#define VMI_CYCLES_AVAILABLE 1
#define VMI_ALARM_PERIODIC 0x100
#define VMI_ALARM_WIRED_LVTT 0x10000
#define APIC_LVTT 0x320
#define TIMER_VECTOR 0xEF

#define PTE_P 0x001
#define PTE_RW 0x002
#define PTE_PS 0x080
#define CR0_PG 0x80000000u
#define CR0_WP 0x00010000u
#define CR4_PAE 0x20u

/* Interrupt entry frame: pushal, error code (0 when the vector has none), then what the VMM pushed. */
struct frame {
    u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
    u32 error, eip, cs, eflags;
};

struct dtr {
    u16 limit;
    u32 base;
} __attribute__((packed));

/* Console and machine. */
void console_init(void);
void printf(const char *format, ...);
void native_poweroff(u32 status) __attribute__((noreturn));
void panic(const char *what) __attribute__((noreturn));
static inline void outb(u16 port, u8 value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(u16 port, u32 value) { __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port)); }
static inline u16 read_cs(void) { u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs)); return cs; }

/* Probe and activation, as Linux's vmi_init/activate_vmi. Return 0 (and say why) when the guest must run native. */
u32 vmi_probe_rom(void);
int vmi_activate(u32 rom);
extern int kernel_rpl;

/* Interrupt descriptor table helpers (through WriteIDTEntry/SetIDT). */
void idt_install(void);
void idt_set_gate(int vector, void (*entry)(void));

/* The VMI calls (regparm(3): EAX, EDX, ECX, then the stack), reached through patched sites in head.S. */
void vmi_set_gdt(const struct dtr *gdtr);
void vmi_set_idt(const struct dtr *idtr);
void vmi_write_gdt_entry(void *table, u32 index, u32 low, u32 high);
void vmi_write_idt_entry(void *table, u32 index, u32 low, u32 high);
void vmi_update_kernel_stack(u32 ss, u32 esp0);
void vmi_set_ldt(u32 selector);
void vmi_set_tr(u32 selector);
void vmi_get_gdt(struct dtr *gdtr);
u32 vmi_get_ldt(void);
void vmi_get_idt(struct dtr *idtr);
u32 vmi_get_tr(void);
void vmi_write_ldt_entry(void *table, u32 index, u32 low, u32 high);
void vmi_set_cr2(u32 value);
void vmi_set_dr(u32 number, u32 value);
u32 vmi_get_dr(u32 number);
void vmi_clts(void);
void vmi_reboot(u32 how) __attribute__((noreturn));
void vmi_set_linear_mapping(u32 slot, u32 linear, u32 pages, u32 first_pfn);
void vmi_set_iopl_mask(u32 mask);
u32 vmi_wallclock_updated(void);
void vmi_set_cr0(u32 value);
void vmi_set_cr3(u32 value);
void vmi_set_cr4(u32 value);
u32 vmi_get_cr0(void);
u32 vmi_get_cr2(void);
u32 vmi_get_cr3(void);
u32 vmi_get_cr4(void);
void vmi_wbinvd(void);
u64 vmi_rdtsc(void);
void vmi_irq_enable(void);
void vmi_irq_disable(void);
u32 vmi_save_fl(void);
void vmi_restore_fl(u32 flags);
void vmi_sysexit(u32 unused, u32 user_eip, u32 user_esp) __attribute__((noreturn));
void vmi_halt(void);
void vmi_shutdown(void) __attribute__((noreturn));
void vmi_set_pxe(u32 value, u32 *entry, u32 flags);
void vmi_set_pxe_long(u64 value, u64 *entry, u32 flags);
void vmi_update_pxe(void *entry, u32 flags);
void vmi_allocate_page(u32 pfn, u32 flags, u32 clone_pfn, u32 start, u32 count);
void vmi_release_page(u32 pfn, u32 flags);
void vmi_inval_page(u32 linear);
void vmi_flush_tlb(u32 flags);
void vmi_apic_write(u32 reg, u32 value);
u32 vmi_apic_read(u32 reg);
void vmi_io_delay(void);
u64 vmi_get_cycle_frequency(void);
u64 vmi_get_cycle_counter(u32 counter);
void vmi_set_alarm(u32 flags, u64 expiry, u64 period);
u32 vmi_cancel_alarm(u32 flags);
u64 vmi_get_wallclock(void);
void vmi_set_lazy_mode(u32 mode);

void enter_user_iret(u32 user_eip, u32 user_esp) __attribute__((noreturn));

/* Interrupt entries (head.S) and the C handlers a guest defines for them. */
void timer_entry(void);
void page_fault_entry(void);
void invalid_opcode_entry(void);
void general_protection_entry(void);
void timer_interrupt(struct frame *f);
void page_fault(struct frame *f);
void invalid_opcode(struct frame *f);
void general_protection(struct frame *f);

void kmain(void) __attribute__((noreturn));
