/* parse.c - a strict HTTP/1.1 request parser (RFC 9112), for the front.
 *
 * Strict because a lenient parser in front of anything else is how requests
 * get smuggled: when two readers of the same bytes can disagree on where a
 * request ends, an attacker picks the reading. So every case that RFC 9112
 * lets a server reject is rejected, and the front answers 400 and closes:
 *  - lines end in CRLF only; a bare CR or LF anywhere in the head, a chunk
 *    line or a trailer is an error (§2.2);
 *  - request-line: token SP origin-form SP HTTP/1.0|1.1, single spaces;
 *  - field lines: a token name, no whitespace before ':', no obs-fold
 *    (a line starting with SP/HTAB), values of VCHAR, SP, HTAB and obs-text
 *    only (no NUL, no other control character) (§5);
 *  - framing (§6): at most one Content-Length, all digits; at most one
 *    Transfer-Encoding, and it must be exactly "chunked"; both at once is an
 *    error (in either order); Transfer-Encoding in HTTP/1.0 is an error;
 *  - chunked (§7.1): 1 to 16 hex digits, extensions parsed to the grammar
 *    (token names, token or quoted-string values) and ignored; trailers
 *    checked like header fields and dropped;
 *  - Host: exactly one on HTTP/1.1, at most one on 1.0 (§3.2);
 *  - the path and the query are percent-decoded here, and %00 (or a bad
 *    escape) is an error, so no handler ever sees a string cut short.
 * Pure functions over buffers: unit-tested (tests/api/test_http_parse.c)
 * and fuzzed (fuzz/fuzz_http.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "front.h"

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_vchar_or_obs(unsigned char c)
{
    return (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), API_PARSE_BAD)

api_parse_result api__head_end(const char *buf, size_t len, size_t *end)
{
    size_t i = 0;
    while (i + 1 < len && buf[i] == '\r' && buf[i + 1] == '\n') /* leading empty lines */
        i += 2;
    size_t start = i, line = i;
    for (; i < len && i - start <= API_HTTP_MAX_HEAD; i++) {
        if (buf[i] == '\n')
            return API_PARSE_BAD; /* the LF of a CRLF is stepped over below: this one is bare */
        if (buf[i] != '\r')
            continue;
        if (i + 1 >= len)
            return API_PARSE_MORE;
        if (buf[i + 1] != '\n')
            return API_PARSE_BAD;
        if (i == line && i > start) { /* the blank line */
            *end = i + 2;
            return *end - start > API_HTTP_MAX_HEAD ? API_PARSE_HEAD_TOO_LARGE : API_PARSE_OK;
        }
        line = i + 2;
        i++;
    }
    return len - start > API_HTTP_MAX_HEAD ? API_PARSE_HEAD_TOO_LARGE : API_PARSE_MORE;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *api__percent_decode(const char *s, size_t n, bool plus, bool no_ctl)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                goto bad;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0 || (no_ctl && (c < 0x20 || c == 0x7f)))
            goto bad;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* "HTTP/1.1" etc.: 1.0/1.1 set *minor; other well-formed versions are 505. */
static api_parse_result parse_version(const char *v, int *minor)
{
    if (strlen(v) != 8 || strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) ||
        v[6] != '.' || !isdigit((unsigned char)v[7]))
        return API_PARSE_BAD;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return API_PARSE_BAD_VERSION;
    *minor = v[7] - '0';
    return API_PARSE_OK;
}

static api_parse_result parse_request_line(char *line, api_head *h, char *why, size_t why_len)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return WHY("malformed request line");
    *sp1 = '\0';
    for (const char *p = line; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return WHY("malformed request method");
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return WHY("malformed request line");
    *sp2 = '\0';
    for (const char *p = target; *p; p++)
        if (!is_vchar_or_obs((unsigned char)*p) || (unsigned char)*p >= 0x80)
            return WHY("request target holds a character that must be percent-encoded");
    if (target[0] != '/')
        return WHY("request target must be a path (origin-form)");
    api_parse_result v = parse_version(sp2 + 1, &h->minor);
    if (v == API_PARSE_BAD)
        return WHY("malformed HTTP version");
    if (v != API_PARSE_OK) {
        snprintf(why, why_len, "HTTP version not supported");
        return v;
    }
    h->method = line;
    h->target = target;
    return API_PARSE_OK;
}

/* name: value, with the OWS trimmed; cuts the line in place. */
static api_parse_result parse_field(char *line, api_field *f, char *why, size_t why_len)
{
    if (is_ows(line[0]))
        return WHY("obsolete line folding is not accepted");
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return WHY("malformed header field");
    for (const char *p = line; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return WHY("malformed header field name (no whitespace before ':')");
    *colon = '\0';
    char *v = colon + 1;
    while (is_ows(*v))
        v++;
    char *e = v + strlen(v);
    while (e > v && is_ows(e[-1]))
        e--;
    *e = '\0';
    for (const char *p = v; *p; p++)
        if (!is_vchar_or_obs((unsigned char)*p) && !is_ows(*p))
            return WHY("header field %s holds a control character", line);
    f->name = line;
    f->value = v;
    return API_PARSE_OK;
}

/* The strlen of each line matters: a NUL inside the head cuts a line short,
 * so the caller compares it with the CRLF position. */
static api_parse_result split_lines(char *buf, size_t len, api_head *h, char *why, size_t why_len)
{
    char *p = buf, *end = buf + len;
    while (p + 1 < end && p[0] == '\r' && p[1] == '\n')
        p += 2;
    bool first = true;
    while (p < end) {
        char *cr = memchr(p, '\r', (size_t)(end - p));
        if (!cr || cr + 1 >= end || cr[1] != '\n')
            return WHY("malformed line ending");
        *cr = '\0';
        if (strlen(p) != (size_t)(cr - p))
            return WHY("NUL byte in the request head");
        if (cr == p) /* the blank line */
            return API_PARSE_OK;
        api_parse_result r;
        if (first) {
            r = parse_request_line(p, h, why, why_len);
            first = false;
        } else {
            if (h->nfields == API_HTTP_MAX_FIELDS) {
                snprintf(why, why_len, "more than %d header fields", API_HTTP_MAX_FIELDS);
                return API_PARSE_HEAD_TOO_LARGE;
            }
            r = parse_field(p, &h->fields[h->nfields], why, why_len);
            h->nfields++;
        }
        if (r != API_PARSE_OK)
            return r;
        p = cr + 2;
    }
    return WHY("request head has no end");
}

static bool token_list_has(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; *p;) {
        while (*p == ',' || is_ows(*p))
            p++;
        const char *s = p;
        while (*p && *p != ',' && !is_ows(*p))
            p++;
        if ((size_t)(p - s) == n && strncasecmp(s, tok, n) == 0)
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static bool host_ok(const char *v)
{
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._~:[]%!$&'()*+,;=", *p))
            return false;
    return true;
}

static api_parse_result framing(api_head *h, char *why, size_t why_len)
{
    const char *cl = NULL, *te = NULL, *host = NULL, *conn = NULL;
    int ncl = 0, nte = 0, nhost = 0;
    for (int i = 0; i < h->nfields; i++) {
        const api_field *f = &h->fields[i];
        if (strcasecmp(f->name, "Content-Length") == 0)
            cl = f->value, ncl++;
        else if (strcasecmp(f->name, "Transfer-Encoding") == 0)
            te = f->value, nte++;
        else if (strcasecmp(f->name, "Host") == 0)
            host = f->value, nhost++;
        else if (strcasecmp(f->name, "Connection") == 0)
            conn = f->value;
        else if (strcasecmp(f->name, "Expect") == 0 && strcasecmp(f->value, "100-continue") == 0)
            h->expect_100 = true;
    }
    if (nhost > 1)
        return WHY("more than one Host header");
    if (nhost == 0 && h->minor == 1)
        return WHY("HTTP/1.1 request without Host");
    if (host && !host_ok(host))
        return WHY("malformed Host header");
    if (ncl > 1)
        return WHY("more than one Content-Length");
    if (nte > 1)
        return WHY("more than one Transfer-Encoding");
    if (cl && te)
        return WHY("both Content-Length and Transfer-Encoding");
    if (te) {
        if (h->minor == 0)
            return WHY("Transfer-Encoding in an HTTP/1.0 request");
        if (strcasecmp(te, "chunked") != 0)
            return WHY("Transfer-Encoding must be chunked");
        h->body = API_BODY_CHUNKED;
    } else if (cl) {
        size_t n = strlen(cl);
        if (n == 0 || n > 18 || strspn(cl, "0123456789") != n)
            return WHY("malformed Content-Length");
        h->length = strtoull(cl, NULL, 10);
        h->body = h->length ? API_BODY_LENGTH : API_BODY_NONE;
    }
    if (h->minor == 1)
        h->keep_alive = !(conn && token_list_has(conn, "close"));
    else
        h->keep_alive = conn && token_list_has(conn, "keep-alive");
    return API_PARSE_OK;
}

static api_parse_result parse_target(api_head *h, char *why, size_t why_len)
{
    const char *q = strchr(h->target, '?');
    size_t plen = q ? (size_t)(q - h->target) : strlen(h->target);
    if (!(h->path = api__percent_decode(h->target, plen, false, true)))
        return WHY("the path holds a malformed escape, %%00 or a control character");
    if (!q)
        return API_PARSE_OK;
    q++;
    size_t qlen = strlen(q);
    /* each pair decodes to at most its raw length plus two NULs */
    if (!(h->argbuf = malloc(2 * qlen + 2)))
        return WHY("out of memory");
    size_t used = 0;
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n) {
            const char *eq = memchr(p, '=', n);
            size_t kn = eq ? (size_t)(eq - p) : n;
            char *k = api__percent_decode(p, kn, true, false);
            char *v = api__percent_decode(eq ? eq + 1 : "", eq ? n - kn - 1 : 0, true, false);
            if (!k || !v) {
                free(k);
                free(v);
                return WHY("the query holds a malformed escape or %%00");
            }
            if (h->nargs == API_HTTP_MAX_ARGS) {
                free(k);
                free(v);
                return WHY("more than %d query parameters", API_HTTP_MAX_ARGS);
            }
            size_t kl = strlen(k), vl = strlen(v);
            char *dk = h->argbuf + used;
            memcpy(dk, k, kl + 1);
            used += kl + 1;
            char *dv = h->argbuf + used;
            memcpy(dv, v, vl + 1);
            used += vl + 1;
            free(k);
            free(v);
            h->args[h->nargs++] = (api_field){dk, dv};
        }
        p += n + (amp ? 1 : 0);
    }
    return API_PARSE_OK;
}

api_parse_result api__parse_head(const char *buf, size_t len, api_head *h, char *why,
                                 size_t why_len)
{
    memset(h, 0, sizeof *h);
    if (why_len)
        why[0] = '\0';
    if (!(h->buf = malloc(len + 1)))
        return WHY("out of memory");
    memcpy(h->buf, buf, len);
    h->buf[len] = '\0';
    api_parse_result r = split_lines(h->buf, len, h, why, why_len);
    if (r == API_PARSE_OK && !h->method)
        r = WHY("empty request");
    if (r == API_PARSE_OK)
        r = framing(h, why, why_len);
    if (r == API_PARSE_OK)
        r = parse_target(h, why, why_len);
    return r;
}

void api__head_free(api_head *h)
{
    free(h->buf);
    free(h->path);
    free(h->argbuf);
    memset(h, 0, sizeof *h);
}

const char *api__head_field(const api_head *h, const char *name)
{
    for (int i = 0; i < h->nfields; i++)
        if (strcasecmp(h->fields[i].name, name) == 0)
            return h->fields[i].value;
    return NULL;
}

const char *api__head_arg(const api_head *h, const char *name)
{
    for (int i = 0; i < h->nargs; i++)
        if (strcmp(h->args[i].name, name) == 0)
            return h->args[i].value;
    return NULL;
}

/* ---- chunked ------------------------------------------------------------- */

enum { CH_SIZE, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_DONE };

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
static bool chunk_ext_ok(const char *p)
{
    for (;;) {
        while (is_ows(*p))
            p++;
        if (!*p)
            return true;
        if (*p++ != ';')
            return false;
        while (is_ows(*p))
            p++;
        const char *s = p;
        while (is_tchar((unsigned char)*p))
            p++;
        if (p == s)
            return false;
        while (is_ows(*p))
            p++;
        if (*p != '=')
            continue;
        p++;
        while (is_ows(*p))
            p++;
        if (*p == '"') {
            for (p++;; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == '"')
                    break;
                if (c == '\\') {
                    c = (unsigned char)*++p;
                    if (!is_vchar_or_obs(c) && !is_ows((char)c))
                        return false;
                } else if (!is_vchar_or_obs(c) && !is_ows((char)c)) {
                    return false; /* also the end of the line: unterminated */
                }
            }
            p++;
        } else {
            s = p;
            while (is_tchar((unsigned char)*p))
                p++;
            if (p == s)
                return false;
        }
    }
}

static api_parse_result size_line(api_chunked *c)
{
    const char *p = c->line;
    uint64_t v = 0;
    int digits = 0;
    for (int h; (h = hexval(*p)) >= 0; p++) {
        if (++digits > 16)
            return API_PARSE_BAD;
        v = v * 16 + (uint64_t)h;
    }
    if (!digits || (*p && *p != ';' && !is_ows(*p)) || !chunk_ext_ok(p))
        return API_PARSE_BAD;
    if (is_ows(*p)) { /* BWS is only allowed before a ';' */
        const char *q = p;
        while (is_ows(*q))
            q++;
        if (*q != ';')
            return API_PARSE_BAD;
    }
    c->left = v;
    c->state = v ? CH_DATA : CH_TRAILER;
    return API_PARSE_OK;
}

static api_parse_result trailer_line(api_chunked *c)
{
    if (c->line_len == 0) {
        c->state = CH_DONE;
        return API_PARSE_OK;
    }
    if (++c->trailers > API_HTTP_MAX_FIELDS)
        return API_PARSE_BAD;
    api_field f;
    char why[8];
    return parse_field(c->line, &f, why, sizeof why) == API_PARSE_OK ? API_PARSE_OK : API_PARSE_BAD;
}

api_parse_result api__chunked_feed(api_chunked *c, const char *in, size_t n, size_t *used,
                                   char **body, size_t *len, size_t cap)
{
    size_t i = 0;
    api_parse_result r = API_PARSE_MORE;
    while (i < n && c->state != CH_DONE) {
        char ch = in[i];
        if (c->state == CH_DATA) {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            if (*len + take > cap) {
                r = API_PARSE_BODY_TOO_LARGE;
                break;
            }
            char *b = realloc(*body, *len + take + 1);
            if (!b) {
                r = API_PARSE_BODY_TOO_LARGE;
                break;
            }
            memcpy(b + *len, in + i, take);
            *len += take;
            b[*len] = '\0';
            *body = b;
            c->left -= take;
            i += take;
            if (!c->left)
                c->state = CH_DATA_CR;
            continue;
        }
        i++;
        if (c->state == CH_DATA_CR || c->state == CH_DATA_LF) {
            if (ch != (c->state == CH_DATA_CR ? '\r' : '\n')) {
                r = API_PARSE_BAD;
                break;
            }
            c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            continue;
        }
        /* CH_SIZE or CH_TRAILER: a line ending in CRLF */
        if (++c->overhead > API_HTTP_MAX_OVERHEAD) {
            r = API_PARSE_BODY_TOO_LARGE;
            break;
        }
        bool after_cr = c->line_len && c->line[c->line_len - 1] == '\r';
        if (ch == '\n') {
            if (!after_cr) {
                r = API_PARSE_BAD;
                break;
            }
            c->line[--c->line_len] = '\0';
            r = c->state == CH_SIZE ? size_line(c) : trailer_line(c);
            c->line_len = 0;
            if (r != API_PARSE_OK)
                break;
            r = API_PARSE_MORE;
            continue;
        }
        if (after_cr || ch == '\0' || c->line_len + 2 > sizeof c->line) {
            r = API_PARSE_BAD;
            break;
        }
        c->line[c->line_len++] = ch;
    }
    *used = i;
    if (r == API_PARSE_MORE && c->state == CH_DONE)
        r = API_PARSE_OK;
    return r;
}
