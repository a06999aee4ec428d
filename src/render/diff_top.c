/* diff_top.c - the functions whose share of time changed most between two
 * profiles: the table next to a differential flame graph (the console's
 * compare view and GET …/diff/{other} with Accept: application/json).
 *
 * A function is its name and file, lines merged ("handle (app.py:12)" and
 * "handle (app.py:30)" are one function), since py-spy's line is the line
 * being run, not where the function starts. Its share is the fraction of a
 * profile's samples with the function anywhere on the stack, counted once
 * under recursion, the "Total %" of the flame graph page's table; shares are
 * normalised by each profile's own total, so a 10 s and a 60 s capture
 * compare. Keys are interned in a scratch profile (the same interning the
 * trees use), and a depth-first walk keeps, per key, how many frames of the
 * current path carry it: a frame counts only when none above it does. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct keyed {
    uint64_t *total[2]; /* per key: samples with it on the stack, before and after */
    uint32_t nkeys, cap;
} keyed;

static int ensure(keyed *k, uint32_t n)
{
    if (n < k->cap)
        return 0;
    uint32_t cap = k->cap ? k->cap : 256;
    while (cap <= n)
        cap *= 2;
    for (int i = 0; i < 2; i++) {
        uint64_t *g = realloc(k->total[i], (size_t)cap * sizeof *g);
        if (!g)
            return -1;
        memset(g + k->cap, 0, (size_t)(cap - k->cap) * sizeof *g);
        k->total[i] = g;
    }
    k->cap = cap;
    return 0;
}

/* The key of every frame name of p, interned into keys as "func\nfile". */
static uint32_t *key_ids(const profd_profile *p, profd_profile *keys, keyed *k)
{
    uint32_t *ids = malloc(((size_t)p->nnames + 1) * sizeof *ids);
    char buf[1024];
    for (uint32_t i = 0; ids && i < p->nnames; i++) {
        frame_parts fp;
        render__frame_split(p->names[i].s, p->names[i].len, &fp);
        int n = snprintf(buf, sizeof buf, "%.*s\n%.*s", (int)fp.func_len, fp.func, (int)fp.file_len,
                         fp.file);
        size_t len = n < 0 ? 0 : (size_t)n >= sizeof buf ? sizeof buf - 1 : (size_t)n;
        ids[i] = render__profile_intern(keys, buf, len);
        if (ids[i] == UINT32_MAX || ensure(k, ids[i]) < 0) {
            free(ids);
            return NULL;
        }
        if (ids[i] + 1 > k->nkeys)
            k->nkeys = ids[i] + 1;
    }
    return ids;
}

static int add_profile(const profd_profile *p, int side, profd_profile *keys, keyed *k)
{
    const rview *v = render__profile_view(p);
    uint32_t *ids = v ? key_ids(p, keys, k) : NULL;
    uint32_t *active = ids ? calloc(k->cap + 1, sizeof *active) : NULL;
    walk w = {0};
    int rc = -1;
    if (!active || render__walk_init(&w, v->first, v->kids, v->max_depth, 0) != 0)
        goto out;
    uint32_t c;
    size_t depth = 0;
    while (render__walk_step(&w, &c)) {
        for (size_t d = w.depth + 1; d <= depth; d++) /* the frames the walk climbed out of */
            active[ids[p->nodes[w.stack[d]].fid]]--;
        uint32_t key = ids[p->nodes[c].fid];
        if (active[key]++ == 0)
            k->total[side][key] += v->total[c];
        render__walk_down(&w, c);
        depth = w.depth;
    }
    rc = 0;
out:
    render__walk_free(&w);
    free(active);
    free(ids);
    return rc;
}

static int by_delta(const void *a, const void *b)
{
    const profd_diff_change *x = a, *y = b;
    double dx = fabs(x->delta), dy = fabs(y->delta);
    if (dx != dy)
        return dx < dy ? 1 : -1;
    int c = strcmp(x->function, y->function);
    return c ? c : strcmp(x->file, y->file);
}

int profd_diff_top(const profd_profile *before, const profd_profile *after, profd_diff_change *out,
                   int n, profd_error *err)
{
    if (!before || !after || !out || n < 0) {
        profd_error_set(err, NULL, "diff needs two profiles and an output");
        return -1;
    }
    profd_profile *keys = profd_profile_new();
    keyed k = {0};
    profd_diff_change *all = NULL;
    int got = -1;
    if (!keys || add_profile(before, 0, keys, &k) < 0 || add_profile(after, 1, keys, &k) < 0 ||
        !(all = calloc((size_t)k.nkeys + 1, sizeof *all))) {
        profd_error_set(err, NULL, "out of memory while comparing profiles");
        goto out;
    }
    double bt = (double)(before->total ? before->total : 1);
    double at = (double)(after->total ? after->total : 1);
    uint32_t m = 0;
    for (uint32_t i = 0; i < k.nkeys; i++) {
        if (!k.total[0][i] && !k.total[1][i])
            continue;
        const rname *nm = &keys->names[i];
        const char *nl = memchr(nm->s, '\n', nm->len);
        size_t fl = nl ? (size_t)(nl - nm->s) : nm->len;
        profd_diff_change *c = &all[m++];
        snprintf(c->function, sizeof c->function, "%.*s", (int)fl, nm->s);
        if (nl)
            snprintf(c->file, sizeof c->file, "%.*s", (int)(nm->len - fl - 1), nl + 1);
        c->before = 100.0 * (double)k.total[0][i] / bt;
        c->after = 100.0 * (double)k.total[1][i] / at;
        c->delta = c->after - c->before;
    }
    qsort(all, m, sizeof *all, by_delta);
    got = (int)m < n ? (int)m : n;
    memcpy(out, all, (size_t)got * sizeof *out);
out:
    free(all);
    free(k.total[0]);
    free(k.total[1]);
    profd_profile_free(keys);
    return got;
}
