/* memory.c - the in-process bus: for unit tests and single-machine `profd serve`.
 *
 * Every memory bus in a process shares one set of queues, so an API and a
 * worker running in the same process talk through them exactly as they would
 * through Kafka. One mutex guards everything and one condition variable (on
 * the monotonic clock) wakes pollers when a request arrives or a bus resumes.
 *
 * Each topic keeps a log of everything published on it, for inspection
 * (profd_bus_memory_count/get/key/header). Requests are also put on a pending
 * queue that poll() consumes; the consumer gets its own copy of the record, so
 * a reset while a message is held never invalidates it. Offsets come from one
 * process-wide sequence that reset does not rewind, so a delivery id
 * ("memory/0/<offset>") never repeats within a process and session ids derived
 * from it never collide. NACK and RELEASE put the record back at the tail of the pending
 * queue, where any memory consumer (this one included) can take it again; a NACKed one
 * only after a second, as Pub/Sub backs off redelivery. */
#include "profd/bus.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mrec {
    int64_t offset, ts;
    int64_t due;  /* monotonic ms before which poll() skips it (a NACKed redelivery) */
    unsigned gen; /* reset generation the record belongs to */
    char *key, *data;
    size_t len, nh;
    char **hname, **hvalue;
    struct mrec *next;
} mrec;

typedef struct mlog {
    mrec **v;
    int n, cap;
} mlog;

typedef struct mbus {
    profd_bus base;
    int roles;
    int paused;
} mbus;

typedef struct mmsg {
    profd_msg m;
    mrec *r;
} mmsg;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static mlog logs[3];
static mrec *head, *tail;
static int npending;
static int64_t next_offset;
static unsigned gen;

static void cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &a);
    pthread_condattr_destroy(&a);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void rec_free(mrec *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nh; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->hname);
    free(r->hvalue);
    free(r->key);
    free(r->data);
    free(r);
}

static mrec *rec_new(const char *key, const char *data, size_t len, const profd_header *h,
                     size_t nh)
{
    mrec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->key = dup_or_null(key);
    r->data = malloc(len + 1);
    r->hname = calloc(nh ? nh : 1, sizeof *r->hname);
    r->hvalue = calloc(nh ? nh : 1, sizeof *r->hvalue);
    if (!r->data || !r->hname || !r->hvalue || (key && !r->key)) {
        rec_free(r);
        return NULL;
    }
    memcpy(r->data, data, len);
    r->data[len] = '\0';
    r->len = len;
    for (; r->nh < nh; r->nh++) {
        r->hname[r->nh] = strdup(h[r->nh].name);
        r->hvalue[r->nh] = strdup(h[r->nh].value ? h[r->nh].value : "");
    }
    return r;
}

static int log_append(mlog *l, mrec *r)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        mrec **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = r;
    return 0;
}

static void pending_push(mrec *r)
{
    r->next = NULL;
    if (tail)
        tail->next = r;
    else
        head = r;
    tail = r;
    npending++;
    pthread_cond_broadcast(&cv);
}

/* The first pending record that is due, or NULL. */
static mrec *pending_pop(void)
{
    int64_t now = profd_mono_ms();
    mrec *prev = NULL, *r = head;
    while (r && r->due > now) {
        prev = r;
        r = r->next;
    }
    if (!r)
        return NULL;
    if (prev)
        prev->next = r->next;
    else
        head = r->next;
    if (tail == r)
        tail = prev;
    npending--;
    return r;
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static profd_msg *deliver(mbus *b, mrec *r)
{
    mmsg *mm = calloc(1, sizeof *mm);
    if (!mm)
        return NULL;
    mm->r = r;
    mm->m.data = r->data;
    mm->m.len = r->len;
    mm->m.topic = b->base.cfg->request_topic;
    mm->m.partition = 0;
    mm->m.offset = r->offset;
    mm->m.timestamp_ms = r->ts;
    snprintf(mm->m.id, sizeof mm->m.id, "memory/0/%lld", (long long)r->offset);
    if (r->key && strlen(r->key) < sizeof mm->m.key) {
        profd_strlcpy(mm->m.key, r->key, sizeof mm->m.key);
        mm->m.has_key = true;
    }
    mm->m.handle = r;
    return &mm->m;
}

static int m_poll(profd_bus *bb, int timeout_ms, profd_msg **out, profd_error *err)
{
    mbus *b = (mbus *)bb;
    *out = NULL;
    if (!(b->roles & PROFD_BUS_CONSUME)) {
        profd_error_set(err, NULL, "this memory bus was opened without the consume role");
        return -1;
    }
    struct timespec dl;
    deadline_after(&dl, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&mu);
    mrec *r = NULL;
    for (;;) {
        if (!b->paused && head && (r = pending_pop()) != NULL)
            break;
        /* Not-yet-due records wake nobody: wait at most 100 ms at a time for them. */
        struct timespec step;
        deadline_after(&step, 100);
        bool last =
            step.tv_sec > dl.tv_sec || (step.tv_sec == dl.tv_sec && step.tv_nsec >= dl.tv_nsec);
        if (timeout_ms <= 0 ||
            (pthread_cond_timedwait(&cv, &mu, last ? &dl : &step) == ETIMEDOUT && last))
            break;
    }
    pthread_mutex_unlock(&mu);
    if (!r)
        return 0;
    *out = deliver(b, r);
    if (!*out) {
        rec_free(r);
        profd_error_set(err, NULL, "out of memory while receiving a message");
        return -1;
    }
    return 0;
}

static void m_done(profd_bus *b, profd_msg *m, profd_disposition d)
{
    (void)b;
    if (!m)
        return;
    mmsg *mm = (mmsg *)m;
    mrec *r = mm->r;
    free(mm);
    pthread_mutex_lock(&mu);
    if (d != PROFD_ACK && r->gen == gen) {
        /* A NACK is redelivered a second later, as Pub/Sub backs off, so that a
         * lone consumer that cannot serve a message does not spin on it. */
        r->due = d == PROFD_NACK ? profd_mono_ms() + 1000 : 0;
        pending_push(r);
        r = NULL;
    }
    pthread_mutex_unlock(&mu);
    rec_free(r);
}

static int m_extend(profd_bus *b, profd_msg *m, int seconds)
{
    (void)b, (void)m, (void)seconds;
    return 0; /* no redelivery deadline in memory */
}

static void m_pause(profd_bus *bb)
{
    pthread_mutex_lock(&mu);
    ((mbus *)bb)->paused = 1;
    pthread_mutex_unlock(&mu);
}

static void m_resume(profd_bus *bb)
{
    pthread_mutex_lock(&mu);
    ((mbus *)bb)->paused = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int m_publish(profd_bus *bb, profd_topic t, const char *key, const char *data, size_t len,
                     const profd_header *hdrs, size_t nhdrs, profd_error *err)
{
    mbus *b = (mbus *)bb;
    if (!(b->roles & PROFD_BUS_PRODUCE)) {
        profd_error_set(err, NULL, "this memory bus was opened without the produce role");
        return -1;
    }
    if ((unsigned)t > PROFD_TOPIC_DLQ) {
        profd_error_set(err, NULL, "unknown topic %d", (int)t);
        return -1;
    }
    mrec *r = rec_new(key, data ? data : "", data ? len : 0, hdrs, nhdrs);
    mrec *q = NULL;
    if (r && t == PROFD_TOPIC_REQUESTS && !(q = rec_new(key, r->data, r->len, NULL, 0))) {
        rec_free(r);
        r = NULL;
    }
    if (!r) {
        profd_error_set(err, NULL, "out of memory while publishing a message");
        return -1;
    }
    pthread_mutex_lock(&mu);
    r->offset = next_offset++;
    r->ts = profd_now_ms();
    r->gen = gen;
    int rc = log_append(&logs[t], r);
    if (rc == 0 && q) {
        q->offset = r->offset;
        q->ts = r->ts;
        q->gen = gen;
        pending_push(q);
        q = NULL;
    }
    pthread_mutex_unlock(&mu);
    rec_free(q);
    if (rc != 0) {
        rec_free(r);
        profd_error_set(err, NULL, "out of memory while publishing a message");
        return -1;
    }
    return 0;
}

static int m_flush(profd_bus *b, int timeout_ms)
{
    (void)b, (void)timeout_ms;
    return 0; /* publish is synchronous */
}

static int m_ping(profd_bus *b, profd_error *err)
{
    (void)b, (void)err;
    return 0;
}

static void m_close(profd_bus *b)
{
    free(b);
}

static const profd_bus_ops memory_ops = {m_poll,    m_done,  m_extend, m_pause, m_resume,
                                         m_publish, m_flush, m_ping,   m_close};

profd_bus *profd_bus_memory_open(const profd_config *cfg, int roles, profd_error *err)
{
    pthread_once(&cv_once, cv_init);
    mbus *b = calloc(1, sizeof *b);
    if (!b) {
        profd_error_set(err, NULL, "out of memory while opening the memory bus");
        return NULL;
    }
    b->base.ops = &memory_ops;
    b->base.cfg = cfg;
    b->roles = roles;
    return &b->base;
}

/* The inspection helpers below copy under the lock: callers may run while
 * other threads publish. */

static const mrec *logged(profd_topic t, int i)
{
    if ((unsigned)t > PROFD_TOPIC_DLQ || i < 0 || i >= logs[t].n)
        return NULL;
    return logs[t].v[i];
}

int profd_bus_memory_count(profd_topic t)
{
    if ((unsigned)t > PROFD_TOPIC_DLQ)
        return 0;
    pthread_mutex_lock(&mu);
    int n = logs[t].n;
    pthread_mutex_unlock(&mu);
    return n;
}

char *profd_bus_memory_get(profd_topic t, int i)
{
    pthread_mutex_lock(&mu);
    const mrec *r = logged(t, i);
    char *s = NULL;
    if (r && (s = malloc(r->len + 1)))
        memcpy(s, r->data, r->len + 1);
    pthread_mutex_unlock(&mu);
    return s;
}

char *profd_bus_memory_key(profd_topic t, int i)
{
    pthread_mutex_lock(&mu);
    const mrec *r = logged(t, i);
    char *s = r ? dup_or_null(r->key) : NULL;
    pthread_mutex_unlock(&mu);
    return s;
}

char *profd_bus_memory_header(profd_topic t, int i, const char *name)
{
    pthread_mutex_lock(&mu);
    const mrec *r = logged(t, i);
    char *s = NULL;
    for (size_t k = 0; r && !s && k < r->nh; k++)
        if (strcmp(r->hname[k], name) == 0)
            s = strdup(r->hvalue[k]);
    pthread_mutex_unlock(&mu);
    return s;
}

int profd_bus_memory_pending(void)
{
    pthread_mutex_lock(&mu);
    int n = npending;
    pthread_mutex_unlock(&mu);
    return n;
}

void profd_bus_memory_reset(void)
{
    pthread_mutex_lock(&mu);
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < logs[t].n; i++)
            rec_free(logs[t].v[i]);
        logs[t].n = 0;
    }
    while (head)
        rec_free(pending_pop());
    gen++;
    pthread_mutex_unlock(&mu);
}
