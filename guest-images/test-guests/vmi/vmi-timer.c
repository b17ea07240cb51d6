/*
 * VMI timer: the alarm wired to the local APIC timer (LVTT vector 0xef, as Linux's vmiclock does), periodic and
 * one-shot, Halt as the idle loop, an interrupt held back while the virtual IF is clear and delivered when it is
 * set again, CancelAlarm, and an invalid-opcode exception through the guest IDT.
 */
#include "vmi.h"

static volatile int ticks;
static volatile u32 invalid_opcode_eip;
extern char at_ud2[];

void timer_interrupt(struct frame *f)
{
    (void)f;
    ticks++;
}

void invalid_opcode(struct frame *f)
{
    invalid_opcode_eip = f->eip;
    f->eip += 2; /* resume after the ud2 */
}

static void wait_for_ticks(int target)
{
    while (ticks < target)
        vmi_halt();
}

void guest_main(void)
{
    idt_set_gate(TIMER_VECTOR, timer_entry);
    idt_set_gate(6, invalid_opcode_entry);
    idt_install();
    vmi_apic_write(APIC_LVTT, TIMER_VECTOR);

    u64 hz = vmi_get_cycle_frequency();
    u64 period = (u32)hz / 100u; /* 10 ms (the counter runs well below 4 GHz) */
    u64 start = vmi_get_cycle_counter(VMI_CYCLES_REAL);
    vmi_set_alarm(VMI_CYCLES_REAL | VMI_ALARM_PERIODIC | VMI_ALARM_WIRED_LVTT, start + period, period);
    vmi_irq_enable();
    wait_for_ticks(5);
    u32 armed = vmi_cancel_alarm(VMI_CYCLES_REAL);
    u64 elapsed = vmi_get_cycle_counter(VMI_CYCLES_REAL) - start;
    printf("periodic alarm: 5 ticks taken, at least 5 periods elapsed: %s, was armed: %u\n",
           elapsed >= 5 * period ? "yes" : "no", armed);

    int before = ticks;
    vmi_set_alarm(VMI_CYCLES_REAL | VMI_ALARM_WIRED_LVTT, vmi_get_cycle_counter(VMI_CYCLES_REAL) + period, 0);
    wait_for_ticks(before + 1);
    printf("one-shot alarm fired once: %s\n", ticks == before + 1 ? "yes" : "no");

    vmi_irq_disable();
    before = ticks;
    u64 now = vmi_get_cycle_counter(VMI_CYCLES_REAL);
    vmi_set_alarm(VMI_CYCLES_REAL | VMI_ALARM_WIRED_LVTT, now + (u32)period / 10u, 0);
    while (vmi_get_cycle_counter(VMI_CYCLES_REAL) < now + 50 * period) /* 0.5 s: the alarm is due after 1 ms, even a loaded host has posted it by then */
        ;
    printf("ticks while interrupts disabled: %d\n", ticks - before);
    vmi_irq_enable();
    printf("ticks right after enabling: %d\n", ticks - before);

    __asm__ volatile(".globl at_ud2\nat_ud2: ud2");
    printf("invalid opcode delivered with eip at the ud2: %s\n", invalid_opcode_eip == (u32)at_ud2 ? "yes" : "no");

    printf("alarm still armed after the one-shot fired: %u\n", vmi_cancel_alarm(VMI_CYCLES_REAL));
    printf("VMI: shutting down through the ROM\n");
    vmi_shutdown();
}
