/* sb.c - growable strings for building requests and URLs.
 *
 * Used wherever a URL, a JSON body or a signature's canonical text is built
 * piece by piece (the GCS store, V4 signing, the Google credentials flow).
 * An allocation failure sets oom and stops the growth, so a builder checks
 * once at the end instead of after every append. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/util.h"

static bool grow(profd_sb *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void profd_sb_addn(profd_sb *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void profd_sb_add(profd_sb *b, const char *s)
{
    profd_sb_addn(b, s, strlen(s));
}

void profd_sb_addf(profd_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void profd_sb_addenc(profd_sb *b, const char *s, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~' ||
                     (keep_slash && *p == '/');
        if (plain) {
            profd_sb_addn(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', digits[*p >> 4], digits[*p & 15]};
            profd_sb_addn(b, e, 3);
        }
    }
}

void profd_sb_free(profd_sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
