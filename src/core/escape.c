/* escape.c - untrusted text made safe for one-line output (logs, details).
 *
 * Log lines and error details carry text that came from outside: a token's
 * subject, a request's service name, a path. Such text must not be able to
 * end a line (a forged log record), to carry terminal escapes, or to make a
 * JSON document invalid UTF-8. One function owns that rule, so the log's
 * text and json formats and the API's details cannot drift apart:
 *
 *  - a byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
 *    overlong forms, no encoded surrogates, nothing above U+10FFFF) becomes
 *    the four characters \xHH, always, and so does a NUL (the output is a C
 *    string: a NUL in it would cut it short);
 *  - with PROFD_ESC_CONTROLS, C0 controls and DEL become \n, \r, \t or \xHH,
 *    the C1 controls and U+2028 / U+2029 become \uHHHH, and a backslash
 *    becomes \\ (so an escape in the output always means an escape). Without
 *    it, controls stay for a JSON encoder to escape, and backslashes stay.
 *
 * The output is always NUL-terminated and cut at a character boundary, never
 * inside an escape. */
#include <stdio.h>
#include <string.h>

#include "profd/util.h"

/* Length of the well-formed UTF-8 sequence at p (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned c = p[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, *cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, *cp = c & 0x0F, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, *cp = c & 0x07, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        unsigned b = p[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
        *cp = (*cp << 6) | (b & 0x3F);
    }
    return k;
}

size_t profd_escape(const char *in, size_t len, unsigned flags, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char esc[16];
        const char *piece = esc;
        size_t pl;
        unsigned cp;
        size_t k = utf8_len(p + i, len - i, &cp);
        bool ctl = (flags & PROFD_ESC_CONTROLS) != 0;
        if (k == 0 || cp == 0) { /* a NUL too: the output is a C string */
            pl = (size_t)snprintf(esc, sizeof esc, "\\x%02x", p[i]);
            k = 1;
        } else if (ctl && cp == '\\') {
            piece = "\\\\", pl = 2;
        } else if (ctl && (cp == '\n' || cp == '\r' || cp == '\t')) {
            esc[0] = '\\', esc[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't', pl = 2;
        } else if (ctl && (cp < 0x20 || cp == 0x7F)) {
            pl = (size_t)snprintf(esc, sizeof esc, "\\x%02x", cp);
        } else if (ctl && ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029)) {
            pl = (size_t)snprintf(esc, sizeof esc, "\\u%04x", cp);
        } else {
            piece = (const char *)p + i, pl = k;
        }
        if (o + pl >= cap)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
        i += k;
    }
    out[o] = '\0';
    return o;
}
