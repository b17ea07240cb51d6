/*
 * hello: the smallest useful guest. Only console_io (CONSOLEIO_write) and SCHEDOP_shutdown(poweroff);
 * no traps, no shared_info. Also reads start_info fields a domain builder must fill.
 */
#include "rt.h"

const struct guest_info guest = { "hello", 0 };

static int has_nul(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            return 1;
    return 0;
}

void guest_main(void)
{
    rt_printf("Hello from a Shim Xen PV test guest\n");
    check(memcmp(rt_si->magic, XEN_GUEST_MAGIC, sizeof(XEN_GUEST_MAGIC)) == 0, "start_info magic names this guest's ABI (xen-3.0-x86_64 / xen-3.0-x86_32p)");
    check(rt_si->nr_pages >= 256, "start_info nr_pages is at least 1 MiB of memory");
    check(rt_si->pt_base > VIRT_BASE && (rt_si->pt_base & 0xfff) == 0, "start_info pt_base is a page in the boot region");
    check(rt_si->mfn_list != 0, "start_info mfn_list is set");
    check(rt_si->console_evtchn != 0 && rt_si->store_evtchn != 0, "start_info has console and xenstore event channels");
    check(has_nul(rt_si->cmd_line, sizeof(rt_si->cmd_line)), "start_info cmd_line is NUL-terminated");
    long rc = hypercall3(HC_console_io, CONSOLEIO_write, 0, "");
    check_eq(rc, 0, "console_io(write, 0 bytes) returns 0");
}
