/* internal.h - the worker's parts and the state they share.
 *
 * The main thread owns the bus: it polls, validates, records and dispatches
 * (intake.c), and sweeps for sessions that lost their worker (sweeper.c). Each
 * capture runs in its own job thread (job.c) that spawns the sampler, keeps the
 * session's lease alive, and finishes the session (results.c). Jobs share only
 * the list below, under w->mu. Reprocess jobs and the periodic cleanup are the
 * batch module's; hooks.c is the glue. */
#ifndef PROFD_WORKER_INTERNAL_H
#define PROFD_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/config.h"
#include "profd/lifecycle.h"
#include "profd/sampler.h"
#include "profd/session.h"
#include "profd/store.h"
#include "profd/target.h"
#include "profd/worker.h"

typedef struct job job;

struct profd_worker {
    const profd_config *cfg;
    profd_bus *bus;
    profd_store *store;
    profd_blob *blob;
    profd_targets *targets;
    profd_sampler_kind kind;
    char sampler_desc[64];
    char owner[400]; /* claim owner: host/pid/random */
    profd_limits limits;

    pthread_mutex_t mu;
    pthread_cond_t changed;
    job *jobs;
    int running;
    volatile int stopping; /* set when shutdown begins */

    bool paused;
    profd_msg *held; /* a message waiting for the store to come back */
    int64_t held_retry_mono;
    int64_t next_sweep_mono;
};

struct job {
    profd_worker *w;
    profd_session s;
    profd_target target;
    pthread_t thread;
    void *stack;             /* JOB_STACK bytes of our own; unmapped once joined */
    bool finished;           /* under w->mu */
    const char *cancel_code; /* under w->mu: cancelled | shutdown */
    char claim_key[128];
    char lock_key[512];
    char spool[1100];
    char summary[1200]; /* memory sessions: the capture's summary file */
    job *next;
};

/* intake.c */
void worker__handle(profd_worker *w, profd_msg *m);
void worker__retry_held(profd_worker *w);
bool worker__can_serve(const profd_worker *w, const char *host, long pid, const char *service);
/* Claim a queued (or orphaned running) session and start its capture. */
void worker__try_start(profd_worker *w, profd_session *s);

/* job.c: start a job for a claimed session. The job works on its own copy of
 * s (profd_session_copy), so the caller keeps s and frees it as usual. 0 the
 * job thread runs; -1 it could not start (logged; the caller still holds the
 * session claim and must release it). */
PROFD_MUST_USE int worker__start_job(profd_worker *w, const profd_session *s,
                                     const profd_target *t);
void worker__reap_jobs(profd_worker *w);
bool worker__has_job(profd_worker *w, const char *session_id);
bool worker__cancel_job(profd_worker *w, const char *session_id, const char *code);
void worker__cancel_all(profd_worker *w, const char *code);

/* live.c: upload the sampler's partial stacks as sessions/{id}/live.txt
 * about every 2 s and put the sample count so far into the record. */
typedef struct worker_live {
    int64_t next_mono, mtime_ns, size;
    bool uploaded;
} worker_live;
void worker__live_tick(job *j, const char *raw, worker_live *l);
/* Remove live.txt once the capture is over. */
void worker__live_end(job *j, worker_live *l);

/* results.c. Render the raw output into the artefacts (profd_artifacts) and upload them.
 * 0 ok; -1 with err (upload_failed unless rendering set another code). */
PROFD_MUST_USE int worker__store_results(profd_worker *w, profd_session *s, const char *raw_path,
                                         profd_error *err);
void worker__publish(profd_worker *w, const char *type, profd_session *s);
/* Write a session record, retrying every 0.5 s while the store is unreachable,
 * for at most WORKER_PUT_GIVE_UP_MS whatever the shutdown state. 0 written;
 * -1 gave up (logged as store.gave_up: the record keeps its previous state
 * until the sweeper acts on it). It blocks its caller meanwhile: a job thread,
 * or the bus thread (intake and sweeper failing a session), which then stops
 * polling for as long as the store is down. */
#define WORKER_PUT_GIVE_UP_MS (10 * 60 * 1000)
PROFD_MUST_USE int worker__put(profd_worker *w, profd_session *s);
/* Record a failure, publish session.failed and drop the lease. */
void worker__fail(profd_worker *w, profd_session *s, const char *code, const char *msg);
/* Claim the session, fail it and let go; false when another worker holds it. */
bool worker__claim_and_fail(profd_worker *w, profd_session *s, const char *code, const char *msg);
#define WORKER_UNROUTABLE_MSG "no worker could run the request within PROFD_REQUEST_TTL"

/* sweeper.c */
void worker__sweep(profd_worker *w);

/* hooks.c: the batch module's work, as the worker runs it. */
/* A type reprocess message: once per delivery across all workers (a claim on
 * it), then profd_reprocess_one; m is acknowledged whatever happened. */
void worker__reprocess_job(profd_worker *w, profd_msg *m, const char *session_id,
                           const char *requested_at);
/* From housekeeping: every cfg->cleanup_interval s, on the one worker that
 * wins the cleanup claim, a time-bounded profd_cleanup_run (cleanup_days 0:
 * never). At most one store round trip a minute otherwise. */
void worker__cleanup_tick(profd_worker *w);
/* Release a claim, logging (not failing) when the store refuses: it expires. */
void worker__release(profd_worker *w, const char *key, const char *sid);
/* Move (deadline_ms > 0) or drop (0) the session's lease-index entry, logging
 * a failure: the sweeper acts on a stale entry, so it is not fatal. */
void worker__lease(profd_worker *w, const char *sid, int64_t deadline_ms);

#define CLAIM_KEY_FMT "session:%s"

#endif
