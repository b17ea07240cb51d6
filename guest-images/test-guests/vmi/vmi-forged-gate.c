/* Negative: guest code outside the ROM writes the ROM's gate port; the shim must stop it, not run a VMI call. */
#include "vmi.h"

void guest_main(void)
{
    printf("forging a GetCR3 call from guest code\n");
    __asm__ volatile("mov $21, %%eax\n\tout %%eax, $0xe1" : : : "eax", "memory");
    printf("the forged call returned\n");
    vmi_shutdown();
}
