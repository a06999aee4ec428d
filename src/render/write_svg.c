/* write_svg.c - an interactive SVG laid out like flamegraph.pl's.
 *
 * Same geometry and structure as flamegraph.pl (1200 px wide, 16 px frames,
 * an "all" root, one <g> per frame holding <title>, <rect> and <text>, the
 * frames inside <g id="frames">), so tools and habits built around its SVGs
 * keep working. Frames narrower than min_width_px are left out, as there.
 * The small script (our own) zooms on click and searches by regex; names
 * only ever appear as escaped XML text. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define IMG_W 1200.0
#define XPAD 10.0
#define FRAME_H 16.0
#define YPAD1 36.0
#define YPAD2 34.0

static const char script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "var svg, frames, details, matchedEl, unzoomEl, W = 1200, PAD = 10;\n"
    "function init(evt) {\n"
    "  svg = document.documentElement; frames = document.getElementById('frames');\n"
    "  details = document.getElementById('details').firstChild;\n"
    "  matchedEl = document.getElementById('matched'); unzoomEl = "
    "document.getElementById('unzoom');\n"
    "  frames.addEventListener('click', function (e) { var g = e.target.closest('g'); if (g) "
    "zoom(g); });\n"
    "  frames.addEventListener('mouseover', function (e) { var g = e.target.closest('g');\n"
    "    if (g) details.nodeValue = 'Function: ' + g.querySelector('title').textContent; });\n"
    "  frames.addEventListener('mouseout', function () { details.nodeValue = ' '; });\n"
    "  unzoomEl.addEventListener('click', unzoom);\n"
    "  document.getElementById('search').addEventListener('click', search);\n"
    "  each(function (g, r) { g.dataset.x = r.getAttribute('x'); g.dataset.w = "
    "r.getAttribute('width'); });\n"
    "}\n"
    "function each(fn) { var gs = frames.children; for (var i = 0; i < gs.length; i++) fn(gs[i], "
    "gs[i].querySelector('rect'), gs[i].querySelector('text')); }\n"
    "function label(g, t, w) { var n = g.querySelector('title').textContent.replace(/ \\([0-9,]+ "
    "samples, [0-9.]+%\\)$/, '');\n"
    "  var c = Math.floor(w / 7); t.textContent = c < 3 ? '' : n.length <= c ? n : n.slice(0, c - "
    "2) + '..'; }\n"
    "function zoom(z) {\n"
    "  var zx = +z.dataset.x, zw = +z.dataset.w, zy = +z.querySelector('rect').getAttribute('y'), "
    "k = (W - 2 * PAD) / zw;\n"
    "  each(function (g, r, t) { var x = +g.dataset.x, w = +g.dataset.w, y = "
    "+r.getAttribute('y');\n"
    "    var inside = x >= zx - 1e-6 && x + w <= zx + zw + 1e-6, below = y >= zy && x <= zx + 1e-6 "
    "&& x + w >= zx + zw - 1e-6;\n"
    "    if (inside || below) { var nx = inside ? PAD + (x - zx) * k : PAD, nw = inside ? w * k : "
    "W - 2 * PAD;\n"
    "      g.style.display = ''; g.style.opacity = inside ? 1 : 0.6; r.setAttribute('x', nx); "
    "r.setAttribute('width', nw);\n"
    "      t.setAttribute('x', nx + 3); label(g, t, nw); } else g.style.display = 'none'; });\n"
    "  unzoomEl.style.opacity = 1;\n"
    "}\n"
    "function unzoom() { each(function (g, r, t) { g.style.display = ''; g.style.opacity = 1;\n"
    "  r.setAttribute('x', g.dataset.x); r.setAttribute('width', g.dataset.w); t.setAttribute('x', "
    "+g.dataset.x + 3); label(g, t, +g.dataset.w); });\n"
    "  unzoomEl.style.opacity = 0; }\n"
    "function search() {\n"
    "  var q = prompt('Search (regex):', ''), re, sum = 0, end = -1, total = "
    "+frames.getAttribute('data-total');\n"
    "  try { re = q ? new RegExp(q) : null; } catch (e) { re = null; }\n"
    "  each(function (g, r) { if (!r.dataset.fill) r.dataset.fill = r.getAttribute('fill');\n"
    "    var n = g.querySelector('title').textContent.replace(/ \\([0-9,]+ samples, [0-9.]+%\\)$/, "
    "'');\n"
    "    var hit = re && re.test(n); r.setAttribute('fill', hit ? 'rgb(230,0,230)' : "
    "r.dataset.fill);\n"
    "    var x = +g.dataset.x, w = +g.dataset.w; if (hit && x >= end) { sum += "
    "+g.getAttribute('data-samples'); end = x + w - 1e-6; } });\n"
    "  matchedEl.firstChild.nodeValue = re ? 'Matched: ' + (100 * sum / (total || 1)).toFixed(1) + "
    "'%' : ' ';\n"
    "}\n"
    "]]></script>\n";

typedef struct sw {
    obuf *o;
    const profd_profile *p;
    const rview *v;
    double per, thr, height;
    int inverted;
} sw;

static void fill(const rname *n, int *r, int *g, int *b)
{
    uint64_t h = render__profile_hash(n->s, n->len);
    *r = 205 + (int)(h % 51);
    *g = (int)((h >> 8) % 231);
    *b = (int)((h >> 16) % 56);
}

static void frame(sw *s, uint32_t n, double x, uint32_t depth)
{
    const rname *nm = n ? &s->p->names[s->p->nodes[n].fid] : NULL;
    static const rname all = {"all", 3, 0};
    if (!nm)
        nm = &all;
    uint64_t t = s->v->total[n];
    double w = (double)t * s->per;
    double y = s->inverted ? YPAD1 + depth * FRAME_H : s->height - YPAD2 - (depth + 1) * FRAME_H;
    int r, g, b;
    fill(nm, &r, &g, &b);
    render__ob_printf(s->o, "<g data-samples=\"%llu\">\n<title>", (unsigned long long)t);
    render__ob_xml(s->o, nm->s, nm->len);
    render__ob_printf(s->o, " (%llu samples, %.2f%%)</title>", (unsigned long long)t,
                      100.0 * (double)t / (double)(s->p->total ? s->p->total : 1));
    render__ob_printf(
        s->o,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" "
        "rx=\"2\" ry=\"2\" />\n<text x=\"%.2f\" y=\"%.1f\">",
        x, y, w, FRAME_H - 1, r, g, b, x + 3, y + 10.5);
    size_t chars = (size_t)(w / 7.0);
    if (chars >= 3) {
        if (nm->len <= chars)
            render__ob_xml(s->o, nm->s, nm->len);
        else {
            size_t cut = chars - 2;
            while (cut > 0 && ((unsigned char)nm->s[cut] & 0xC0) == 0x80)
                cut--; /* never split a UTF-8 sequence */
            render__ob_xml(s->o, nm->s, cut);
            render__ob_puts(s->o, "..");
        }
    }
    render__ob_puts(s->o, "</text>\n</g>\n");
}

static int frames(sw *s)
{
    const rview *v = s->v;
    walk w;
    double *cursor = malloc(((size_t)v->max_depth + 2) * sizeof *cursor);
    if (!cursor || render__walk_init(&w, v->first, v->kids, v->max_depth, 0) != 0) {
        free(cursor);
        return -1;
    }
    cursor[0] = XPAD;
    frame(s, 0, XPAD, 0);
    uint32_t c;
    while (render__walk_step(&w, &c)) {
        double x = cursor[w.depth];
        cursor[w.depth] += (double)v->total[c] * s->per;
        if ((double)v->total[c] < s->thr || !v->total[c])
            continue;
        frame(s, c, x, (uint32_t)w.depth + 1);
        render__walk_down(&w, c);
        cursor[w.depth] = x;
    }
    render__walk_free(&w);
    free(cursor);
    return 0;
}

static uint32_t kept_depth(const sw *s)
{
    uint32_t max = 0;
    for (uint32_t i = 1; i < s->p->nnodes; i++)
        if ((double)s->v->total[i] >= s->thr && s->v->total[i]) {
            uint32_t d = render__profile_depth(s->p, i);
            if (d > max)
                max = d;
        }
    return max;
}

int render__svg(const profd_profile *p, const profd_render_opts *opt, FILE *out)
{
    sw s = {.p = p, .v = render__profile_view(p), .inverted = opt->inverted};
    s.o = malloc(sizeof *s.o);
    if (!s.o)
        return -1;
    double px = opt->min_width_px > 0 ? opt->min_width_px : 0.1;
    s.per = (IMG_W - 2 * XPAD) / (double)(p->total ? p->total : 1);
    s.thr = px / s.per;
    s.height = (kept_depth(&s) + 1) * FRAME_H + YPAD1 + YPAD2;
    const char *title = opt->title ? opt->title : "Flame Graph";
    render__ob_init(s.o, out);
    render__ob_printf(s.o,
                      "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                      "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                      "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
                      "<svg version=\"1.1\" width=\"1200\" height=\"%.0f\" onload=\"init(evt)\" "
                      "viewBox=\"0 0 1200 %.0f\" xmlns=\"http://www.w3.org/2000/svg\" "
                      "xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n",
                      s.height, s.height);
    render__ob_puts(
        s.o, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
             "<stop stop-color=\"#eeeeee\" offset=\"5%\" /><stop stop-color=\"#eeeeb0\" "
             "offset=\"95%\" /></linearGradient></defs>\n"
             "<style type=\"text/css\">text { font-family: Verdana, sans-serif; font-size: "
             "12px; fill: rgb(0,0,0); } #frames g { cursor: pointer; } #search, #unzoom "
             "{ cursor: pointer; } #title { text-anchor: middle; font-size: 17px; }</style>\n");
    render__ob_puts(s.o, script);
    render__ob_printf(
        s.o, "<rect x=\"0\" y=\"0\" width=\"1200\" height=\"%.0f\" fill=\"url(#background)\" />\n",
        s.height);
    render__ob_puts(s.o, "<text id=\"title\" x=\"600\" y=\"24\">");
    render__ob_xml(s.o, title, strlen(title));
    render__ob_printf(
        s.o,
        "</text>\n<text id=\"details\" x=\"10\" y=\"%.0f\"> </text>\n"
        "<text id=\"unzoom\" x=\"10\" y=\"24\" style=\"opacity:0\">Reset Zoom</text>\n"
        "<text id=\"search\" x=\"1090\" y=\"24\">Search</text>\n"
        "<text id=\"matched\" x=\"1090\" y=\"%.0f\"> </text>\n",
        s.height - 17, s.height - 17);
    render__ob_printf(s.o, "<g id=\"frames\" data-total=\"%llu\">\n", (unsigned long long)p->total);
    int rc = frames(&s);
    render__ob_puts(s.o, "</g>\n</svg>\n");
    if (render__ob_flush(s.o) < 0)
        rc = -1;
    free(s.o);
    return rc;
}
