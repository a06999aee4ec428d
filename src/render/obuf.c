/* obuf.c - buffered output with the escapes the writers need.
 *
 * Frame names are untrusted bytes. Everything that lands in HTML, SVG or JSON
 * goes through render__ob_json_str or render__ob_xml, which also repair invalid UTF-8 (as
 * U+FFFD) so a browser or JSON parser never sees a broken sequence. The JSON
 * escaping is also safe inside an HTML <script> element: '<', '>' and '&' are
 * written as \u003c etc., so no name can close the element, and U+2028/2029
 * are escaped for old JavaScript parsers. */
#include <stdarg.h>
#include <string.h>

#include "internal.h"

void render__ob_init(obuf *o, FILE *f)
{
    o->f = f;
    o->n = 0;
    o->err = 0;
}

int render__ob_flush(obuf *o)
{
    if (o->n && fwrite(o->b, 1, o->n, o->f) != o->n)
        o->err = 1;
    o->n = 0;
    return o->err ? -1 : 0;
}

void render__ob_write(obuf *o, const void *s, size_t n)
{
    if (o->n + n > sizeof o->b) {
        render__ob_flush(o);
        if (n > sizeof o->b) {
            if (fwrite(s, 1, n, o->f) != n)
                o->err = 1;
            return;
        }
    }
    memcpy(o->b + o->n, s, n);
    o->n += n;
}

void render__ob_puts(obuf *o, const char *s)
{
    render__ob_write(o, s, strlen(s));
}

void render__ob_putc(obuf *o, char c)
{
    if (o->n == sizeof o->b)
        render__ob_flush(o);
    o->b[o->n++] = c;
}

void render__ob_u64(obuf *o, uint64_t v)
{
    char t[24];
    int i = 24;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    render__ob_write(o, t + i, (size_t)(24 - i));
}

void render__ob_printf(obuf *o, const char *fmt, ...)
{
    char t[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    if (n > 0)
        render__ob_write(o, t, (size_t)n < sizeof t ? (size_t)n : sizeof t - 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    unsigned cp = c & (0x3F >> (k - 1));
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

void render__ob_json_str(obuf *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned c = u[i];
        const char *esc = NULL;
        char t[8];
        size_t k = 1;
        if (c >= 0x80) {
            k = utf8_len(u + i, n - i);
            if (!k)
                esc = "\xEF\xBF\xBD", k = 1;
            else if (k == 3 && c == 0xE2 && u[i + 1] == 0x80 &&
                     (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
                esc = u[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
        } else if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '<')
            esc = "\\u003c";
        else if (c == '>')
            esc = "\\u003e";
        else if (c == '&')
            esc = "\\u0026";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7F) {
            snprintf(t, sizeof t, "\\u%04x", c);
            esc = t;
        }
        if (esc) {
            render__ob_write(o, s + i - run, run);
            run = 0;
            render__ob_puts(o, esc);
        } else
            run += k;
        i += k;
    }
    render__ob_write(o, s + n - run, run);
}

void render__ob_xml(obuf *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned c = u[i];
        const char *esc = NULL;
        size_t k = 1;
        if (c >= 0x80) {
            k = utf8_len(u + i, n - i);
            if (!k)
                esc = "\xEF\xBF\xBD", k = 1;
        } else if (c == '<')
            esc = "&lt;";
        else if (c == '>')
            esc = "&gt;";
        else if (c == '&')
            esc = "&amp;";
        else if (c == '"')
            esc = "&quot;";
        else if (c == '\'')
            esc = "&#39;";
        else if ((c < 0x20 && c != '\t') || c == 0x7F)
            esc = "\xEF\xBF\xBD"; /* not allowed in XML 1.0 */
        if (esc) {
            render__ob_write(o, s + i - run, run);
            run = 0;
            render__ob_puts(o, esc);
        } else
            run += k;
        i += k;
    }
    render__ob_write(o, s + n - run, run);
}
