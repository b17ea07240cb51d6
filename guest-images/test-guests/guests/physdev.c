/* physdev: PHYSDEVOP_set_iopl and the port I/O it permits (the guest kernel counts as CPL 1). */
#include "rt.h"

const struct guest_info guest = { "physdev", RT_TRAPS };

static long set_iopl(u32 level)
{
    struct physdev_set_iopl op = { level };
    return hypercall2(HC_physdev_op, PHYSDEVOP_set_iopl, &op);
}

void guest_main(void)
{
    check_eq(probe_outb(0x80), 1, "outb with the initial virtual IOPL 0 faults");
    check_eq(rt_last_fault.vector, 13, "that fault is #GP");
    check_eq(rt_last_fault.error_code, 0, "with error code 0");
    check_eq(set_iopl(1), 0, "physdev_op(set_iopl, 1) returns 0");
    check_eq(probe_outb(0x80), 0, "outb succeeds with virtual IOPL 1");
    check_eq(set_iopl(0), 0, "physdev_op(set_iopl, 0) returns 0");
    check_eq(probe_outb(0x80), 1, "outb faults again with virtual IOPL 0");
    check_eq(set_iopl(4), -XEN_EINVAL, "set_iopl(4) returns -EINVAL");
    check_eq(hypercall2(HC_physdev_op, PHYSDEVOP_set_iopl, (void *)0x1000), -XEN_EFAULT, "set_iopl with an unmapped argument returns -EFAULT");
    check_eq(hypercall2(HC_physdev_op, 0x7fff, NULL), -XEN_ENOSYS, "physdev_op with an unknown command returns -ENOSYS");
}
