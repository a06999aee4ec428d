/* write_pprof.c - gzip-compressed profile.proto (github.com/google/pprof,
 * proto/profile.proto), as read by `go tool pprof` and Pyroscope.
 *
 * One sample per unique stack (location ids leaf first, as pprof wants) with
 * one value, "samples"/"count". A location per distinct frame name carries
 * its line; a function per distinct (function, file) pair. Python samplers
 * report the line being executed, not where the function starts, so a
 * function's start_line is the lowest line seen for it: an approximation.
 * Strings are deduplicated through the same interning as frame names. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "pb.h"

enum {
    P_SAMPLE_TYPE = 1,
    P_SAMPLE = 2,
    P_LOCATION = 4,
    P_FUNCTION = 5,
    P_STRING = 6,
    P_PERIOD_TYPE = 11,
    P_PERIOD = 12
};

typedef struct pw {
    const profd_profile *p;
    profd_profile *strings; /* interned string table; id = index */
    profd_profile *funcs;   /* "func\0file" -> function index */
    uint32_t *func_of;      /* fid -> function index */
    long *start_line;       /* function index -> lowest line */
    pb out, sub, sub2;
} pw;

static uint64_t str(pw *w, const char *s, size_t n)
{
    return render__profile_intern(w->strings, s, n);
}

static void value_type(pw *w, uint32_t field, const char *type, const char *unit)
{
    render__pb_reset(&w->sub);
    render__pb_uint(&w->sub, 1, str(w, type, strlen(type)));
    render__pb_uint(&w->sub, 2, str(w, unit, strlen(unit)));
    render__pb_msg(&w->out, field, &w->sub);
}

static int map_functions(pw *w)
{
    const profd_profile *p = w->p;
    w->func_of = malloc(((size_t)p->nnames + 1) * sizeof *w->func_of);
    w->start_line = malloc(((size_t)p->nnames + 1) * sizeof *w->start_line);
    if (!w->func_of || !w->start_line)
        return -1;
    for (uint32_t i = 0; i < p->nnames; i++) {
        frame_parts fp;
        render__frame_split(p->names[i].s, p->names[i].len, &fp);
        char *key = malloc(fp.func_len + fp.file_len + 2);
        if (!key)
            return -1;
        memcpy(key, fp.func, fp.func_len);
        key[fp.func_len] = '\0';
        memcpy(key + fp.func_len + 1, fp.file, fp.file_len);
        uint32_t before = w->funcs->nnames;
        uint32_t f = render__profile_intern(w->funcs, key, fp.func_len + fp.file_len + 1);
        free(key);
        if (f == NO_FRAME)
            return -1;
        w->func_of[i] = f;
        if (f == before || (fp.line && fp.line < w->start_line[f]))
            w->start_line[f] = fp.line;
    }
    return 0;
}

static void functions(pw *w)
{
    for (uint32_t f = 0; f < w->funcs->nnames; f++) {
        const rname *k = &w->funcs->names[f];
        size_t flen = strlen(k->s);
        uint64_t name = str(w, k->s, flen);
        render__pb_reset(&w->sub);
        render__pb_uint(&w->sub, 1, f + 1);
        render__pb_uint(&w->sub, 2, name);
        render__pb_uint(&w->sub, 3, name);
        render__pb_uint(&w->sub, 4, str(w, k->s + flen + 1, k->len - flen - 1));
        render__pb_uint(&w->sub, 5, (uint64_t)w->start_line[f]);
        render__pb_msg(&w->out, P_FUNCTION, &w->sub);
    }
}

static void locations(pw *w)
{
    for (uint32_t i = 0; i < w->p->nnames; i++) {
        frame_parts fp;
        render__frame_split(w->p->names[i].s, w->p->names[i].len, &fp);
        render__pb_reset(&w->sub2);
        render__pb_uint(&w->sub2, 1, w->func_of[i] + 1);
        render__pb_uint(&w->sub2, 2, (uint64_t)fp.line);
        render__pb_reset(&w->sub);
        render__pb_uint(&w->sub, 1, i + 1);
        render__pb_msg(&w->sub, 4, &w->sub2);
        render__pb_msg(&w->out, P_LOCATION, &w->sub);
    }
}

static int samples(pw *w)
{
    const profd_profile *p = w->p;
    uint64_t *locs = malloc(((size_t)render__profile_view(p)->max_depth + 1) * sizeof *locs);
    if (!locs)
        return -1;
    for (uint32_t n = 1; n < p->nnodes; n++) {
        if (!p->nodes[n].self)
            continue;
        size_t d = 0;
        for (uint32_t m = n; m; m = p->nodes[m].parent)
            locs[d++] = p->nodes[m].fid + 1; /* leaf first */
        render__pb_reset(&w->sub);
        render__pb_packed(&w->sub, 1, locs, d);
        render__pb_packed(&w->sub, 2, &p->nodes[n].self, 1);
        render__pb_msg(&w->out, P_SAMPLE, &w->sub);
    }
    free(locs);
    return 0;
}

static int gzip_to(FILE *out, const uint8_t *b, size_t n)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t buf[65536] = {0};
    z.next_in = (uint8_t *)b;
    z.avail_in = (uInt)n;
    int rc, ret = 0;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        rc = deflate(&z, Z_FINISH);
        size_t have = sizeof buf - z.avail_out;
        if (rc == Z_STREAM_ERROR || fwrite(buf, 1, have, out) != have)
            ret = -1;
    } while (rc == Z_OK && ret == 0);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? ret : -1;
}

int render__pprof(const profd_profile *p, FILE *out, profd_error *err)
{
    pw w = {.p = p, .strings = profd_profile_new(), .funcs = profd_profile_new()};
    int rc = -1;
    if (!w.strings || !w.funcs || str(&w, "", 0) != 0 || map_functions(&w) < 0)
        goto out;
    value_type(&w, P_SAMPLE_TYPE, "samples", "count");
    if (samples(&w) < 0)
        goto out;
    locations(&w);
    functions(&w);
    value_type(&w, P_PERIOD_TYPE, "samples", "count");
    render__pb_uint(&w.out, P_PERIOD, 1);
    for (uint32_t i = 0; i < w.strings->nnames; i++)
        render__pb_bytes(&w.out, P_STRING, w.strings->names[i].s, w.strings->names[i].len);
    if (w.out.err || w.sub.err || w.sub2.err)
        goto out;
    if (gzip_to(out, w.out.b, w.out.n) < 0) {
        profd_error_set(err, NULL, "cannot write the pprof output");
        rc = -2;
        goto out;
    }
    rc = 0;
out:
    if (rc == -1)
        profd_error_set(err, NULL, "out of memory while encoding pprof");
    profd_profile_free(w.strings);
    profd_profile_free(w.funcs);
    free(w.func_of);
    free(w.start_line);
    render__pb_free(&w.out);
    render__pb_free(&w.sub);
    render__pb_free(&w.sub2);
    return rc < 0 ? -1 : 0;
}
