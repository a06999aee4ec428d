/* kafka_log.c - librdkafka's logs and error events, through profd_log.
 *
 * librdkafka logs from its own threads; profd_log writes each line with one
 * write(2), so that is safe. A broker that is down makes librdkafka repeat the
 * same complaint every reconnect backoff; a warning or error whose text (up
 * to its first '(') was printed less than 30 s ago is therefore counted
 * rather than printed, and the count is reported with the next one that gets
 * through. Errors are never fatal here: the client keeps
 * reconnecting on its own, and a truly fatal error (idempotence broken) is
 * reported by poll(). */
#include "kafka_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profd/log.h"

#define REPEAT_WINDOW_MS 30000
#define SLOTS 32

/* The last few distinct complaints, so that two brokers (or a consumer and a
 * producer) failing in turn are each limited, not let through alternately. */
typedef struct slot {
    uint64_t key;
    int64_t at;
    int suppressed;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot slots[SLOTS];

/* FNV-1a of the text up to its first '(': librdkafka appends details such as
 * "(after 0ms in state CONNECT, 1 identical error(s) suppressed)" that change
 * from one repeat to the next. */
static uint64_t key_of(const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = text; *p && *p != '('; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* Returns 1 when the line should be printed; *skipped gets how many lines
 * with the same key were swallowed before it. */
static int let_through(const char *text, int *skipped)
{
    uint64_t key = key_of(text);
    int64_t now = profd_mono_ms();
    int ok = 1;
    pthread_mutex_lock(&mu);
    slot *s = NULL, *oldest = &slots[0];
    for (int i = 0; i < SLOTS && !s; i++) {
        if (slots[i].key == key && slots[i].at)
            s = &slots[i];
        else if (slots[i].at < oldest->at)
            oldest = &slots[i];
    }
    if (s && now - s->at < REPEAT_WINDOW_MS) {
        s->suppressed++;
        ok = 0;
    } else {
        if (!s) {
            s = oldest;
            s->key = key;
            s->suppressed = 0;
        }
        *skipped = s->suppressed;
        s->suppressed = 0;
        s->at = now;
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

static void emit(int level, const char *event, const char *text)
{
    int skipped = 0;
    if (level >= PROFD_LOG_WARN && !let_through(text, &skipped))
        return;
    if (skipped)
        profd_log(level, NULL, event, "%s (%d repeats suppressed)", text, skipped);
    else
        profd_log(level, NULL, event, "%s", text);
}

void bus__kafka_log_limited(int level, const char *event, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    emit(level, event, text);
}

static int syslog_to_profd(int level)
{
    if (level <= 3)
        return PROFD_LOG_ERROR;
    if (level == 4)
        return PROFD_LOG_WARN;
    return level <= 6 ? PROFD_LOG_INFO : PROFD_LOG_DEBUG;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char text[512];
    snprintf(text, sizeof text, "%s: %s: %s", rd_kafka_name(rk), fac, buf);
    emit(syslog_to_profd(level), "kafka.log", text);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char text[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        snprintf(text, sizeof text, "%s: fatal: %s", rd_kafka_name(rk), why);
        emit(PROFD_LOG_ERROR, "kafka.fatal", text);
        return;
    }
    snprintf(text, sizeof text, "%s: %s: %s", rd_kafka_name(rk),
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    emit(PROFD_LOG_WARN, "kafka.error", text);
}

void bus__kafka_log_setup(rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
}
