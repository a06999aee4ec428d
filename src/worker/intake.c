/* intake.c - from a bus message to a recorded, claimed session.
 *
 * The order is what makes delivery safe:
 *   1. validate; a bad message goes to the DLQ once (a claim on the delivery id
 *      decides which worker publishes it) and is acknowledged;
 *   2. record the session as queued (idempotent: SET NX on a deterministic id),
 *      and only then acknowledge the message, so a request is never
 *      acknowledged before it is durable;
 *   3. if this worker can serve it, claim the session and start the capture.
 * A worker that cannot serve the request leaves the queued record to the one
 * that can; a queued session that nobody claims is picked up by the sweeper,
 * or failed as unroutable once it is older than PROFD_REQUEST_TTL. When the
 * store is down the message is held (the bus paused) and retried. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "profd/alert.h"
#include "profd/log.h"

/* Namespace of the UUIDv5 session ids derived from a delivery's position. */
#define PROFD_ID_NAMESPACE "3a1f7c52-9c0e-4d1a-8f5e-2b6d0c7e9a41"

static void hold(profd_worker *w, profd_msg *m, const profd_error *err)
{
    if (!w->held)
        LOG_W(NULL, "store.unavailable", "holding the request until the store is back: %s",
              err->msg);
    w->held = m;
    w->held_retry_mono = profd_mono_ms() + 1000;
}

void worker__retry_held(profd_worker *w)
{
    if (profd_mono_ms() < w->held_retry_mono)
        return;
    profd_msg *m = w->held;
    w->held = NULL;
    w->bus->ops->extend(w->bus, m, w->cfg->lease_seconds);
    worker__handle(w, m);
}

bool worker__can_serve(const profd_worker *w, const char *host, long pid, const char *service)
{
    if (host && host[0])
        return strcmp(host, w->cfg->host) == 0;
    return pid == 0 && profd_targets_has(w->targets, service);
}

/* Fail the session a rejected message named, if there is one to fail. */
static void fail_named_session(profd_worker *w, const char *id, const profd_error *why)
{
    profd_session s;
    profd_error err;
    profd_lookup_result found = w->store->ops->get(w->store, id, &s, &err);
    if (found == PROFD_LOOKUP_ERROR)
        return;
    if (found == PROFD_LOOKUP_ABSENT) {
        profd_session_init(&s);
        profd_strlcpy(s.session_id, id, sizeof s.session_id);
    } else if (profd_status_terminal(s.status)) {
        profd_session_free(&s);
        return;
    }
    profd_session_fail(&s, PROFD_E_INVALID, why->msg);
    /* The event goes out even when the record could not be written (logged):
     * the DLQ copy is what an operator follows up. */
    if (found == PROFD_LOOKUP_FOUND && worker__put(w, &s) != 0)
        LOG_W(id, "session.unrecorded", "the rejected session stays as it was recorded");
    worker__publish(w, "session.failed", &s);
    profd_session_free(&s);
}

/* DLQ once across all workers; returns -1 (message held) when the store is down. */
static int reject(profd_worker *w, profd_msg *m, const char *session_id, const char *code,
                  const profd_error *why)
{
    char key[256];
    profd_error err = {0};
    snprintf(key, sizeof key, "dlq:%s", m->id);
    profd_claim_result won = w->store->ops->claim(w->store, key, w->owner,
                                                  w->cfg->session_ttl_days * 86400 * 1000, &err);
    if (won == PROFD_CLAIM_ERROR) {
        hold(w, m, &err);
        return -1;
    }
    LOG_W(session_id[0] ? session_id : NULL, "request.rejected", "%s: %s", m->id, why->msg);
    if (won == PROFD_CLAIM_WON) {
        profd_header h[] = {{"profd-error-code", code}, {"profd-error", why->msg}};
        /* The copy keeps the original key (partitioning and tracing by key
         * go on working in the DLQ); without one, the session id if any. */
        const char *key = m->has_key ? m->key : session_id[0] ? session_id : NULL;
        if (w->bus->ops->publish(w->bus, PROFD_TOPIC_DLQ, key, m->data, m->len, h, 2, &err) != 0)
            LOG_E(NULL, "dlq.failed", "could not publish %s to the DLQ: %s", m->id, err.msg);
        if (session_id[0])
            fail_named_session(w, session_id, why);
    }
    w->bus->ops->done(w->bus, m, PROFD_ACK);
    return 0;
}

void worker__try_start(profd_worker *w, profd_session *s)
{
    char key[128];
    profd_error err = {0};
    if (worker__has_job(w, s->session_id))
        return; /* a redelivery while our own job is starting */
    snprintf(key, sizeof key, CLAIM_KEY_FMT, s->session_id);
    if (w->store->ops->claim(w->store, key, w->owner, w->cfg->lease_seconds * 1000, &err) !=
        PROFD_CLAIM_WON)
        return; /* another worker has it, or the store is down: the sweeper retries */
    profd_session cur;
    profd_lookup_result found = w->store->ops->get(w->store, s->session_id, &cur, &err);
    if (found != PROFD_LOOKUP_FOUND || cur.status != s->status || cur.attempt != s->attempt) {
        if (found == PROFD_LOOKUP_FOUND)
            profd_session_free(&cur);
        worker__release(w, key, s->session_id);
        return; /* it moved on while we looked */
    }
    profd_session_free(&cur);
    profd_target t;
    if (profd_target_resolve(w->targets, s->service_name, s->pid, w->cfg->allow_any_pid != 0, &t,
                             &err) != 0) {
        worker__fail(w, s, err.code ? err.code : PROFD_E_NOT_FOUND, err.msg);
        worker__release(w, key, s->session_id);
        return;
    }
    if (worker__start_job(w, s, &t) != 0) /* logged; the sweeper retries it */
        worker__release(w, key, s->session_id);
}

static int64_t request_age_ms(const profd_request *r, const profd_msg *m)
{
    int64_t at = 0;
    if (r->requested_at[0] && profd_parse_rfc3339(r->requested_at, &at) == 0)
        return profd_now_ms() - at;
    if (m->timestamp_ms > 0)
        return profd_now_ms() - m->timestamp_ms;
    return 0;
}

static void intake_profile(profd_worker *w, profd_msg *m, profd_request *r)
{
    profd_session s;
    profd_error err = {0};
    profd_session_from_request(&s, r);
    if (!s.session_id[0])
        profd_uuid5(PROFD_ID_NAMESPACE, m->id, s.session_id);
    profd_create_result created = w->store->ops->create(w->store, &s, &err);
    if (created == PROFD_CREATE_ERROR) {
        profd_session_free(&s);
        hold(w, m, &err);
        return;
    }
    bool mine = worker__can_serve(w, s.target_host, s.pid, s.service_name);
    bool expired = request_age_ms(r, m) > (int64_t)w->cfg->request_ttl * 1000;
    if (created == PROFD_CREATE_EXISTS) {
        profd_session cur;
        profd_lookup_result found = w->store->ops->get(w->store, s.session_id, &cur, &err);
        if (found == PROFD_LOOKUP_ERROR) {
            profd_session_free(&s);
            hold(w, m, &err);
            return;
        }
        profd_session_free(&s);
        if (found == PROFD_LOOKUP_ABSENT || cur.status != PROFD_QUEUED) {
            /* Running, finished or expired: nobody needs the message any more. */
            w->bus->ops->done(w->bus, m, PROFD_ACK);
            LOG_D(cur.session_id, "request.duplicate", "already %s; nothing to do",
                  found == PROFD_LOOKUP_FOUND ? profd_status_name(cur.status) : "gone");
            if (found == PROFD_LOOKUP_FOUND)
                profd_session_free(&cur);
            return;
        }
        s = cur;
    } else {
        LOG_I(s.session_id, "session.queued", "service %s, %d s at %d Hz", s.service_name,
              s.duration_seconds, s.sample_rate_hz);
    }
    /* Durable now. A request this worker cannot serve is handed on (with Kafka
     * every worker sees it anyway, with Pub/Sub the nack lets another take it)
     * until it expires; then whoever sees it fails it as unroutable. */
    w->bus->ops->done(w->bus, m, mine || expired ? PROFD_ACK : PROFD_NACK); /* m is gone now */
    if (expired)
        worker__claim_and_fail(w, &s, PROFD_E_UNROUTABLE, WORKER_UNROUTABLE_MSG);
    else if (mine)
        worker__try_start(w, &s);
    profd_session_free(&s);
}

void worker__handle(profd_worker *w, profd_msg *m)
{
    profd_request r;
    profd_error why = {0};
    profd_request_init(&r);
    if (profd_request_parse(m->data, m->len, &w->limits, &r, &why) != 0) {
        reject(w, m, r.session_id, why.code ? why.code : PROFD_E_INVALID, &why);
        profd_request_free(&r);
        return;
    }
    switch (r.type) {
    case PROFD_REQ_PROFILE:
        intake_profile(w, m, &r);
        break;
    case PROFD_REQ_REPROCESS: /* hooks.c; acknowledges m */
        worker__reprocess_job(w, m, r.session_id, r.requested_at);
        break;
    case PROFD_REQ_ALERT: /* docs/alerts.md: guards, then profile requests on the bus */
        if (profd_alert_handle_message(w->cfg, w->store, w->bus, &r, m->id, &why) < 0)
            reject(w, m, "", why.code ? why.code : PROFD_E_INVALID, &why);
        else
            w->bus->ops->done(w->bus, m, PROFD_ACK);
        break;
    case PROFD_REQ_CANCEL:
        if (worker__cancel_job(w, r.session_id, PROFD_E_CANCELLED))
            LOG_I(r.session_id, "session.cancelling", "cancel requested");
        w->bus->ops->done(w->bus, m, PROFD_ACK);
        break;
    }
    profd_request_free(&r);
}
