/* ingest.c - from a webhook body to started captures, behind the guards.
 *
 * Per payload: every alert is read (profd_alerts_received_total), resolved or
 * unmappable ones are skipped with their reason, and the rest are grouped by
 * target (service, host, pid): a grouped notification starts one capture per
 * distinct target, the later alerts of a target are skipped as duplicate.
 *
 * Per target, under a short store claim "alert-admit" that serialises
 * admissions across API replicas and workers (so two concurrent deliveries
 * cannot both pass a cap):
 *   1. cooldown: claim "alert-cooldown:{service}" for PROFD_ALERT_COOLDOWN
 *      seconds (SET NX with a TTL in Redis). The owner is this delivery, so
 *      several targets of one service in the same payload all pass, while any
 *      other delivery within the cooldown - a repeat, the same notification
 *      sent to a second API replica, the bus copy of it - is skipped
 *      (cooldown). This claim is the cross-replica deduplication.
 *   2. caps: the alert sessions that can run are counted - running ones, and
 *      queued ones younger than one lease (PROFD_LEASE_SECONDS); an older
 *      queued one names a service no worker resolves (see count_active) -
 *      (store list by status, at most 100 of each, so the caps go up to
 *      100): PROFD_ALERT_MAX_PER_SERVICE for the service, then
 *      PROFD_ALERT_MAX_RUNNING in all.
 *   3. the session is recorded queued, the request published, session.queued
 *      announced (profd_session_enqueue, src/lifecycle/enqueue.c).
 * A target skipped after step 1 gives the cooldown back unless this delivery
 * already started a capture of the service, so a capped alert does not also
 * block the next one for fifteen minutes.
 *
 * Session ids are random for HTTP deliveries. For a bus delivery they derive
 * from the delivery id and the target (UUIDv5), so a redelivered message
 * finds its sessions and changes nothing (duplicate), whatever the cooldown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/alert.h"
#include "profd/lifecycle.h"
#include "profd/log.h"
#include "profd/metrics.h"

#define ALERT_ID_NAMESPACE "c4f0e9a6-2d71-4b38-9e55-7a1d3b6f0c28"
#define ADMIT_KEY "alert-admit"
#define ADMIT_TTL_MS 10000
#define ADMIT_WAIT_MS 2000
#define LIST_MAX 100

typedef struct target {
    profd_alert_target t;
    json_object *labels; /* bounded, owned */
    char alert[128];
    bool started;
} target;

typedef struct run {
    const profd_alert_ctx *c;
    const char *source;
    profd_alert_result *res;
    target *targets;
    int ntargets;
    char owner[200];     /* of the cooldown claims: this delivery */
    char lock_owner[64]; /* of the admission lock: this call */
} run;

static void skip(run *r, const char *reason, const char *service, const char *alert,
                 const char *detail)
{
    profd_alert_skip *k = &r->res->skipped[r->res->nskipped++];
    k->reason = reason;
    profd_strlcpy(k->service, service ? service : "", sizeof k->service);
    profd_strlcpy(k->alert, alert ? alert : "", sizeof k->alert);
    profd_strlcpy(k->detail, detail ? detail : "", sizeof k->detail);
    profd_metrics_alert_skipped(reason);
    LOG_I(NULL, "alert.skipped", "%s alert %s (service %s): %s: %s", r->source,
          k->alert[0] ? k->alert : "-", k->service[0] ? k->service : "-", reason, k->detail);
}

static bool same_target(const profd_alert_target *a, const profd_alert_target *b)
{
    return strcmp(a->service, b->service) == 0 && strcmp(a->host, b->host) == 0 && a->pid == b->pid;
}

static const char *state_reason(const profd_alert *a)
{
    if (strcmp(a->state, "malformed") == 0)
        return PROFD_ALERT_MALFORMED;
    if (strcmp(a->state, "resolved") == 0 || strcmp(a->state, "closed") == 0)
        return PROFD_ALERT_RESOLVED;
    return PROFD_ALERT_NOT_FIRING;
}

/* One alert: skipped, or a new target, or a duplicate of one. */
static void classify(run *r, const profd_alert *a)
{
    char detail[256];
    if (!a->firing) {
        snprintf(detail, sizeof detail, "the alert is %s; only firing alerts start captures",
                 a->state);
        skip(r, state_reason(a), NULL, a->name, detail);
        return;
    }
    profd_alert_target t;
    const char *reason = NULL;
    if (profd_alert_target_of(a->labels, r->c->cfg->alert_service_labels, &t, &reason, detail,
                              sizeof detail) < 0) {
        skip(r, reason, NULL, a->name, detail);
        return;
    }
    for (int i = 0; i < r->ntargets; i++) {
        if (same_target(&t, &r->targets[i].t)) {
            skip(r, PROFD_ALERT_DUPLICATE, t.service, a->name,
                 "an earlier alert of this notification names the same target");
            return;
        }
    }
    target *n = &r->targets[r->ntargets++];
    n->t = t;
    n->labels = profd_alert_bounded_labels(a->labels);
    profd_strlcpy(n->alert, a->name, sizeof n->alert);
}

/* ---- the guards ------------------------------------------------------------ */

/* WON held, HELD still taken after ADMIT_WAIT_MS, ERROR (err). */
static profd_claim_result admit_lock(run *r, profd_error *err)
{
    profd_store *st = r->c->store;
    int64_t until = profd_mono_ms() + ADMIT_WAIT_MS;
    for (;;) {
        profd_claim_result rc = st->ops->claim(st, ADMIT_KEY, r->lock_owner, ADMIT_TTL_MS, err);
        if (rc != PROFD_CLAIM_HELD || profd_mono_ms() >= until)
            return rc;
        usleep(20 * 1000);
    }
}

/* Alert sessions that can run: running ones, and queued ones younger than one
 * lease (service NULL: all). A worker that can serve a queued session claims
 * it on intake, or at its next sweep a third of a lease later; one still
 * queued after a whole lease names a service no worker resolves, and waits
 * only to fail as unroutable at PROFD_REQUEST_TTL. Counting those would let a
 * few alerts for unknown services hold the global cap for ten minutes. */
static int count_active(const profd_config *cfg, profd_store *st, const char *service, int *n,
                        profd_error *err)
{
    int64_t stale_before = profd_now_ms() - (int64_t)cfg->lease_seconds * 1000;
    static const profd_status active[] = {PROFD_QUEUED, PROFD_RUNNING};
    profd_session *list = calloc(LIST_MAX, sizeof *list);
    if (!list) {
        profd_error_set(err, NULL, "out of memory");
        return -1;
    }
    *n = 0;
    for (int a = 0; a < 2; a++) {
        profd_list_filter f = {service, (int)active[a], LIST_MAX};
        int k = st->ops->list(st, &f, list, LIST_MAX, err);
        if (k < 0) {
            free(list);
            return -1;
        }
        for (int i = 0; i < k; i++) {
            bool stale = list[i].status == PROFD_QUEUED && list[i].created_at < stale_before;
            if (strcmp(list[i].trigger, "alert") == 0 && !stale)
                (*n)++;
            profd_session_free(&list[i]);
        }
    }
    free(list);
    return 0;
}

/* NULL when under the caps; else the reason (detail filled), or
 * PROFD_ALERT_STORE_ERROR. */
static const char *over_cap(run *r, const char *service, char *detail, size_t dl)
{
    const profd_config *cfg = r->c->cfg;
    profd_error err = {0};
    int n;
    if (count_active(cfg, r->c->store, service, &n, &err) < 0) {
        profd_strlcpy(detail, err.msg, dl);
        return PROFD_ALERT_STORE_ERROR;
    }
    if (n >= cfg->alert_max_per_service) {
        snprintf(detail, dl,
                 "%d alert capture(s) of %s already queued or running "
                 "(PROFD_ALERT_MAX_PER_SERVICE=%d)",
                 n, service, cfg->alert_max_per_service);
        return PROFD_ALERT_SERVICE_CAP;
    }
    if (count_active(cfg, r->c->store, NULL, &n, &err) < 0) {
        profd_strlcpy(detail, err.msg, dl);
        return PROFD_ALERT_STORE_ERROR;
    }
    if (n >= cfg->alert_max_running) {
        snprintf(detail, dl,
                 "%d alert captures already queued or running "
                 "(PROFD_ALERT_MAX_RUNNING=%d)",
                 n, cfg->alert_max_running);
        return PROFD_ALERT_GLOBAL_CAP;
    }
    return NULL;
}

static bool started_service(const run *r, const char *service)
{
    for (int i = 0; i < r->ntargets; i++)
        if (r->targets[i].started && strcmp(r->targets[i].t.service, service) == 0)
            return true;
    return false;
}

/* ---- the request ------------------------------------------------------------ */

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int build_request(run *r, const target *t, const char *id, profd_request *req,
                         profd_error *err)
{
    const profd_config *cfg = r->c->cfg;
    const char *host = t->t.host[0] ? t->t.host : r->c->default_host;
    char now[40];
    profd_rfc3339(profd_now_ms(), now);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_int(1));
    json_object_object_add(o, "type", json_object_new_string("profile"));
    json_object_object_add(o, "session_id", json_object_new_string(id));
    json_object_object_add(o, "service_name", json_object_new_string(t->t.service));
    json_object_object_add(
        o, "duration_seconds",
        json_object_new_int(clamp(cfg->alert_duration, cfg->duration_min, cfg->duration_max)));
    json_object_object_add(o, "host", host && *host ? json_object_new_string(host) : NULL);
    json_object_object_add(o, "pid", t->t.pid > 0 ? json_object_new_int64(t->t.pid) : NULL);
    json_object_object_add(o, "trigger", json_object_new_string("alert"));
    json_object_object_add(o, "requested_by", json_object_new_string(r->source));
    json_object_object_add(o, "requested_at", json_object_new_string(now));
    json_object_object_add(o, "labels", json_object_get(t->labels));
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    profd_limits lim = {cfg->duration_min, cfg->duration_max};
    int rc = profd_request_parse(text, strlen(text), &lim, req, err);
    json_object_put(o);
    return rc;
}

/* ---- one target -------------------------------------------------------------- */

static void session_id_for(run *r, const target *t, char *id)
{
    if (!r->c->delivery_id) {
        profd_uuid4(id);
        return;
    }
    char name[1024];
    snprintf(name, sizeof name, "%s\n%s\n%s\n%ld", r->c->delivery_id, t->t.service, t->t.host,
             t->t.pid);
    profd_uuid5(ALERT_ID_NAMESPACE, name, id);
}

/* true: skipped (the derived session exists already, or the store failed);
 * false: go on. */
static bool seen_before(run *r, const target *t, const char *id)
{
    if (!r->c->delivery_id)
        return false;
    profd_store *st = r->c->store;
    profd_session s;
    profd_error err = {0};
    char detail[128];
    switch (st->ops->get(st, id, &s, &err)) {
    case PROFD_LOOKUP_ERROR:
        skip(r, PROFD_ALERT_STORE_ERROR, t->t.service, t->alert, err.msg);
        return true;
    case PROFD_LOOKUP_ABSENT:
        return false;
    case PROFD_LOOKUP_FOUND:
        break;
    }
    profd_session_free(&s);
    snprintf(detail, sizeof detail, "this delivery was handled before (session %s)", id);
    skip(r, PROFD_ALERT_DUPLICATE, t->t.service, t->alert, detail);
    return true;
}

static const char *enqueue(run *r, const target *t, const char *id, char *detail, size_t dl)
{
    profd_request req;
    profd_session s;
    profd_error err = {0};
    profd_request_init(&req);
    profd_session_init(&s);
    const char *reason = NULL;
    if (build_request(r, t, id, &req, &err) < 0) {
        reason = PROFD_ALERT_BAD_TARGET;
    } else {
        switch (profd_session_enqueue(r->c->store, r->c->bus, &req, 0, &s, &err)) {
        case PROFD_ENQUEUED:
            break;
        case PROFD_ENQUEUE_EXISTS: /* err: "session ID exists already" */
            reason = PROFD_ALERT_DUPLICATE;
            break;
        case PROFD_ENQUEUE_STORE_ERROR:
            reason = PROFD_ALERT_STORE_ERROR;
            break;
        case PROFD_ENQUEUE_BUS_ERROR:
            reason = PROFD_ALERT_BUS_ERROR;
            break;
        }
    }
    if (reason)
        profd_strlcpy(detail, err.msg, dl);
    profd_request_free(&req);
    profd_session_free(&s);
    return reason;
}

/* Claim the cooldown, check the caps, enqueue. Returns the skip reason or
 * NULL when started; *claimed tells whether the cooldown claim is ours. */
static const char *guarded_start(run *r, const target *t, const char *id, bool *claimed,
                                 char *detail, size_t dl)
{
    const profd_config *cfg = r->c->cfg;
    profd_store *st = r->c->store;
    profd_error err = {0};
    *claimed = false;
    if (cfg->alert_cooldown > 0) {
        char key[128];
        snprintf(key, sizeof key, "alert-cooldown:%s", t->t.service);
        profd_claim_result c = st->ops->claim(st, key, r->owner, cfg->alert_cooldown * 1000, &err);
        if (c == PROFD_CLAIM_ERROR) {
            profd_strlcpy(detail, err.msg, dl);
            return PROFD_ALERT_STORE_ERROR;
        }
        if (c == PROFD_CLAIM_HELD) {
            snprintf(detail, dl,
                     "%s was captured for an alert less than %d s ago "
                     "(PROFD_ALERT_COOLDOWN)",
                     t->t.service, cfg->alert_cooldown);
            return PROFD_ALERT_COOLDOWN_R;
        }
        *claimed = true;
    }
    const char *reason = over_cap(r, t->t.service, detail, dl);
    if (!reason)
        reason = enqueue(r, t, id, detail, dl);
    return reason;
}

static void started(run *r, target *t, const char *id)
{
    profd_strlcpy(r->res->started[r->res->nstarted++], id, PROFD_UUID_LEN + 1);
    profd_metrics_session_started(t->t.service, "alert");
    LOG_I(id, "alert.capture", "%s alert %s: capture of %s on %s queued", r->source,
          t->alert[0] ? t->alert : "-", t->t.service,
          t->t.host[0]                                  ? t->t.host
          : r->c->default_host && r->c->default_host[0] ? r->c->default_host
                                                        : "any host");
    t->started = true;
}

/* Give the cooldown back after a skip, unless this delivery started the
 * service (then it is rightly held) or the skip is a copy of a started one. */
static void unclaim(run *r, const target *t, const char *reason)
{
    if (strcmp(reason, PROFD_ALERT_DUPLICATE) == 0 || started_service(r, t->t.service))
        return;
    char key[128];
    profd_error err = {0};
    snprintf(key, sizeof key, "alert-cooldown:%s", t->t.service);
    r->c->store->ops->release(r->c->store, key, r->owner, &err);
}

static void admit(run *r, target *t)
{
    char id[PROFD_UUID_LEN + 1], detail[256];
    profd_store *st = r->c->store;
    profd_error err = {0};
    profd_claim_result lk = admit_lock(r, &err);
    if (lk != PROFD_CLAIM_WON) {
        bool failed = lk == PROFD_CLAIM_ERROR;
        skip(r, failed ? PROFD_ALERT_STORE_ERROR : PROFD_ALERT_BUSY, t->t.service, t->alert,
             failed ? err.msg : "another delivery held the admission lock for 2 s");
        return;
    }
    session_id_for(r, t, id);
    if (!seen_before(r, t, id)) {
        bool claimed = false;
        const char *reason = guarded_start(r, t, id, &claimed, detail, sizeof detail);
        if (!reason) {
            started(r, t, id);
        } else {
            if (claimed)
                unclaim(r, t, reason);
            skip(r, reason, t->t.service, t->alert, detail);
        }
    }
    st->ops->release(st, ADMIT_KEY, r->lock_owner, &err);
}

/* ---- the payload ------------------------------------------------------------- */

static int alloc_result(profd_alert_result *out, int n, target **targets)
{
    out->started = calloc((size_t)n + 1, sizeof *out->started);
    out->skipped = calloc((size_t)n + 1, sizeof *out->skipped);
    *targets = calloc((size_t)n + 1, sizeof **targets);
    return out->started && out->skipped && *targets ? 0 : -1;
}

static void too_many(run *r, int extra)
{
    char detail[128];
    snprintf(detail, sizeof detail, "%d alerts past the first %d of the notification were not read",
             extra, PROFD_ALERT_MAX_ALERTS);
    skip(r, PROFD_ALERT_TOO_MANY, NULL, NULL, detail);
    for (int i = 1; i < extra; i++)
        profd_metrics_alert_skipped(PROFD_ALERT_TOO_MANY);
}

int profd_alert_ingest(const profd_alert_ctx *c, const char *source, json_object *payload,
                       profd_alert_result *out, profd_error *err)
{
    memset(out, 0, sizeof *out);
    profd_alert_list l;
    if (profd_alert_parse(source, payload, &l, err) < 0)
        return -1;
    run r = {.c = c, .source = source, .res = out};
    if (alloc_result(out, l.n, &r.targets) < 0) {
        free(r.targets);
        profd_alert_result_free(out);
        profd_alert_list_free(&l);
        profd_error_set(err, NULL, "out of memory");
        return -1;
    }
    char u[PROFD_UUID_LEN + 1];
    profd_uuid4(u);
    snprintf(r.lock_owner, sizeof r.lock_owner, "alert-lock/%s", u);
    if (c->delivery_id)
        snprintf(r.owner, sizeof r.owner, "alert/%.180s", c->delivery_id);
    else
        snprintf(r.owner, sizeof r.owner, "alert/%s", u);
    out->received = l.n + l.extra;
    profd_metrics_alerts_received(source, out->received);
    for (int i = 0; i < l.n; i++)
        classify(&r, &l.v[i]);
    if (l.extra > 0)
        too_many(&r, l.extra);
    for (int i = 0; i < r.ntargets; i++)
        admit(&r, &r.targets[i]);
    for (int i = 0; i < r.ntargets; i++)
        json_object_put(r.targets[i].labels);
    free(r.targets);
    profd_alert_list_free(&l);
    return 0;
}

void profd_alert_result_free(profd_alert_result *r)
{
    free(r->started);
    free(r->skipped);
    memset(r, 0, sizeof *r);
}

static json_object *string_or_null(const char *s)
{
    return s && *s ? json_object_new_string(s) : NULL;
}

json_object *profd_alert_result_json(const profd_alert_result *r)
{
    json_object *o = json_object_new_object(), *started = json_object_new_array(),
                *skipped = json_object_new_array();
    for (int i = 0; i < r->nstarted; i++)
        json_object_array_add(started, json_object_new_string(r->started[i]));
    for (int i = 0; i < r->nskipped; i++) {
        const profd_alert_skip *k = &r->skipped[i];
        json_object *e = json_object_new_object();
        json_object_object_add(e, "reason", json_object_new_string(k->reason));
        json_object_object_add(e, "service", string_or_null(k->service));
        json_object_object_add(e, "alert", string_or_null(k->alert));
        json_object_object_add(e, "detail", json_object_new_string(k->detail));
        json_object_array_add(skipped, e);
    }
    json_object_object_add(o, "received", json_object_new_int(r->received));
    json_object_object_add(o, "started", started);
    json_object_object_add(o, "skipped", skipped);
    return o;
}

/* ---- the worker's bus path --------------------------------------------------- */

int profd_alert_handle_message(const profd_config *cfg, profd_store *st, profd_bus *b,
                               const profd_request *req, const char *delivery_id, profd_error *err)
{
    profd_alert_ctx c = {cfg, st, b, NULL, delivery_id};
    profd_alert_result res;
    if (profd_alert_ingest(&c, req->alert_source, req->alert_payload, &res, err) < 0)
        return -1;
    LOG_I(NULL, "alert.handled",
          "%s notification %s: %d alert(s), %d capture(s) started, %d "
          "skipped",
          req->alert_source, delivery_id ? delivery_id : "-", res.received, res.nstarted,
          res.nskipped);
    profd_alert_result_free(&res);
    return 0;
}
