/* live.c - the events of GET /api/v1/monitoring/profile/{id}/live, without
 * any transport (docs/console.md).
 *
 * The stream is made from what any API replica can read: the session record
 * (status, and sample_count, which the capturing worker updates with each live
 * upload) and sessions/{id}/live.txt in the blob store (the merged stacks so
 * far, collapsed). Each poll reads the record and appends the events that are
 * due, as Server-Sent Events text:
 *   event: progress   the record (public shape, no links) whenever its status
 *                     or sample count changed; no id;
 *   event: stacks     live.txt, one `data:` line per stack, when the sample
 *                     count moved past the last one sent; id: s<count>;
 *   event: final      once the session is finished: the record with fresh
 *                     links; id: final; the stream then ends.
 * A client that reconnects with Last-Event-ID s<N> gets no stacks again until
 * the count passes N; with `final`, the final event again. The transport (the
 * HTTP front) only calls api__live_poll about once a second and writes what
 * it returns, so this file is tested without a server (tests/api). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/lifecycle.h"
#include "server.h"

#define LIVE_MAX_BYTES (8 * 1024 * 1024) /* bigger snapshots: progress only */

void api__live_init(api_live *l, profd_store *store, profd_blob *blob, int link_ttl_s,
                    const char *id, const char *last_event_id)
{
    memset(l, 0, sizeof *l);
    l->store = store;
    l->blob = blob;
    l->link_ttl_s = link_ttl_s;
    profd_strlcpy(l->id, id, sizeof l->id);
    l->sent = -1;
    l->progress_count = -2;
    l->progress_status = -1;
    if (last_event_id && last_event_id[0] == 's') {
        char *end;
        long n = strtol(last_event_id + 1, &end, 10);
        if (end != last_event_id + 1 && !*end && n >= 0)
            l->sent = n;
    } else if (last_event_id && strcmp(last_event_id, "final") == 0) {
        l->sent = LONG_MAX;
    }
}

static void add_json_event(profd_sb *out, const char *event, const char *id, json_object *o)
{
    profd_sb_addf(out, "event: %s\n", event);
    if (id)
        profd_sb_addf(out, "id: %s\n", id);
    profd_sb_add(out, "data: ");
    profd_sb_add(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
    profd_sb_add(out, "\n\n");
    json_object_put(o);
}

/* live.txt into memory; NULL when absent or too big. */
static char *read_live(api_live *l, size_t *len)
{
    char object[256];
    profd_error err = {0};
    int fd;
    if (!l->blob || profd_session_object(l->id, "live.txt", object, sizeof object) != 0 ||
        profd_blob_get_fd(l->blob, object, &fd, &err) != PROFD_BLOB_FD_OK)
        return NULL;
    char *buf = NULL;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size >= 0 && size <= LIVE_MAX_BYTES && (buf = malloc((size_t)size + 1))) {
        ssize_t got = pread(fd, buf, (size_t)size, 0);
        *len = got > 0 ? (size_t)got : 0;
        buf[*len] = '\0';
    }
    close(fd);
    return buf;
}

static void add_stacks(profd_sb *out, long count, const char *text, size_t len)
{
    profd_sb_addf(out, "event: stacks\nid: s%ld\n", count);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        profd_sb_add(out, "data: ");
        size_t from = out->len;
        profd_sb_addn(out, p, n);
        for (size_t i = from; !out->oom && i < out->len; i++)
            if (out->s[i] == '\r') /* SSE ends a line at CR too */
                out->s[i] = '?';
        profd_sb_add(out, "\n");
        p += n + 1;
    }
    if (len == 0)
        profd_sb_add(out, "data: \n");
    profd_sb_add(out, "\n");
}

api_live_step api__live_poll(api_live *l, profd_sb *out)
{
    profd_session s;
    profd_session_init(&s);
    profd_error err = {0};
    api_live_step step = API_LIVE_WAIT;
    switch (l->store->ops->get(l->store, l->id, &s, &err)) {
    case PROFD_LOOKUP_FOUND:
        break;
    case PROFD_LOOKUP_ABSENT:
        profd_sb_addf(out, "event: gone\ndata: {\"detail\":\"Profiling session %s not found\"}\n\n",
                      l->id);
        profd_session_free(&s);
        return API_LIVE_END;
    case PROFD_LOOKUP_ERROR:
        profd_session_free(&s); /* the next poll tries again */
        return API_LIVE_WAIT;
    }
    if (profd_status_terminal(s.status)) {
        profd_session_links(l->blob, l->link_ttl_s, &s);
        add_json_event(out, "final", "final", profd_session_to_json(&s, false));
        step = API_LIVE_END;
    } else {
        if ((int)s.status != l->progress_status || s.sample_count != l->progress_count) {
            l->progress_status = (int)s.status;
            l->progress_count = s.sample_count;
            add_json_event(out, "progress", NULL, profd_session_to_json(&s, false));
            step = API_LIVE_MORE;
        }
        if (s.sample_count > l->sent) {
            size_t len = 0;
            char *text = read_live(l, &len);
            if (text) {
                add_stacks(out, s.sample_count, text, len);
                l->sent = s.sample_count;
                step = API_LIVE_MORE;
            }
            free(text);
        }
    }
    profd_session_free(&s);
    return step;
}
