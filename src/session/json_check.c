/* json_check.c - strict RFC 8259 syntax check of a message, before json-c.
 *
 * A recursive-descent scanner over the raw bytes. It builds nothing: it only
 * says whether the bytes are one JSON value, exactly as RFC 8259 spells it
 * (no NaN, no Infinity, no single quotes, no "1.", no control characters in
 * strings, no trailing bytes), in valid UTF-8 (no overlong forms, no encoded
 * surrogates, nothing above U+10FFFF), with every \u escape naming a real
 * character (no lone surrogates, no U+0000), and nested at most
 * PROFD_JSON_MAX_DEPTH containers deep, which also bounds the recursion here.
 *
 * Why not rely on json-c alone: json-c's strict mode still lets several of
 * those through (see json_check.h), and profd must reject exactly what the
 * schema-side check in tests/node/validate.mjs rejects, so the rule is written
 * down once, here, in terms of bytes. */
#include "json_check.h"

#include <stdbool.h>

typedef struct scan {
    const unsigned char *p, *start, *end;
    int depth;
    const char *why;
} scan;

static int fail(scan *s, const char *why)
{
    if (!s->why)
        s->why = why;
    return -1;
}

static bool more(const scan *s)
{
    return s->p < s->end;
}

static void skip_ws(scan *s)
{
    while (more(s) && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int literal(scan *s, const char *word)
{
    for (const char *w = word; *w; w++, s->p++)
        if (!more(s) || *s->p != (unsigned char)*w)
            return fail(s, "invalid literal (only true, false and null)");
    return 0;
}

static bool is_digit(const scan *s)
{
    return more(s) && *s->p >= '0' && *s->p <= '9';
}

static int digits(scan *s)
{
    if (!is_digit(s))
        return fail(s, "invalid number");
    while (is_digit(s))
        s->p++;
    return 0;
}

static int number(scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (more(s) && *s->p == '0') {
        s->p++;
    } else if (digits(s)) {
        return -1;
    }
    if (more(s) && *s->p == '.') {
        s->p++;
        if (digits(s))
            return -1;
    }
    if (more(s) && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (more(s) && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (digits(s))
            return -1;
    }
    return 0;
}

static int hex4(scan *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++, s->p++) {
        if (!more(s))
            return fail(s, "unterminated string");
        unsigned c = *s->p, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return fail(s, "invalid \\u escape");
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* s->p is just past "\u". */
static int unicode_escape(scan *s)
{
    unsigned v, lo;
    if (hex4(s, &v))
        return -1;
    if (v == 0)
        return fail(s, "\\u0000 is not allowed");
    if (v >= 0xDC00 && v <= 0xDFFF)
        return fail(s, "lone low surrogate escape");
    if (v < 0xD800 || v > 0xDBFF)
        return 0;
    if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
        return fail(s, "lone high surrogate escape");
    s->p += 2;
    if (hex4(s, &lo))
        return -1;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(s, "lone high surrogate escape");
    return 0;
}

static int escape(scan *s)
{
    s->p++; /* the backslash */
    if (!more(s))
        return fail(s, "unterminated string");
    unsigned char c = *s->p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 0;
    case 'u':
        return unicode_escape(s);
    default:
        s->p--;
        return fail(s, "invalid escape in string");
    }
}

/* One multi-byte UTF-8 sequence at s->p (lead byte >= 0x80), RFC 3629 table. */
static int utf8_char(scan *s)
{
    unsigned char c = *s->p;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return fail(s, "invalid UTF-8");
    if (s->end - s->p <= n)
        return fail(s, "invalid UTF-8");
    for (int i = 1; i <= n; i++) {
        unsigned char b = s->p[i];
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h)
            return fail(s, "invalid UTF-8");
    }
    s->p += n + 1;
    return 0;
}

static int string(scan *s)
{
    s->p++; /* the opening quote */
    for (;;) {
        if (!more(s))
            return fail(s, "unterminated string");
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return fail(s, "control character in string (escape it)");
        if (c == '\\') {
            if (escape(s))
                return -1;
        } else if (c >= 0x80) {
            if (utf8_char(s))
                return -1;
        } else {
            s->p++;
        }
    }
}

static int value(scan *s);

static int open_container(scan *s)
{
    if (++s->depth > PROFD_JSON_MAX_DEPTH)
        return fail(s, "nesting deeper than 64 levels");
    s->p++;
    skip_ws(s);
    return 0;
}

static int object(scan *s)
{
    if (open_container(s))
        return -1;
    if (more(s) && *s->p == '}')
        goto done;
    for (;;) {
        if (!more(s) || *s->p != '"')
            return fail(s, "expected a quoted member name");
        if (string(s))
            return -1;
        skip_ws(s);
        if (!more(s) || *s->p != ':')
            return fail(s, "expected ':' after a member name");
        s->p++;
        if (value(s))
            return -1;
        if (more(s) && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (more(s) && *s->p == '}')
            goto done;
        return fail(s, more(s) ? "expected ',' or '}'" : "truncated (unclosed object)");
    }
done:
    s->p++;
    s->depth--;
    return 0;
}

static int array(scan *s)
{
    if (open_container(s))
        return -1;
    if (more(s) && *s->p == ']')
        goto done;
    for (;;) {
        if (value(s))
            return -1;
        if (more(s) && *s->p == ',') {
            s->p++;
            continue;
        }
        if (more(s) && *s->p == ']')
            goto done;
        return fail(s, more(s) ? "expected ',' or ']'" : "truncated (unclosed array)");
    }
done:
    s->p++;
    s->depth--;
    return 0;
}

/* A value with the whitespace around it. */
static int value(scan *s)
{
    int rc;
    skip_ws(s);
    if (!more(s))
        return fail(s, "truncated (value expected)");
    switch (*s->p) {
    case '{':
        rc = object(s);
        break;
    case '[':
        rc = array(s);
        break;
    case '"':
        rc = string(s);
        break;
    case 't':
        rc = literal(s, "true");
        break;
    case 'f':
        rc = literal(s, "false");
        break;
    case 'n':
        rc = literal(s, "null");
        break;
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            rc = number(s);
        else
            rc = fail(s, "unexpected character");
    }
    if (rc == 0)
        skip_ws(s);
    return rc;
}

int profd_json_check(const char *buf, size_t len, const char **why, size_t *at)
{
    scan s = {(const unsigned char *)buf, (const unsigned char *)buf,
              (const unsigned char *)buf + len, 0, NULL};
    skip_ws(&s);
    if (!more(&s)) {
        fail(&s, "empty message");
    } else if (value(&s) == 0 && more(&s)) {
        fail(&s, "trailing characters after the JSON value");
    }
    if (!s.why)
        return 0;
    if (why)
        *why = s.why;
    if (at)
        *at = (size_t)(s.p - s.start);
    return -1;
}
