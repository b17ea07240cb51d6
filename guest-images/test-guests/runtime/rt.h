/*
 * Freestanding runtime for Shim's Xen PV test guests (pv64 and pv32pae): start-of-day setup, console output, checks,
 * traps, events and time. Each guest defines `guest` (name + which runtime pieces it needs) and
 * guest_main(); rt_start() calls it and ends with a summary line and SCHEDOP_shutdown(poweroff).
 */
#ifndef SHIM_TEST_RT_H
#define SHIM_TEST_RT_H

#include "types.h"
#include "xen_abi.h"
#include "hypercall.h"

#ifdef __x86_64__
#define VIRT_BASE 0xffffffff80000000UL
#else
#define VIRT_BASE 0xc0000000UL
#endif

/* What a guest asks rt_start to set up before guest_main. */
#define RT_TRAPS        0x1   /* set_trap_table for the architectural vectors */
#define RT_SHARED_INFO  0x2   /* map shared_info (needed for events, time, cr2) */
#define RT_EVENTS       0x4   /* register event + failsafe callbacks (implies the two above) */
#define RT_RING_CONSOLE 0x8   /* print through the PV console ring instead of console_io */

struct guest_info {
    const char *name;
    unsigned needs;
};
extern const struct guest_info guest;
void guest_main(void);

/* Register frame built by trap_common (lowest address first). */
#ifdef __x86_64__
struct trap_frame {
    ulong r15, r14, r13, r12, r11, r10, r9, r8, bp, di, si, dx, rcx, bx, ax;
    ulong vector, error_code;
    ulong ip, cs, flags, sp, ss;
};
#else
/* pv32: pusha order; Xen's ring-1 to ring-1 bounce frame has no ESP/SS. */
struct trap_frame {
    ulong di, si, bp, sp_unused, bx, dx, cx, ax;
    ulong vector, error_code;
    ulong ip, cs, flags;
};
#endif

/* The last exception rt_trap saw. */
struct fault_record {
    ulong vector, error_code, ip, cs, ss, cr2;
    ulong rcx, r11;           /* pv64: interrupted RCX/R11 from the top of Xen's frame */
    u8 upcall_mask;           /* vcpu_info.evtchn_upcall_mask while the handler ran */
};
extern volatile struct fault_record rt_last_fault;
extern volatile u32 rt_fault_count;

extern struct start_info *rt_si;
extern struct shared_info *rt_shared;
extern volatile u32 rt_upcall_count;
extern volatile u32 rt_port_count[256];

/* Output and checks. Descriptions must not contain run-dependent values (they go to *.expected). */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void check(int ok, const char *what);
void check_eq(s64 got, s64 want, const char *what);
void check_ge(s64 got, s64 min, const char *what);
void rt_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void rt_shutdown(unsigned reason) __attribute__((noreturn));

/* Frames and addresses. Guest frames are machine frames (MFNs); the boot region is VIRT_BASE + pfn * 4K. */
ulong rt_pfn_to_mfn(ulong pfn);
ulong rt_mfn_to_pfn(ulong mfn);
ulong rt_virt_to_mfn(const volatile void *va);
void *rt_mfn_to_virt(ulong mfn);
/* Machine address of the L1 entry mapping va, and a (read-only) pointer to it; 0 if unmapped. */
u64 rt_pte_maddr(const volatile void *va, volatile u64 **pte);
/* update_va_mapping(va, pte, flags): pv32 passes the 64-bit PTE as two words. */
long rt_update_va_mapping(const volatile void *va, u64 pte, ulong flags);
/* set_timer_op(absolute ns): pv32 passes it as two words. */
long rt_set_timer_op(u64 abs_ns);

/* Traps. */
long rt_set_trap(u8 vector, u8 dpl, void (*entry)(void));
long probe_read(const volatile void *addr);
long probe_write(volatile void *addr, u64 value);
long probe_ud2(void);
long probe_outb(u16 port);
long probe_int85(void);
long probe_int3_regs(void);
long probe_int80(void);
long probe_fnop(void);
#ifdef __x86_64__
void rt_xen_cpuid(u32 leaf, u32 regs[4]);
u64 rt_read_fs0(void);
u64 rt_read_gs0(void);
#ifndef HYPERCALL_PAGE
u64 rt_enter_user(void (*fn)(void), void *user_sp);
extern void rt_syscall_entry(void), rt_user_code(void), rt_user_syscall_return(void);
/* Xen's frame at the syscall callback: RCX, R11, RIP, CS, RFLAGS, RSP, SS. */
extern volatile u64 rt_user_frame[7];
#endif
#endif
extern void trap_0x80(void), trap_0x85(void);

/* Events and time. */
u64 rt_now_ns(void);
void rt_events_enable(void);
void rt_events_disable(void);
long rt_evtchn_send(u32 port);
long rt_evtchn_unmask(u32 port);
void rt_mask_port(u32 port);
int rt_port_pending(u32 port);
void rt_clear_port(u32 port);
/* Block (SCHEDOP_block) until *counter >= target or timeout_ns of system time pass; returns *counter. */
u32 rt_block_until(volatile u32 *counter, u32 target, u64 timeout_ns);

/* Small libc pieces. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void mb(void) { __asm__ volatile("mfence" ::: "memory"); }

#endif
