/* h_start.c - POST /api/v1/monitoring/profile/start.
 *
 * The body is the seed's {"service_name", "duration_seconds", "pid"} (any
 * other request field is accepted too: rate_hz, options, labels, host). The
 * API owns some fields and overwrites them: type "profile", trigger "api",
 * requested_by = the token's subject, requested_at = now, session_id = a new
 * UUID; under `profd serve` a missing host is this host. The result goes
 * through profd_request_parse, the same validation the worker applies, so
 * the API never queues a request a worker would reject.
 *
 * Order of checks, each with its answer:
 *   malformed JSON 400; Idempotency-Key seen before -> the same session (201,
 *   Idempotent-Replayed: true); rate limit 429 + Retry-After; a broken rule
 *   422; sampler unavailable 503; (serve, explicit pid) not ours 403;
 *   target busy 409; then the record is created (queued), the request
 *   published on the bus, session.queued announced, and 201 returned.
 *
 * Idempotency: the session id is UUIDv5(subject "\n" key), so a retried POST
 * maps to the same record and store->create (create-if-absent) settles races.
 * Target busy: a short claim on "api-target:{host|*}:{service}" serialises
 * concurrent starts for one service; under it, the queued and running
 * sessions of the service are checked, and one on the same host (or with no
 * host) for the same process (or with no pid) makes the new one a 409. The
 * claim is released once the new record exists: from then on the record
 * itself is what later starts see. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "profd/log.h"
#include "profd/sampler.h"

/* Namespace of idempotency-key session ids (a fixed random UUID). */
#define IDEMPOTENCY_NS "6d1f0a52-8c3e-4f7b-9a21-5b0e3c9d7f44"
#define TARGET_CLAIM_MS 10000

typedef struct start {
    api_req *r;
    json_object *body;
    char id[PROFD_UUID_LEN + 1];
    bool idempotent;
    profd_request req;
    profd_session s;
} start;

static int parse_body(start *st)
{
    api_req *r = st->r;
    if (!r->body || r->len == 0) {
        reply_detail(r, 400, "Request body must be a JSON object");
        return -1;
    }
    json_tokener *tok = json_tokener_new();
    st->body = json_tokener_parse_ex(tok, r->body, (int)r->len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < r->len && strchr(" \t\r\n", r->body[end]))
        end++;
    if (e != json_tokener_success || end != r->len || strlen(r->body) != r->len) {
        reply_detail(r, 400, "Malformed JSON: %s",
                     e != json_tokener_success ? json_tokener_error_desc(e) : "trailing data");
        return -1;
    }
    if (!json_object_is_type(st->body, json_type_object)) {
        reply_detail(r, 422, "Request body must be a JSON object");
        return -1;
    }
    return 0;
}

/* The session of an Idempotency-Key seen before: 1 replayed, 0 none, -1 error. */
static int replay_existing(start *st)
{
    api_req *r = st->r;
    profd_store *store = r->api->o.store;
    profd_session s;
    profd_session_init(&s);
    profd_error err;
    int rc = store->ops->get(store, st->id, &s, &err);
    if (rc < 0) {
        reply_store_error(r, &err);
        return -1;
    }
    if (rc == 1) {
        reply_json(r, 201, session_json(r, &s));
        reply_header(r, "Idempotent-Replayed", "true");
    }
    profd_session_free(&s);
    return rc;
}

/* 1 replayed (answered), 0 go on, -1 answered with an error. */
static int replay(start *st)
{
    api_req *r = st->r;
    const char *key = req_header(r, "Idempotency-Key");
    if (!key) {
        profd_uuid4(st->id);
        return 0;
    }
    size_t n = strlen(key);
    bool ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] >= 0x20 && key[i] <= 0x7e;
    if (!ok) {
        reply_detail(r, 422, "Idempotency-Key must be 1 to 255 printable ASCII characters");
        return -1;
    }
    char name[512];
    snprintf(name, sizeof name, "%s\n%s", r->who.sub, key);
    profd_uuid5(IDEMPOTENCY_NS, name, st->id);
    st->idempotent = true;
    return replay_existing(st);
}

static int rate_limit(start *st)
{
    api_req *r = st->r;
    int retry = 0;
    profd_error err;
    int rc = profd_ratelimit_check(r->api->o.store, r->who.sub, r->api->cfg.rate_limit,
                                   profd_now_ms() / 1000, &retry, &err);
    if (rc < 0) {
        reply_store_error(r, &err);
        return -1;
    }
    if (rc == 0) {
        profd_metrics_rejected("rate_limited");
        reply_detail(r, 429, "Rate limit exceeded: %d session starts per minute; retry in %d s",
                     r->api->cfg.rate_limit, retry);
        char v[16];
        snprintf(v, sizeof v, "%d", retry);
        reply_header(r, "Retry-After", v);
        return -1;
    }
    return 0;
}

static void set_string(json_object *o, const char *name, const char *v)
{
    json_object_object_add(o, name, json_object_new_string(v));
}

/* The rule's sentence: the seed's duration text verbatim, else the message. */
static void rule_detail(const char *msg, char *out, size_t len)
{
    const char *d = strstr(msg, "Duration must be between");
    if (!d) {
        profd_strlcpy(out, msg, len);
        return;
    }
    profd_strlcpy(out, d, len);
    char *paren = strchr(out, ')');
    if (paren)
        *paren = '\0';
}

static int validate(start *st)
{
    api_req *r = st->r;
    const profd_config *cfg = &r->api->cfg;
    char sub[128], now[40];
    profd_strlcpy(sub, r->who.sub, sizeof sub);
    for (char *p = sub; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    profd_rfc3339(profd_now_ms(), now);
    set_string(st->body, "type", "profile");
    set_string(st->body, "trigger", "api");
    set_string(st->body, "requested_by", sub);
    set_string(st->body, "requested_at", now);
    set_string(st->body, "session_id", st->id);
    json_object *host;
    if (r->api->o.local && (!json_object_object_get_ex(st->body, "host", &host) || host == NULL))
        set_string(st->body, "host", cfg->host);
    const char *text = json_object_to_json_string_ext(st->body, JSON_C_TO_STRING_PLAIN);
    profd_limits lim = {cfg->duration_min, cfg->duration_max};
    profd_error err;
    profd_request_init(&st->req);
    if (profd_request_parse(text, strlen(text), &lim, &st->req, &err) < 0) {
        char detail[512];
        rule_detail(err.msg, detail, sizeof detail);
        profd_metrics_rejected("invalid_request");
        reply_detail(r, 422, "%s", detail);
        return -1;
    }
    return 0;
}

static int can_run(start *st)
{
    api_req *r = st->r;
    profd_sampler_kind kind;
    profd_error err;
    if (profd_sampler_choose(r->api->cfg.sampler, r->api->cfg.pyspy, &kind, &err) < 0) {
        profd_metrics_rejected("sampler_unavailable");
        reply_detail(r, 503, "%s", err.msg);
        return -1;
    }
    if (r->api->o.local && st->req.pid > 0 && kill((pid_t)st->req.pid, 0) < 0 && errno == EPERM) {
        profd_metrics_rejected("permission_denied");
        reply_detail(r, 403, "%s", PROFD_PERMISSION_DENIED);
        return -1;
    }
    return 0;
}

static bool same_target(const profd_request *q, const profd_session *s)
{
    const char *h = s->target_host[0] ? s->target_host : s->host;
    if (q->host[0] && h[0] && strcmp(q->host, h) != 0)
        return false;
    if (q->pid > 0 && s->pid > 0 && q->pid != s->pid)
        return false;
    return true;
}

/* The session keeping the target busy, if any: 1 busy (id in busy), 0 free, -1 error. */
static int find_busy(start *st, char *busy, profd_error *err)
{
    profd_store *store = st->r->api->o.store;
    static const profd_status active[] = {PROFD_QUEUED, PROFD_RUNNING};
    profd_session *list = calloc(100, sizeof *list);
    if (!list) {
        profd_error_set(err, NULL, "out of memory");
        return -1;
    }
    for (int a = 0; a < 2; a++) {
        profd_list_filter f = {st->req.service_name, (int)active[a], 100};
        int n = store->ops->list(store, &f, list, 100, err);
        if (n < 0) {
            free(list);
            return -1;
        }
        int found = 0;
        for (int i = 0; i < n; i++) {
            if (!found && strcmp(list[i].session_id, st->id) != 0 &&
                same_target(&st->req, &list[i])) {
                profd_strlcpy(busy, list[i].session_id, PROFD_UUID_LEN + 1);
                found = 1;
            }
            profd_session_free(&list[i]);
        }
        if (found) {
            free(list);
            return 1;
        }
    }
    free(list);
    return 0;
}

/* Check the target is free and record the session, under the target claim.
 * 1 created, 0 answered (409/replay), -1 answered with an error. */
static int record(start *st)
{
    api_req *r = st->r;
    profd_store *store = r->api->o.store;
    char key[400], busy[PROFD_UUID_LEN + 1];
    snprintf(key, sizeof key, "api-target:%s:%s", st->req.host[0] ? st->req.host : "*",
             st->req.service_name);
    profd_error err;
    int c = store->ops->claim(store, key, st->id, TARGET_CLAIM_MS, &err);
    if (c < 0) {
        reply_store_error(r, &err);
        return -1;
    }
    int rc;
    if (c == 0) {
        rc = 0;
        profd_metrics_rejected("target_busy");
        reply_detail(r, 409, "A capture of %s is already being started", st->req.service_name);
    } else if ((rc = find_busy(st, busy, &err)) != 0) {
        if (rc < 0) {
            reply_store_error(r, &err);
        } else {
            profd_metrics_rejected("target_busy");
            reply_detail(r, 409, "%s is already being profiled (session %s)", st->req.service_name,
                         busy);
            rc = 0;
        }
    } else {
        profd_session_from_request(&st->s, &st->req);
        rc = store->ops->create(store, &st->s, &err);
        if (rc < 0)
            reply_store_error(r, &err);
        else if (rc == 0 && st->idempotent) /* a concurrent retry won the race */
            rc = replay_existing(st) == 1 ? 0 : -1;
    }
    if (c == 1)
        store->ops->release(store, key, st->id, &err);
    return rc;
}

static int publish(start *st)
{
    api_req *r = st->r;
    profd_bus *b = r->api->o.bus;
    json_object *j = profd_request_to_json(&st->req);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    profd_error err;
    int rc = b->ops->publish(b, PROFD_TOPIC_REQUESTS, st->id, text, strlen(text), NULL, 0, &err);
    json_object_put(j);
    if (rc < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "The request could not be published: %s", err.msg);
        profd_session_fail(&st->s, PROFD_E_UNROUTABLE, msg);
        profd_error e2;
        r->api->o.store->ops->put(r->api->o.store, &st->s, &e2);
        reply_detail(r, 503, "Message bus unavailable: %s", err.msg);
        return -1;
    }
    char *ev = profd_event_to_string("session.queued", &st->s);
    if (!ev || b->ops->publish(b, PROFD_TOPIC_EVENTS, st->id, ev, strlen(ev), NULL, 0, &err) < 0)
        LOG_W(st->id, "api.event_failed", "cannot publish session.queued: %s",
              ev ? err.msg : "out of memory");
    free(ev);
    return 0;
}

void handle_start(api_req *r)
{
    start st;
    memset(&st, 0, sizeof st);
    st.r = r;
    profd_request_init(&st.req);
    profd_session_init(&st.s);
    if (parse_body(&st) == 0 && replay(&st) == 0 && rate_limit(&st) == 0 && validate(&st) == 0 &&
        can_run(&st) == 0 && record(&st) == 1 && publish(&st) == 0) {
        profd_metrics_session_started(st.s.service_name, st.s.trigger);
        LOG_I(st.id, "audit", "action=start subject=%s service=%s duration=%d pid=%ld host=%s",
              r->who.sub, st.s.service_name, st.s.duration_seconds, st.s.pid,
              st.req.host[0] ? st.req.host : "any");
        reply_json(r, 201, session_json(r, &st.s));
        char loc[128];
        snprintf(loc, sizeof loc, "/api/v1/monitoring/profile/%s", st.id);
        reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
    }
    json_object_put(st.body);
    profd_request_free(&st.req);
    profd_session_free(&st.s);
}
