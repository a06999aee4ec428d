/* h_diff.c - what the API draws from a session's stored stacks: the diff of
 * two sessions, and exports in any renderer format.
 *
 * GET /api/v1/monitoring/profile/{id}/diff/{other}:
 * {id} is "before", {other} "after". Both must be sessions with stored stacks
 * (stacks.txt, the input of every rendering); each is read from the blob
 * store into a profile, and then:
 *  - by default the differential flame graph page, drawn by the renderer's
 *    profd_render_diff (the one `profd diff` draws), under the flame graph
 *    CSP (csp.c);
 *  - with Accept: application/json, the table of profd_diff_top: the
 *    functions whose share of time grew or shrank most (?limit=1..100, 20),
 *    and flame_graph_url: a signed link to the same diff page, stored as
 *    sessions/{id}/diff-{other}.html, so a browser can open it in a frame
 *    without a bearer token (the console does).
 * GET …/{id}/export/{format} (collapsed, speedscope, pprof, html, svg): the
 * stored stacks rendered by profd_render, as a download (Content-Disposition),
 * so the console offers every format without the worker storing each one.
 * Ids are validated like everywhere else (api__load_session: not a UUID is a
 * 404 with the seed's text). A session without stacks yet is 409 with its
 * status, so the console can say "not finished" instead of "not found". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/lifecycle.h"
#include "profd/log.h"
#include "profd/render.h"
#include "server.h"

#define DIFF_ROWS_DEFAULT 20
#define DIFF_ROWS_MAX 100

/* The stored stacks of s as a profile; NULL when answered (404/409/500). */
static profd_profile *load_stacks(api_req *r, const profd_session *s)
{
    if (!s->stacks_object[0] || !r->api->o.blob) {
        api__reply_detail(r, 409, "Profiling session %s has no stored stacks (status %s)",
                          s->session_id, profd_status_name(s->status));
        return NULL;
    }
    profd_error err = {0};
    profd_render_opts o = {0};
    int fd;
    profd_blob_fd_result got = profd_blob_get_fd(r->api->o.blob, s->stacks_object, &fd, &err);
    FILE *f = got == PROFD_BLOB_FD_OK ? fdopen(fd, "r") : NULL;
    profd_profile *p = f ? profd_profile_new() : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        LOG_W(s->session_id, "api.object_unavailable", "%s: %s", s->stacks_object, err.msg);
        if (got == PROFD_BLOB_FD_UNAVAILABLE)
            api__reply_detail(r, 404, "Stacks of profiling session %s are not available",
                              s->session_id);
        else
            api__reply_detail(r, 500, "cannot create a temporary file");
    } else if (!p) {
        api__reply_detail(r, 500, "out of memory");
    } else if (profd_profile_read(p, f, &o, &err) < 0) {
        api__reply_detail(r, 500, "Stacks of profiling session %s cannot be read: %s",
                          s->session_id, err.msg);
        profd_profile_free(p);
        p = NULL;
    }
    if (f)
        fclose(f);
    return p;
}

static bool wants_json(api_req *r)
{
    const char *a = api__req_header(r, "Accept");
    return a && strstr(a, "application/json");
}

/* 0 with *n, or -1 answered 422. */
static int rows_limit(api_req *r, int *n)
{
    const char *s = api__req_query(r, "limit");
    *n = DIFF_ROWS_DEFAULT;
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || v < 1 || v > DIFF_ROWS_MAX) {
        profd_metrics_rejected("invalid_query");
        api__reply_detail(r, 422, "limit must be an integer between 1 and %d", DIFF_ROWS_MAX);
        return -1;
    }
    *n = (int)v;
    return 0;
}

/* Render the diff page into buf (malloc'd); 0 or -1 answered. */
static int draw_diff(api_req *r, const profd_session *a, const profd_session *b,
                     const profd_profile *pa, const profd_profile *pb, char **buf, size_t *len)
{
    char title[200], before[128], after[128];
    snprintf(title, sizeof title, "Differential flame graph: %s", b->service_name);
    snprintf(before, sizeof before, "%s (%s)", a->session_id, a->service_name);
    snprintf(after, sizeof after, "%s (%s)", b->session_id, b->service_name);
    const char *details[] = {"before", before, "after", after, NULL};
    profd_render_opts o = {.title = title, .details = details};
    *buf = NULL;
    *len = 0;
    FILE *f = open_memstream(buf, len);
    profd_error err = {0};
    int rc = f ? profd_render_diff(pa, pb, &o, f, &err) : -1;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0) {
        free(*buf);
        *buf = NULL;
        api__reply_detail(r, 500, "cannot draw the diff: %s", f ? err.msg : "out of memory");
    }
    return rc;
}

/* Store the diff page and link it into out ("" when the store cannot). */
static void diff_link(api_req *r, const profd_session *a, const profd_session *b, const char *page,
                      size_t len, char *out, size_t outlen)
{
    char object[256], file[128], path[] = "/tmp/profd-diffpage-XXXXXX";
    out[0] = '\0';
    snprintf(file, sizeof file, "diff-%s.html", b->session_id);
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    bool ok = write(fd, page, len) == (ssize_t)len;
    close(fd);
    profd_error err = {0};
    profd_blob *bl = r->api->o.blob;
    if (ok && profd_session_object(a->session_id, file, object, sizeof object) == 0 &&
        bl->ops->put_file(bl, object, path, "text/html; charset=utf-8", NULL, PROFD_GEN_ANY, NULL,
                          &err) == 0)
        profd_session_link(bl, object, r->api->cfg.signed_url_ttl, out, outlen);
    else if (ok)
        LOG_W(a->session_id, "api.diff_store_failed", "%s", err.msg);
    unlink(path);
}

static void reply_table(api_req *r, const profd_session *a, const profd_session *b,
                        const profd_profile *pa, const profd_profile *pb, int n)
{
    char *page = NULL, link[2048];
    size_t plen = 0;
    if (draw_diff(r, a, b, pa, pb, &page, &plen) < 0)
        return;
    diff_link(r, a, b, page, plen, link, sizeof link);
    free(page);
    profd_diff_change *rows = calloc((size_t)n, sizeof *rows);
    profd_error err = {0};
    int got = rows ? profd_diff_top(pa, pb, rows, n, &err) : -1;
    if (got < 0) {
        free(rows);
        api__reply_detail(r, 500, "%s", rows ? err.msg : "out of memory");
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "before", json_object_new_string(a->session_id));
    json_object_object_add(o, "after", json_object_new_string(b->session_id));
    json_object_object_add(o, "before_samples",
                           json_object_new_int64((int64_t)profd_profile_total(pa)));
    json_object_object_add(o, "after_samples",
                           json_object_new_int64((int64_t)profd_profile_total(pb)));
    json_object *arr = json_object_new_array_ext(got);
    for (int i = 0; i < got; i++) {
        json_object *e = json_object_new_object();
        json_object_object_add(e, "function", json_object_new_string(rows[i].function));
        json_object_object_add(e, "file", json_object_new_string(rows[i].file));
        json_object_object_add(e, "share_before", json_object_new_double(rows[i].before));
        json_object_object_add(e, "share_after", json_object_new_double(rows[i].after));
        json_object_object_add(e, "delta_points", json_object_new_double(rows[i].delta));
        json_object_array_add(arr, e);
    }
    json_object_object_add(o, "changes", arr);
    json_object_object_add(o, "flame_graph_url", link[0] ? json_object_new_string(link) : NULL);
    free(rows);
    api__reply_json(r, 200, o);
}

static void reply_page(api_req *r, const profd_session *a, const profd_session *b,
                       const profd_profile *pa, const profd_profile *pb)
{
    char *buf = NULL;
    size_t len = 0;
    if (draw_diff(r, a, b, pa, pb, &buf, &len) < 0)
        return;
    api__reply_body(r, 200, "text/html; charset=utf-8", buf, len);
    api__reply_header(r, "Content-Security-Policy", api__csp_flame());
    free(buf);
}

void api__handle_diff(api_req *r)
{
    int n = 0;
    if (rows_limit(r, &n) < 0)
        return;
    profd_session a, b;
    profd_session_init(&b);
    profd_profile *pa = NULL, *pb = NULL;
    if (api__load_session(r, r->route.param, &a) && api__load_session(r, r->route.param2, &b) &&
        (pa = load_stacks(r, &a)) && (pb = load_stacks(r, &b))) {
        if (wants_json(r))
            reply_table(r, &a, &b, pa, pb, n);
        else
            reply_page(r, &a, &b, pa, pb);
    }
    profd_profile_free(pa);
    profd_profile_free(pb);
    profd_session_free(&a);
    profd_session_free(&b);
}

static const struct {
    const char *name, *type, *ext;
    profd_format f;
} exports[] = {
    {"collapsed", "text/plain; charset=utf-8", "txt", PROFD_FMT_COLLAPSED},
    {"speedscope", "application/json", "speedscope.json", PROFD_FMT_SPEEDSCOPE},
    {"pprof", "application/octet-stream", "pb.gz", PROFD_FMT_PPROF},
    {"html", "text/html; charset=utf-8", "html", PROFD_FMT_HTML},
    {"svg", "image/svg+xml", "svg", PROFD_FMT_SVG},
};

void api__handle_export(api_req *r)
{
    size_t k = 0, n = sizeof exports / sizeof exports[0];
    while (k < n && strcmp(exports[k].name, r->route.param2) != 0)
        k++;
    if (k == n) {
        api__reply_detail(r, 404,
                          "Unknown export format %.32s (collapsed, speedscope, pprof, "
                          "html or svg)",
                          r->route.param2);
        return;
    }
    profd_session s;
    profd_profile *p = NULL;
    if (api__load_session(r, r->route.param, &s) && (p = load_stacks(r, &s))) {
        char title[200];
        snprintf(title, sizeof title, "%s %s", s.service_name, s.session_id);
        profd_render_opts o = {.title = title};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        profd_error err = {0};
        int rc = f ? profd_render(p, exports[k].f, &o, f, &err) : -1;
        if (f && fclose(f) != 0)
            rc = -1;
        if (rc < 0) {
            api__reply_detail(r, 500, "cannot render: %s", f ? err.msg : "out of memory");
        } else {
            char cd[200];
            snprintf(cd, sizeof cd, "attachment; filename=\"profile-%s.%s\"", s.session_id,
                     exports[k].ext);
            api__reply_body(r, 200, exports[k].type, buf, len);
            api__reply_header(r, "Content-Disposition", cd);
            if (exports[k].f == PROFD_FMT_HTML || exports[k].f == PROFD_FMT_SVG)
                api__reply_header(r, "Content-Security-Policy", api__csp_flame());
        }
        free(buf);
    }
    profd_profile_free(p);
    profd_session_free(&s);
}
