/* write_speedscope.c - speedscope JSON (file-format-schema.json, draft-07).
 *
 * Frames are shared; each frame's name, file and line come from splitting
 * "func (file.py:12)" (frame_name.c). Every unique stack is one sample whose
 * weight is its self count, so the weights sum exactly to the input total.
 *
 * Threads: when any root frame names a thread or a process the way py-spy
 * does ("thread (0x7f..)", "process 123:..."), every root frame becomes its
 * own sampled profile named after it; its samples still start with that root
 * frame, which keeps collapsed -> speedscope -> collapsed the identity. Else
 * there is one profile, named by the title. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int names_thread(const rname *n)
{
    if (n->len > 8 && memcmp(n->s, "thread (", 8) == 0)
        return 1;
    if (n->len > 8 && memcmp(n->s, "process ", 8) == 0) {
        uint32_t i = 8;
        while (i < n->len && n->s[i] >= '0' && n->s[i] <= '9')
            i++;
        return i > 8 && i < n->len && n->s[i] == ':';
    }
    return 0;
}

static void frames(obuf *o, const profd_profile *p)
{
    render__ob_puts(o, "\"shared\":{\"frames\":[");
    for (uint32_t i = 0; i < p->nnames; i++) {
        frame_parts fp;
        render__frame_split(p->names[i].s, p->names[i].len, &fp);
        render__ob_puts(o, i ? ",{\"name\":\"" : "{\"name\":\"");
        render__ob_json_str(o, fp.func, fp.func_len);
        render__ob_putc(o, '"');
        if (fp.file_len) {
            render__ob_puts(o, ",\"file\":\"");
            render__ob_json_str(o, fp.file, fp.file_len);
            render__ob_printf(o, "\",\"line\":%ld", fp.line);
        }
        render__ob_putc(o, '}');
    }
    render__ob_puts(o, "]}");
}

/* Samples and weights of the subtree under top (all of it when top is 0). */
static int samples(obuf *o, const profd_profile *p, const rview *v, uint32_t top, int weights)
{
    walk w;
    if (render__walk_init(&w, v->first, v->kids, v->max_depth, top) != 0)
        return -1;
    int first_out = 1;
    render__ob_putc(o, '[');
    uint32_t n = top; /* a thread's root frame is part of its samples */
    do {
        if (n != top)
            render__walk_down(&w, n);
        if (!n || !p->nodes[n].self)
            continue;
        render__ob_puts(o, first_out ? "" : ",");
        first_out = 0;
        if (weights) {
            render__ob_u64(o, p->nodes[n].self);
            continue;
        }
        render__ob_putc(o, '[');
        for (size_t i = top ? 0 : 1; i <= w.depth; i++) {
            if (i > (top ? 0u : 1u))
                render__ob_putc(o, ',');
            render__ob_u64(o, p->nodes[w.stack[i]].fid);
        }
        render__ob_putc(o, ']');
    } while (render__walk_step(&w, &n));
    render__ob_putc(o, ']');
    render__walk_free(&w);
    return 0;
}

static int profile(obuf *o, const profd_profile *p, const rview *v, uint32_t top, const char *name,
                   size_t nlen, bool bytes)
{
    render__ob_puts(o, "{\"type\":\"sampled\",\"name\":\"");
    render__ob_json_str(o, name, nlen);
    render__ob_puts(o, bytes ? "\",\"unit\":\"bytes\",\"startValue\":0,\"endValue\":"
                             : "\",\"unit\":\"none\",\"startValue\":0,\"endValue\":");
    render__ob_u64(o, v->total[top]);
    render__ob_puts(o, ",\"samples\":");
    if (samples(o, p, v, top, 0) != 0)
        return -1;
    render__ob_puts(o, ",\"weights\":");
    if (samples(o, p, v, top, 1) != 0)
        return -1;
    render__ob_putc(o, '}');
    return 0;
}

int render__speedscope(const profd_profile *p, const profd_render_opts *opt, FILE *out)
{
    const rview *v = render__profile_view(p);
    obuf *o = malloc(sizeof *o);
    if (!o)
        return -1;
    render__ob_init(o, out);
    const char *title = opt->title ? opt->title : "profd";
    render__ob_puts(o, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",");
    frames(o, p);
    render__ob_puts(o, ",\"profiles\":[");
    int threads = 0, rc = 0;
    for (uint32_t i = v->first[0]; i < v->first[1]; i++)
        threads |= names_thread(&p->names[p->nodes[v->kids[i]].fid]);
    if (threads) {
        for (uint32_t i = v->first[0]; rc == 0 && i < v->first[1]; i++) {
            const rname *n = &p->names[p->nodes[v->kids[i]].fid];
            if (i > v->first[0])
                render__ob_putc(o, ',');
            rc = profile(o, p, v, v->kids[i], n->s, n->len, opt->bytes);
        }
    } else
        rc = profile(o, p, v, 0, title, strlen(title), opt->bytes);
    render__ob_puts(o, "],\"name\":\"");
    render__ob_json_str(o, title, strlen(title));
    render__ob_puts(o, "\",\"activeProfileIndex\":0,\"exporter\":\"profd " PROFD_VERSION "\"}\n");
    if (render__ob_flush(o) != 0)
        rc = -1;
    free(o);
    return rc;
}
