/* Start-of-day setup, console, checks, traps, events and time for the pv64 and pv32pae test guests. */
#include <stdarg.h>
#include "rt.h"

size_t rt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);

u8 rt_stack[16384] __attribute__((aligned(16)));
__asm__(".globl rt_stack_top\n.set rt_stack_top, rt_stack + 16384");

struct start_info *rt_si;
struct shared_info *rt_shared;
volatile struct fault_record rt_last_fault;
volatile u32 rt_fault_count;
volatile u32 rt_upcall_count;
volatile u32 rt_port_count[256];

static u8 shared_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static volatile struct xencons_interface *console_ring;
static unsigned checks_run, checks_failed;

extern const ulong rt_fixups[], rt_fixups_end[];
extern void trap_0(void), trap_1(void), trap_3(void), trap_4(void), trap_5(void), trap_6(void),
    trap_7(void), trap_8(void), trap_9(void), trap_10(void), trap_11(void), trap_12(void),
    trap_13(void), trap_14(void), trap_16(void), trap_17(void), trap_18(void), trap_19(void),
    trap_0x100(void), trap_0x101(void);

/* ---------------------------------------------------------------- console */

#define RING_SPIN_LIMIT 200000

static void console_io_write(const char *s, size_t n)
{
    hypercall3(HC_console_io, CONSOLEIO_write, n, s);
}

static void ring_write(const char *s, size_t n)
{
    volatile struct xencons_interface *r = console_ring;
    unsigned spins = 0;
    while (n) {
        u32 cons = r->out_cons, prod = r->out_prod;
        mb();
        if (prod - cons >= sizeof(r->out)) {
            rt_evtchn_send(rt_si->console_evtchn);
            hypercall2(HC_sched_op, SCHEDOP_yield, 0);
            if (++spins > RING_SPIN_LIMIT)
                goto stuck;
            continue;
        }
        r->out[prod & (sizeof(r->out) - 1)] = *s++;
        n--;
        barrier();
        r->out_prod = prod + 1;
    }
    mb();
    rt_evtchn_send(rt_si->console_evtchn);
    /* Wait for the back end to consume everything, as XTF does: output is then never lost at shutdown. */
    while (r->out_cons != r->out_prod) {
        hypercall2(HC_sched_op, SCHEDOP_yield, 0);
        if (++spins > RING_SPIN_LIMIT)
            goto stuck;
    }
    return;
stuck:
    console_ring = NULL;
    rt_panic("console ring not consumed by the back end");
}

static void write_out(const char *s, size_t n)
{
    if (console_ring)
        ring_write(s, n);
    else
        console_io_write(s, n);
}

void rt_printf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = rt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    write_out(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
}

/* ---------------------------------------------------------------- checks and shutdown */

void check(int ok, const char *what)
{
    checks_run++;
    if (ok) {
        rt_printf("ok %u - %s\n", checks_run, what);
    } else {
        checks_failed++;
        rt_printf("not ok %u - %s\n", checks_run, what);
    }
}

void check_eq(s64 got, s64 want, const char *what)
{
    check(got == want, what);
    if (got != want)
        rt_printf("#   got %lld (0x%llx), expected %lld (0x%llx)\n", got, got, want, want);
}

void check_ge(s64 got, s64 min, const char *what)
{
    check(got >= min, what);
    if (got < min)
        rt_printf("#   got %lld (0x%llx), expected at least %lld\n", got, got, min);
}

void rt_shutdown(unsigned reason)
{
    struct sched_shutdown s = { .reason = reason };
    for (;;) {
        hypercall2(HC_sched_op, SCHEDOP_shutdown, &s);
        /* Still running: the hypervisor refused. Nothing sensible is left to do. */
        hypercall2(HC_sched_op, SCHEDOP_yield, 0);
    }
}

void rt_panic(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = rt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    write_out("PANIC: ", 7);
    write_out(buf, n < sizeof(buf) ? n : sizeof(buf) - 1);
    write_out("\n", 1);
    rt_shutdown(SHUTDOWN_crash);
}

static void finish(void)
{
    if (checks_failed == 0)
        rt_printf("%s: all %u checks passed\n", guest.name, checks_run);
    else
        rt_printf("%s: %u of %u checks FAILED\n", guest.name, checks_failed, checks_run);
    rt_shutdown(SHUTDOWN_poweroff);
}

/* ---------------------------------------------------------------- frames */

ulong rt_pfn_to_mfn(ulong pfn)
{
    return ((const ulong *)rt_si->mfn_list)[pfn];
}

ulong rt_mfn_to_pfn(ulong mfn)
{
    return ((const volatile ulong *)MACH2PHYS_VIRT_START)[mfn];
}

ulong rt_virt_to_mfn(const volatile void *va)
{
    return rt_pfn_to_mfn(((ulong)va - VIRT_BASE) >> 12);
}

void *rt_mfn_to_virt(ulong mfn)
{
    return (void *)(VIRT_BASE + (rt_mfn_to_pfn(mfn) << 12));
}

/* pv64 walks L4-L3-L2-L1 from pt_base; pv32 (PAE) L3-L2-L1. Entries are 64-bit in both. */
u64 rt_pte_maddr(const volatile void *va, volatile u64 **pte)
{
    ulong addr = (ulong)va;
    const volatile u64 *table = (const volatile u64 *)rt_si->pt_base;
    for (int level = sizeof(ulong) == 8 ? 4 : 3; level >= 1; level--) {
        unsigned index = (addr >> (12 + 9 * (level - 1))) & 511;
        if (level == 1) {
            if (pte)
                *pte = (volatile u64 *)&table[index];
            return ((u64)rt_virt_to_mfn(table) << 12) + index * 8;
        }
        u64 entry = table[index];
        if (!(entry & PTE_P))
            return 0;
        table = rt_mfn_to_virt((ulong)((entry & PTE_ADDR_MASK) >> 12));
    }
    return 0;
}

long rt_update_va_mapping(const volatile void *va, u64 pte, ulong flags)
{
#ifdef __x86_64__
    return hypercall3(HC_update_va_mapping, va, pte, flags);
#else
    return hypercall4(HC_update_va_mapping, va, (u32)pte, (u32)(pte >> 32), flags);
#endif
}

long rt_set_timer_op(u64 abs_ns)
{
#ifdef __x86_64__
    return hypercall1(HC_set_timer_op, abs_ns);
#else
    return hypercall2(HC_set_timer_op, (u32)abs_ns, (u32)(abs_ns >> 32));
#endif
}

/* ---------------------------------------------------------------- traps */

static struct trap_info trap_table[] = {
    { 0, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_0 },
    { 1, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_1 },
    { 3, TI_MASK_EVENTS | 3, FLAT_KERNEL_CS, (ulong)trap_3 },
    { 4, TI_MASK_EVENTS | 3, FLAT_KERNEL_CS, (ulong)trap_4 },
    { 5, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_5 },
    { 6, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_6 },
    { 7, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_7 },
    { 8, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_8 },
    { 9, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_9 },
    { 10, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_10 },
    { 11, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_11 },
    { 12, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_12 },
    { 13, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_13 },
    { 14, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_14 },
    { 16, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_16 },
    { 17, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_17 },
    { 18, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_18 },
    { 19, TI_MASK_EVENTS, FLAT_KERNEL_CS, (ulong)trap_19 },
    { 0, 0, 0, 0 },   /* terminator: address 0 */
};

long rt_set_trap(u8 vector, u8 dpl, void (*entry)(void))
{
    struct trap_info one[2] = {
        { vector, (u8)(TI_MASK_EVENTS | (dpl & 3)), FLAT_KERNEL_CS, (ulong)entry },
        { 0, 0, 0, 0 },
    };
    return hypercall1(HC_set_trap_table, one);
}

static void event_upcall(void);

void rt_trap(struct trap_frame *f);
void rt_trap(struct trap_frame *f)
{
    if (f->vector == 0x100) {
        event_upcall();
        return;
    }
    if (f->vector == 0x101)
        rt_panic("failsafe callback");

    struct vcpu_info *v = rt_shared ? &rt_shared->vcpu_info[0] : NULL;
    rt_last_fault.vector = f->vector;
    rt_last_fault.error_code = f->error_code;
    rt_last_fault.ip = f->ip;
    rt_last_fault.cs = f->cs;
#ifdef __x86_64__
    rt_last_fault.ss = f->ss;
    rt_last_fault.rcx = f->rcx;
    rt_last_fault.r11 = f->r11;
#endif
    rt_last_fault.cr2 = v ? v->cr2 : 0;
    rt_last_fault.upcall_mask = v ? v->evtchn_upcall_mask : 0xff;
    rt_fault_count++;

    for (const ulong *fix = rt_fixups; fix < rt_fixups_end; fix += 2) {
        if (fix[0] == f->ip) {
            f->ip = fix[1];
            f->ax = 1;
            return;
        }
    }
    /* Traps (int3, into, software interrupts) resume after the instruction by themselves. */
    if (f->vector == 3 || f->vector == 4 || f->vector == 0x80)
        return;
    rt_panic("unexpected exception %lu, error code 0x%lx, at ip 0x%lx", f->vector, f->error_code, f->ip);
}

/* ---------------------------------------------------------------- events and time */

static void event_upcall(void)
{
    struct vcpu_info *v = &rt_shared->vcpu_info[0];
    rt_upcall_count++;
    v->evtchn_upcall_pending = 0;
    mb();
    ulong selector = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    while (selector) {
        unsigned word = (unsigned)__builtin_ctzl(selector);
        selector &= selector - 1;
        ulong pending = rt_shared->evtchn_pending[word] & ~rt_shared->evtchn_mask[word];
        while (pending) {
            unsigned bit = (unsigned)__builtin_ctzl(pending);
            pending &= pending - 1;
            u32 port = word * EVTCHN_WORD_BITS + bit;
            __atomic_and_fetch(&rt_shared->evtchn_pending[word], ~(1UL << bit), __ATOMIC_SEQ_CST);
            if (port < ARRAY_SIZE(rt_port_count))
                rt_port_count[port]++;
        }
    }
}

void rt_events_enable(void)
{
    struct vcpu_info *v = &rt_shared->vcpu_info[0];
    v->evtchn_upcall_mask = 0;
    mb();
    /* Xen only notices a cleared mask at the next hypercall: force one if something is pending. */
    if (v->evtchn_upcall_pending)
        hypercall2(HC_xen_version, XENVER_version, 0);
}

void rt_events_disable(void)
{
    rt_shared->vcpu_info[0].evtchn_upcall_mask = 1;
    barrier();
}

long rt_evtchn_send(u32 port)
{
    struct evtchn_port_op op = { port };
    return hypercall2(HC_event_channel_op, EVTCHNOP_send, &op);
}

long rt_evtchn_unmask(u32 port)
{
    struct evtchn_port_op op = { port };
    return hypercall2(HC_event_channel_op, EVTCHNOP_unmask, &op);
}

void rt_mask_port(u32 port)
{
    __atomic_or_fetch(&rt_shared->evtchn_mask[port / EVTCHN_WORD_BITS], 1UL << (port % EVTCHN_WORD_BITS), __ATOMIC_SEQ_CST);
}

int rt_port_pending(u32 port)
{
    return (rt_shared->evtchn_pending[port / EVTCHN_WORD_BITS] >> (port % EVTCHN_WORD_BITS)) & 1;
}

void rt_clear_port(u32 port)
{
    __atomic_and_fetch(&rt_shared->evtchn_pending[port / EVTCHN_WORD_BITS], ~(1UL << (port % EVTCHN_WORD_BITS)), __ATOMIC_SEQ_CST);
}

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

u64 rt_now_ns(void)
{
    volatile struct vcpu_time_info *t = &rt_shared->vcpu_info[0].time;
    u32 version;
    u64 tsc_timestamp, system_time, mul;
    s8 shift;
    do {
        version = t->version;
        barrier();
        tsc_timestamp = t->tsc_timestamp;
        system_time = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        barrier();
    } while ((version & 1) || version != t->version);
    u64 delta = rdtsc() - tsc_timestamp;
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    /* (delta * mul) >> 32 without a 128-bit product, which pv32 lacks. */
    return system_time + (delta >> 32) * mul + (((delta & 0xffffffffULL) * mul) >> 32);
}

u32 rt_block_until(volatile u32 *counter, u32 target, u64 timeout_ns)
{
    u64 deadline = rt_now_ns() + timeout_ns;
    while (*counter < target && rt_now_ns() < deadline) {
        /* Mask, re-check, then block: SCHEDOP_block unmasks atomically, so no wake-up is lost. */
        rt_events_disable();
        if (*counter >= target)
            break;
        hypercall2(HC_sched_op, SCHEDOP_block, 0);
    }
    rt_events_enable();
    return *counter;
}

/* ---------------------------------------------------------------- start of day */

static void map_shared_info(void)
{
    u64 pte = ((u64)rt_si->shared_info & PTE_ADDR_MASK) | PTE_P | PTE_RW | PTE_A | PTE_D;
    long rc = rt_update_va_mapping(shared_info_page, pte, UVMF_INVLPG);
    if (rc)
        rt_panic("update_va_mapping(shared_info) failed: %ld", rc);
    rt_shared = (struct shared_info *)shared_info_page;
}

static void register_callback(u16 type, void (*entry)(void))
{
#ifdef __x86_64__
    struct callback_register cb = { .type = type, .flags = 0, .address = (ulong)entry };
#else
    struct callback_register cb = { .type = type, .flags = 0, .cs = FLAT_KERNEL_CS, .eip = (ulong)entry };
#endif
    long rc = hypercall2(HC_callback_op, CALLBACKOP_register, &cb);
    if (rc)
        rt_panic("callback_op(register, type %u) failed: %ld", type, rc);
}

void rt_start(struct start_info *si);
void rt_start(struct start_info *si)
{
#ifdef HYPERCALL_PAGE
    /* Without a filled hypercall page nothing, not even a message, can reach the hypervisor. */
    if (hypercall_page[0] == 0xc3)
        __asm__ volatile("ud2");
#endif
    rt_si = si;
    if (memcmp(si->magic, XEN_GUEST_MAGIC, sizeof(XEN_GUEST_MAGIC)) != 0)
        rt_panic("start_info magic is not " XEN_GUEST_MAGIC);

    unsigned needs = guest.needs;
    if (needs & RT_EVENTS)
        needs |= RT_SHARED_INFO | RT_TRAPS;
    if (needs & RT_TRAPS) {
        long rc = hypercall1(HC_set_trap_table, trap_table);
        if (rc)
            rt_panic("set_trap_table failed: %ld", rc);
    }
    if (needs & RT_SHARED_INFO)
        map_shared_info();
    if (needs & RT_EVENTS) {
        register_callback(CALLBACKTYPE_event, trap_0x100);
        register_callback(CALLBACKTYPE_failsafe, trap_0x101);
    }
    if (needs & RT_RING_CONSOLE)
        console_ring = rt_mfn_to_virt(si->console_mfn);

    guest_main();
    finish();
}

/* ---------------------------------------------------------------- libc pieces */

void *memset(void *d, int c, size_t n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (u8)*a - (u8)*b;
        if (!*a)
            return 0;
    }
    return 0;
}
