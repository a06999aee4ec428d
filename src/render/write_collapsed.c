/* write_collapsed.c - normalised collapsed stacks: one line per unique stack
 * with its self count, in sorted (depth-first, name-ordered) order. Reading
 * this back gives the same tree, so render(collapsed(x)) == render(x). A ';'
 * or newline inside a frame name (possible only from speedscope input) would
 * change the stack, so they are written as ':' and ' '. */
#include <stdlib.h>
#include <string.h>

#include "render/internal.h"

static void put_name(obuf *o, const rname *n)
{
    if (!memchr(n->s, ';', n->len) && !memchr(n->s, '\n', n->len)) {
        ob_write(o, n->s, n->len);
        return;
    }
    for (uint32_t i = 0; i < n->len; i++)
        ob_putc(o, n->s[i] == ';' ? ':' : n->s[i] == '\n' ? ' ' : n->s[i]);
}

int render_collapsed(const profd_profile *p, FILE *out)
{
    const rview *v = profile_view(p);
    uint32_t *stack = malloc(((size_t)v->max_depth + 2) * sizeof *stack);
    uint32_t *next = malloc(((size_t)v->max_depth + 2) * sizeof *next);
    obuf *o = malloc(sizeof *o);
    if (!stack || !next || !o) {
        free(stack);
        free(next);
        free(o);
        return -1;
    }
    ob_init(o, out);
    size_t depth = 0;
    stack[0] = 0;
    next[0] = v->first[0];
    while (1) {
        uint32_t n = stack[depth];
        if (next[depth] == v->first[n] && n && p->nodes[n].self) {
            for (size_t i = 1; i <= depth; i++) {
                if (i > 1)
                    ob_putc(o, ';');
                put_name(o, &p->names[p->nodes[stack[i]].fid]);
            }
            ob_putc(o, ' ');
            ob_u64(o, p->nodes[n].self);
            ob_putc(o, '\n');
        }
        if (next[depth] < v->first[n + 1]) {
            uint32_t c = v->kids[next[depth]++];
            stack[++depth] = c;
            next[depth] = v->first[c];
        } else if (depth == 0)
            break;
        else
            depth--;
    }
    int rc = ob_flush(o);
    free(stack);
    free(next);
    free(o);
    return rc;
}
