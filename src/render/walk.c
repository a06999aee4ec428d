/* walk.c - the one depth-first walk every writer makes over a call tree.
 *
 * Trees here are in first/kids form (the children of n are
 * kids[first[n]..first[n+1]), already in output order), and a million-deep
 * stack must not recurse, so the walk keeps its own stack: the path from the
 * top (stack[0..depth]) and, per level, the next child to visit. Writers differ
 * only in what they do when they step down into a child, and in which children
 * they skip, so the cursor hands out children one at a time and leaves the
 * descending to the caller. */
#include <stdlib.h>

#include "internal.h"

int render__walk_init(walk *w, const uint32_t *first, const uint32_t *kids, size_t max_depth,
                      uint32_t top)
{
    w->first = first;
    w->kids = kids;
    w->depth = 0;
    w->stack = malloc((max_depth + 2) * sizeof *w->stack);
    w->next = malloc((max_depth + 2) * sizeof *w->next);
    if (!w->stack || !w->next) {
        render__walk_free(w);
        return -1;
    }
    w->stack[0] = top;
    w->next[0] = first[top];
    return 0;
}

bool render__walk_step(walk *w, uint32_t *child)
{
    for (;;) {
        uint32_t n = w->stack[w->depth];
        if (w->next[w->depth] < w->first[n + 1]) {
            *child = w->kids[w->next[w->depth]++];
            return true;
        }
        if (w->depth == 0)
            return false;
        w->depth--;
    }
}

void render__walk_down(walk *w, uint32_t child)
{
    w->stack[++w->depth] = child;
    w->next[w->depth] = w->first[child];
}

void render__walk_free(walk *w)
{
    free(w->stack);
    free(w->next);
    w->stack = w->next = NULL;
}
