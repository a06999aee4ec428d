/* internal.h - the render module's shared structures (not a public interface).
 *
 * A profile is a merged call tree stored as flat arrays: node i has a parent,
 * an interned frame id and a self count. Nodes are only appended, and a child
 * is always created after its parent, so totals come from one reverse pass
 * (see render__profile_view) instead of touching every ancestor on every input line.
 * Children are found through one open-addressed hash keyed by (parent, frame)
 * whose slots hold only a node id: 4 bytes a slot, the key is read back from
 * the node itself. */
#ifndef PROFD_RENDER_INTERNAL_H
#define PROFD_RENDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profd/render.h"

#define NO_FRAME UINT32_MAX

/* Resize the array p to cap elements. On failure p keeps its old block and
 * ok turns false, so parallel arrays can be grown together and checked once. */
#define GROW(p, cap, ok)                                                                           \
    do {                                                                                           \
        void *grown_ = realloc((p), (size_t)(cap) * sizeof *(p));                                  \
        if (grown_)                                                                                \
            (p) = grown_;                                                                          \
        else                                                                                       \
            (ok) = false;                                                                          \
    } while (0)

typedef struct rnode {
    uint32_t parent;
    uint32_t fid;
    uint64_t self;
} rnode;

typedef struct rname {
    const char *s;
    uint32_t len;
    uint32_t hash;
} rname;

/* Read-only view built on demand for the writers: totals and children sorted
 * by name (flamegraph.pl order), in CSR form. */
typedef struct rview {
    const uint64_t *total; /* per node (render__profile_totals) */
    uint32_t *first;       /* children of n: kids[first[n] .. first[n+1]) */
    uint32_t *kids;
    uint32_t max_depth; /* frames below the root */
} rview;

struct profd_profile {
    rname *names;
    uint32_t nnames, names_cap;
    uint32_t *name_tab; /* fid + 1, 0 = empty */
    uint32_t name_mask;
    char *arena; /* current block for name bytes */
    size_t arena_left;
    char **blocks;
    size_t nblocks;

    rnode *nodes;
    uint32_t nnodes, nodes_cap;
    uint32_t *child_tab; /* node id, 0 = empty (the root is never a child) */
    uint32_t child_mask;

    uint8_t *rec; /* bit per node: its frame is also an ancestor's */
    uint64_t total;
    uint64_t *totals; /* cached per-node totals; dropped by any add */
    rview *view;      /* cached; dropped by any add */
};

uint32_t render__profile_intern(profd_profile *p, const char *s, size_t len);
/* Child of parent with frame fid, created if absent; UINT32_MAX if out of memory. */
uint32_t render__profile_child(profd_profile *p, uint32_t parent, uint32_t fid);
/* Append a child known to be absent (its parent was created just now).
 * rec: 1 if fid is already on the path to parent, 0 if not, -1 to find out. */
uint32_t render__profile_new_child(profd_profile *p, uint32_t parent, uint32_t fid, int rec);
static inline int profile_is_rec(const profd_profile *p, uint32_t node)
{
    return (p->rec[node >> 3] >> (node & 7)) & 1;
}
/* Per-node totals (self plus descendants), cached. NULL when out of memory. */
const uint64_t *render__profile_totals(const profd_profile *p);
/* Existing child or UINT32_MAX. */
uint32_t render__profile_find_child(const profd_profile *p, uint32_t parent, uint32_t fid);
int render__profile_add_self(profd_profile *p, uint32_t node, uint64_t count);
const rview *render__profile_view(const profd_profile *p);
uint32_t render__profile_depth(const profd_profile *p, uint32_t node);

/* Depth-first cursor over a tree in first/kids form (walk.c):
 *   render__walk_init(&w, v->first, v->kids, v->max_depth, top);
 *   while (render__walk_step(&w, &c)) {
 *       ... c is a child of w.stack[w.depth]: skip it with `continue`,
 *       ... or visit it and render__walk_down(&w, c) to go through its children next
 *   }
 * stack[0..depth] is the path from top. */
typedef struct walk {
    const uint32_t *first, *kids;
    uint32_t *stack, *next;
    size_t depth;
} walk;
int render__walk_init(walk *w, const uint32_t *first, const uint32_t *kids, size_t max_depth,
                      uint32_t top);
/* The next child to consider, climbing back up past finished nodes; false at the end. */
bool render__walk_step(walk *w, uint32_t *child);
void render__walk_down(walk *w, uint32_t child);
void render__walk_free(walk *w);
uint64_t render__profile_hash(const char *s, size_t len);

/* "func (path/file.py:12)" -> func, file, line; missing parts come back empty/0. */
typedef struct frame_parts {
    const char *func;
    size_t func_len;
    const char *file;
    size_t file_len;
    long line;
} frame_parts;
void render__frame_split(const char *s, size_t len, frame_parts *out);

/* Buffered writer with the escapes every format needs. */
typedef struct obuf {
    FILE *f;
    size_t n;
    int err;
    char b[1 << 16];
} obuf;
void render__ob_init(obuf *o, FILE *f);
void render__ob_write(obuf *o, const void *s, size_t n);
void render__ob_puts(obuf *o, const char *s);
void render__ob_putc(obuf *o, char c);
void render__ob_u64(obuf *o, uint64_t v);
void render__ob_printf(obuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON string contents (no quotes), safe inside <script>: <, >, &, U+2028/9
 * escaped, invalid UTF-8 replaced by U+FFFD. */
void render__ob_json_str(obuf *o, const char *s, size_t n);
/* XML/HTML text and attribute escaping, invalid UTF-8 replaced. */
void render__ob_xml(obuf *o, const char *s, size_t n);
int render__ob_flush(obuf *o);

int render__collapsed(const profd_profile *p, FILE *out);
int render__speedscope(const profd_profile *p, const profd_render_opts *o, FILE *out);
int render__html(const profd_profile *p, const profd_profile *before, const profd_render_opts *o,
                 FILE *out, profd_error *err);
int render__svg(const profd_profile *p, const profd_render_opts *o, FILE *out);
int render__pprof(const profd_profile *p, FILE *out, profd_error *err);

int render__read_collapsed(profd_profile *p, FILE *in, const char *first, size_t nfirst,
                           const profd_render_opts *o, profd_error *err);
int render__read_speedscope(profd_profile *p, FILE *in, const char *first, size_t nfirst,
                            profd_error *err);

/* The HTML page around the data (html_page.c). */
extern const char render__html_head[];
extern const char render__html_tail[];

#endif
