/* h_start.c - POST /api/v1/monitoring/profile/start.
 *
 * The body is the seed's {"service_name", "duration_seconds", "pid"} (any
 * other request field is accepted too: rate_hz, options, labels, host,
 * profile_type, memory_frames). A memory session needs the admin role (403). The
 * API owns some fields and overwrites them: type "profile", trigger "api",
 * requested_by = the token's subject, requested_at = now, session_id = a new
 * UUID; under `profd serve` a missing host is this host. The result goes
 * through profd_request_parse, the same validation the worker applies, so
 * the API never queues a request a worker would reject.
 *
 * Order of checks, each with its answer:
 *   malformed JSON 400 (the strict RFC 8259 check of session.h on the
 *   client's bytes, so the error offset is an offset into what was sent); Idempotency-Key seen
 * before -> the same session (201, Idempotent-Replayed: true); rate limit 429 + Retry-After; a
 * broken rule 422 (413 when the API's own fields push the request over the message limit); sampler
 * unavailable 503; (serve, explicit pid) not ours 403; target busy 409; then profd_session_enqueue
 * (lifecycle.h, shared with alerts and `profd submit`) records the session as queued, publishes the
 *   request and announces session.queued, and 201 is returned.
 *
 * Each check is a step that either lets the request go on or has answered it
 * (step_result): the handler runs the steps in order until one answers, and
 * answers 201 itself when none did.
 *
 * Idempotency: the session id is UUIDv5(subject "\n" key), so a retried POST
 * maps to the same record and store->create (create-if-absent) settles races.
 * Target busy: a short claim on "api-target:{host|*}:{service}" serialises
 * concurrent starts for one service; under it, the queued and running
 * sessions of the service are checked, and one on the same host (or with no
 * host) for the same process (or with no pid) makes the new one a 409. The
 * claim is released once the session is enqueued: from then on the record
 * itself is what later starts see. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "profd/lifecycle.h"
#include "profd/log.h"
#include "profd/sampler.h"

/* Namespace of idempotency-key session ids (a fixed random UUID). */
#define IDEMPOTENCY_NS "6d1f0a52-8c3e-4f7b-9a21-5b0e3c9d7f44"
#define TARGET_CLAIM_MS 10000

/* What a step of the start did. */
typedef enum {
    STEP_NEXT,     /* checked: go on with the next step */
    STEP_ANSWERED, /* the request is answered (an error, or an idempotent replay) */
} step_result;

typedef struct start {
    api_req *r;
    json_object *body;
    char id[PROFD_UUID_LEN + 1];
    bool idempotent;
    profd_request req;
    profd_session s;
} start;

static step_result parse_body(start *st)
{
    api_req *r = st->r;
    if (!r->body || r->len == 0) {
        api__reply_detail(r, 400, "Request body must be a JSON object");
        return STEP_ANSWERED;
    }
    /* The client's own bytes, before json-c (which takes single quotes,
     * comments, NaN, \u0000 and lone surrogates): the offset is theirs. */
    const char *why;
    size_t at;
    if (profd_json_check(r->body, r->len, &why, &at) != 0) {
        api__reply_detail(r, 400, "Malformed JSON at byte %zu: %s", at, why);
        return STEP_ANSWERED;
    }
    json_tokener *tok = json_tokener_new_ex(PROFD_JSON_MAX_DEPTH + 1);
    if (!tok) {
        api__reply_detail(r, 500, "out of memory");
        return STEP_ANSWERED;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    st->body = json_tokener_parse_ex(tok, r->body, (int)r->len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (e != json_tokener_success || !st->body) {
        api__reply_detail(r, 400, "Malformed JSON: %s", json_tokener_error_desc(e));
        return STEP_ANSWERED;
    }
    if (!json_object_is_type(st->body, json_type_object)) {
        api__reply_detail(r, 422, "Request body must be a JSON object");
        return STEP_ANSWERED;
    }
    return STEP_NEXT;
}

/* Answer with the session of an Idempotency-Key seen before, if there is one:
 * STEP_NEXT when there is none. */
static step_result replay_existing(start *st)
{
    api_req *r = st->r;
    profd_store *store = r->api->o.store;
    profd_session s;
    profd_session_init(&s);
    profd_error err;
    step_result rc = STEP_ANSWERED;
    switch (store->ops->get(store, st->id, &s, &err)) {
    case PROFD_LOOKUP_ERROR:
        api__reply_store_error(r, &err);
        break;
    case PROFD_LOOKUP_FOUND:
        api__reply_json(r, 201, api__session_json(r, &s));
        api__reply_header(r, "Idempotent-Replayed", "true");
        break;
    case PROFD_LOOKUP_ABSENT:
        rc = STEP_NEXT;
        break;
    }
    profd_session_free(&s);
    return rc;
}

/* The session id: new, or derived from the Idempotency-Key (and replayed). */
static step_result replay(start *st)
{
    api_req *r = st->r;
    const char *key = api__req_header(r, "Idempotency-Key");
    if (!key) {
        profd_uuid4(st->id);
        return STEP_NEXT;
    }
    size_t n = strlen(key);
    bool ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] >= 0x20 && key[i] <= 0x7e;
    if (!ok) {
        api__reply_detail(r, 422, "Idempotency-Key must be 1 to 255 printable ASCII characters");
        return STEP_ANSWERED;
    }
    char name[512];
    snprintf(name, sizeof name, "%s\n%s", r->who.sub, key);
    profd_uuid5(IDEMPOTENCY_NS, name, st->id);
    st->idempotent = true;
    return replay_existing(st);
}

static step_result rate_limit(start *st)
{
    api_req *r = st->r;
    int retry = 0;
    profd_error err;
    profd_rate_result rc = profd_ratelimit_check(
        r->api->o.store, r->who.sub, r->api->cfg.rate_limit, profd_now_ms() / 1000, &retry, &err);
    if (rc == PROFD_RATE_ERROR) {
        api__reply_store_error(r, &err);
        return STEP_ANSWERED;
    }
    if (rc == PROFD_RATE_LIMITED) {
        profd_metrics_rejected("rate_limited");
        api__reply_detail(r, 429,
                          "Rate limit exceeded: %d session starts per minute; retry in %d s",
                          r->api->cfg.rate_limit, retry);
        char v[16];
        snprintf(v, sizeof v, "%d", retry);
        api__reply_header(r, "Retry-After", v);
        return STEP_ANSWERED;
    }
    return STEP_NEXT;
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

static step_result validate(start *st)
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
    if (strlen(text) > PROFD_MAX_MESSAGE) { /* the body plus the fields the API sets */
        profd_metrics_rejected("body_too_large");
        api__reply_detail(r, 413,
                          "Request body too large: with the fields the API adds the request is "
                          "%zu bytes, over the %d-byte message limit",
                          strlen(text), PROFD_MAX_MESSAGE);
        return STEP_ANSWERED;
    }
    profd_limits lim = {cfg->duration_min, cfg->duration_max};
    profd_error err;
    profd_request_init(&st->req);
    if (profd_request_parse(text, strlen(text), &lim, &st->req, &err) < 0) {
        char detail[512];
        rule_detail(err.msg, detail, sizeof detail);
        profd_metrics_rejected("invalid_request");
        api__reply_detail(r, 422, "%s", detail);
        return STEP_ANSWERED;
    }
    /* Memory sessions run profd's script inside the target (docs/memory.md): admin only, even
     * if a deployment ever lets other roles start CPU sessions. */
    if (st->req.profile_type == PROFD_PROFILE_MEMORY && !r->who.admin) {
        profd_metrics_rejected("forbidden");
        LOG_I(st->id, "audit", "action=start_refused subject=%s type=memory reason=not_admin", sub);
        api__reply_detail(r, 403, "Only the admin role may start memory profiling sessions");
        return STEP_ANSWERED;
    }
    return STEP_NEXT;
}

static step_result can_run(start *st)
{
    api_req *r = st->r;
    profd_sampler_kind kind;
    profd_error err;
    if (st->req.profile_type == PROFD_PROFILE_CPU &&
        profd_sampler_choose(r->api->cfg.sampler, r->api->cfg.pyspy, &kind, &err) < 0) {
        profd_metrics_rejected("sampler_unavailable");
        api__reply_detail(r, 503, "%s", err.msg);
        return STEP_ANSWERED;
    }
    if (r->api->o.local && st->req.pid > 0 && kill((pid_t)st->req.pid, 0) < 0 && errno == EPERM) {
        profd_metrics_rejected("permission_denied");
        api__reply_detail(r, 403, "%s", PROFD_PERMISSION_DENIED);
        return STEP_ANSWERED;
    }
    return STEP_NEXT;
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

typedef enum { TARGET_FREE, TARGET_BUSY, TARGET_UNKNOWN /* store error */ } target_state;

/* Whether a queued or running session keeps the target busy (its id into busy). */
static target_state find_busy(start *st, char *busy, profd_error *err)
{
    profd_store *store = st->r->api->o.store;
    static const profd_status active[] = {PROFD_QUEUED, PROFD_RUNNING};
    profd_session *list = calloc(100, sizeof *list);
    if (!list) {
        profd_error_set(err, NULL, "out of memory");
        return TARGET_UNKNOWN;
    }
    for (int a = 0; a < 2; a++) {
        profd_list_filter f = {st->req.service_name, (int)active[a], 100};
        int n = store->ops->list(store, &f, list, 100, err);
        if (n < 0) {
            free(list);
            return TARGET_UNKNOWN;
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
            return TARGET_BUSY;
        }
    }
    free(list);
    return TARGET_FREE;
}

/* Record, publish and announce the session; answered on failure. */
static step_result enqueue(start *st)
{
    api_req *r = st->r;
    profd_error err = {0};
    switch (profd_session_enqueue(r->api->o.store, r->api->o.bus, &st->req, 0, &st->s, &err)) {
    case PROFD_ENQUEUED:
        return STEP_NEXT;
    case PROFD_ENQUEUE_EXISTS:
        /* A concurrent retry with the same Idempotency-Key won the race: its
         * session is the answer. A random id cannot collide in practice. */
        if (!st->idempotent || replay_existing(st) == STEP_NEXT)
            api__reply_detail(r, 409, "Profiling session %s exists already", st->id);
        return STEP_ANSWERED;
    case PROFD_ENQUEUE_STORE_ERROR:
        api__reply_store_error(r, &err);
        return STEP_ANSWERED;
    case PROFD_ENQUEUE_BUS_ERROR:
        api__reply_detail(r, 503, "Message bus unavailable: %s", err.msg);
        return STEP_ANSWERED;
    }
    return STEP_ANSWERED;
}

/* Check the target is free and enqueue the session, under the target claim. */
static step_result record(start *st)
{
    api_req *r = st->r;
    profd_store *store = r->api->o.store;
    char key[400], busy[PROFD_UUID_LEN + 1];
    snprintf(key, sizeof key, "api-target:%s:%s", st->req.host[0] ? st->req.host : "*",
             st->req.service_name);
    profd_error err;
    profd_claim_result c = store->ops->claim(store, key, st->id, TARGET_CLAIM_MS, &err);
    if (c == PROFD_CLAIM_ERROR) {
        api__reply_store_error(r, &err);
        return STEP_ANSWERED;
    }
    step_result rc = STEP_ANSWERED;
    target_state b = c == PROFD_CLAIM_WON ? find_busy(st, busy, &err) : TARGET_UNKNOWN;
    if (c == PROFD_CLAIM_HELD) {
        profd_metrics_rejected("target_busy");
        api__reply_detail(r, 409, "A capture of %s is already being started", st->req.service_name);
    } else if (b == TARGET_UNKNOWN) {
        api__reply_store_error(r, &err);
    } else if (b == TARGET_BUSY) {
        profd_metrics_rejected("target_busy");
        api__reply_detail(r, 409, "%s is already being profiled (session %s)", st->req.service_name,
                          busy);
    } else {
        rc = enqueue(st);
    }
    if (c == PROFD_CLAIM_WON && store->ops->release(store, key, st->id, &err) != 0)
        LOG_D(st->id, "api.release_failed", "%s: %s (it expires by itself)", key, err.msg);
    return rc;
}

void api__handle_start(api_req *r)
{
    start st;
    memset(&st, 0, sizeof st);
    st.r = r;
    profd_request_init(&st.req);
    profd_session_init(&st.s);
    static step_result (*const steps[])(start *) = {parse_body, replay,  rate_limit,
                                                    validate,   can_run, record};
    size_t i = 0;
    while (i < sizeof steps / sizeof steps[0] && steps[i](&st) == STEP_NEXT)
        i++;
    if (i == sizeof steps / sizeof steps[0]) {
        profd_metrics_session_started(st.s.service_name, st.s.trigger);
        LOG_I(st.id, "audit",
              "action=start subject=%s service=%s type=%s duration=%d pid=%ld host=%s", r->who.sub,
              st.s.service_name, profd_profile_type_name(st.s.profile_type), st.s.duration_seconds,
              st.s.pid, st.req.host[0] ? st.req.host : "any");
        api__reply_json(r, 201, api__session_json(r, &st.s));
        char loc[128];
        snprintf(loc, sizeof loc, "/api/v1/monitoring/profile/%s", st.id);
        api__reply_header(r, "Location", loc);
    }
    json_object_put(st.body);
    profd_request_free(&st.req);
    profd_session_free(&st.s);
}
