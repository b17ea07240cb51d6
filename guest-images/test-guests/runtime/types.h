#ifndef SHIM_TEST_TYPES_H
#define SHIM_TEST_TYPES_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef unsigned long ulong;     /* pointer-sized: 64-bit on pv64, 32-bit on pv32pae */
typedef unsigned long size_t;
typedef ulong xen_pfn_t;         /* Xen's xen_pfn_t / xen_ulong_t in guest structures */

#define NULL ((void *)0)
#define PAGE_SIZE 4096UL
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
