/* profile.c - the merged call tree: interning, child lookup, totals.
 *
 * Frame names are interned once into arena blocks, so a frame seen a million
 * times costs its bytes once. The child hash stores bare node ids and compares
 * against the node's own (parent, fid), which keeps it at 4 bytes a slot and
 * load factor <= 1/2. Totals and sorted children are derived on demand (the
 * view) and thrown away when the tree changes. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define ARENA_BLOCK (64 * 1024)

/* Names longer than 32 bytes hash only their first and last 16 bytes and
 * their length: frame names differ at the start (function) or the end (file,
 * line), and equality is always confirmed with memcmp. */
uint64_t render__profile_hash(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    if (len > 32) {
        uint64_t w[4];
        memcpy(w, s, 16);
        memcpy(w + 2, s + len - 16, 16);
        for (int i = 0; i < 4; i++) {
            h = (h ^ w[i]) * 0xFF51AFD7ED558CCDULL;
            h ^= h >> 32;
        }
        return h ^ (h >> 29);
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

/* The child table and the totals are touched all over: ask for transparent
 * huge pages, so 100 MB of them cost 50 page faults instead of 25000 (and
 * far fewer TLB misses on random probes).
 * Only whole 2 MiB pages inside the block are advised; it is only advice. */
static void advise_huge(void *ptr, size_t len)
{
    const uintptr_t huge = 2u << 20;
    if (len < 2 * huge)
        return;
    uintptr_t a = ((uintptr_t)ptr + huge - 1) & ~(huge - 1);
    uintptr_t b = ((uintptr_t)ptr + len) & ~(huge - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_HUGEPAGE);
}

profd_profile *profd_profile_new(void)
{
    profd_profile *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nodes_cap = 1024;
    p->nodes = malloc(p->nodes_cap * sizeof *p->nodes);
    p->rec = calloc(p->nodes_cap / 8, 1);
    p->child_mask = 2047;
    p->child_tab = calloc(p->child_mask + 1, sizeof *p->child_tab);
    p->name_mask = 1023;
    p->name_tab = calloc(p->name_mask + 1, sizeof *p->name_tab);
    if (!p->nodes || !p->rec || !p->child_tab || !p->name_tab) {
        profd_profile_free(p);
        return NULL;
    }
    p->nodes[0] = (rnode){UINT32_MAX, NO_FRAME, 0};
    p->nnodes = 1;
    return p;
}

static void view_free(rview *v)
{
    if (!v)
        return;
    free(v->first);
    free(v->kids);
    free(v);
}

void profd_profile_free(profd_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    free(p->names);
    free(p->name_tab);
    free(p->nodes);
    free(p->child_tab);
    free(p->rec);
    free(p->totals);
    view_free(p->view);
    free(p);
}

uint64_t profd_profile_total(const profd_profile *p)
{
    return p ? p->total : 0;
}

static char *arena_copy(profd_profile *p, const char *s, size_t len)
{
    if (len + 1 > p->arena_left) {
        size_t sz = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        char **nb = realloc(p->blocks, (p->nblocks + 1) * sizeof *nb);
        if (!nb)
            return NULL;
        p->blocks = nb;
        if (!(nb[p->nblocks] = malloc(sz)))
            return NULL;
        p->arena = nb[p->nblocks++];
        p->arena_left = sz;
    }
    char *d = p->arena;
    memcpy(d, s, len);
    d[len] = '\0';
    p->arena += len + 1;
    p->arena_left -= len + 1;
    return d;
}

static int names_grow(profd_profile *p)
{
    uint32_t mask = p->name_mask * 2 + 1;
    uint32_t *tab = calloc((size_t)mask + 1, sizeof *tab);
    if (!tab)
        return -1;
    for (uint32_t i = 0; i < p->nnames; i++) {
        uint32_t h = p->names[i].hash & mask;
        while (tab[h])
            h = (h + 1) & mask;
        tab[h] = i + 1;
    }
    free(p->name_tab);
    p->name_tab = tab;
    p->name_mask = mask;
    return 0;
}

uint32_t render__profile_intern(profd_profile *p, const char *s, size_t len)
{
    uint32_t hash = (uint32_t)render__profile_hash(s, len);
    uint32_t h = hash & p->name_mask;
    for (uint32_t id; (id = p->name_tab[h]); h = (h + 1) & p->name_mask) {
        const rname *n = &p->names[id - 1];
        if (n->hash == hash && n->len == len && memcmp(n->s, s, len) == 0)
            return id - 1;
    }
    if (p->nnames == p->names_cap) {
        uint32_t cap = p->names_cap ? p->names_cap * 2 : 256;
        rname *nn = realloc(p->names, cap * sizeof *nn);
        if (!nn)
            return NO_FRAME;
        p->names = nn;
        p->names_cap = cap;
    }
    const char *copy = arena_copy(p, s, len);
    if (!copy)
        return NO_FRAME;
    uint32_t id = p->nnames++;
    p->names[id] = (rname){copy, (uint32_t)len, hash};
    p->name_tab[h] = id + 1;
    if (p->nnames * 2 > p->name_mask && names_grow(p) < 0)
        return NO_FRAME;
    return id;
}

/* Children sit next to their parent's id: the table has >= 2 slots per node,
 * so a chain of new frames (consecutive ids) is written to consecutive
 * slots, and one cache line serves a whole line's new frames. */
static inline uint32_t child_hash(uint32_t parent, uint32_t fid)
{
    return parent * 2u + (fid & 1u);
}

/* Double the table, or (re)build it after render__profile_view dropped it. */
static int children_grow(profd_profile *p)
{
    uint32_t mask = p->child_mask * 2 + 1;
    if (!p->child_tab)
        for (mask = 2047; mask < p->nnodes * 2u + 2; mask = mask * 2 + 1)
            ;
    uint32_t *tab = calloc((size_t)mask + 1, sizeof *tab);
    if (!tab)
        return -1;
    advise_huge(tab, ((size_t)mask + 1) * sizeof *tab);
    for (uint32_t i = 1; i < p->nnodes; i++) {
        uint32_t h = child_hash(p->nodes[i].parent, p->nodes[i].fid) & mask;
        while (tab[h])
            h = (h + 1) & mask;
        tab[h] = i;
    }
    free(p->child_tab);
    p->child_tab = tab;
    p->child_mask = mask;
    return 0;
}

uint32_t render__profile_find_child(const profd_profile *p, uint32_t parent, uint32_t fid)
{
    if (!p->child_tab && children_grow((profd_profile *)p) < 0)
        return UINT32_MAX; /* the table is a cache: rebuilt after a view dropped it */
    uint32_t h = child_hash(parent, fid) & p->child_mask;
    for (uint32_t id; (id = p->child_tab[h]); h = (h + 1) & p->child_mask)
        if (p->nodes[id].parent == parent && p->nodes[id].fid == fid)
            return id;
    return UINT32_MAX;
}

/* Append a node known to be absent (its parent was created just now). */
static void drop_caches(profd_profile *p)
{
    view_free(p->view);
    p->view = NULL;
    free(p->totals);
    p->totals = NULL;
}

static int on_path(const profd_profile *p, uint32_t node, uint32_t fid)
{
    for (; node; node = p->nodes[node].parent)
        if (p->nodes[node].fid == fid)
            return 1;
    return 0;
}

uint32_t render__profile_new_child(profd_profile *p, uint32_t parent, uint32_t fid, int rec)
{
    if (!p->child_tab && children_grow(p) < 0)
        return UINT32_MAX;
    if (p->nnodes == UINT32_MAX - 1)
        return UINT32_MAX;
    if (p->nnodes == p->nodes_cap) {
        uint32_t cap = p->nodes_cap * 2;
        rnode *nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return UINT32_MAX;
        /* no huge pages for this one: it grows by doubling, and huge
         * pages would fault its untouched tail in 2 MiB at a time */
        p->nodes = nn;
        uint8_t *nr = realloc(p->rec, cap / 8);
        if (!nr)
            return UINT32_MAX;
        memset(nr + p->nodes_cap / 8, 0, (cap - p->nodes_cap) / 8);
        p->rec = nr;
        p->nodes_cap = cap;
    }
    uint32_t h = child_hash(parent, fid) & p->child_mask;
    while (p->child_tab[h])
        h = (h + 1) & p->child_mask;
    uint32_t id = p->nnodes++;
    p->nodes[id] = (rnode){parent, fid, 0};
    if (rec < 0)
        rec = on_path(p, parent, fid);
    if (rec)
        p->rec[id >> 3] |= (uint8_t)(1u << (id & 7));
    p->child_tab[h] = id;
    if (p->nnodes * 2 > p->child_mask && children_grow(p) < 0)
        return UINT32_MAX;
    if (p->view || p->totals)
        drop_caches(p);
    return id;
}

uint32_t render__profile_child(profd_profile *p, uint32_t parent, uint32_t fid)
{
    if (!p->child_tab && children_grow(p) < 0)
        return UINT32_MAX;
    uint32_t id = render__profile_find_child(p, parent, fid);
    return id != UINT32_MAX ? id : render__profile_new_child(p, parent, fid, -1);
}

int render__profile_add_self(profd_profile *p, uint32_t node, uint64_t count)
{
    if (p->total + count < p->total)
        return -1;
    p->nodes[node].self += count;
    p->total += count;
    if (p->view || p->totals)
        drop_caches(p);
    return 0;
}

int profd_profile_add(profd_profile *p, const char *const *frames, size_t n, uint64_t count)
{
    if (!p || (n && !frames))
        return -1;
    uint32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t fid = render__profile_intern(p, frames[i], strlen(frames[i]));
        if (fid == NO_FRAME || (node = render__profile_child(p, node, fid)) == UINT32_MAX)
            return -1;
    }
    return render__profile_add_self(p, node, count);
}

uint32_t render__profile_depth(const profd_profile *p, uint32_t node)
{
    uint32_t d = 0;
    while (node) {
        node = p->nodes[node].parent;
        d++;
    }
    return d;
}

/* Sibling order: by frame name, bytewise (qsort_r keeps it thread-safe). */
static int by_name(const void *a, const void *b, void *arg)
{
    const profd_profile *p = arg;
    const rname *x = &p->names[p->nodes[*(const uint32_t *)a].fid];
    const rname *y = &p->names[p->nodes[*(const uint32_t *)b].fid];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static rview *view_build(const profd_profile *p)
{
    uint32_t n = p->nnodes;
    rview *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->total = render__profile_totals(p);
    v->first = calloc((size_t)n + 1, sizeof *v->first);
    v->kids = malloc((size_t)(n ? n : 1) * sizeof *v->kids);
    uint32_t *depth = malloc((size_t)n * sizeof *depth);
    if (!v->total || !v->first || !v->kids || !depth) {
        free(depth);
        view_free(v);
        return NULL;
    }
    for (uint32_t i = n; i-- > 1;)
        v->first[p->nodes[i].parent + 1]++;
    for (uint32_t i = 0; i < n; i++)
        v->first[i + 1] += v->first[i];
    depth[0] = 0;
    uint32_t *fill = depth; /* reuse later; first compute depths */
    for (uint32_t i = 1; i < n; i++) {
        depth[i] = depth[p->nodes[i].parent] + 1;
        if (depth[i] > v->max_depth)
            v->max_depth = depth[i];
    }
    for (uint32_t i = 0; i < n; i++)
        fill[i] = v->first[i];
    for (uint32_t i = 1; i < n; i++)
        v->kids[fill[p->nodes[i].parent]++] = i;
    free(depth);
    for (uint32_t i = 0; i < n; i++)
        if (v->first[i + 1] - v->first[i] > 1)
            qsort_r(v->kids + v->first[i], v->first[i + 1] - v->first[i], sizeof *v->kids, by_name,
                    (void *)p);
    return v;
}

const uint64_t *render__profile_totals(const profd_profile *p)
{
    profd_profile *mp = (profd_profile *)p; /* the cache is logically const */
    if (mp->totals)
        return mp->totals;
    free(mp->child_tab); /* see render__profile_view */
    mp->child_tab = NULL;
    uint64_t *t = malloc((size_t)p->nnodes * sizeof *t);
    if (!t)
        return NULL;
    advise_huge(t, (size_t)p->nnodes * sizeof *t);
    for (uint32_t i = 0; i < p->nnodes; i++)
        t[i] = p->nodes[i].self;
    for (uint32_t i = p->nnodes; i-- > 1;)
        t[p->nodes[i].parent] += t[i];
    return mp->totals = t;
}

const rview *render__profile_view(const profd_profile *p)
{
    profd_profile *mp = (profd_profile *)p; /* the cache is logically const */
    if (!mp->view) {
        /* the child hash is only needed to add stacks: drop it while the
         * view exists, so peak memory holds one of the two */
        free(mp->child_tab);
        mp->child_tab = NULL;
        mp->view = view_build(p);
    }
    return mp->view;
}
