/* job.c - one capture, start to finish, in its own thread.
 *
 * The job thread forks the sampler and lives until it has reaped it, so the
 * sampler's PR_SET_PDEATHSIG (which fires when the forking thread exits) can
 * only fire if the worker itself dies. While the sampler runs, the thread
 * renews the session's lease, the per-target lock and the lease index every
 * third of PROFD_LEASE_SECONDS; if another worker has taken the session over,
 * the capture is abandoned without writing anything.
 *
 * Each job thread runs on a stack the worker maps itself and unmaps as soon as
 * the thread is joined. glibc would keep up to 40 MB of dead threads' stacks
 * (and every page they touched) for reuse, so an idle worker after a burst of
 * captures would stay megabytes larger than a fresh one. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "internal.h"
#include "profd/log.h"
#include "profd/metrics.h"

static const char *cancel_code(job *j)
{
    pthread_mutex_lock(&j->w->mu);
    const char *c = j->cancel_code;
    pthread_mutex_unlock(&j->w->mu);
    return c;
}

/* Renew claim, lock and lease. false: the session is no longer ours. */
static bool keep_alive(job *j)
{
    profd_worker *w = j->w;
    profd_error err = {0};
    int ttl = w->cfg->lease_seconds * 1000;
    switch (w->store->ops->renew(w->store, j->claim_key, w->owner, ttl, &err)) {
    case PROFD_RENEW_LOST:
        LOG_W(j->s.session_id, "lease.lost", "another worker took the session over");
        return false;
    case PROFD_RENEW_ERROR:
        LOG_W(j->s.session_id, "lease.renew_failed", "%s (will retry)", err.msg);
        return true;
    case PROFD_RENEW_RETAKEN:
        LOG_W(j->s.session_id, "store.lost_data", "rewriting the session record");
        if (worker__put(w, &j->s) != 0)
            return true; /* logged; the lease below still says we are alive */
        break;
    case PROFD_RENEW_KEPT:
        break;
    }
    if (j->lock_key[0]) {
        /* The target lock only keeps two captures off one process; losing it
         * does not make the session another worker's, so the capture goes on. */
        switch (w->store->ops->renew(w->store, j->lock_key, w->owner, ttl, &err)) {
        case PROFD_RENEW_LOST:
            LOG_W(j->s.session_id, "target_lock.lost",
                  "another capture holds the lock of pid %ld now", j->target.pid);
            break;
        case PROFD_RENEW_ERROR:
            LOG_W(j->s.session_id, "target_lock.renew_failed", "%s (will retry)", err.msg);
            break;
        case PROFD_RENEW_KEPT:
        case PROFD_RENEW_RETAKEN:
            break;
        }
    }
    worker__lease(w, j->s.session_id, profd_now_ms() + ttl);
    return true;
}

/* Wait for the per-target lock; false if the session cannot run. */
static bool take_target_lock(job *j)
{
    profd_worker *w = j->w;
    profd_error err = {0};
    snprintf(j->lock_key, sizeof j->lock_key, "target:%s:%ld:%llu", w->cfg->host, j->target.pid,
             j->target.start_time);
    int64_t give_up = profd_mono_ms() + (int64_t)w->cfg->request_ttl * 1000;
    int64_t next_renew = profd_mono_ms() + w->cfg->lease_seconds * 1000 / 3;
    for (;;) {
        if (w->store->ops->claim(w->store, j->lock_key, w->owner, w->cfg->lease_seconds * 1000,
                                 &err) == PROFD_CLAIM_WON)
            return true;
        if (cancel_code(j) || profd_mono_ms() > give_up) {
            j->lock_key[0] = '\0';
            return false;
        }
        if (profd_mono_ms() >= next_renew) {
            if (!keep_alive(j)) {
                j->lock_key[0] = '\0';
                return false;
            }
            next_renew = profd_mono_ms() + w->cfg->lease_seconds * 1000 / 3;
        }
        usleep(50 * 1000);
    }
}

static void release_target_lock(job *j)
{
    if (j->lock_key[0])
        worker__release(j->w, j->lock_key, j->s.session_id);
    j->lock_key[0] = '\0';
}

static void mark_running(job *j)
{
    profd_worker *w = j->w;
    profd_session *s = &j->s;
    s->status = PROFD_RUNNING;
    s->attempt++;
    s->started_at = profd_now_ms();
    s->pid = j->target.pid;
    s->target_start_time = j->target.start_time;
    profd_strlcpy(s->host, w->cfg->host, sizeof s->host);
    if (s->profile_type == PROFD_PROFILE_MEMORY)
        profd_sampler_describe(PROFD_SAMPLER_MEMORY, NULL, s->sampler, sizeof s->sampler);
    else
        profd_strlcpy(s->sampler, w->sampler_desc, sizeof s->sampler);
    worker__lease(w, s->session_id, profd_now_ms() + w->cfg->lease_seconds * 1000);
    /* Unrecorded, the capture still runs: its end writes the whole record. */
    if (worker__put(w, s) != 0)
        LOG_W(s->session_id, "session.unrecorded", "capturing without a running record");
    worker__publish(w, "session.started", s);
    LOG_I(s->session_id, "capture.started", "pid %ld, %d s at %d Hz, attempt %d, %s", s->pid,
          s->duration_seconds, s->sample_rate_hz, s->attempt, s->sampler);
}

static void spec_for(job *j, profd_capture_spec *spec, char *out, char *errpath, size_t n)
{
    profd_worker *w = j->w;
    snprintf(out, n, "%s/raw.txt", j->spool);
    snprintf(errpath, n, "%s/sampler.stderr", j->spool);
    memset(spec, 0, sizeof *spec);
    spec->kind = w->kind;
    spec->pyspy = w->cfg->pyspy;
    spec->self_exe = profd_self_exe();
    spec->pid = j->target.pid;
    spec->rate_hz = j->s.sample_rate_hz;
    spec->duration_s = j->s.duration_seconds;
    spec->grace_s = 10;
    spec->options = j->s.options;
    spec->out_path = out;
    spec->stderr_path = errpath;
    if (j->s.profile_type == PROFD_PROFILE_MEMORY) { /* docs/memory.md */
        snprintf(j->summary, sizeof j->summary, "%s/memory.json", j->spool);
        spec->kind = PROFD_SAMPLER_MEMORY;
        spec->memory_frames = j->s.memory_frames;
        spec->summary_path = j->summary;
    }
}

/* Run the sampler to the end. false: the session was taken over; write nothing. */
static bool capture(job *j, profd_capture_result *res, char *raw, size_t n)
{
    profd_worker *w = j->w;
    profd_capture_spec spec;
    profd_capture cap;
    char errpath[1200];
    spec_for(j, &spec, raw, errpath, n);
    if (profd_capture_start(&cap, &spec, &res->err) != 0) {
        res->ok = false;
        return true;
    }
    int64_t next_renew = profd_mono_ms() + w->cfg->lease_seconds * 1000 / 3;
    bool cancelled = false, ours = true;
    worker_live live = {0};
    while (!profd_capture_step(&cap)) {
        if (ours)
            worker__live_tick(j, raw, &live);
        const char *c = cancel_code(j);
        if (c && !cancelled) {
            profd_capture_cancel(&cap, c);
            cancelled = true;
        }
        if (profd_mono_ms() >= next_renew) {
            if (ours && !keep_alive(j)) {
                ours = false;
                profd_capture_cancel(&cap, PROFD_E_WORKER_LOST);
            }
            next_renew = profd_mono_ms() + w->cfg->lease_seconds * 1000 / 3;
        }
        usleep(50 * 1000);
    }
    worker__live_end(j, &live);
    profd_capture_result_of(&cap, res);
    profd_metrics_capture_duration(res->wall_seconds);
    return ours;
}

/* Less than 64 KiB left where captures are written. */
static bool spool_full(const char *dir)
{
    struct statvfs v;
    return statvfs(dir, &v) == 0 && (unsigned long long)v.f_bavail * v.f_frsize < 64 * 1024;
}

static void finish(job *j, const profd_capture_result *res, const char *raw)
{
    profd_worker *w = j->w;
    profd_session *s = &j->s;
    profd_error err = {0};
    const char *c = cancel_code(j);
    if (c && strcmp(c, PROFD_E_CANCELLED) == 0) {
        worker__fail(w, s, c, "the session was cancelled");
        return;
    }
    if (c) {
        worker__fail(w, s, c, "the worker shut down before the capture finished");
        return;
    }
    if (!res->ok) {
        char msg[2048];
        const char *why = res->err.msg;
        if (spool_full(j->spool)) { /* the sampler could not even write why it failed */
            snprintf(msg, sizeof msg,
                     "the spool directory %s is full (No space left on device): free space there "
                     "or point PROFD_SPOOL_DIR elsewhere; the sampler said: %s",
                     w->cfg->spool_dir, res->err.msg);
            why = msg;
        }
        worker__fail(w, s, res->err.code ? res->err.code : PROFD_E_SAMPLER_FAILED, why);
        return;
    }
    s->overhead_percent = res->overhead_percent;
    if (s->profile_type == PROFD_PROFILE_MEMORY) {
        profd_memory_summary sum;
        double overhead;
        if (profd_memory_summary_read(j->summary, &sum, &overhead) != 0) {
            worker__fail(w, s, PROFD_E_SAMPLER_FAILED, "the memory capture left no summary");
            return;
        }
        s->bytes_total = sum.bytes;
        s->blocks_total = sum.blocks;
        s->overhead_percent = overhead; /* the target's slowdown; < 0: not measurable */
        LOG_I(s->session_id, "capture.memory",
              "%lld bytes in %lld blocks live, peak %lld, %ld tracebacks, tracemalloc %s",
              sum.bytes, sum.blocks, sum.peak, sum.stacks,
              sum.traced_by_target ? "was on and is left on" : "stopped again");
    }
    if (s->overhead_percent >= 0)
        profd_metrics_capture_overhead(s->overhead_percent);
    if (res->partial)
        LOG_W(s->session_id, "capture.partial", "%s", res->note);
    if (worker__store_results(w, s, raw, &err) != 0) {
        worker__fail(w, s, err.code ? err.code : PROFD_E_UPLOAD, err.msg);
        return;
    }
    s->status = PROFD_COMPLETED;
    s->completed_at = profd_now_ms();
    /* Unrecorded: keep the lease entry, so the sweeper deals with the record. */
    if (worker__put(w, s) == 0)
        worker__lease(w, s->session_id, 0);
    worker__publish(w, "session.completed", s);
    profd_metrics_session_finished("completed");
    if (s->profile_type == PROFD_PROFILE_MEMORY)
        LOG_I(s->session_id, "capture.completed", "%lld bytes live, target overhead %s%.2f%%",
              s->bytes_total, s->overhead_percent < 0 ? "not measurable, " : "",
              s->overhead_percent < 0 ? 0.0 : s->overhead_percent);
    else
        LOG_I(s->session_id, "capture.completed", "%ld samples, overhead %.2f%%", s->sample_count,
              s->overhead_percent);
}

static void remove_spool(const char *dir)
{
    static const char *const sampler_files[] = {"raw.txt",          "sampler.stderr",
                                                "memory.json",      "raw.txt.live",
                                                "raw.txt.live.tmp", "raw.txt.live.upload"};
    char p[1300];
    for (size_t i = 0; i < sizeof sampler_files / sizeof sampler_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sampler_files[i]);
        unlink(p);
    }
    for (int i = 0; i < PROFD_ARTIFACTS; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, profd_artifacts[i].file);
        unlink(p);
    }
    rmdir(dir);
}

static void *job_main(void *arg)
{
    job *j = arg;
    profd_worker *w = j->w;
    profd_error err = {0};
    bool ours = true, keep_files = false;
    if (!take_target_lock(j)) {
        if (!cancel_code(j))
            worker__fail(w, &j->s, PROFD_E_TIMEOUT,
                         "another capture of this process held it past PROFD_REQUEST_TTL");
        else
            worker__fail(w, &j->s, cancel_code(j), "the session was cancelled");
    } else if (profd_target_check(&j->target, &err) != 0) {
        worker__fail(w, &j->s, err.code ? err.code : PROFD_E_TARGET_EXITED, err.msg);
    } else if (profd_mkdir_p(j->spool, 0700) != 0) {
        worker__fail(w, &j->s, PROFD_E_SAMPLER_FAILED, "cannot create the spool directory");
    } else {
        mark_running(j);
        profd_capture_result res;
        char raw[1200];
        memset(&res, 0, sizeof res);
        ours = capture(j, &res, raw, sizeof raw);
        release_target_lock(j); /* the process is free once the sampler is gone */
        if (ours) {
            finish(j, &res, raw);
            keep_files =
                j->s.status == PROFD_FAILED && strcmp(j->s.error_code, PROFD_E_UPLOAD) == 0;
        }
    }
    if (!keep_files)
        remove_spool(j->spool);
    release_target_lock(j);
    if (ours)
        worker__release(w, j->claim_key, j->s.session_id);
    pthread_mutex_lock(&w->mu);
    j->finished = true;
    w->running--;
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Deep enough for rendering, libcurl and OpenSSL; only touched pages cost memory. */
#define JOB_STACK (1024 * 1024)
#define GUARD_PAGE 4096

static int start_thread(job *j)
{
    j->stack = mmap(NULL, JOB_STACK, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (j->stack == MAP_FAILED) {
        j->stack = NULL;
        return errno;
    }
    mprotect(j->stack, GUARD_PAGE, PROT_NONE); /* an overflow faults instead of corrupting */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_attr_setstack(&attr, j->stack, JOB_STACK);
    if (rc == 0)
        rc = pthread_create(&j->thread, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        munmap(j->stack, JOB_STACK);
        j->stack = NULL;
    }
    return rc;
}

int worker__start_job(profd_worker *w, const profd_session *s, const profd_target *t)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->w = w;
    profd_session_copy(&j->s, s);
    j->target = *t;
    snprintf(j->claim_key, sizeof j->claim_key, CLAIM_KEY_FMT, s->session_id);
    snprintf(j->spool, sizeof j->spool, "%s/%s", w->cfg->spool_dir, s->session_id);
    pthread_mutex_lock(&w->mu);
    w->running++;
    j->next = w->jobs;
    w->jobs = j;
    pthread_mutex_unlock(&w->mu);
    int rc = start_thread(j);
    if (rc != 0) {
        pthread_mutex_lock(&w->mu);
        w->running--;
        w->jobs = j->next;
        pthread_mutex_unlock(&w->mu);
        profd_session_free(&j->s);
        free(j);
        LOG_E(s->session_id, "job.failed", "cannot start a thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

void worker__reap_jobs(profd_worker *w)
{
    bool reaped = false;
    for (;;) {
        job *done = NULL;
        pthread_mutex_lock(&w->mu);
        for (job **pp = &w->jobs; *pp; pp = &(*pp)->next) {
            if ((*pp)->finished) {
                done = *pp;
                *pp = done->next;
                break;
            }
        }
        bool idle = w->running == 0 && !w->jobs;
        pthread_mutex_unlock(&w->mu);
        if (!done) {
            /* Give the heap of a burst of jobs back to the system once idle. */
            if (reaped && idle)
                malloc_trim(0);
            return;
        }
        reaped = true;
        pthread_join(done->thread, NULL);
        munmap(done->stack, JOB_STACK);
        profd_session_free(&done->s);
        free(done);
    }
}

bool worker__has_job(profd_worker *w, const char *session_id)
{
    bool found = false;
    pthread_mutex_lock(&w->mu);
    for (job *j = w->jobs; j; j = j->next)
        if (!j->finished && strcmp(j->s.session_id, session_id) == 0)
            found = true;
    pthread_mutex_unlock(&w->mu);
    return found;
}

bool worker__cancel_job(profd_worker *w, const char *session_id, const char *code)
{
    bool found = false;
    pthread_mutex_lock(&w->mu);
    for (job *j = w->jobs; j; j = j->next) {
        if (!j->finished && strcmp(j->s.session_id, session_id) == 0 && !j->cancel_code) {
            j->cancel_code = code;
            found = true;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return found;
}

void worker__cancel_all(profd_worker *w, const char *code)
{
    pthread_mutex_lock(&w->mu);
    for (job *j = w->jobs; j; j = j->next)
        if (!j->finished && !j->cancel_code)
            j->cancel_code = code;
    pthread_mutex_unlock(&w->mu);
}
