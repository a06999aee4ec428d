/* hooks.c - where the worker hands work to the batch module.
 *
 * The worker runs two kinds of work it does not implement: reprocess jobs
 * that arrive on the bus, and the periodic cleanup. Both live in src/batch/
 * (batch.h), which must not know the worker, so the worker-specific parts
 * stay here: which worker runs a job (a claim on the delivery, since with
 * Kafka every worker reads every request), when the job is too old to run,
 * the message's acknowledgement, and when the cleanup runs and for how long.
 * Alert messages need no such glue: intake.c passes them to
 * profd_alert_handle_message (alert.h) directly.
 *
 * Periodic cleanup: each worker, from its housekeeping, tries the store claim
 * PROFD_CLEANUP_CLAIM at most once a minute; the winner keeps it for
 * PROFD_CLEANUP_INTERVAL seconds (it is never released), so across all
 * workers one cleanup runs per interval. The state of the tick is per
 * thread, because each worker loop runs in one thread of its own. */
#include <stdio.h>

#include "internal.h"
#include "profd/batch.h"
#include "profd/log.h"

#define TICK_BUDGET_MS (30 * 1000)

static bool too_old(const profd_worker *w, const profd_msg *m, const char *requested_at)
{
    int64_t at = 0;
    if (!(requested_at && requested_at[0] && profd_parse_rfc3339(requested_at, &at) == 0))
        at = m->timestamp_ms;
    return at > 0 && profd_now_ms() - at > (int64_t)w->cfg->request_ttl * 1000;
}

static void log_result(const char *id, profd_batch_result rc, const profd_error *err)
{
    switch (rc) {
    case PROFD_BATCH_DONE:
        LOG_I(id, "reprocess.done", "re-rendered with profd %s", PROFD_VERSION);
        break;
    case PROFD_BATCH_SKIPPED:
        LOG_I(id, "reprocess.skipped", "%s", err->msg);
        break;
    case PROFD_BATCH_FAILED:
        LOG_E(id, "reprocess.failed", "%s", err->msg);
        break;
    }
}

void worker__reprocess_job(profd_worker *w, profd_msg *m, const char *session_id,
                           const char *requested_at)
{
    profd_error err = {0};
    char key[300];
    snprintf(key, sizeof key, PROFD_REPROCESS_JOB_CLAIM "%.200s/%s", m->id, session_id);
    if (too_old(w, m, requested_at)) {
        LOG_I(session_id, "reprocess.expired", "job older than PROFD_REQUEST_TTL; not run");
    } else {
        switch (w->store->ops->claim(w->store, key, w->owner, w->cfg->request_ttl * 1000, &err)) {
        case PROFD_CLAIM_ERROR:
            LOG_E(session_id, "reprocess.failed", "%s", err.msg);
            break;
        case PROFD_CLAIM_HELD:
            LOG_D(session_id, "reprocess.taken", "another worker took this job");
            break;
        case PROFD_CLAIM_WON: {
            profd_batch_result rc =
                profd_reprocess_one(w->cfg, w->store, w->blob, session_id, &err);
            log_result(session_id, rc, &err);
            if (rc == PROFD_BATCH_FAILED) /* a redelivery may try again */
                w->store->ops->release(w->store, key, w->owner, &err);
            break;
        }
        }
    }
    w->bus->ops->done(w->bus, m, PROFD_ACK);
}

void worker__cleanup_tick(profd_worker *w)
{
    static _Thread_local int64_t next_try;
    const profd_config *cfg = w->cfg;
    int64_t now = profd_mono_ms();
    if (cfg->cleanup_days <= 0 || now < next_try)
        return;
    int interval = cfg->cleanup_interval > 0 ? cfg->cleanup_interval : 3600;
    profd_error err = {0};
    profd_claim_result won =
        w->store->ops->claim(w->store, PROFD_CLEANUP_CLAIM, w->owner, interval * 1000, &err);
    if (won != PROFD_CLAIM_WON) {
        next_try = now + (interval < 60 ? interval : 60) * 1000LL;
        return;
    }
    next_try = now + interval * 1000LL;
    profd_cleanup_opts o = {
        .days = cfg->cleanup_days,
        .deadline_mono =
            now + (interval * 1000LL < TICK_BUDGET_MS * 2 ? interval * 500LL : TICK_BUDGET_MS)};
    profd_cleanup_stats stats;
    char summary[300];
    if (profd_cleanup_run(w->store, w->blob, &o, &stats, &err) != 0) {
        LOG_W(NULL, "cleanup.failed", "periodic cleanup: %s", err.msg);
        return;
    }
    profd_cleanup_summary(&stats, false, summary, sizeof summary);
    LOG_I(NULL, "cleanup.done", "older than %d days: %s", cfg->cleanup_days, summary);
}
