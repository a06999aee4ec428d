/* sweeper.c - nothing stays running or queued forever.
 *
 * Every third of a lease, each worker looks at two indexes:
 *  - running sessions whose lease expired (their worker died): a worker that
 *    can see the target retries it (up to PROFD_MAX_ATTEMPTS runs); otherwise,
 *    one more lease later, any worker fails it as worker_lost;
 *  - queued sessions nobody claimed (their message went to a worker that could
 *    not run them, or that died before claiming): a worker that can serve one
 *    starts it; past PROFD_REQUEST_TTL it fails as unroutable.
 * The session claim decides which worker acts, so sweepers never collide. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "profd/log.h"

#define SWEEP_BATCH 32

static bool have_slot(profd_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool ok = w->running < w->cfg->max_concurrent && !w->stopping;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static void sweep_lost(profd_worker *w, int64_t now)
{
    char ids[SWEEP_BATCH][PROFD_UUID_LEN + 1];
    profd_error err = {0};
    int n = w->store->ops->expired(w->store, now, ids, SWEEP_BATCH, &err);
    for (int i = 0; i < n; i++) {
        if (worker__has_job(w, ids[i]))
            continue;
        profd_session s;
        if (w->store->ops->get(w->store, ids[i], &s, &err) != PROFD_LOOKUP_FOUND)
            continue;
        if (s.status != PROFD_RUNNING) {
            worker__lease(w, s.session_id, 0);
        } else if (s.attempt < w->cfg->max_attempts && have_slot(w) &&
                   worker__can_serve(w, s.target_host[0] ? s.target_host : s.host, s.pid,
                                     s.service_name)) {
            LOG_I(s.session_id, "session.retrying", "its worker was lost; attempt %d",
                  s.attempt + 1);
            worker__try_start(w, &s);
        } else if (s.attempt >= w->cfg->max_attempts ||
                   now - s.started_at >
                       (int64_t)(s.duration_seconds + 3 * w->cfg->lease_seconds) * 1000) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "the worker running this session (host %s) stopped renewing its lease "
                     "after attempt %d",
                     s.host, s.attempt);
            worker__claim_and_fail(w, &s, PROFD_E_WORKER_LOST, msg);
        }
        profd_session_free(&s);
    }
}

static void sweep_queued(profd_worker *w, int64_t now)
{
    char ids[SWEEP_BATCH][PROFD_UUID_LEN + 1];
    profd_error err = {0};
    int64_t stale = now - 2LL * w->cfg->lease_seconds * 1000;
    int n = w->store->ops->queued_before(w->store, stale, ids, SWEEP_BATCH, &err);
    for (int i = 0; i < n; i++) {
        profd_session s;
        if (w->store->ops->get(w->store, ids[i], &s, &err) != PROFD_LOOKUP_FOUND)
            continue;
        if (s.status != PROFD_QUEUED) {
            profd_session_free(&s);
            continue;
        }
        if (now - s.created_at > (int64_t)w->cfg->request_ttl * 1000)
            worker__claim_and_fail(w, &s, PROFD_E_UNROUTABLE, WORKER_UNROUTABLE_MSG);
        else if (have_slot(w) && worker__can_serve(w, s.target_host, s.pid, s.service_name))
            worker__try_start(w, &s);
        profd_session_free(&s);
    }
}

void worker__sweep(profd_worker *w)
{
    int64_t now = profd_now_ms();
    sweep_lost(w, now);
    sweep_queued(w, now);
}
