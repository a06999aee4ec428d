/* h_session.c - reading, listing and cancelling sessions, and their artifacts.
 *
 * Records hold object names, never links: links are made at read time
 * (profd_session_links, lifecycle.h, shared with the worker's events),
 * valid PROFD_SIGNED_URL_TTL seconds (V4 signed URLs for gs://, HMAC-signed
 * API links for file://). An id that is not a UUID cannot name a session, so
 * it is a plain 404 with the seed's text, like an unknown one; the id is
 * echoed through profd_escape, so a detail is valid UTF-8 whatever was sent.
 *
 * Cancelling (DELETE) is two different things depending on where the session
 * is. A queued session has no worker yet: it is failed with `cancelled` right
 * here, its session.failed event published, and a cancel request still goes
 * on the bus so a worker that already took the request drops it. A running
 * session belongs to a worker: the API publishes a cancel request and answers
 * 202; the worker stops the sampler and finishes the session as failed /
 * cancelled. A finished session is 409. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"
#include "profd/lifecycle.h"
#include "profd/log.h"

json_object *api__session_json(api_req *r, profd_session *s)
{
    profd_session_links(r->api->o.blob, r->api->cfg.signed_url_ttl, s);
    return profd_session_to_json(s, false);
}

void api__reply_store_error(api_req *r, const profd_error *err)
{
    LOG_E(NULL, "api.store_error", "session store: %s", err->msg);
    api__reply_detail(r, 503, "Session store unavailable: %s", err->msg);
}

bool api__load_session(api_req *r, const char *id, profd_session *out)
{
    profd_session_init(out);
    if (!profd_uuid_valid(id)) {
        /* Echoed escaped: the id came from the client, and the detail must
         * stay one valid UTF-8 JSON string whatever bytes it holds. */
        char shown[4 * 64 + 1];
        profd_escape(id, strnlen(id, 64), PROFD_ESC_CONTROLS, shown, sizeof shown);
        api__reply_detail(r, 404, "Profiling session %s not found", shown);
        return false;
    }
    profd_error err;
    profd_store *st = r->api->o.store;
    switch (st->ops->get(st, id, out, &err)) {
    case PROFD_LOOKUP_FOUND:
        return true;
    case PROFD_LOOKUP_ABSENT:
        api__reply_detail(r, 404, "Profiling session %s not found", id);
        return false;
    case PROFD_LOOKUP_ERROR:
        break;
    }
    api__reply_store_error(r, &err);
    return false;
}

void api__handle_get(api_req *r)
{
    profd_session s;
    if (!api__load_session(r, r->route.param, &s))
        return;
    api__reply_json(r, 200, api__session_json(r, &s));
    profd_session_free(&s);
}

void api__handle_list(api_req *r)
{
    profd_list_filter f;
    char detail[256];
    if (profd_list_query_parse(api__req_query(r, "service_name"), api__req_query(r, "status"),
                               api__req_query(r, "limit"), &f, detail, sizeof detail) < 0) {
        profd_metrics_rejected("invalid_query");
        char shown[600]; /* under the 1 KiB of a detail: never cut inside a character */
        profd_escape(detail, strlen(detail), PROFD_ESC_CONTROLS, shown, sizeof shown);
        api__reply_detail(r, 422, "%s", shown);
        return;
    }
    profd_session *out = calloc((size_t)f.limit, sizeof *out);
    if (!out)
        return;
    profd_error err;
    profd_store *st = r->api->o.store;
    int n = st->ops->list(st, &f, out, f.limit, &err);
    if (n < 0) {
        api__reply_store_error(r, &err);
    } else {
        /* links=false: no signed links (each can cost a signing call; the console's
         * live refresh of the list needs none) */
        const char *lq = api__req_query(r, "links");
        bool links = !(lq && strcmp(lq, "false") == 0);
        json_object *arr = json_object_new_array_ext(n);
        for (int i = 0; i < n; i++) {
            json_object_array_add(arr, links ? api__session_json(r, &out[i])
                                             : profd_session_to_json(&out[i], false));
            profd_session_free(&out[i]);
        }
        api__reply_json(r, 200, arr);
    }
    free(out);
}

/* Publish a cancel request for s on the bus. */
static int publish_cancel(api_req *r, const profd_session *s, profd_error *err)
{
    profd_request q;
    profd_request_init(&q);
    q.type = PROFD_REQ_CANCEL;
    profd_strlcpy(q.session_id, s->session_id, sizeof q.session_id);
    profd_strlcpy(q.service_name, s->service_name, sizeof q.service_name);
    profd_strlcpy(q.host, s->host[0] ? s->host : s->target_host, sizeof q.host);
    profd_strlcpy(q.requested_by, r->who.sub, sizeof q.requested_by);
    char now[40];
    profd_rfc3339(profd_now_ms(), now);
    profd_strlcpy(q.requested_at, now, sizeof q.requested_at);
    json_object *j = profd_request_to_json(&q);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    profd_bus *b = r->api->o.bus;
    int rc =
        b->ops->publish(b, PROFD_TOPIC_REQUESTS, s->session_id, text, strlen(text), NULL, 0, err);
    json_object_put(j);
    profd_request_free(&q);
    return rc;
}

static void publish_event(api_req *r, const char *type, const profd_session *s)
{
    char *ev = profd_event_to_string(type, s);
    profd_error err;
    profd_bus *b = r->api->o.bus;
    if (!ev ||
        b->ops->publish(b, PROFD_TOPIC_EVENTS, s->session_id, ev, strlen(ev), NULL, 0, &err) < 0)
        LOG_W(s->session_id, "api.event_failed", "cannot publish %s: %s", type,
              ev ? err.msg : "out of memory");
    free(ev);
}

static void cancel_queued(api_req *r, profd_session *s)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Cancelled by %s before it started", r->who.sub);
    profd_session_fail(s, PROFD_E_CANCELLED, msg);
    profd_error err;
    profd_store *st = r->api->o.store;
    if (st->ops->put(st, s, &err) < 0) {
        api__reply_store_error(r, &err);
        return;
    }
    publish_event(r, "session.failed", s);
    profd_metrics_session_finished("failed");
    if (publish_cancel(r, s, &err) < 0)
        LOG_W(s->session_id, "api.cancel_publish_failed", "%s", err.msg);
    api__reply_json(r, 202, api__session_json(r, s));
}

void api__handle_cancel(api_req *r)
{
    profd_session s;
    if (!api__load_session(r, r->route.param, &s))
        return;
    const char *was = profd_status_name(s.status);
    if (profd_status_terminal(s.status)) {
        api__reply_detail(r, 409, "Profiling session %s has already finished (%s)", s.session_id,
                          was);
    } else if (s.status == PROFD_QUEUED) {
        cancel_queued(r, &s);
    } else {
        profd_error err;
        if (publish_cancel(r, &s, &err) < 0)
            api__reply_detail(r, 503, "Message bus unavailable: %s", err.msg);
        else
            api__reply_json(r, 202, api__session_json(r, &s));
    }
    if (r->status == 202)
        LOG_I(s.session_id, "audit", "action=cancel subject=%s service=%s was=%s", r->who.sub,
              s.service_name, was);
    profd_session_free(&s);
}

/* Serve an object of the blob store (the file store and GCS alike). Also used by files. */
void api__serve_object(api_req *r, const char *object, const char *type)
{
    profd_error err = {0};
    int fd;
    profd_blob_fd_result got = profd_blob_get_fd(r->api->o.blob, object, &fd, &err);
    struct stat stt;
    if (got == PROFD_BLOB_FD_OK && fstat(fd, &stt) == 0) {
        api__reply_fd(r, fd, (uint64_t)stt.st_size, type);
        return;
    }
    if (fd >= 0)
        close(fd);
    LOG_W(NULL, "api.object_unavailable", "%s: %s", object, err.msg);
    if (got == PROFD_BLOB_FD_LOCAL) {
        api__reply_detail(r, 500, "cannot create a temporary file");
        return;
    }
    char shown[600]; /* under the 1 KiB of a detail: never cut inside a character */
    profd_escape(object, strnlen(object, 256), PROFD_ESC_CONTROLS, shown, sizeof shown);
    api__reply_detail(r, 404, "Object %s is not available", shown);
}

void api__handle_artifact(api_req *r)
{
    profd_session s;
    if (!api__load_session(r, r->route.param, &s))
        return;
    bool flame = r->route.id == PROFD_ROUTE_FLAMEGRAPH;
    const char *object = flame ? s.flame_graph_object : s.raw_data_object;
    if (!object[0] || !r->api->o.blob) {
        api__reply_detail(r, 404, "%s of profiling session %s is not available (status %s)",
                          flame ? "Flame graph" : "Raw data", s.session_id,
                          profd_status_name(s.status));
    } else {
        char link[2048];
        profd_session_link(r->api->o.blob, object, r->api->cfg.signed_url_ttl, link, sizeof link);
        if (strncmp(link, "http://", 7) == 0 || strncmp(link, "https://", 8) == 0)
            api__reply_redirect(r, link);
        else
            api__serve_object(
                r, object,
                profd_artifacts[flame ? PROFD_ART_FLAMEGRAPH : PROFD_ART_PROFILE].content_type);
    }
    profd_session_free(&s);
}
