/*
 * Baseline for `shim bench exits`: the smallest KVM_RUN loop that services port-I/O exits.
 * The guest is the same as Shim's benchmark guest: identity-mapped 2 MiB, 64-bit code at
 * CPL3 with IOPL=3 (or CPL0) looping on `out %al, $0x10`. Prints "ns_per_exit=<value>".
 * Usage: exit_loop cpl3|cpl0 ITERATIONS
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (2u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define CODE 0x10000
#define BENCH_PORT 0x10

static void die(const char *what) { perror(what); exit(1); }

static struct kvm_segment segment(uint16_t selector, int code, int dpl)
{
    struct kvm_segment s = {0};
    s.selector = selector;
    s.limit = 0xffffffff;
    s.present = 1;
    s.s = 1;
    s.dpl = dpl;
    s.g = 1;
    s.type = code ? 0xb : 0x3;
    s.l = code;
    s.db = !code;
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: %s cpl3|cpl0 ITERATIONS\n", argv[0]); return 2; }
    int cpl = strcmp(argv[1], "cpl0") == 0 ? 0 : 3;
    long iterations = atol(argv[2]);

    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");

    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) die("mmap");
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

    /* present | writable | user; the PD entry maps one 2 MiB page at 0 */
    *(uint64_t *)(mem + PML4) = PDPT | 7;
    *(uint64_t *)(mem + PDPT) = PD | 7;
    *(uint64_t *)(mem + PD) = 0 | 0x87;
    static const uint8_t loop[] = { 0xe6, BENCH_PORT, 0xeb, 0xfc }; /* out %al,$0x10 ; jmp .-2 */
    memcpy(mem + CODE, loop, sizeof loop);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    sregs.cr3 = PML4;
    sregs.cr4 = 1u << 5;                      /* PAE */
    sregs.cr0 = 0x80000001u | (1u << 16);     /* PG | PE | WP */
    sregs.efer = (1u << 8) | (1u << 10);      /* LME | LMA */
    sregs.cs = segment(cpl ? 0x1b : 0x08, 1, cpl);
    struct kvm_segment data = segment(cpl ? 0x23 : 0x10, 0, cpl);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");

    struct kvm_regs regs = {0};
    regs.rip = CODE;
    regs.rsp = MEM_SIZE - 16;
    regs.rflags = 0x2 | (3u << 12);           /* IOPL=3 so CPL3 may use `out` */
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

    /* warm-up, then the measured loop; every exit must be our port write */
    struct timespec start, end;
    for (long i = -1000; i < iterations; i++) {
        if (i == 0) clock_gettime(CLOCK_MONOTONIC, &start);
        if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
        if (run->exit_reason != KVM_EXIT_IO || run->io.port != BENCH_PORT) {
            fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("ns_per_exit=%.1f\n", ns / iterations);
    return 0;
}
