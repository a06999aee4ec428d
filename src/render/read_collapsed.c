/* render__read_collapsed.c - streaming parser for collapsed ("folded") stacks.
 *
 * Accepts py-spy --format raw and flamegraph.pl / inferno folded files:
 * "frame;frame;frame COUNT" per line. Input is read through one bounded
 * buffer (grown only for a single long line, capped at MAX_LINE), so memory
 * is the tree's, never the input's.
 *
 * Speed comes from the shape of real inputs: consecutive lines share long
 * prefixes (folded files are sorted, samplers repeat hot stacks). The parser
 * keeps the previous line's frames and tree nodes; a new line is compared to
 * it bytewise, 8 bytes at a time, and only the frames after the first
 * difference are hashed and looked up. Unsorted input is still correct, just
 * slower (every frame goes through the hashes).
 *
 * Bad lines are reported as "line N: reason" on stderr and skipped (at most
 * MAX_REPORTS of them, then a count), or fail the read when strict. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reader.h"

#define MAX_LINE (16u << 20)
#define MAX_REPORTS 20

typedef struct parser {
    profd_profile *p;
    const profd_render_opts *o;
    profd_error *err;
    uint64_t line_no, bad;
    char *prev; /* previous stack text */
    size_t prev_len, prev_cap;
    uint32_t *ends; /* end offset of each frame of prev */
    uint32_t *path; /* node of each frame of prev */
    uint32_t *pfid; /* frame id of each frame of prev */
    uint32_t *on;   /* per frame id: times it is on prev's path (recursion) */
    size_t on_cap;
    size_t nframes, frames_cap;
    uint32_t *cut; /* scratch: frame ends of the new suffix */
    size_t cut_cap;
} parser;

static int bad_line(parser *ps, const char *fmt, const char *arg)
{
    char reason[200];
    snprintf(reason, sizeof reason, fmt, arg);
    if (ps->o && ps->o->strict) {
        profd_error_set(ps->err, PROFD_E_INVALID, "line %llu: %s (strict mode)",
                        (unsigned long long)ps->line_no, reason);
        return -1;
    }
    if (++ps->bad <= MAX_REPORTS)
        fprintf(stderr, "line %llu: %s; line skipped\n", (unsigned long long)ps->line_no, reason);
    return 0;
}

static size_t common_prefix(const char *a, const char *b, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            return i + (size_t)(__builtin_ctzll(x ^ y) >> 3);
        i += 8;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

static int ensure_frames(parser *ps, size_t n)
{
    if (n <= ps->frames_cap)
        return 0;
    size_t cap = ps->frames_cap ? ps->frames_cap : 64;
    while (cap < n)
        cap *= 2;
    bool ok = true;
    GROW(ps->ends, cap, ok);
    GROW(ps->path, cap, ok);
    GROW(ps->cut, cap, ok);
    GROW(ps->pfid, cap, ok);
    if (!ok)
        return -1;
    ps->frames_cap = cap;
    return 0;
}

static int grow_on(parser *ps, uint32_t fid)
{
    size_t cap = ps->on_cap ? ps->on_cap : 1024;
    while (cap <= fid)
        cap *= 2;
    uint32_t *on = realloc(ps->on, cap * sizeof *on);
    if (!on)
        return -1;
    memset(on + ps->on_cap, 0, (cap - ps->on_cap) * sizeof *on);
    ps->on = on;
    ps->on_cap = cap;
    return 0;
}

/* Frames of stack[0..len) reused from the previous line: how many, and where
 * the rest starts. */
static size_t reuse(parser *ps, const char *stack, size_t len, size_t *rest)
{
    size_t c = common_prefix(stack, ps->prev, len < ps->prev_len ? len : ps->prev_len);
    size_t k = 0;
    while (k < ps->nframes && ps->ends[k] <= c && (ps->ends[k] == len || stack[ps->ends[k]] == ';'))
        k++;
    if (k && ps->ends[k - 1] == len) {
        *rest = len;
        return k;
    }
    *rest = k ? ps->ends[k - 1] + 1 : 0;
    return k;
}

static int oom(parser *ps)
{
    profd_error_set(ps->err, NULL, "out of memory while reading stacks");
    return -1;
}

static int add_stack(parser *ps, const char *stack, size_t len, uint64_t count)
{
    if (stack[0] == ';' || stack[len - 1] == ';')
        return bad_line(ps, "%s", "empty frame name (';;' or a leading/trailing ';')");
    size_t rest, k = reuse(ps, stack, len, &rest);
    size_t n = 0;
    /* split and validate the new suffix before touching the tree */
    for (size_t at = rest; at < len || (at == len && rest < len);) {
        const char *semi = memchr(stack + at, ';', len - at);
        size_t end = semi ? (size_t)(semi - stack) : len;
        if (end == at)
            return bad_line(ps, "%s", "empty frame name (';;' or a leading/trailing ';')");
        if (ensure_frames(ps, k + n + 1) < 0)
            return oom(ps);
        ps->cut[n++] = (uint32_t)end;
        if (!semi)
            break;
        at = end + 1;
        if (at == len)
            return bad_line(ps, "%s", "empty frame name (';;' or a leading/trailing ';')");
    }
    for (size_t j = k; j < ps->nframes; j++)
        ps->on[ps->pfid[j]]--;
    uint32_t node = k ? ps->path[k - 1] : 0;
    size_t start = rest;
    int fresh = 0; /* once a node is new, its descendants are new too */
    for (size_t i = 0; i < n; i++) {
        size_t end = ps->cut[i];
        uint32_t fid = render__profile_intern(ps->p, stack + start, end - start);
        if (fid == NO_FRAME || (fid >= ps->on_cap && grow_on(ps, fid) < 0))
            return oom(ps);
        uint32_t found = fresh ? UINT32_MAX : render__profile_find_child(ps->p, node, fid);
        if (found != UINT32_MAX)
            node = found;
        else if ((node = render__profile_new_child(ps->p, node, fid, ps->on[fid] > 0)) ==
                 UINT32_MAX)
            return oom(ps);
        else
            fresh = 1;
        ps->on[fid]++;
        ps->pfid[k + i] = fid;
        ps->ends[k + i] = (uint32_t)end;
        ps->path[k + i] = node;
        start = end + 1;
    }
    ps->nframes = k + n;
    if (len > ps->prev_cap) {
        char *np = realloc(ps->prev, len);
        if (!np)
            return oom(ps);
        ps->prev = np;
        ps->prev_cap = len;
    }
    memcpy(ps->prev + rest, stack + rest, len - rest);
    ps->prev_len = len;
    if (render__profile_add_self(ps->p, node, count) < 0) {
        profd_error_set(ps->err, NULL, "line %llu: sample total overflows 64 bits",
                        (unsigned long long)ps->line_no);
        return -1;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_line(parser *ps, const char *s, size_t len)
{
    ps->line_no++;
    /* Blanks and UTF-8 byte order marks start a line, not a frame, in any
     * mix (files concatenated with cat keep each one's BOM); otherwise a frame
     * that began with one would not survive a round trip through our output. */
    while (len && is_space(s[len - 1]))
        len--;
    for (;;) {
        if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            len -= 3;
        } else if (len && is_space(*s)) {
            s++;
            len--;
        } else {
            break;
        }
    }
    if (!len)
        return 0;
    size_t sp = len;
    while (sp && s[sp - 1] != ' ' && s[sp - 1] != '\t')
        sp--;
    if (!sp)
        return bad_line(ps, "%s", "no sample count (expected 'frame;frame;... COUNT')");
    uint64_t count = 0;
    for (size_t i = sp; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || count > (UINT64_MAX - d) / 10) {
            char tok[40];
            snprintf(tok, sizeof tok, "%.*s", (int)(len - sp > 32 ? 32 : len - sp), s + sp);
            return bad_line(ps, "sample count '%s' is not a non-negative integer", tok);
        }
        count = count * 10 + d;
    }
    size_t slen = sp - 1;
    while (slen && is_space(s[slen - 1]))
        slen--;
    if (!slen)
        return bad_line(ps, "%s", "no frames before the sample count");
    if (!count)
        return 0;
    return add_stack(ps, s, slen, count);
}

/* A line split across blocks is assembled in `line` (at most MAX_LINE bytes;
 * a longer one is reported and skipped up to its newline). */
typedef struct carry {
    char *line;
    size_t len, cap;
    int skipping;
} carry;

/* Continue a carried line with the start of a block; returns the offset of
 * the first unconsumed byte. */
static size_t continue_line(parser *ps, carry *c, const char *d, size_t n, int *rc)
{
    const char *nl = memchr(d, '\n', n);
    size_t take = nl ? (size_t)(nl - d) : n;
    if (!c->skipping && c->len + take > MAX_LINE) {
        ps->line_no++;
        *rc = bad_line(ps, "%s", "longer than 16 MiB");
        c->len = 0;
        c->skipping = 1;
    }
    if (c->skipping) {
        c->skipping = !nl;
        return nl ? take + 1 : n;
    }
    if (c->len + take > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + take)
            cap *= 2;
        char *nb = realloc(c->line, cap);
        if (!nb) {
            *rc = oom(ps);
            return n;
        }
        c->line = nb;
        c->cap = cap;
    }
    memcpy(c->line + c->len, d, take);
    c->len += take;
    if (!nl)
        return n;
    *rc = parse_line(ps, c->line, c->len);
    c->len = 0;
    return take + 1;
}

static int run(parser *ps, FILE *in, const char *first, size_t nfirst)
{
    reader *rd = render__reader_open(in, first, nfirst);
    if (!rd)
        return oom(ps);
    carry c = {0};
    int rc = 0, pending = 0; /* pending: a line is being carried */
    for (;;) {
        const char *d;
        size_t n;
        if (render__reader_next(rd, &d, &n) < 0) {
            profd_error_set(ps->err, NULL, "cannot read input: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) {
            if (pending && !c.skipping && c.len)
                rc = parse_line(ps, c.line, c.len);
            break;
        }
        size_t pos = pending ? continue_line(ps, &c, d, n, &rc) : 0;
        pending = pos == n && (c.len || c.skipping);
        while (rc == 0 && pos < n) {
            const char *nl = memchr(d + pos, '\n', n - pos);
            if (!nl) {
                c.len = 0;
                c.skipping = 0;
                continue_line(ps, &c, d + pos, n - pos, &rc);
                pending = 1;
                break;
            }
            rc = parse_line(ps, d + pos, (size_t)(nl - (d + pos)));
            pos = (size_t)(nl - d) + 1;
        }
        if (rc)
            break;
    }
    free(c.line);
    render__reader_close(rd);
    return rc;
}

int render__read_collapsed(profd_profile *p, FILE *in, const char *first, size_t nfirst,
                           const profd_render_opts *o, profd_error *err)
{
    parser ps = {.p = p, .o = o, .err = err};
    int rc = run(&ps, in, first, nfirst);
    if (ps.bad > MAX_REPORTS)
        fprintf(stderr, "%llu bad lines skipped in all (only the first %d reported)\n",
                (unsigned long long)ps.bad, MAX_REPORTS);
    free(ps.prev);
    free(ps.ends);
    free(ps.path);
    free(ps.cut);
    free(ps.pfid);
    free(ps.on);
    return rc;
}
