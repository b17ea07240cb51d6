#include <stdarg.h>
#include "vmi.h"

#define COM1 0x3F8
#define POWEROFF_PORT 0xF4
#define ROM_SCAN_START 0xC0000
#define ROM_SCAN_END 0xE0000
#define ROM_SCAN_STEP 2048
#define VMI_SIGNATURE 0x696D5663u
#define VMI_API_MAJOR 3

struct vrom_header {
    u16 rom_signature;
    u8 rom_length;
    u8 rom_entry[4];
    u8 rom_pad0;
    u32 vrom_signature;
    u8 api_version_min;
    u8 api_version_maj;
    u8 jump_slots;
    u8 reserved1;
    u32 virtual_top;
    u16 reserved2;
    u16 license_offs;
    u16 pci_header_offs;
    u16 pnp_header_offs;
    u32 rom_pad3;
    u8 reserved[96];
    u8 vmi_init[8];
    u8 get_reloc[8];
} __attribute__((packed));

struct pci_header {
    u32 signature;
    u16 vendor_id;
    u16 device_id;
    u16 vpd_data;
    u16 size;
    u8 rev, class_code, subclass, interface;
    u16 chunks;
    u8 rom_version_min, rom_version_maj;
    u8 codetype, last_rom;
    u16 reserved;
} __attribute__((packed));

struct patch_site {
    u8 *instr;
    u8 type;
    u8 len;
    u16 clobbers;
} __attribute__((packed));

extern struct patch_site __parainstructions[], __parainstructions_end[];
extern void native_rdtsc(void), native_iret(void);

static void pv_missing(void) __attribute__((noreturn, used));
static void pv_nop(void) {}

/* Until activation every operation is native; the native ones a deprivileged test guest cannot run just stop it. */
void *pv_ops[VMI_CALLS];
int kernel_rpl;

static void pv_missing(void) { panic("paravirt operation used while running native"); }

static void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (u8)c);
}

void console_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* divisor latch */
    outb(COM1 + 0, 0x01); /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
    for (int i = 0; i < VMI_CALLS; i++)
        pv_ops[i] = (void *)pv_missing;
    pv_ops[27] = (void *)native_rdtsc;
    pv_ops[VMI_CALL_IRET] = (void *)native_iret;
}

static void put_number(u32 value, unsigned base, int width, char pad)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    while (n < width--)
        serial_putc(pad);
    while (n)
        serial_putc(digits[--n]);
}

void printf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    for (const char *p = format; *p; p++) {
        if (*p != '%') {
            serial_putc(*p);
            continue;
        }
        int width = 0;
        char pad = ' ';
        if (*++p == '0')
            pad = '0';
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        switch (*p) {
        case 'd': {
            int v = va_arg(args, int);
            if (v < 0) {
                serial_putc('-');
                v = -v;
            }
            put_number((u32)v, 10, width, pad);
            break;
        }
        case 'u': put_number(va_arg(args, u32), 10, width, pad); break;
        case 'x': put_number(va_arg(args, u32), 16, width, pad); break;
        case 's':
            for (const char *s = va_arg(args, const char *); *s; s++)
                serial_putc(*s);
            break;
        case 'c': serial_putc((char)va_arg(args, int)); break;
        default: serial_putc(*p); break;
        }
    }
    va_end(args);
}

void native_poweroff(u32 status)
{
    outl(POWEROFF_PORT, status);
    for (;;)
        ;
}

void panic(const char *what)
{
    printf("PANIC: %s\n", what);
    native_poweroff(1);
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* Linux's check_vmi_rom: signature, VMI signature, major 3, PCI header, licence "GPL" or "GPL v2". */
static int check_rom(u32 base)
{
    const struct vrom_header *rom = (const struct vrom_header *)base;
    if (rom->rom_signature != 0xAA55 || rom->vrom_signature != VMI_SIGNATURE)
        return 0;
    if (rom->api_version_maj != VMI_API_MAJOR) {
        printf("VMI: Found mismatched rom version %d.%d at 0x%x\n", rom->api_version_maj, rom->api_version_min, base);
        return 0;
    }
    if (!rom->pci_header_offs) {
        printf("VMI: ROM at 0x%x does not contain PCI header\n", base);
        return 0;
    }
    const struct pci_header *pci = (const struct pci_header *)(base + rom->pci_header_offs);
    if (pci->vendor_id != 0x15AD || pci->device_id != 0x0801)
        printf("VMI: ROM from unknown manufacturer\n");
    const char *licence = rom->license_offs ? (const char *)(base + rom->license_offs) : 0;
    if (!licence || !(streq(licence, "GPL") || streq(licence, "GPL v2"))) {
        printf("VMI: ROM license '%s' taints kernel; not using it\n", licence ? licence : "unspecified");
        return 0;
    }
    printf("VMI: Found ROM at 0x%x, API version %d.%d, ROM version %d.%d\n", base, rom->api_version_maj,
           rom->api_version_min, pci->rom_version_maj, pci->rom_version_min);
    return 1;
}

u32 vmi_probe_rom(void)
{
    for (u32 base = ROM_SCAN_START; base < ROM_SCAN_END; base += ROM_SCAN_STEP)
        if (check_rom(base))
            return base;
    return 0;
}

typedef u32 (*vmi_init_fn)(void);
typedef u64 __attribute__((regparm(1))) (*vmi_reloc_fn)(u32 call);

static void patch_jump_or_call(u8 *site, u8 len, u32 target)
{
    u8 opcode = site[1] == 0x15 ? 0xE8 : 0xE9; /* ff 15 = call [abs], ff 25 = jmp [abs] */
    u32 rel = target - ((u32)site + 5);
    site[0] = opcode;
    for (int i = 0; i < 4; i++)
        site[1 + i] = (u8)(rel >> (8 * i));
    for (int i = 5; i < len; i++)
        site[i] = 0x90;
}

/* Linux's activate_vmi + apply_paravirt: Init, ask every call's relocation, then rewrite every patch site. */
int vmi_activate(u32 rom)
{
    const struct vrom_header *header = (const struct vrom_header *)rom;
    if (((vmi_init_fn)header->vmi_init)() != 0) {
        printf("VMI: ROM failed to initialize\n");
        return 0;
    }
    kernel_rpl = read_cs() & 3;
    printf("VMI: Init returned 0, kernel runs in ring %d\n", kernel_rpl);

    vmi_reloc_fn reloc = (vmi_reloc_fn)header->get_reloc;
    u8 types[VMI_CALLS];
    int count[4] = {0, 0, 0, 0};
    for (u32 call = 0; call < VMI_CALLS; call++) {
        u64 answer = reloc(call);
        u32 target = (u32)answer;
        types[call] = (u8)(answer >> 32);
        if (types[call] > VMI_RELOCATION_NOP) {
            printf("VMI: call %u: unknown relocation type %u\n", call, types[call]);
            return 0;
        }
        count[types[call]]++;
        if (types[call] == VMI_RELOCATION_CALL_REL || types[call] == VMI_RELOCATION_JUMP_REL) {
            if (target < rom || target >= rom + header->rom_length * 512u) {
                printf("VMI: call %u relocated outside the ROM (0x%x)\n", call, target);
                return 0;
            }
            pv_ops[call] = (void *)target;
        } else if (types[call] == VMI_RELOCATION_NOP) {
            pv_ops[call] = (void *)pv_nop;
        }
    }
    printf("VMI: relocations: %d call, %d jump, %d nop, %d native\n", count[1], count[2], count[3], count[0]);
    if (types[VMI_CALL_IRET] != VMI_RELOCATION_CALL_REL) {
        printf("VMI: IRET must be relocated; running native\n");
        return 0;
    }

    int sites = 0, patched = 0;
    for (struct patch_site *s = __parainstructions; s < __parainstructions_end; s++, sites++) {
        switch (types[s->type]) {
        case VMI_RELOCATION_CALL_REL:
        case VMI_RELOCATION_JUMP_REL:
            patch_jump_or_call(s->instr, s->len, (u32)pv_ops[s->type]);
            patched++;
            break;
        case VMI_RELOCATION_NOP: {
            int tail_jump = s->instr[1] == 0x25; /* such a site still has to return to its caller */
            for (int i = 0; i < s->len; i++)
                s->instr[i] = 0x90;
            if (tail_jump)
                s->instr[0] = 0xC3;
            patched++;
            break;
        }
        }
    }
    printf("VMI: patched %d of %d call sites\n", patched, sites);
    return 1;
}

static u64 idt[256] __attribute__((aligned(8)));

void idt_set_gate(int vector, void (*entry)(void))
{
    u32 offset = (u32)entry;
    u32 selector = read_cs();
    u32 low = (selector << 16) | (offset & 0xFFFF);
    u32 high = (offset & 0xFFFF0000) | 0x8E00 | ((u32)kernel_rpl << 13); /* present 32-bit interrupt gate */
    vmi_write_idt_entry(idt, (u32)vector, low, high);
}

void idt_install(void)
{
    struct dtr idtr = {sizeof idt - 1, (u32)idt};
    vmi_set_idt(&idtr);
}
