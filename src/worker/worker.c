/* worker.c - the worker's main loop.
 *
 * One thread owns the bus and never blocks on a capture: it polls with a short
 * timeout, hands each message to intake, reaps finished jobs, and sweeps for
 * lost sessions now and then. Flow control is by pausing the bus while
 * PROFD_MAX_CONCURRENT captures run (and while a message is held because the
 * store is down), so a long capture never stalls the consumer and never trips
 * Kafka's max.poll.interval.ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "profd/log.h"

profd_worker *profd_worker_new(const profd_config *cfg, profd_bus *bus, profd_store *store,
                               profd_blob *blob, profd_error *err)
{
    profd_targets *targets = profd_targets_load(cfg->targets, err);
    if (!targets)
        return NULL;
    if (geteuid() == 0 && !profd_targets_configured(targets) && !cfg->allow_any_pid) {
        profd_error_set(err, NULL,
                        "refusing to run as root without PROFD_TARGETS: set PROFD_TARGETS to an "
                        "allowlist, or PROFD_ALLOW_ANY_PID=1 for development");
        profd_targets_free(targets);
        return NULL;
    }
    profd_worker *w = calloc(1, sizeof *w);
    if (!w) {
        profd_targets_free(targets);
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    if (profd_sampler_choose(cfg->sampler, cfg->pyspy, &w->kind, err) != 0) {
        profd_targets_free(targets);
        free(w);
        return NULL;
    }
    profd_sampler_describe(w->kind, cfg->pyspy, w->sampler_desc, sizeof w->sampler_desc);
    w->cfg = cfg;
    w->bus = bus;
    w->store = store;
    w->blob = blob;
    w->targets = targets;
    w->limits.duration_min = cfg->duration_min;
    w->limits.duration_max = cfg->duration_max;
    char rnd[PROFD_UUID_LEN + 1];
    profd_uuid4(rnd);
    snprintf(w->owner, sizeof w->owner, "%s/%d/%.8s", cfg->host, (int)getpid(), rnd);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->changed, NULL);
    return w;
}

static void flow_control(profd_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool full = w->running >= w->cfg->max_concurrent;
    pthread_mutex_unlock(&w->mu);
    bool want_pause = full || w->held != NULL;
    if (want_pause && !w->paused) {
        w->bus->ops->pause(w->bus);
        w->paused = true;
        LOG_D(NULL, "bus.paused", "%s", w->held ? "holding a message" : "all capture slots busy");
    } else if (!want_pause && w->paused) {
        w->bus->ops->resume(w->bus);
        w->paused = false;
        LOG_D(NULL, "bus.resumed", "a capture slot is free");
    }
}

static void poll_once(profd_worker *w)
{
    profd_msg *m = NULL;
    profd_error err = {0};
    if (w->bus->ops->poll(w->bus, 100, &m, &err) != 0) {
        LOG_W(NULL, "bus.error", "%s", err.msg);
        usleep(100 * 1000);
        return;
    }
    if (m)
        worker__handle(w, m);
}

static void housekeeping(profd_worker *w)
{
    worker__reap_jobs(w);
    if (w->held)
        worker__retry_held(w);
    int64_t now = profd_mono_ms();
    if (now >= w->next_sweep_mono) {
        worker__sweep(w);
        w->next_sweep_mono = now + (int64_t)w->cfg->lease_seconds * 1000 / 3;
    }
    worker__cleanup_tick(w); /* one worker at a time, every PROFD_CLEANUP_INTERVAL */
}

static void drain(profd_worker *w)
{
    int64_t deadline = profd_mono_ms() + (int64_t)w->cfg->shutdown_grace * 1000;
    LOG_I(NULL, "worker.draining", "stopped consuming; %d capture(s) get %d s to finish",
          w->running, w->cfg->shutdown_grace);
    bool cancelled = false;
    for (;;) {
        worker__reap_jobs(w);
        pthread_mutex_lock(&w->mu);
        int left = w->running;
        pthread_mutex_unlock(&w->mu);
        if (left == 0)
            break;
        if (!cancelled && profd_mono_ms() >= deadline) {
            worker__cancel_all(w, PROFD_E_SHUTDOWN);
            cancelled = true;
        }
        /* Keep the consumer alive (heartbeats, rebalances) while paused. */
        profd_msg *m = NULL;
        profd_error err;
        if (w->bus->ops->poll(w->bus, 100, &m, &err) == 0 && m)
            w->bus->ops->done(w->bus, m, PROFD_RELEASE);
    }
    if (w->held) {
        w->bus->ops->done(w->bus, w->held, PROFD_RELEASE);
        w->held = NULL;
    }
    w->bus->ops->flush(w->bus, 5000);
}

int profd_worker_run(profd_worker *w, volatile sig_atomic_t *stop)
{
    LOG_I(NULL, "worker.started", "host %s, sampler %s, up to %d captures at once", w->cfg->host,
          w->sampler_desc, w->cfg->max_concurrent);
    while (!*stop) {
        flow_control(w);
        poll_once(w);
        housekeeping(w);
    }
    w->stopping = 1;
    w->bus->ops->pause(w->bus);
    w->paused = true;
    drain(w);
    LOG_I(NULL, "worker.stopped", "all captures finished");
    return 0;
}

void profd_worker_free(profd_worker *w)
{
    if (!w)
        return;
    profd_targets_free(w->targets);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->changed);
    free(w);
}
