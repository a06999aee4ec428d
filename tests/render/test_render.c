/* test_render.c - the render module through its public and internal API:
 * trees against hand-computed totals, the collapsed parser's edge cases, the
 * speedscope reader (sampled and evented), escaping, and pprof decoded back
 * with a small protobuf decoder written here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profd/render.h"
#include "internal.h"

static profd_profile *parse(const char *text, bool strict, int *rc, profd_error *err)
{
    profd_profile *p = profd_profile_new();
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    profd_render_opts o = {.strict = strict};
    *rc = profd_profile_read(p, f, &o, err);
    fclose(f);
    return p;
}

/* The memstream's buffer and size live on the heap, not in this frame: with a
 * local `char *buf` whose address open_memstream keeps, gcc 12 at -O2/-O3
 * inlines this function and then reports every use of the returned pointer as
 * a dangling pointer to that local (-Wdangling-pointer). */
static char *render(const profd_profile *p, profd_format fmt, const profd_render_opts *o,
                    size_t *len)
{
    struct {
        char *buf;
        size_t n;
    } *m = calloc(1, sizeof *m);
    assert_non_null(m);
    FILE *f = open_memstream(&m->buf, &m->n);
    assert_non_null(f);
    profd_error err = {0};
    assert_int_equal(profd_render(p, fmt, o, f, &err), 0);
    fclose(f);
    if (len)
        *len = m->n;
    char *buf = m->buf;
    free(m);
    return buf;
}

/* Node of a path given as "a;b;c", or UINT32_MAX. */
static uint32_t node_of(const profd_profile *p, const char *path)
{
    char *copy = strdup(path), *save = NULL;
    uint32_t node = 0;
    for (char *t = strtok_r(copy, ";", &save); t && node != UINT32_MAX;
         t = strtok_r(NULL, ";", &save)) {
        uint32_t fid = UINT32_MAX;
        for (uint32_t i = 0; i < p->nnames; i++)
            if (strcmp(p->names[i].s, t) == 0)
                fid = i;
        node = fid == UINT32_MAX ? UINT32_MAX : render__profile_find_child(p, node, fid);
    }
    free(copy);
    return node;
}

static uint64_t total_of(const profd_profile *p, const char *path)
{
    uint32_t n = node_of(p, path);
    assert_int_not_equal(n, UINT32_MAX);
    return render__profile_totals(p)[n];
}

static void test_totals_by_hand(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    /* a=10+3+2+5=20 ; a;b=3+2=5 ; a;b;c=2 ; a;d=5 ; e=7 ; total 27 */
    profd_profile *p = parse("a 10\na;b 3\na;b;c 2\na;d 5\ne 7\n", false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 27);
    assert_int_equal(total_of(p, "a"), 20);
    assert_int_equal(total_of(p, "a;b"), 5);
    assert_int_equal(total_of(p, "a;b;c"), 2);
    assert_int_equal(total_of(p, "a;d"), 5);
    assert_int_equal(total_of(p, "e"), 7);
    assert_int_equal(render__profile_totals(p)[0], 27);
    profd_profile_free(p);
}

/* The HTML carries the tree as preorder arrays; every width must equal the
 * hand-computed total and children must be in name order. */
static void test_html_widths(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    profd_profile *p = parse("x;z 4\nx;y 6\nx 1\nw;v 9\n", false, &rc, &err);
    profd_render_opts o = {.min_width_px = 1e-12, .title = "T"};
    char *html = render(p, PROFD_FMT_HTML, &o, NULL);
    char *start = strstr(html, "type=\"application/json\">");
    assert_non_null(start);
    start = strchr(start, '>') + 1;
    char *end = strstr(start, "</script>");
    assert_non_null(end);
    *end = '\0';
    json_object *d = json_tokener_parse(start);
    assert_non_null(d);
    json_object *f, *v, *dep, *names;
    assert_true(json_object_object_get_ex(d, "f", &f));
    assert_true(json_object_object_get_ex(d, "v", &v));
    assert_true(json_object_object_get_ex(d, "d", &dep));
    assert_true(json_object_object_get_ex(d, "names", &names));
    /* preorder by name: root, w, w;v, x, x;y, x;z */
    const char *want_name[] = {NULL, "w", "v", "x", "y", "z"};
    const int want_v[] = {20, 9, 9, 11, 6, 4}, want_d[] = {0, 1, 2, 1, 2, 2};
    assert_int_equal(json_object_array_length(v), 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(json_object_get_int(json_object_array_get_idx(v, i)), want_v[i]);
        assert_int_equal(json_object_get_int(json_object_array_get_idx(dep, i)), want_d[i]);
        if (want_name[i]) {
            int idx = json_object_get_int(json_object_array_get_idx(f, i));
            assert_string_equal(json_object_get_string(json_object_array_get_idx(names, idx)),
                                want_name[i]);
        }
    }
    json_object_put(d);
    free(html);
    profd_profile_free(p);
}

static void test_parser_edge_cases(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    const char *text = "\xEF\xBB\xBF"
                       "a;b 1\r\n\r\n   \n"
                       "a;b 2\n"
                       "a b c;d e (f.py:1) 3\n"
                       "caf\xC3\xA9;\xE2\x9C\x93 4\n"
                       "\tb;a 5   \n"
                       "zero 0\n"
                       "no-trailing-newline;x 6";
    profd_profile *p = parse(text, false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 1 + 2 + 3 + 4 + 5 + 6);
    assert_int_equal(total_of(p, "a;b"), 3);
    assert_int_equal(total_of(p, "a b c;d e (f.py:1)"), 3);
    assert_int_equal(total_of(p, "caf\xC3\xA9;\xE2\x9C\x93"), 4);
    assert_int_equal(total_of(p, "b;a"), 5);
    assert_int_equal(total_of(p, "no-trailing-newline;x"), 6);
    assert_int_equal(node_of(p, "zero"), UINT32_MAX);
    char *col = render(p, PROFD_FMT_COLLAPSED, NULL, NULL);
    assert_string_equal(col, "a;b 3\n"
                             "a b c;d e (f.py:1) 3\n"
                             "b;a 5\n"
                             "caf\xC3\xA9;\xE2\x9C\x93 4\n"
                             "no-trailing-newline;x 6\n");
    free(col);
    profd_profile_free(p);
}

static void test_bad_lines(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    const char *text = "a 1\nnocount\n;a 2\na;;b 2\na; 1\na 1x\na 99999999999999999999999\nb 2\n";
    profd_profile *p = parse(text, false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 3); /* only "a 1" and "b 2" */
    profd_profile_free(p);
    p = parse(text, true, &rc, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "line 2:"));
    profd_profile_free(p);
    p = parse("a 1\nb 2\na;;b 2\n", true, &rc, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "line 3: empty frame name"));
    profd_profile_free(p);
}

/* Unsorted input takes the hash path; sorted input the prefix-reuse path. */
static void test_unsorted_equals_sorted(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    const char *sorted = "a;b;c 1\na;b;c;a 2\na;b;d 3\na;c 4\nb 5\nb;a;b 6\n";
    const char *shuffled = "b;a;b 6\na;c 4\na;b;c 1\nb 5\na;b;d 3\na;b;c;a 2\n";
    profd_profile *p = parse(sorted, false, &rc, &err), *q = parse(shuffled, false, &rc, &err);
    char *a = render(p, PROFD_FMT_COLLAPSED, NULL, NULL),
         *b = render(q, PROFD_FMT_COLLAPSED, NULL, NULL);
    assert_string_equal(a, b);
    assert_string_equal(a, sorted);
    free(a);
    free(b);
    profd_profile_free(p);
    profd_profile_free(q);
}

static void test_frame_split(void **state)
{
    (void)state;
    struct {
        const char *in, *func, *file;
        long line;
    } cases[] = {
        {"handle (app/api.py:12)", "handle", "app/api.py", 12},
        {"<module> (gunicorn:8)", "<module>", "gunicorn", 8},
        {"thread (0x7f0011)", "thread (0x7f0011)", "", 0},
        {"f (a (b.py:3)", "f (a", "b.py", 3},
        {"f (x.py:012)", "f (x.py:012)", "", 0},
        {"f (:3)", "f (:3)", "", 0},
        {"plain", "plain", "", 0},
        {" (C:\\x.py:7)", "", "C:\\x.py", 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        frame_parts fp;
        render__frame_split(cases[i].in, strlen(cases[i].in), &fp);
        char func[64], file[64], joined[160];
        snprintf(func, sizeof func, "%.*s", (int)fp.func_len, fp.func);
        snprintf(file, sizeof file, "%.*s", (int)fp.file_len, fp.file);
        assert_string_equal(func, cases[i].func);
        assert_string_equal(file, cases[i].file);
        assert_int_equal(fp.line, cases[i].line);
        if (fp.file_len) {
            snprintf(joined, sizeof joined, "%s (%s:%ld)", func, file, fp.line);
            assert_string_equal(joined, cases[i].in);
        }
    }
}

static const char hostile[] = "</script><img src=x onerror=alert(1)> & \"q\" 'a' \xE2\x80\xA8 \xFF";

static void test_escaping(void **state)
{
    (void)state;
    profd_profile *p = profd_profile_new();
    const char *frames[] = {"main (m.py:1)", hostile};
    assert_int_equal(profd_profile_add(p, frames, 2, 5), 0);
    const char *details[] = {"service", "<b>web</b>", NULL};
    profd_render_opts o = {.title = "<script>alert(2)</script>", .details = details};
    char *html = render(p, PROFD_FMT_HTML, &o, NULL);
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "alert(2)</script>"));
    assert_null(strstr(html, "<b>web"));
    assert_null(strstr(html, "\xE2\x80\xA8"));
    assert_null(strstr(html, "\xFF"));
    assert_non_null(strstr(html, "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e"));
    assert_non_null(strstr(html, "\\u2028"));
    /* exactly the page's own two <script> elements and their closings */
    int opens = 0, closes = 0;
    for (char *s = html; (s = strstr(s, "<script")); s++)
        opens++;
    for (char *s = html; (s = strstr(s, "</script")); s++)
        closes++;
    assert_int_equal(opens, 2);
    assert_int_equal(closes, 2);
    free(html);
    char *svg = render(p, PROFD_FMT_SVG, &o, NULL);
    assert_null(strstr(svg, "<img"));
    assert_non_null(strstr(
        svg, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot; &#39;a&#39;"));
    free(svg);
    char *json = render(p, PROFD_FMT_SPEEDSCOPE, &o, NULL);
    json_object *j = json_tokener_parse(json);
    assert_non_null(j);
    json_object *shared, *fr;
    assert_true(json_object_object_get_ex(j, "shared", &shared));
    assert_true(json_object_object_get_ex(shared, "frames", &fr));
    json_object *name;
    json_object_object_get_ex(json_object_array_get_idx(fr, 1), "name", &name);
    assert_string_equal(
        json_object_get_string(name),
        "</script><img src=x onerror=alert(1)> & \"q\" 'a' \xE2\x80\xA8 \xEF\xBF\xBD");
    json_object_put(j);
    free(json);
    profd_profile_free(p);
}

static void test_speedscope_input(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    const char *ss =
        "  {\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
        "\"shared\":{\"frames\":[{\"name\":\"main\",\"file\":\"m.py\",\"line\":1},{\"name\":\"f\"},"
        "{\"name\":\"g\"}]},\"profiles\":["
        "{\"type\":\"sampled\",\"name\":\"T1\",\"unit\":\"none\",\"startValue\":0,\"endValue\":5,"
        "\"samples\":[[0,1],[0,2],[0,1]],\"weights\":[1,2,3]},"
        "{\"type\":\"evented\",\"name\":\"T2\",\"unit\":\"none\",\"startValue\":0,\"endValue\":10,"
        "\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0},{\"type\":\"O\",\"frame\":1,\"at\":2},"
        "{\"type\":\"C\",\"frame\":1,\"at\":5},{\"type\":\"C\",\"frame\":0,\"at\":10}]}]}";
    profd_profile *p = parse(ss, false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 16);
    assert_int_equal(total_of(p, "T1;main (m.py:1);f"), 4);
    assert_int_equal(total_of(p, "T1;main (m.py:1);g"), 2);
    assert_int_equal(total_of(p, "T2;main (m.py:1)"), 10);
    assert_int_equal(total_of(p, "T2;main (m.py:1);f"), 3);
    profd_profile_free(p);
    /* py-spy style: 1/rate seconds a sample become counts again */
    p = parse("{\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"}]},\"profiles\":[{"
              "\"type\":\"sampled\",\"name\":\"t\",\"unit\":\"seconds\",\"startValue\":0,"
              "\"endValue\":0.04,\"samples\":[[0],[0,1],[0]],\"weights\":[0.01,0.02,0.01]}]}",
              false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 4);
    assert_int_equal(total_of(p, "a;b"), 2);
    profd_profile_free(p);
    /* not multiples of one period: scaled to microseconds */
    p = parse("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":[{\"type\":\"sampled\","
              "\"name\":\"t\",\"unit\":\"milliseconds\",\"startValue\":0,\"endValue\":3,"
              "\"samples\":[[0],[0]],\"weights\":[1.5,1.25]}]}",
              false, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(profd_profile_total(p), 2750);
    profd_profile_free(p);
    p = parse("{\"profiles\": 3}", false, &rc, &err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err.msg, "speedscope"));
    profd_profile_free(p);
    p = parse("{ not json", false, &rc, &err);
    assert_int_equal(rc, -1);
    profd_profile_free(p);
}

/* collapsed -> speedscope -> collapsed, with thread roots (one profile each). */
static void test_speedscope_roundtrip(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    const char *text = "process 12:\"python app.py\";thread (0x1);main (m.py:1);f (m.py:5) 3\n"
                       "thread (0x2);main (m.py:1) 4\n"
                       "thread (0x2);main (m.py:1);g (n.py:9) 5\n";
    profd_profile *p = parse(text, false, &rc, &err);
    char *col1 = render(p, PROFD_FMT_COLLAPSED, NULL, NULL);
    char *json = render(p, PROFD_FMT_SPEEDSCOPE, NULL, NULL);
    json_object *j = json_tokener_parse(json), *profiles;
    assert_true(json_object_object_get_ex(j, "profiles", &profiles));
    assert_int_equal(json_object_array_length(profiles), 2);
    json_object_put(j);
    profd_profile *q = parse(json, false, &rc, &err);
    assert_int_equal(rc, 0);
    char *col2 = render(q, PROFD_FMT_COLLAPSED, NULL, NULL);
    assert_string_equal(col1, col2);
    free(col1);
    free(col2);
    free(json);
    profd_profile_free(p);
    profd_profile_free(q);
}

/* A protobuf reader just big enough for profile.proto. */
typedef struct rd {
    const uint8_t *p, *end;
} rd;

static uint64_t varint(rd *r)
{
    uint64_t v = 0;
    for (int s = 0; r->p < r->end; s += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << s;
        if (!(b & 0x80))
            break;
    }
    return v;
}

/* The next field of r: its number, and either its bytes (length-delimited:
 * *sub) or its value (varint: *val). Both outputs are always set (the other one
 * to empty or 0), so a caller that reads the wrong one for a field's wire type
 * sees nothing rather than stale or uninitialised data. Returns 0 at the end. */
static int field(rd *r, uint32_t *num, rd *sub, uint64_t *val)
{
    *sub = (rd){r->end, r->end};
    *val = 0;
    if (r->p >= r->end)
        return 0;
    uint64_t key = varint(r);
    *num = (uint32_t)(key >> 3);
    if ((key & 7) == 2) {
        uint64_t n = varint(r);
        assert_true(n <= (uint64_t)(r->end - r->p));
        *sub = (rd){r->p, r->p + n};
        r->p += n;
    } else {
        assert_int_equal(key & 7, 0);
        *val = varint(r);
    }
    return 1;
}

static void test_pprof_decodes(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    profd_profile *p =
        parse("main (m.py:1);f (m.py:5) 3\nmain (m.py:1);f (m.py:7) 4\nmain (m.py:1) 2\n", false,
              &rc, &err);
    size_t n;
    char *gz = render(p, PROFD_FMT_PPROF, NULL, &n);
    assert_true(n > 2 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b);
    uint8_t raw[8192];
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 31), Z_OK);
    z.next_in = (uint8_t *)gz;
    z.avail_in = (uInt)n;
    z.next_out = raw;
    z.avail_out = sizeof raw;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = sizeof raw - z.avail_out;
    inflateEnd(&z);
    rd r = {raw, raw + len}, sub;
    uint32_t num;
    uint64_t val, sum = 0;
    int nstrings = 0, nfunctions = 0, nlocations = 0, nsamples = 0;
    char strings[32][64];
    long func_start[8] = {0};
    while (field(&r, &num, &sub, &val)) {
        if (num == 6 && nstrings < 32) {
            snprintf(strings[nstrings++], 64, "%.*s", (int)(sub.end - sub.p), sub.p);
        } else if (num == 2) {
            nsamples++;
            rd s2;
            while (field(&sub, &num, &s2, &val))
                if (num == 2)
                    sum += varint(&s2);
        } else if (num == 5) {
            uint64_t id = 0, start = 0;
            rd s2;
            while (field(&sub, &num, &s2, &val)) {
                if (num == 1)
                    id = val;
                if (num == 5)
                    start = val;
            }
            assert_true(id >= 1 && id < 8);
            func_start[id] = (long)start;
            nfunctions++;
        } else if (num == 4)
            nlocations++;
    }
    assert_int_equal(sum, 9);
    assert_int_equal(nsamples, 3);
    assert_int_equal(nlocations, 3); /* main:1, f:5, f:7 */
    assert_int_equal(nfunctions, 2); /* main, f */
    assert_string_equal(strings[0], "");
    int saw_f = 0, saw_file = 0;
    for (int i = 0; i < nstrings; i++) {
        saw_f |= strcmp(strings[i], "f") == 0;
        saw_file |= strcmp(strings[i], "m.py") == 0;
    }
    assert_true(saw_f && saw_file);
    assert_int_equal(func_start[2], 5); /* f's lowest line seen */
    free(gz);
    profd_profile_free(p);
}

static void test_diff(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    profd_profile *before = parse("a;b 50\na;c 50\n", false, &rc, &err);
    profd_profile *after = parse("a;b 150\na;c 50\na;d 100\n", false, &rc, &err);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    profd_render_opts o = {.min_width_px = 1e-12};
    assert_int_equal(profd_render_diff(before, after, &o, f, &err), 0);
    fclose(f);
    /* preorder root, a, a;b, a;c, a;d: after widths and before counts */
    assert_non_null(strstr(buf, "\"v\":[300,300,150,50,100]"));
    assert_non_null(strstr(buf, "\"b\":[100,100,50,50,0]"));
    assert_non_null(strstr(buf, "\"btotal\":100"));
    free(buf);
    profd_profile_free(before);
    profd_profile_free(after);
}

/* profd_diff_top: shares per function (name and file, lines merged), a
 * recursive function counted once per stack, normalised by each total,
 * largest |delta| first, ties by name; n bounds the rows. The expected
 * shares are worked out from the stacks by hand in the comments. */
static void test_diff_top(void **state)
{
    (void)state;
    int rc;
    profd_error err = {0};
    /* before, 200 samples: f 100 (50 %; 40 of them recursive), g 100 (50 %) */
    profd_profile *before = parse("m (a.py:1);f (a.py:5) 60\n"
                                  "m (a.py:1);f (a.py:6);f (a.py:5) 40\n"
                                  "m (a.py:1);g (b.py:9) 100\n",
                                  false, &rc, &err);
    /* after, 50 samples: f 10 (20 %), g 30 (60 %), h 10 (20 %), thread root without a file */
    profd_profile *after = parse("thread (7);m (a.py:1);f (a.py:7) 10\n"
                                 "thread (7);m (a.py:1);g (b.py:9) 30\n"
                                 "thread (7);m (a.py:1);h (a.py:3) 10\n",
                                 false, &rc, &err);
    profd_diff_change rows[10];
    int n = profd_diff_top(before, after, rows, 10, &err);
    assert_int_equal(n, 5); /* f, g, h, thread (7), m */
    /* |delta|: f 30, thread 100, h 20, g 10, m 0 */
    assert_string_equal(rows[0].function, "thread (7)");
    assert_string_equal(rows[0].file, "");
    assert_true(fabs(rows[0].delta - 100.0) < 1e-9);
    assert_string_equal(rows[1].function, "f");
    assert_string_equal(rows[1].file, "a.py");
    assert_true(fabs(rows[1].before - 50.0) < 1e-9);
    assert_true(fabs(rows[1].after - 20.0) < 1e-9);
    assert_true(fabs(rows[1].delta + 30.0) < 1e-9);
    assert_string_equal(rows[2].function, "h");
    assert_true(fabs(rows[2].before) < 1e-9);
    assert_string_equal(rows[3].function, "g");
    assert_true(fabs(rows[3].delta - 10.0) < 1e-9);
    assert_string_equal(rows[4].function, "m");
    assert_true(fabs(rows[4].delta) < 1e-9);
    assert_int_equal(profd_diff_top(before, after, rows, 2, &err), 2);
    assert_string_equal(rows[1].function, "f");
    /* the same profile on both sides: nothing changed */
    n = profd_diff_top(before, before, rows, 10, &err);
    for (int i = 0; i < n; i++)
        assert_true(fabs(rows[i].delta) < 1e-12);
    /* an empty profile: shares of 0, no division by zero */
    profd_profile *empty = profd_profile_new();
    n = profd_diff_top(empty, after, rows, 10, &err);
    assert_int_equal(n, 5);
    assert_true(fabs(rows[0].before) < 1e-12);
    assert_int_equal(profd_diff_top(NULL, after, rows, 10, &err), -1);
    profd_profile_free(empty);
    profd_profile_free(before);
    profd_profile_free(after);
}

static void test_formats(void **state)
{
    (void)state;
    profd_format f;
    assert_int_equal(profd_format_parse("html", &f), 0);
    assert_int_equal(f, PROFD_FMT_HTML);
    assert_int_equal(profd_format_parse("pprof", &f), 0);
    assert_int_equal(f, PROFD_FMT_PPROF);
    assert_int_equal(profd_format_parse("png", &f), -1);
    assert_int_equal(profd_format_parse(NULL, &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals_by_hand),
        cmocka_unit_test(test_html_widths),
        cmocka_unit_test(test_parser_edge_cases),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_unsorted_equals_sorted),
        cmocka_unit_test(test_frame_split),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_speedscope_input),
        cmocka_unit_test(test_speedscope_roundtrip),
        cmocka_unit_test(test_pprof_decodes),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_diff_top),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
