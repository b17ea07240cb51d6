/* crash: SCHEDOP_shutdown(crash) must end the domain with the crash reason (the harness checks it). */
#include "rt.h"

const struct guest_info guest = { "crash", 0 };

void guest_main(void)
{
    rt_printf("crash: requesting SCHEDOP_shutdown(crash)\n");
    rt_shutdown(SHUTDOWN_crash);
}
