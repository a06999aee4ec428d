/* write_collapsed.c - normalised collapsed stacks: one line per unique stack
 * with its self count, in sorted (depth-first, name-ordered) order. Reading
 * this back gives the same tree, so render(collapsed(x)) == render(x). A ';'
 * or newline inside a frame name (possible only from speedscope input) would
 * change the stack, so they are written as ':' and ' '. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void put_name(obuf *o, const rname *n)
{
    if (!memchr(n->s, ';', n->len) && !memchr(n->s, '\n', n->len)) {
        render__ob_write(o, n->s, n->len);
        return;
    }
    for (uint32_t i = 0; i < n->len; i++)
        render__ob_putc(o, n->s[i] == ';' ? ':' : n->s[i] == '\n' ? ' ' : n->s[i]);
}

int render__collapsed(const profd_profile *p, FILE *out)
{
    const rview *v = render__profile_view(p);
    walk w;
    obuf *o = malloc(sizeof *o);
    if (!o || render__walk_init(&w, v->first, v->kids, v->max_depth, 0) != 0) {
        free(o);
        return -1;
    }
    render__ob_init(o, out);
    uint32_t c;
    while (render__walk_step(&w, &c)) {
        render__walk_down(&w, c);
        if (!p->nodes[c].self)
            continue;
        for (size_t i = 1; i <= w.depth; i++) {
            if (i > 1)
                render__ob_putc(o, ';');
            put_name(o, &p->names[p->nodes[w.stack[i]].fid]);
        }
        render__ob_putc(o, ' ');
        render__ob_u64(o, p->nodes[c].self);
        render__ob_putc(o, '\n');
    }
    int rc = render__ob_flush(o);
    render__walk_free(&w);
    free(o);
    return rc;
}
