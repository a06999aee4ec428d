/* metrics.c - a small Prometheus registry: counters and histograms with labels.
 *
 * One process-wide registry behind one mutex: updates are a lookup in a short
 * list and an addition, far cheaper than the HTTP request or capture they
 * count, so finer locking would buy nothing. Series are created on first use;
 * a family holds at most MAX_SERIES of them, after which new label sets are
 * counted under the value "other", so a flood of distinct names cannot grow
 * memory without bound. Output is the text exposition format 0.0.4, families
 * in registration order, series in creation order, label values escaped
 * (backslash, double quote, newline). */
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/metrics.h"

#define MAX_LABELS 4
#define MAX_BUCKETS 16
#define MAX_SERIES 1000
#define MAX_FAMILIES 32

typedef struct series {
    char *values[MAX_LABELS];
    double value;                               /* counter */
    unsigned long long counts[MAX_BUCKETS + 1]; /* histogram, per bucket, last is +Inf */
    double sum;
    unsigned long long count;
    struct series *next;
} series;

struct profd_metric {
    char *name, *help;
    int histogram;
    int nlabels;
    char *labels[MAX_LABELS];
    double buckets[MAX_BUCKETS];
    int nbuckets;
    series *head, *tail;
    int nseries;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static profd_metric *families[MAX_FAMILIES];
static int nfamilies;

static profd_metric *family(const char *name, const char *help, int hist, int nlabels,
                            const char *const *labels, const double *buckets, int nbuckets)
{
    pthread_mutex_lock(&lock);
    profd_metric *m = NULL;
    for (int i = 0; i < nfamilies && !m; i++)
        if (strcmp(families[i]->name, name) == 0)
            m = families[i];
    if (!m && nfamilies < MAX_FAMILIES && (m = calloc(1, sizeof *m))) {
        m->name = strdup(name);
        m->help = strdup(help);
        m->histogram = hist;
        m->nlabels = nlabels < MAX_LABELS ? nlabels : MAX_LABELS;
        for (int i = 0; i < m->nlabels; i++)
            m->labels[i] = strdup(labels[i]);
        m->nbuckets = nbuckets < MAX_BUCKETS ? nbuckets : MAX_BUCKETS;
        for (int i = 0; i < m->nbuckets; i++)
            m->buckets[i] = buckets[i];
        families[nfamilies++] = m;
    }
    pthread_mutex_unlock(&lock);
    return m;
}

profd_metric *profd_metric_counter(const char *name, const char *help, int nlabels,
                                   const char *const *labels)
{
    return family(name, help, 0, nlabels, labels, NULL, 0);
}

profd_metric *profd_metric_histogram(const char *name, const char *help, int nlabels,
                                     const char *const *labels, const double *buckets, int nbuckets)
{
    return family(name, help, 1, nlabels, labels, buckets, nbuckets);
}

static bool same(const series *s, int n, const char *const *values)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return false;
    return true;
}

/* Find or create; called with the lock held. */
static series *find(profd_metric *m, const char *const *values)
{
    for (series *s = m->head; s; s = s->next)
        if (same(s, m->nlabels, values))
            return s;
    const char *other[MAX_LABELS] = {"other", "other", "other", "other"};
    if (m->nseries >= MAX_SERIES) {
        if (same(m->tail, m->nlabels, other))
            return m->tail;
        values = other;
    }
    series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (int i = 0; i < m->nlabels; i++)
        s->values[i] = strdup(values[i] ? values[i] : "");
    if (m->tail)
        m->tail->next = s;
    else
        m->head = s;
    m->tail = s;
    m->nseries++;
    return s;
}

void profd_metric_add(profd_metric *m, const char *const *values, double v)
{
    if (!m || !(v >= 0))
        return;
    pthread_mutex_lock(&lock);
    series *s = find(m, values);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&lock);
}

void profd_metric_observe(profd_metric *m, const char *const *values, double v)
{
    if (!m || !isfinite(v))
        return;
    pthread_mutex_lock(&lock);
    series *s = find(m, values);
    if (s) {
        int b = 0;
        while (b < m->nbuckets && v > m->buckets[b])
            b++;
        s->counts[b]++;
        s->sum += v;
        s->count++;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- output -------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return;
        b->p = p;
        b->cap = cap;
    }
}

static void put_escaped(buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            put(b, "\\\\");
        else if (*s == '"')
            put(b, "\\\"");
        else if (*s == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *s);
    }
}

static void put_num(buf *b, double v)
{
    if (isinf(v))
        put(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        put(b, "%.0f", v);
    else
        put(b, "%.17g", v);
}

/* {a="x",b="y"[,le="..."]}, or nothing without labels. */
static void put_labels(buf *b, const profd_metric *m, const series *s, const char *le)
{
    if (m->nlabels == 0 && !le)
        return;
    put(b, "{");
    for (int i = 0; i < m->nlabels; i++) {
        put(b, "%s%s=\"", i ? "," : "", m->labels[i]);
        put_escaped(b, s->values[i]);
        put(b, "\"");
    }
    if (le)
        put(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    put(b, "}");
}

static void put_histogram(buf *b, const profd_metric *m, const series *s)
{
    unsigned long long cum = 0;
    char le[64];
    for (int i = 0; i <= m->nbuckets; i++) {
        cum += s->counts[i];
        if (i < m->nbuckets)
            snprintf(le, sizeof le, "%g", m->buckets[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        put(b, "%s_bucket", m->name);
        put_labels(b, m, s, le);
        put(b, " %llu\n", cum);
    }
    put(b, "%s_sum", m->name);
    put_labels(b, m, s, NULL);
    put(b, " ");
    put_num(b, s->sum);
    put(b, "\n%s_count", m->name);
    put_labels(b, m, s, NULL);
    put(b, " %llu\n", s->count);
}

static void put_family(buf *b, const profd_metric *m)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
        m->histogram ? "histogram" : "counter");
    for (const series *s = m->head; s; s = s->next) {
        if (m->histogram) {
            put_histogram(b, m, s);
            continue;
        }
        put(b, "%s", m->name);
        put_labels(b, m, s, NULL);
        put(b, " ");
        put_num(b, s->value);
        put(b, "\n");
    }
}

/* ---- the contract's metrics --------------------------------------------- */

static profd_metric *started, *finished, *capture, *overhead, *bytes, *http, *rejected;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    static const double capture_b[] = {1, 5, 10, 30, 60, 120, 300, 600};
    static const double overhead_b[] = {0.5, 1, 2, 3, 5, 10, 25, 50, 100};
    static const double http_b[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,   0.25,   0.5,   1,    2.5};
    const char *st[] = {"service", "trigger"}, *fs[] = {"status"}, *hr[] = {"route", "code"},
               *rr[] = {"reason"};
    started = profd_metric_counter("profd_sessions_started_total",
                                   "Profiling sessions started, by service and trigger.", 2, st);
    finished = profd_metric_counter("profd_sessions_finished_total",
                                    "Profiling sessions finished, by final status.", 1, fs);
    capture = profd_metric_histogram("profd_capture_duration_seconds",
                                     "Wall time of captures, in seconds.", 0, NULL, capture_b,
                                     (int)(sizeof capture_b / sizeof *capture_b));
    overhead =
        profd_metric_histogram("profd_capture_overhead_percent",
                               "Sampler CPU time over capture wall time, in percent of one core.",
                               0, NULL, overhead_b, (int)(sizeof overhead_b / sizeof *overhead_b));
    bytes = profd_metric_counter("profd_bytes_stored_total", "Bytes written to the blob store.", 0,
                                 NULL);
    http = profd_metric_histogram("profd_http_request_duration_seconds",
                                  "HTTP request handling time, by route and status code.", 2, hr,
                                  http_b, (int)(sizeof http_b / sizeof *http_b));
    rejected = profd_metric_counter("profd_requests_rejected_total",
                                    "Requests rejected, by reason.", 1, rr);
}

void profd_metrics_session_started(const char *service, const char *trigger)
{
    pthread_once(&once, init);
    const char *v[] = {service, trigger};
    profd_metric_add(started, v, 1);
}

void profd_metrics_session_finished(const char *status)
{
    pthread_once(&once, init);
    profd_metric_add(finished, &status, 1);
}

void profd_metrics_capture_duration(double seconds)
{
    pthread_once(&once, init);
    profd_metric_observe(capture, NULL, seconds);
}

void profd_metrics_capture_overhead(double percent)
{
    pthread_once(&once, init);
    profd_metric_observe(overhead, NULL, percent);
}

void profd_metrics_bytes_stored(long long n)
{
    pthread_once(&once, init);
    profd_metric_add(bytes, NULL, (double)n);
}

void profd_metrics_http_request(const char *route, int code, double seconds)
{
    pthread_once(&once, init);
    char c[16];
    snprintf(c, sizeof c, "%d", code);
    const char *v[] = {route, c};
    profd_metric_observe(http, v, seconds);
}

void profd_metrics_rejected(const char *reason)
{
    pthread_once(&once, init);
    profd_metric_add(rejected, &reason, 1);
}

char *profd_metrics_render(void)
{
    pthread_once(&once, init);
    buf b = {0};
    put(&b, "%s", "");
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfamilies; i++)
        put_family(&b, families[i]);
    pthread_mutex_unlock(&lock);
    return b.p;
}

void profd_metrics_reset(void)
{
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfamilies; i++) {
        profd_metric *m = families[i];
        series *s = m->head;
        while (s) {
            series *next = s->next;
            for (int j = 0; j < m->nlabels; j++)
                free(s->values[j]);
            free(s);
            s = next;
        }
        m->head = m->tail = NULL;
        m->nseries = 0;
    }
    pthread_mutex_unlock(&lock);
}
