/* internal.h - the worker's parts and the state they share.
 *
 * The main thread owns the bus: it polls, validates, records and dispatches
 * (intake.c), and sweeps for sessions that lost their worker (sweeper.c). Each
 * capture runs in its own job thread (job.c) that spawns the sampler, keeps the
 * session's lease alive, and finishes the session (results.c). Jobs share only
 * the list below, under w->mu. */
#ifndef PROFD_WORKER_INTERNAL_H
#define PROFD_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/config.h"
#include "profd/render.h"
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
    job *next;
};

/* intake.c */
void worker_handle(profd_worker *w, profd_msg *m);
void worker_retry_held(profd_worker *w);
bool worker_can_serve(const profd_worker *w, const char *host, long pid, const char *service);
/* Claim a queued (or orphaned running) session and start its capture. */
void worker_try_start(profd_worker *w, profd_session *s);

/* job.c: start a job for a claimed session (takes ownership of s's contents). */
int worker_start_job(profd_worker *w, profd_session *s, const profd_target *t);
void worker_reap_jobs(profd_worker *w);
bool worker_has_job(profd_worker *w, const char *session_id);
bool worker_cancel_job(profd_worker *w, const char *session_id, const char *code);
void worker_cancel_all(profd_worker *w, const char *code);

/* results.c: the objects of the storage layout, in the order they are rendered
 * (stacks.txt first: it is the input of reprocessing). */
typedef struct worker_output {
    const char *file;
    profd_format format;
    const char *content_type;
} worker_output;
#define WORKER_OUTPUTS 3
extern const worker_output worker_outputs[WORKER_OUTPUTS];
/* Read input (raw or collapsed stacks), set s->sample_count, and render
 * worker_outputs[first..] into dir with the session's title and details. */
int worker_render(profd_session *s, const char *input, const char *dir, int first,
                  profd_error *err);
int worker_store_results(profd_worker *w, profd_session *s, const char *raw_path, profd_error *err);
void worker_publish(profd_worker *w, const char *type, profd_session *s);
/* Write a session record, retrying while the store is unreachable (until shutdown ends). */
int worker_put(profd_worker *w, profd_session *s);
/* Record a failure, publish session.failed and drop the lease. */
void worker_fail(profd_worker *w, profd_session *s, const char *code, const char *msg);
/* Claim the session, fail it and let go; false when another worker holds it. */
bool worker_claim_and_fail(profd_worker *w, profd_session *s, const char *code, const char *msg);
#define WORKER_UNROUTABLE_MSG "no worker could run the request within PROFD_REQUEST_TTL"

/* sweeper.c */
void worker_sweep(profd_worker *w);

#define CLAIM_KEY_FMT "session:%s"

#endif
