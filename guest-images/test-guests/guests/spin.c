/*
 * spin: a guest that never finishes. It prints one line and loops without a hypercall, so only
 * `shim run --timeout` can stop it (exit code 6, shutdown reason "timeout" in manifest.tsv).
 */
#include "rt.h"

const struct guest_info guest = { "spin", 0 };

void guest_main(void)
{
    rt_printf("spin: looping forever\n");
    for (;;)
        barrier();
}
