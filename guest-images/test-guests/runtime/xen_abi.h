/*
 * Xen PV guest ABI constants and structures used by Shim's test guests, for pv64 (__x86_64__) and
 * pv32pae (__i386__). Written for this project from the layouts in shared/reference/xen-pv-abi.md
 * (offsets there were computed from Xen's public headers). Pointer-sized fields use ulong, so one
 * declaration serves both ABIs wherever the layouts only differ by word size.
 */
#ifndef SHIM_TEST_XEN_ABI_H
#define SHIM_TEST_XEN_ABI_H

#include "types.h"

/* Hypercall numbers. */
#define HC_set_trap_table        0
#define HC_mmu_update            1
#define HC_stack_switch          3
#define HC_fpu_taskswitch        5
#define HC_memory_op            12
#define HC_multicall            13
#define HC_update_va_mapping    14
#define HC_set_timer_op         15
#define HC_xen_version          17
#define HC_console_io           18
#define HC_grant_table_op       20
#define HC_vm_assist            21
#define HC_iret                 23
#define HC_vcpu_op              24
#define HC_set_segment_base     25
#define HC_mmuext_op            26
#define HC_sched_op             29
#define HC_callback_op          30
#define HC_event_channel_op     32
#define HC_physdev_op           33

/* Error numbers (returned negated). */
#define XEN_EPERM     1
#define XEN_ENOENT    2
#define XEN_EFAULT   14
#define XEN_EBUSY    16
#define XEN_EEXIST   17
#define XEN_EINVAL   22
#define XEN_ENOSYS   38

#define DOMID_SELF 0x7ff0

/* console_io */
#define CONSOLEIO_write 0

/* xen_version */
#define XENVER_version             0
#define XENVER_extraversion        1
#define XENVER_capabilities        3
#define XENVER_platform_parameters 5
#define XENVER_get_features        6
#define XENVER_pagesize            7
#define XENFEAT_writable_page_tables    0
#define XENFEAT_auto_translated_physmap 2

struct xen_feature_info {
    u32 submap_idx;
    u32 submap;
};

/* sched_op */
#define SCHEDOP_yield    0
#define SCHEDOP_block    1
#define SCHEDOP_shutdown 2
#define SCHEDOP_poll     3
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_crash    3

struct sched_shutdown { u32 reason; };
struct sched_poll {
    u32 *ports;        /* @0 */
    u32 nr_ports;      /* @8 pv64, @4 pv32 */
    u64 timeout;       /* @16 pv64, @8 pv32: absolute system time in ns; 0 = none */
};

/* Traps: struct trap_info, 16 bytes on pv64, 8 on pv32. */
struct trap_info {
    u8 vector;
    u8 flags;          /* bits 0-1 DPL, bit 2 mask events on entry */
    u16 cs;
    ulong address;
};
#define TI_MASK_EVENTS 4
#ifdef __x86_64__
#define FLAT_KERNEL_CS 0xe033
#define FLAT_KERNEL_SS 0xe02b
#else
#define FLAT_KERNEL_CS 0xe019     /* FLAT_RING1_CS */
#define FLAT_KERNEL_SS 0xe021     /* FLAT_RING1_SS */
#endif

/* set_segment_base (pv64) */
#define SEGBASE_FS        0
#define SEGBASE_GS_USER   1
#define SEGBASE_GS_KERNEL 2

/* callback_op */
#define CALLBACKOP_register   0
#define CALLBACKOP_unregister 1
#define CALLBACKTYPE_event    0
#define CALLBACKTYPE_failsafe 1
#define CALLBACKTYPE_syscall  2
#define CALLBACKF_mask_events 1
#ifdef __x86_64__
struct callback_register {
    u16 type;
    u16 flags;
    u32 pad;
    u64 address;
};
#else
struct callback_register {
    u16 type;
    u16 flags;
    u32 cs;
    u32 eip;
};
#endif

/* vm_assist */
#define VMASST_CMD_enable 0
#define VMASST_TYPE_writable_pagetables 2

/* Memory management (PTEs are 64-bit in both ABIs: pv32 guests are PAE). */
#define PTE_P   0x001ULL
#define PTE_RW  0x002ULL
#define PTE_US  0x004ULL
#define PTE_PCD 0x010ULL
#define PTE_A   0x020ULL
#define PTE_D   0x040ULL
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

#define MMU_NORMAL_PT_UPDATE 0
struct mmu_update { u64 ptr; u64 val; };

#define UVMF_NONE      0
#define UVMF_TLB_FLUSH 1
#define UVMF_INVLPG    2

#define MMUEXT_PIN_L1_TABLE    0
#define MMUEXT_UNPIN_TABLE     4
#define MMUEXT_TLB_FLUSH_LOCAL 6
#define MMUEXT_INVLPG_LOCAL    7
#define MMUEXT_NEW_USER_BASEPTR 15
struct mmuext_op {
    u32 cmd;
    ulong arg1;        /* mfn or linear address; @8 pv64, @4 pv32 */
    ulong arg2;
};

/* memory_op */
#define XENMEM_current_reservation 3
#define XENMEM_maximum_ram_page    2
#define XENMEM_maximum_reservation 4
#define XENMEM_memory_map          9
#define XENMEM_machphys_mapping   12
struct xen_machphys_mapping { ulong v_start, v_end, max_mfn; };
struct xen_memory_map {
    u32 nr_entries;
    void *buffer;
};
struct e820_entry { u64 addr; u64 size; u32 type; } __attribute__((packed));
#define E820_RAM 1
#ifdef __x86_64__
#define MACH2PHYS_VIRT_START 0xffff800000000000UL
#define MACH2PHYS_VIRT_END   0xffff804000000000UL
#define HYPERVISOR_VIRT_START 0xffff800000000000UL
#define HYPERVISOR_VIRT_END   0xffff880000000000UL
#define XEN_GUEST_MAGIC "xen-3.0-x86_64"
#else
/* 64-bit Xen's compat M2P for 32-bit guests: 4-byte entries from hv_compat_vstart (default, and our HV_START_LOW). */
#define MACH2PHYS_VIRT_START 0xf5800000UL
#define MACH2PHYS_VIRT_END   0xffe00000UL
#define HYPERVISOR_VIRT_START 0xf5800000UL
#define HYPERVISOR_VIRT_END   0xffe00000UL
#define XEN_GUEST_MAGIC "xen-3.0-x86_32p"
#endif

/* event_channel_op */
#define EVTCHNOP_bind_virq      1
#define EVTCHNOP_close          3
#define EVTCHNOP_send           4
#define EVTCHNOP_status         5
#define EVTCHNOP_alloc_unbound  6
#define EVTCHNOP_bind_ipi       7
#define EVTCHNOP_unmask         9
#define VIRQ_TIMER 0
#define NR_VIRQS  24
#define EVTCHNSTAT_closed       0
#define EVTCHNSTAT_unbound      1
#define EVTCHNSTAT_interdomain  2
#define EVTCHNSTAT_virq         4
#define EVTCHNSTAT_ipi          5

struct evtchn_alloc_unbound { u16 dom; u16 remote_dom; u32 port; };
struct evtchn_bind_virq { u32 virq; u32 vcpu; u32 port; };
struct evtchn_bind_ipi { u32 vcpu; u32 port; };
struct evtchn_port_op { u32 port; };   /* send, close, unmask */
struct evtchn_status {
    u16 dom;           /* @0 */
    u16 pad;
    u32 port;          /* @4 */
    u32 status;        /* @8 */
    u32 vcpu;          /* @12 */
    union {            /* @16 */
        struct { u16 dom; } unbound;
        struct { u16 dom; u16 pad; u32 port; } interdomain;
        u32 virq;
    } u;
};

/* grant_table_op */
#define GNTTABOP_setup_table 2
#define GNTTABOP_query_size  6
#define GNTTABOP_set_version 8
#define GNTTABOP_get_version 10
#define GNTST_okay           0
#define GNTST_general_error (-1)
struct gnttab_query_size {
    u16 dom; u16 pad;
    u32 nr_frames;     /* @4 */
    u32 max_nr_frames; /* @8 */
    s16 status;        /* @12 */
    u16 pad2;
};
struct gnttab_setup_table {
    u16 dom; u16 pad;
    u32 nr_frames;         /* @4 */
    s16 status;            /* @8 */
    u16 pad2;
    xen_pfn_t *frame_list; /* @16 pv64, @12 pv32 (natural alignment) */
};
struct gnttab_set_version { u32 version; };
struct gnttab_get_version { u16 dom; u16 pad; u32 version; };
struct grant_entry_v1 { u16 flags; u16 domid; u32 frame; };

/* vcpu_op */
#define VCPUOP_is_up                         3
#define VCPUOP_get_runstate_info             4
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_set_periodic_timer            6
#define VCPUOP_stop_periodic_timer           7
#define VCPUOP_set_singleshot_timer          8
#define VCPUOP_stop_singleshot_timer         9
#define VCPUOP_register_vcpu_info           10
#define RUNSTATE_running 0

/* u64 is 4-byte aligned on i386, which gives pv32's packed layout (@0, @4, @12) for free. */
struct vcpu_runstate_info {
    s32 state;             /* @0 */
    u64 state_entry_time;  /* @8 pv64, @4 pv32 */
    u64 time[4];           /* @16 pv64, @12 pv32 */
};
struct vcpu_register_runstate_memory_area { struct vcpu_runstate_info *addr; };
struct vcpu_set_periodic_timer { u64 period_ns; };
struct vcpu_set_singleshot_timer { u64 timeout_abs_ns; u32 flags; };
struct vcpu_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd; };

/* physdev_op */
#define PHYSDEVOP_set_iopl 6
struct physdev_set_iopl { u32 iopl; };

/* multicall: 64 bytes pv64, 32 bytes pv32 */
struct multicall_entry {
    ulong op;
    long result;
    ulong args[6];
};

/* Shared info and vcpu_info (pv64). */
struct vcpu_time_info {
    u32 version;
    u32 pad0;
    u64 tsc_timestamp;
    u64 system_time;
    u32 tsc_to_system_mul;
    s8 tsc_shift;
    u8 flags;
    u8 pad1[2];
};

struct vcpu_info {
    u8 evtchn_upcall_pending;  /* @0 */
    u8 evtchn_upcall_mask;     /* @1 */
    ulong evtchn_pending_sel;  /* @8 pv64, @4 pv32 */
    ulong cr2;                 /* @16 pv64, @8 pv32 (arch.cr2) */
#ifdef __x86_64__
    ulong arch_pad;            /* @24 */
#else
    ulong arch_pad[5];         /* @12 */
#endif
    struct vcpu_time_info time;/* @32 */
};
_Static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info is 64 bytes");

/* 2-level event channels: one bit per port, in ulong words (4096 ports pv64, 1024 pv32). */
#define EVTCHN_WORD_BITS (8 * sizeof(ulong))
struct shared_info {
    struct vcpu_info vcpu_info[32];                 /* @0 */
    ulong evtchn_pending[8 * sizeof(ulong)];        /* @2048 */
    ulong evtchn_mask[8 * sizeof(ulong)];           /* @2560 pv64, @2176 pv32 */
};

/* start_info: ulong fields, so pv64 offsets are 32, 40, 48, 56, 64, 72, 80, 88…128 and pv32 32, 36…80. */
struct start_info {
    char magic[32];            /* @0 */
    ulong nr_pages;
    ulong shared_info;         /* machine address */
    u32 flags;
    xen_pfn_t store_mfn;
    u32 store_evtchn;
    xen_pfn_t console_mfn;
    u32 console_evtchn;
    ulong pt_base;
    ulong nr_pt_frames;
    ulong mfn_list;
    ulong mod_start;
    ulong mod_len;
    char cmd_line[1024];
};

/* PV console ring. */
struct xencons_interface {
    char in[1024];
    char out[2048];
    u32 in_cons, in_prod;
    u32 out_cons, out_prod;
};

/* xenstore ring and wire protocol. */
struct xenstore_domain_interface {
    char req[1024];
    char rsp[1024];
    u32 req_cons, req_prod;
    u32 rsp_cons, rsp_prod;
};
struct xsd_sockmsg { u32 type, req_id, tx_id, len; };
#define XS_READ  2
#define XS_ERROR 16

/* Layout checks against the offsets in shared/reference/xen-pv-abi.md. */
#define ABI_OFFSET(type, field, pv64, pv32) \
    _Static_assert(__builtin_offsetof(type, field) == (sizeof(ulong) == 8 ? (pv64) : (pv32)), #type "." #field)
#define ABI_SIZE(type, pv64, pv32) \
    _Static_assert(sizeof(type) == (sizeof(ulong) == 8 ? (pv64) : (pv32)), "sizeof " #type)
ABI_OFFSET(struct start_info, nr_pages, 32, 32);
ABI_OFFSET(struct start_info, shared_info, 40, 36);
ABI_OFFSET(struct start_info, flags, 48, 40);
ABI_OFFSET(struct start_info, store_mfn, 56, 44);
ABI_OFFSET(struct start_info, store_evtchn, 64, 48);
ABI_OFFSET(struct start_info, console_mfn, 72, 52);
ABI_OFFSET(struct start_info, console_evtchn, 80, 56);
ABI_OFFSET(struct start_info, pt_base, 88, 60);
ABI_OFFSET(struct start_info, nr_pt_frames, 96, 64);
ABI_OFFSET(struct start_info, mfn_list, 104, 68);
ABI_OFFSET(struct start_info, mod_start, 112, 72);
ABI_OFFSET(struct start_info, cmd_line, 128, 80);
ABI_OFFSET(struct shared_info, evtchn_pending, 2048, 2048);
ABI_OFFSET(struct shared_info, evtchn_mask, 2560, 2176);
ABI_OFFSET(struct vcpu_info, evtchn_pending_sel, 8, 4);
ABI_OFFSET(struct vcpu_info, cr2, 16, 8);
ABI_OFFSET(struct vcpu_info, time, 32, 32);
ABI_SIZE(struct trap_info, 16, 8);
ABI_OFFSET(struct trap_info, address, 8, 4);
ABI_SIZE(struct callback_register, 16, 12);
ABI_SIZE(struct mmuext_op, 24, 12);
ABI_OFFSET(struct mmuext_op, arg1, 8, 4);
ABI_SIZE(struct mmu_update, 16, 16);
ABI_OFFSET(struct sched_poll, nr_ports, 8, 4);
ABI_OFFSET(struct sched_poll, timeout, 16, 8);
ABI_OFFSET(struct gnttab_setup_table, status, 8, 8);
ABI_OFFSET(struct gnttab_setup_table, frame_list, 16, 12);
ABI_OFFSET(struct gnttab_query_size, status, 12, 12);
ABI_SIZE(struct multicall_entry, 64, 32);
ABI_SIZE(struct vcpu_runstate_info, 48, 44);
ABI_OFFSET(struct vcpu_runstate_info, state_entry_time, 8, 4);
ABI_OFFSET(struct vcpu_runstate_info, time, 16, 12);
ABI_OFFSET(struct vcpu_set_singleshot_timer, flags, 8, 8);
ABI_SIZE(struct vcpu_register_vcpu_info, 16, 16);
ABI_OFFSET(struct evtchn_status, status, 8, 8);
ABI_OFFSET(struct evtchn_status, u, 16, 16);
ABI_OFFSET(struct xen_memory_map, buffer, 8, 4);
ABI_SIZE(struct xen_machphys_mapping, 24, 12);
ABI_OFFSET(struct xencons_interface, out_cons, 3080, 3080);
ABI_OFFSET(struct xenstore_domain_interface, rsp_prod, 2060, 2060);

#endif
