/* Entry, paravirt call sites and interrupt entry points of the VMI test guests (i386, AT&T syntax). */

        .section .text.head, "ax"
        .globl _start
_start:
        mov     $stack_top, %esp
        call    kmain
1:      jmp     1b

        .text
/*
 * One wrapper per VMI call the guests use. The body is a single patch site, an indirect tail jump through
 * pv_ops (6 bytes: ff 25 disp32), listed in .parainstructions as Linux lists its sites: address, call number,
 * length, clobbers. vmi_patch() rewrites a CALL_REL answer into a direct jmp to the ROM (the ROM's ret returns
 * to our caller, so stack arguments sit where the ROM expects them), a NOP answer into a ret, and leaves NONE.
 */
        .macro  PVOP name, call
        .globl  \name
        .type   \name, @function
\name:
661:    jmp     *pv_ops + 4 * \call
662:
        .pushsection .parainstructions, "a"
        .long   661b
        .byte   \call, 662b - 661b
        .short  0
        .popsection
        .endm

        PVOP    vmi_set_gdt, 3
        PVOP    vmi_set_ldt, 4
        PVOP    vmi_set_idt, 5
        PVOP    vmi_set_tr, 6
        PVOP    vmi_get_gdt, 7
        PVOP    vmi_get_ldt, 8
        PVOP    vmi_get_idt, 9
        PVOP    vmi_get_tr, 10
        PVOP    vmi_write_gdt_entry, 11
        PVOP    vmi_write_ldt_entry, 12
        PVOP    vmi_write_idt_entry, 13
        PVOP    vmi_update_kernel_stack, 14
        PVOP    vmi_set_cr0, 15
        PVOP    vmi_set_cr2, 16
        PVOP    vmi_set_cr3, 17
        PVOP    vmi_set_cr4, 18
        PVOP    vmi_get_cr0, 19
        PVOP    vmi_get_cr2, 20
        PVOP    vmi_get_cr3, 21
        PVOP    vmi_get_cr4, 22
        PVOP    vmi_wbinvd, 23
        PVOP    vmi_set_dr, 24
        PVOP    vmi_get_dr, 25
        PVOP    vmi_rdtsc, 27
        PVOP    vmi_clts, 28
        PVOP    vmi_irq_enable, 29
        PVOP    vmi_irq_disable, 30
        PVOP    vmi_save_fl, 31
        PVOP    vmi_restore_fl, 32
        PVOP    vmi_sysexit, 34
        PVOP    vmi_halt, 35
        PVOP    vmi_reboot, 36
        PVOP    vmi_shutdown, 37
        PVOP    vmi_set_pxe, 38
        PVOP    vmi_set_pxe_long, 39
        PVOP    vmi_update_pxe, 40
        PVOP    vmi_allocate_page, 44
        PVOP    vmi_release_page, 45
        PVOP    vmi_inval_page, 46
        PVOP    vmi_flush_tlb, 47
        PVOP    vmi_set_linear_mapping, 48
        PVOP    vmi_set_iopl_mask, 61
        PVOP    vmi_apic_write, 63
        PVOP    vmi_apic_read, 64
        PVOP    vmi_io_delay, 65
        PVOP    vmi_get_cycle_frequency, 66
        PVOP    vmi_get_cycle_counter, 67
        PVOP    vmi_set_alarm, 68
        PVOP    vmi_cancel_alarm, 69
        PVOP    vmi_get_wallclock, 70
        PVOP    vmi_wallclock_updated, 71
        PVOP    vmi_set_lazy_mode, 73

/* Native versions of the operations VMI may leave native (relocation type NONE). */
        .globl  native_rdtsc
native_rdtsc:
        rdtsc
        ret

/*
 * Interrupt and exception entries: a uniform frame (error code or 0, then pushal) handed to a C handler, then
 * the IRET site. IRET is a call site (ff 15 disp32), as in Linux: CALL_REL puts a return address below the
 * interrupt frame, which the ROM's IRET skips.
 */
        .macro  ENTRY name, handler, has_error
        .globl  \name
\name:
        .if     \has_error == 0
        pushl   $0
        .endif
        pushal
        mov     %esp, %eax
        call    \handler
        popal
        add     $4, %esp
        jmp     interrupt_return
        .endm

        ENTRY   timer_entry, timer_interrupt, 0
        ENTRY   page_fault_entry, page_fault, 1
        ENTRY   invalid_opcode_entry, invalid_opcode, 0
        ENTRY   general_protection_entry, general_protection, 1

interrupt_return:
663:    call    *pv_ops + 4 * 33
664:
        .pushsection .parainstructions, "a"
        .long   663b
        .byte   33, 664b - 663b
        .short  0
        .popsection
        ud2                             /* the VMI IRET never returns */

/* enter_user_iret(eip, esp): an outer-ring IRET frame for Linux's user selectors (0x73/0x7b), IF on. */
        .globl  enter_user_iret
enter_user_iret:
        pushl   $0x7b
        pushl   %edx
        pushl   $0x202
        pushl   $0x73
        pushl   %eax
        jmp     interrupt_return

        .globl  native_iret
native_iret:
        add     $4, %esp                /* drop the site's return address, then the real thing */
        iret

        .bss
        .balign 16
stack:  .skip   16384
stack_top:
