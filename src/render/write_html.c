/* write_html.c - the interactive flame graph page (and the diff page).
 *
 * One self-contained file: the page (flame.html, compiled in as html_page.c)
 * plus the tree as compact JSON in a <script type="application/json">. The
 * browser lays the tree out from three parallel arrays in preorder: frame
 * name index, samples (the width) and depth, and draws it on a canvas, so
 * only the visible frames cost anything.
 *
 * Size: like flamegraph.pl, frames narrower than min_width_px of a 1200 px
 * wide graph (default 0.1 px: 1/12000 of the total) are not written; their
 * samples stay in the parent's width (shown as the parent's self time). This
 * keeps a 1M-line input to a few hundred KB.
 *
 * The top-functions table is computed here over the whole tree, not the
 * pruned one: self = samples where the function is the leaf; total = samples
 * with the function anywhere on the stack, counted once under recursion.
 *
 * Diff: the tree of `after` is laid out with `before`'s counts for the same
 * stacks beside it ("b"); a frame is kept if it is wide in either profile.
 * Stacks found only in `before` are not drawn: their samples show only in
 * the before totals of their ancestors (flamegraph.pl's difffolded does the
 * same; swap the arguments to see them). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define TOP_FUNCTIONS 300
#define DEFAULT_MIN_PX 0.1
#define GRAPH_PX 1200.0

typedef struct hw {
    obuf *o;
    const profd_profile *p;
    const rview *v;
    uint32_t *remap; /* fid -> index in the emitted names, UINT32_MAX if absent */
    uint32_t nout;
    uint32_t *order; /* emitted names, in order */
} hw;

static uint32_t use_name(hw *h, uint32_t fid)
{
    if (h->remap[fid] == UINT32_MAX) {
        h->remap[fid] = h->nout;
        h->order[h->nout++] = fid;
    }
    return h->remap[fid];
}

typedef struct fnstat {
    uint32_t fid;
    uint64_t self, total;
} fnstat;

static int by_total(const void *a, const void *b)
{
    const fnstat *x = a, *y = b;
    return (x->total < y->total) - (x->total > y->total);
}

static int by_self(const void *a, const void *b)
{
    const fnstat *x = a, *y = b;
    return (x->self < y->self) - (x->self > y->self);
}

/* Self and recursion-safe total per function over the full tree: a node
 * whose frame is also one of its ancestors (the rec bit, set when the node
 * was created) does not add to its function's total again. One linear pass. */
static fnstat *function_stats(const profd_profile *p, const uint64_t *total)
{
    fnstat *fs = calloc(p->nnames + 1, sizeof *fs);
    if (!fs)
        return NULL;
    for (uint32_t i = 0; i < p->nnames; i++)
        fs[i].fid = i;
    for (uint32_t n = 1; n < p->nnodes; n++) {
        fnstat *f = &fs[p->nodes[n].fid];
        f->self += p->nodes[n].self;
        if (!profile_is_rec(p, n))
            f->total += total[n];
    }
    return fs;
}

/* key, then the n numbers of a32 (or of a64 when a32 is NULL), then ']'. */
static void put_list(obuf *o, const char *key, const uint32_t *a32, const uint64_t *a64, size_t n)
{
    render__ob_puts(o, key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            render__ob_putc(o, ',');
        /* cppcheck follows the NULL a64 of the a32 calls into the branch that a32 != NULL
         * rules out: a64 is read only when a32 is NULL, and each caller passes exactly one. */
        /* cppcheck-suppress nullPointer */
        render__ob_u64(o, a32 ? a32[i] : a64[i]);
    }
    render__ob_putc(o, ']');
}

static void put_header(obuf *o, const profd_render_opts *opt, const profd_profile *p,
                       const profd_profile *before)
{
    const char *title = opt->title ? opt->title
                        : before   ? "Differential flame graph"
                                   : "Flame graph";
    render__ob_puts(o, "{\"title\":\"");
    render__ob_json_str(o, title, strlen(title));
    render__ob_puts(o, "\",\"details\":[");
    for (size_t i = 0; opt->details && opt->details[i] && opt->details[i + 1]; i += 2) {
        render__ob_puts(o, i ? ",[\"" : "[\"");
        render__ob_json_str(o, opt->details[i], strlen(opt->details[i]));
        render__ob_puts(o, "\",\"");
        render__ob_json_str(o, opt->details[i + 1], strlen(opt->details[i + 1]));
        render__ob_puts(o, "\"]");
    }
    render__ob_printf(o, "],\"inverted\":%s,\"unit\":\"%s\",\"total\":",
                      opt->inverted ? "true" : "false", opt->bytes ? "bytes" : "samples");
    render__ob_u64(o, p->total);
    if (before) {
        render__ob_puts(o, ",\"btotal\":");
        render__ob_u64(o, before->total);
    }
}

/* Matching node of `before` for each node of the tree being written. */
typedef struct kept {
    uint32_t *f, *d;
    uint64_t *v, *b;
    size_t n, cap;
} kept;

static int keep(kept *k, uint32_t f, uint32_t d, uint64_t v, uint64_t b)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4096;
        bool ok = true;
        GROW(k->f, cap, ok);
        GROW(k->d, cap, ok);
        GROW(k->v, cap, ok);
        GROW(k->b, cap, ok);
        if (!ok)
            return -1;
        k->cap = cap;
    }
    k->f[k->n] = f;
    k->d[k->n] = d;
    k->v[k->n] = v;
    k->b[k->n] = b;
    k->n++;
    return 0;
}

/* Find the child of `bnode` (a node of before) named like after's frame. */
static uint32_t before_child(const profd_profile *bp, uint32_t bnode, const rname *name)
{
    if (bnode == UINT32_MAX)
        return UINT32_MAX;
    uint64_t h = render__profile_hash(name->s, name->len);
    uint32_t slot = (uint32_t)h & bp->name_mask;
    for (uint32_t id; (id = bp->name_tab[slot]); slot = (slot + 1) & bp->name_mask) {
        const rname *n = &bp->names[id - 1];
        if (n->len == name->len && memcmp(n->s, name->s, name->len) == 0)
            return render__profile_find_child(bp, bnode, id - 1);
    }
    return UINT32_MAX;
}

/* Walk `p` in name order, keeping nodes at least thr wide (or bthr in before). */
static int collect(hw *h, kept *k, const profd_profile *bp, double thr, double bthr)
{
    const profd_profile *p = h->p;
    const rview *v = h->v, *bv = bp ? render__profile_view(bp) : NULL;
    walk w;
    uint32_t *bstack = malloc(((size_t)v->max_depth + 2) * sizeof *bstack);
    if (!bstack || render__walk_init(&w, v->first, v->kids, v->max_depth, 0) != 0) {
        free(bstack);
        return -1;
    }
    int rc = -1;
    bstack[0] = 0;
    if (keep(k, 0, 0, v->total[0], bp ? bv->total[0] : 0) < 0)
        goto out;
    uint32_t c;
    while (render__walk_step(&w, &c)) {
        const rname *nm = &p->names[p->nodes[c].fid];
        uint32_t bc = bp ? before_child(bp, bstack[w.depth], nm) : UINT32_MAX;
        uint64_t bval = bc != UINT32_MAX ? bv->total[bc] : 0;
        if ((double)v->total[c] < thr && !(bp && (double)bval >= bthr && bval))
            continue;
        if (keep(k, use_name(h, p->nodes[c].fid), (uint32_t)w.depth + 1, v->total[c], bval) < 0)
            goto out;
        render__walk_down(&w, c);
        bstack[w.depth] = bc;
    }
    rc = 0;
out:
    render__walk_free(&w);
    free(bstack);
    return rc;
}

/* The common case (no diff): only nodes at least thr wide are looked at
 * after one pass, so a 1.6M-node tree costs a scan, not a sort. Kept nodes
 * get compact indices in id order; a parent's index is the previous kept
 * node's (a chain, the usual case) or found by binary search. */
typedef struct pruned {
    const hw *h;
    uint32_t *ids, *parent, *first, *kids;
    uint32_t n;
} pruned;

static uint32_t kept_index(const pruned *pr, uint32_t id)
{
    uint32_t lo = 0, hi = pr->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (pr->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_name_kept(const void *a, const void *b, void *arg)
{
    const pruned *pr = arg;
    const profd_profile *p = pr->h->p;
    const rname *x = &p->names[p->nodes[pr->ids[*(const uint32_t *)a]].fid];
    const rname *y = &p->names[p->nodes[pr->ids[*(const uint32_t *)b]].fid];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int prune(pruned *pr, const profd_profile *p, const uint64_t *total, double thr)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < p->nnodes; i++)
        n += (double)total[i] >= thr && total[i];
    pr->ids = malloc(((size_t)n + 1) * sizeof *pr->ids);
    pr->parent = malloc(((size_t)n + 1) * sizeof *pr->parent);
    pr->first = calloc((size_t)n + 2, sizeof *pr->first);
    pr->kids = malloc(((size_t)n + 1) * sizeof *pr->kids);
    if (!pr->ids || !pr->parent || !pr->first || !pr->kids)
        return -1;
    pr->ids[pr->n++] = 0; /* the root is always kept */
    for (uint32_t i = 1; i < p->nnodes; i++)
        if ((double)total[i] >= thr && total[i])
            pr->ids[pr->n++] = i;
    for (uint32_t i = 1; i < pr->n; i++) {
        uint32_t up = p->nodes[pr->ids[i]].parent;
        pr->parent[i] = pr->ids[i - 1] == up ? i - 1 : kept_index(pr, up);
        pr->first[pr->parent[i] + 1]++;
    }
    for (uint32_t i = 0; i < pr->n; i++)
        pr->first[i + 1] += pr->first[i];
    uint32_t *fill = malloc(((size_t)pr->n + 1) * sizeof *fill);
    if (!fill)
        return -1;
    memcpy(fill, pr->first, (size_t)pr->n * sizeof *fill);
    for (uint32_t i = 1; i < pr->n; i++)
        pr->kids[fill[pr->parent[i]]++] = i;
    free(fill);
    for (uint32_t i = 0; i < pr->n; i++)
        if (pr->first[i + 1] - pr->first[i] > 1)
            qsort_r(pr->kids + pr->first[i], pr->first[i + 1] - pr->first[i], sizeof *pr->kids,
                    by_name_kept, pr);
    return 0;
}

static int collect_pruned(hw *h, kept *k, const uint64_t *total, double thr)
{
    const profd_profile *p = h->p;
    pruned pr = {.h = h};
    walk w = {0};
    int rc = -1;
    if (prune(&pr, p, total, thr) < 0 || render__walk_init(&w, pr.first, pr.kids, pr.n, 0) != 0 ||
        keep(k, 0, 0, total[0], 0) < 0)
        goto out;
    uint32_t c;
    while (render__walk_step(&w, &c)) {
        uint32_t id = pr.ids[c];
        if (keep(k, use_name(h, p->nodes[id].fid), (uint32_t)w.depth + 1, total[id], 0) < 0)
            goto out;
        render__walk_down(&w, c);
    }
    rc = 0;
out:
    free(pr.ids);
    free(pr.parent);
    free(pr.first);
    free(pr.kids);
    render__walk_free(&w);
    return rc;
}

static void put_functions(hw *h, fnstat *fs)
{
    uint32_t n = h->p->nnames, shown = n < TOP_FUNCTIONS ? n : TOP_FUNCTIONS;
    char *mark = calloc(n + 1, 1);
    render__ob_puts(h->o, ",\"fn\":[");
    int first = 1;
    for (int pass = 0; pass < 2 && mark; pass++) {
        qsort(fs, n, sizeof *fs, pass ? by_self : by_total);
        for (uint32_t i = 0; i < shown; i++) {
            if (mark[fs[i].fid] || (!fs[i].total && !fs[i].self))
                continue;
            mark[fs[i].fid] = 1;
            render__ob_puts(h->o, first ? "[" : ",[");
            first = 0;
            render__ob_u64(h->o, use_name(h, fs[i].fid));
            render__ob_putc(h->o, ',');
            render__ob_u64(h->o, fs[i].self);
            render__ob_putc(h->o, ',');
            render__ob_u64(h->o, fs[i].total);
            render__ob_putc(h->o, ']');
        }
    }
    render__ob_putc(h->o, ']');
    free(mark);
}

static void put_names(hw *h)
{
    render__ob_puts(h->o, ",\"names\":[");
    for (uint32_t i = 0; i < h->nout; i++) {
        const rname *n = &h->p->names[h->order[i]];
        render__ob_puts(h->o, i ? ",\"" : "\"");
        render__ob_json_str(h->o, n->s, n->len);
        render__ob_putc(h->o, '"');
    }
    render__ob_putc(h->o, ']');
}

static double max_delta(const kept *k, uint64_t at, uint64_t bt)
{
    double m = 0;
    for (size_t i = 1; i < k->n; i++) {
        double d =
            fabs((double)k->v[i] / (double)(at ? at : 1) - (double)k->b[i] / (double)(bt ? bt : 1));
        if (d > m)
            m = d;
    }
    return m;
}

int render__html(const profd_profile *p, const profd_profile *before, const profd_render_opts *opt,
                 FILE *out, profd_error *err)
{
    hw h = {.p = p, .v = before ? render__profile_view(p) : NULL};
    const uint64_t *total = render__profile_totals(p);
    kept k = {0};
    fnstat *fs = NULL;
    int rc = -1;
    h.o = malloc(sizeof *h.o);
    h.remap = malloc(((size_t)p->nnames + 1) * sizeof *h.remap);
    h.order = malloc(((size_t)p->nnames + 1) * sizeof *h.order);
    if (!h.o || !h.remap || !h.order || !total || (before && !h.v) ||
        !(fs = function_stats(p, total))) {
        profd_error_set(err, NULL, "out of memory while rendering");
        goto out;
    }
    memset(h.remap, 0xff, ((size_t)p->nnames + 1) * sizeof *h.remap);
    double px = opt->min_width_px > 0 ? opt->min_width_px : DEFAULT_MIN_PX;
    double thr = (double)p->total * px / GRAPH_PX;
    double bthr = before ? (double)before->total * px / GRAPH_PX : 0;
    if ((before ? collect(&h, &k, before, thr, bthr) : collect_pruned(&h, &k, total, thr)) < 0) {
        profd_error_set(err, NULL, "out of memory while rendering");
        goto out;
    }
    render__ob_init(h.o, out);
    render__ob_puts(h.o, render__html_head);
    put_header(h.o, opt, p, before);
    put_functions(&h, fs);
    put_names(&h);
    put_list(h.o, ",\"f\":[", k.f, NULL, k.n);
    put_list(h.o, ",\"v\":[", NULL, k.v, k.n);
    put_list(h.o, ",\"d\":[", k.d, NULL, k.n);
    if (before) {
        put_list(h.o, ",\"b\":[", NULL, k.b, k.n);
        render__ob_printf(h.o, ",\"maxDelta\":%.9g", max_delta(&k, p->total, before->total));
    }
    render__ob_putc(h.o, '}');
    render__ob_puts(h.o, render__html_tail);
    rc = render__ob_flush(h.o);
    if (rc < 0)
        profd_error_set(err, NULL, "cannot write the HTML output");
out:
    free(fs);
    free(k.f);
    free(k.d);
    free(k.v);
    free(k.b);
    free(h.o);
    free(h.remap);
    free(h.order);
    return rc;
}
