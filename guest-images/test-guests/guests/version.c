/* version: xen_version sub-ops a PV guest uses at boot, their rejections, and a multicall batch. */
#include "rt.h"

const struct guest_info guest = { "version", 0 };

static int contains(const char *haystack, size_t n, const char *needle)
{
    size_t len = strlen(needle);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(haystack + i, needle, len) == 0)
            return 1;
    return 0;
}

static int contains_nul(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0')
            return 1;
    return 0;
}

void guest_main(void)
{
    long version = hypercall2(HC_xen_version, XENVER_version, 0);
    check_ge(version >> 16, 3, "xen_version(version): major is at least 3");

    struct xen_feature_info features = { 0, 0xffffffff };
    check_eq(hypercall2(HC_xen_version, XENVER_get_features, &features), 0, "xen_version(get_features, submap 0) returns 0");
    check_eq(features.submap & (1u << XENFEAT_writable_page_tables), 0, "get_features: writable_page_tables is not offered to PV guests");
    check_eq(features.submap & (1u << XENFEAT_auto_translated_physmap), 0, "get_features: auto_translated_physmap is clear for a PV guest");
    struct xen_feature_info beyond = { 1, 0 };
    check_eq(hypercall2(HC_xen_version, XENVER_get_features, &beyond), -XEN_EINVAL, "get_features with submap 1 returns -EINVAL");

    check_eq(hypercall2(HC_xen_version, XENVER_pagesize, 0), 4096, "xen_version(pagesize) is 4096");

    char extra[16];
    memset(extra, 0x7f, sizeof(extra));
    check_eq(hypercall2(HC_xen_version, XENVER_extraversion, extra), 0, "xen_version(extraversion) returns 0");
    check(contains_nul(extra, sizeof(extra)), "extraversion is a NUL-terminated string of at most 16 bytes");

    static char caps[1024];
    check_eq(hypercall2(HC_xen_version, XENVER_capabilities, caps), 0, "xen_version(capabilities) returns 0");
    check(contains(caps, sizeof(caps), XEN_GUEST_MAGIC), "capabilities include this guest's ABI");

    check_eq(hypercall2(HC_xen_version, 0x7fff, 0), -XEN_ENOSYS, "xen_version with an unknown sub-op returns -ENOSYS");

    static struct multicall_entry calls[3] = {
        { HC_xen_version, 0, { XENVER_pagesize, 0, 0, 0, 0, 0 } },
        { HC_sched_op, 0, { 0x7fff, 0, 0, 0, 0, 0 } },
        { HC_xen_version, 0, { XENVER_version, 0, 0, 0, 0, 0 } },
    };
    check_eq(hypercall2(HC_multicall, calls, 3), 0, "multicall of three entries returns 0");
    check_eq(calls[0].result, 4096, "multicall entry 1 (xen_version pagesize) result is 4096");
    check_eq(calls[1].result, -XEN_ENOSYS, "multicall entry 2 (unknown sched_op) result is -ENOSYS and the batch goes on");
    check_eq(calls[2].result, version, "multicall entry 3 (xen_version version) matches the direct call");
}
