/* Minimal vsnprintf: %s %c %d %i %u %x %p %% with l/ll, field width and 0-padding. */
#include <stdarg.h>
#include "rt.h"

struct out { char *buf; size_t len, cap; };

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

/* Divides *v by a small base in 16-bit steps: pv32 has no libgcc for 64-bit division. */
static unsigned divide(u64 *v, unsigned base)
{
    u64 quotient = 0;
    unsigned remainder = 0;
    for (int shift = 48; shift >= 0; shift -= 16) {
        unsigned current = (remainder << 16) | (unsigned)((*v >> shift) & 0xffff);
        quotient |= (u64)(current / base) << shift;
        remainder = current % base;
    }
    *v = quotient;
    return remainder;
}

static void put_unsigned(struct out *o, u64 v, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        unsigned d = divide(&v, base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    } while (v);
    for (; width > n; width--)
        put(o, pad);
    while (n)
        put(o, digits[--n]);
}

size_t rt_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    struct out o = { buf, 0, cap };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }
        switch (*fmt) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            while (*s)
                put(&o, *s++);
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i': {
            s64 v = longs >= 2 ? va_arg(ap, s64) : longs ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0) {
                put(&o, '-');
                put_unsigned(&o, (u64)0 - (u64)v, 10, width ? width - 1 : 0, pad);
            } else {
                put_unsigned(&o, (u64)v, 10, width, pad);
            }
            break;
        }
        case 'u':
        case 'x': {
            u64 v = longs >= 2 ? va_arg(ap, u64) : longs ? va_arg(ap, ulong) : va_arg(ap, unsigned);
            put_unsigned(&o, v, *fmt == 'u' ? 10 : 16, width, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_unsigned(&o, (ulong)va_arg(ap, void *), 16, width, pad);
            break;
        case '%':
            put(&o, '%');
            break;
        default:
            put(&o, '%');
            if (*fmt)
                put(&o, *fmt);
            else
                fmt--;
            break;
        }
    }
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}
