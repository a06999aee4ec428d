/* pubsub_consume.c - pulling, flow control and leases of the Pub/Sub transport.
 *
 * Two background threads serve the worker's poll():
 *
 *   the puller keeps a small buffer of pulled messages: it pulls (synchronous
 *   :pull, returnImmediately) only while the bus is not paused and fewer than
 *   PROFD_MAX_CONCURRENT messages wait in the buffer, asking for no more than
 *   the room left. So this process never holds more unacked messages than
 *   that bound plus the ones the worker itself holds. When nothing came it
 *   sleeps 50 ms, doubling to 250 ms, before the next pull: requests reach an
 *   idle worker within a quarter of a second. After the worker nacks a
 *   message the puller waits 300 ms, so that the redelivery goes to another
 *   worker's pull rather than straight back to this one. Short pulls rather than long ones,
 *   because a long pull cut short (shutdown, a client timeout) is still
 *   handed messages by the server, which then sit out their ack deadline.
 *   When the bus is paused the puller gives the buffered messages back at
 *   once (deadline 0), so a worker whose capture slots are full never sits on
 *   requests another worker could run.
 *
 *   the lease extender renews, twice per ack deadline, the deadline of every
 *   message this process holds (buffered or delivered and not yet done), so a
 *   message the worker holds for a long time (the store is down) is never
 *   redelivered while its worker lives. After a kill -9 nobody renews it and
 *   it is redelivered one ack deadline later.
 *
 * poll() only takes from the buffer, waiting on a condition variable, so it
 * never blocks longer than its timeout. done(ACK) acknowledges; done(NACK) and
 * done(RELEASE) set the deadline to 0 so another worker gets the message at
 * once. Every deadline change holds ext_mu, so an extension in flight can
 * never land after a nack and hide the message for another deadline. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/log.h"
#include "pubsub_internal.h"

#define IDLE_MIN_MS 50
#define IDLE_MAX_MS 250
#define NACK_COOLDOWN_MS 300
#define ERROR_MIN_MS 500
#define ERROR_MAX_MS 30000
#define PULL_TIMEOUT_MS 10000
#define EXTEND_TICK_MS 250

/* ---- the list of held messages (callers hold b->mu) ---- */

static void link_tail(psbus *b, psmsg *m)
{
    m->prev = b->tail;
    m->next = NULL;
    if (b->tail)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
}

static void unlink_msg(psbus *b, psmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        b->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        b->tail = m->prev;
    m->prev = m->next = NULL;
}

static void msg_free(psmsg *m)
{
    if (!m)
        return;
    free(m->ack_id);
    free(m->data);
    free(m);
}

static void wait_ms(psbus *b, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

/* ---- deadline changes ---- */

/* modifyAckDeadline for ack ids (a JSON array); 0 ok. */
static int set_deadline(psbus *b, json_object *ids, int seconds, profd_error *err)
{
    json_object *body = json_object_new_object();
    json_object_object_add(body, "ackIds", json_object_get(ids));
    json_object_object_add(body, "ackDeadlineSeconds", json_object_new_int(seconds));
    char path[PS_NAME_MAX + 32], what[PS_NAME_MAX + 64];
    snprintf(path, sizeof path, "%s:modifyAckDeadline", b->sub);
    snprintf(what, sizeof what, "setting ack deadlines on %s", b->sub);
    profd_gcp_resp r;
    int rc = bus__ps_http_call(b->http, "POST", path, json_object_to_json_string(body), 3, 5000,
                               what, &r, err);
    profd_gcp_resp_free(&r);
    json_object_put(body);
    return rc;
}

static void give_back(psbus *b, psmsg *list)
{
    json_object *ids = json_object_new_array();
    for (psmsg *m = list; m; m = m->next)
        json_object_array_add(ids, json_object_new_string(m->ack_id));
    profd_error err = {0};
    pthread_mutex_lock(&b->ext_mu);
    if (json_object_array_length(ids))
        LOG_D(NULL, "pubsub.nack", "%s", json_object_to_json_string(ids));
    if (json_object_array_length(ids) && set_deadline(b, ids, 0, &err) != 0)
        LOG_W(NULL, "pubsub.nack", "%s; the messages return when their deadline lapses", err.msg);
    pthread_mutex_unlock(&b->ext_mu);
    json_object_put(ids);
    while (list) {
        psmsg *next = list->next;
        msg_free(list);
        list = next;
    }
}

/* Detach the undelivered messages (b->mu held); a NULL-terminated chain. */
static psmsg *take_buffered(psbus *b)
{
    psmsg *chain = NULL, **tailp = &chain;
    for (psmsg *m = b->head, *next; m; m = next) {
        next = m->next;
        if (m->delivered)
            continue;
        unlink_msg(b, m);
        *tailp = m;
        tailp = &m->next;
        b->nbuffered--;
    }
    return chain;
}

/* ---- the puller ---- */

/* A message's data: base64 (either alphabet) decoded into a NUL-terminated
 * heap buffer, or NULL when it is not base64 (or no memory). */
static char *decode_data(const char *d, size_t *len)
{
    unsigned char *out = malloc(strlen(d) / 4 * 3 + 4);
    if (out && profd_b64_decode(d, out, len) == 0) {
        out[*len] = '\0';
        return (char *)out;
    }
    free(out);
    return NULL;
}

static psmsg *msg_from_json(psbus *b, json_object *rm, int64_t due)
{
    json_object *msg, *v;
    if (!json_object_object_get_ex(rm, "ackId", &v) ||
        !json_object_object_get_ex(rm, "message", &msg))
        return NULL;
    psmsg *m = calloc(1, sizeof *m);
    if (!m || !(m->ack_id = strdup(json_object_get_string(v)))) {
        free(m);
        return NULL;
    }
    const char *d = json_object_object_get_ex(msg, "data", &v) ? json_object_get_string(v) : "";
    size_t len = 0;
    m->data = decode_data(d, &len);
    if (!m->data) { /* not base64: hand over the text, the worker rejects it */
        m->data = strdup(d);
        len = strlen(d);
    }
    if (!m->data) {
        msg_free(m);
        return NULL;
    }
    m->m.data = m->data;
    m->m.len = len;
    m->m.topic = b->sub;
    m->m.partition = -1;
    m->m.offset = -1;
    if (json_object_object_get_ex(msg, "publishTime", &v))
        profd_parse_rfc3339(json_object_get_string(v), &m->m.timestamp_ms);
    if (json_object_object_get_ex(msg, "messageId", &v))
        profd_strlcpy(m->m.id, json_object_get_string(v), sizeof m->m.id);
    json_object *attrs, *key;
    if (json_object_object_get_ex(msg, "attributes", &attrs) &&
        json_object_object_get_ex(attrs, "session_id", &key) &&
        json_object_is_type(key, json_type_string) &&
        (size_t)json_object_get_string_len(key) < sizeof m->m.key &&
        strlen(json_object_get_string(key)) == (size_t)json_object_get_string_len(key)) {
        profd_strlcpy(m->m.key, json_object_get_string(key), sizeof m->m.key);
        m->m.has_key = true;
    }
    m->m.handle = m;
    m->due_ms = due;
    return m;
}

/* One pull of at most max messages into the buffer: count, or -1. */
static int pull(psbus *b, int max, profd_error *err)
{
    char path[PS_NAME_MAX + 16], body[96], what[PS_NAME_MAX + 32];
    snprintf(path, sizeof path, "%s:pull", b->sub);
    snprintf(body, sizeof body, "{\"maxMessages\":%d,\"returnImmediately\":true}", max);
    snprintf(what, sizeof what, "pulling from %s", b->sub);
    int64_t due = profd_mono_ms() + (int64_t)b->ack_deadline * 1000;
    profd_gcp_resp r;
    if (bus__ps_http_call(b->http, "POST", path, body, 1, PULL_TIMEOUT_MS, what, &r, err) != 0) {
        profd_gcp_resp_free(&r);
        return -1;
    }
    json_object *o = json_tokener_parse(r.body ? r.body : "{}"), *arr;
    profd_gcp_resp_free(&r);
    int n = 0;
    if (o && json_object_object_get_ex(o, "receivedMessages", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        pthread_mutex_lock(&b->mu);
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            psmsg *m = msg_from_json(b, json_object_array_get_idx(arr, i), due);
            if (!m)
                continue; /* unreadable or no memory: it returns after its deadline */
            link_tail(b, m);
            b->nbuffered++;
            n++;
        }
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    json_object_put(o);
    return n;
}

static void pull_failed(psbus *b, const profd_error *err)
{
    profd_strlcpy(b->err_msg, err->msg, sizeof b->err_msg);
    b->err_seq++;
    pthread_cond_broadcast(&b->cv);
}

static void *puller_main(void *arg)
{
    psbus *b = arg;
    int idle = 0, backoff = 0;
    pthread_mutex_lock(&b->mu);
    while (!b->stopping) {
        if (b->paused && b->nbuffered) {
            psmsg *chain = take_buffered(b);
            pthread_mutex_unlock(&b->mu);
            give_back(b, chain);
            pthread_mutex_lock(&b->mu);
            continue;
        }
        int room = b->max_buffer - b->nbuffered;
        int64_t cool = b->cooldown_until - profd_mono_ms();
        if (b->paused || room <= 0 || cool > 0) {
            wait_ms(b, cool > 0 ? (int)cool : 1000);
            continue;
        }
        pthread_mutex_unlock(&b->mu);
        profd_error err = {0};
        int got = pull(b, room, &err);
        pthread_mutex_lock(&b->mu);
        if (got < 0) {
            pull_failed(b, &err);
            backoff =
                backoff ? (backoff * 2 > ERROR_MAX_MS ? ERROR_MAX_MS : backoff * 2) : ERROR_MIN_MS;
            wait_ms(b, backoff);
            continue;
        }
        backoff = 0;
        if (got > 0) {
            idle = 0;
            continue;
        }
        idle = idle ? (idle * 2 > IDLE_MAX_MS ? IDLE_MAX_MS : idle * 2) : IDLE_MIN_MS;
        wait_ms(b, idle);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- the lease extender ---- */

static void extend_due(psbus *b)
{
    int64_t now = profd_mono_ms();
    int64_t ext = (int64_t)b->ack_deadline * 1000;
    json_object *ids = json_object_new_array();
    pthread_mutex_lock(&b->ext_mu);
    pthread_mutex_lock(&b->mu);
    for (psmsg *m = b->head; m; m = m->next)
        if (m->due_ms - now < ext / 2) {
            json_object_array_add(ids, json_object_new_string(m->ack_id));
            m->due_ms = now + ext;
        }
    pthread_mutex_unlock(&b->mu);
    profd_error err = {0};
    if (json_object_array_length(ids))
        LOG_D(NULL, "pubsub.renew", "%s", json_object_to_json_string(ids));
    if (json_object_array_length(ids) && set_deadline(b, ids, b->ack_deadline, &err) != 0) {
        LOG_W(NULL, "pubsub.extend", "%s; retrying", err.msg);
        /* Messages may be freed meanwhile: touch only those still listed. */
        pthread_mutex_lock(&b->mu);
        for (psmsg *m = b->head; m; m = m->next)
            if (m->due_ms > now + 1000)
                m->due_ms = now + 1000;
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&b->ext_mu);
    json_object_put(ids);
}

static void *extender_main(void *arg)
{
    psbus *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stopping) {
        pthread_mutex_unlock(&b->mu);
        extend_due(b);
        pthread_mutex_lock(&b->mu);
        if (!b->stopping)
            wait_ms(b, EXTEND_TICK_MS);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int bus__ps_consume_start(psbus *b, profd_error *err)
{
    if (pthread_create(&b->puller, NULL, puller_main, b) != 0) {
        profd_error_set(err, NULL, "cannot start the Pub/Sub puller thread");
        return -1;
    }
    if (pthread_create(&b->extender, NULL, extender_main, b) != 0) {
        pthread_mutex_lock(&b->mu);
        b->stopping = true;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->puller, NULL);
        profd_error_set(err, NULL, "cannot start the Pub/Sub lease thread");
        return -1;
    }
    b->started = true;
    return 0;
}

void bus__ps_consume_stop(psbus *b)
{
    if (!b->started)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->puller, NULL);
    pthread_join(b->extender, NULL);
    b->started = false;
    /* Whatever is still here (buffered, or held and never done) goes back now. */
    pthread_mutex_lock(&b->mu);
    psmsg *chain = b->head;
    b->head = b->tail = NULL;
    b->nbuffered = 0;
    pthread_mutex_unlock(&b->mu);
    give_back(b, chain);
}

/* ---- the worker's side ---- */

static bool deadline_reached(int64_t end)
{
    return profd_mono_ms() >= end;
}

int bus__ps_poll(profd_bus *bb, int timeout_ms, profd_msg **out, profd_error *err)
{
    psbus *b = (psbus *)bb;
    *out = NULL;
    if (!b->started) {
        profd_error_set(err, NULL, "this Pub/Sub bus was opened without the consume role");
        return -1;
    }
    int64_t end = profd_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&b->mu);
    for (;;) {
        if (b->err_seq != b->err_seen) {
            b->err_seen = b->err_seq;
            profd_error_set(err, NULL, "%s", b->err_msg);
            pthread_mutex_unlock(&b->mu);
            return -1;
        }
        psmsg *m = b->head;
        while (!b->paused && m && m->delivered)
            m = m->next;
        if (!b->paused && m) {
            m->delivered = true;
            b->nbuffered--;
            pthread_cond_broadcast(&b->cv); /* room for the puller */
            *out = &m->m;
            break;
        }
        if (deadline_reached(end))
            break;
        int64_t left = end - profd_mono_ms();
        wait_ms(b, left > 0 ? (int)left : 0);
    }
    pthread_mutex_unlock(&b->mu);
    return 0;
}

void bus__ps_done(profd_bus *bb, profd_msg *mm, profd_disposition d)
{
    psbus *b = (psbus *)bb;
    if (!mm)
        return;
    psmsg *m = (psmsg *)mm;
    pthread_mutex_lock(&b->mu);
    unlink_msg(b, m);
    pthread_mutex_unlock(&b->mu);
    if (d != PROFD_ACK) {
        if (d == PROFD_NACK) { /* let another consumer's pull win the redelivery */
            pthread_mutex_lock(&b->mu);
            b->cooldown_until = profd_mono_ms() + NACK_COOLDOWN_MS;
            pthread_mutex_unlock(&b->mu);
        }
        give_back(b, m);
        return;
    }
    json_object *body = json_object_new_object(), *ids = json_object_new_array();
    json_object_array_add(ids, json_object_new_string(m->ack_id));
    json_object_object_add(body, "ackIds", ids);
    char path[PS_NAME_MAX + 16], what[PS_NAME_MAX + 32];
    snprintf(path, sizeof path, "%s:acknowledge", b->sub);
    snprintf(what, sizeof what, "acknowledging message %s", m->m.id);
    profd_gcp_resp r;
    profd_error err = {0};
    if (bus__ps_http_call(b->http, "POST", path, json_object_to_json_string(body), 3, 5000, what,
                          &r, &err) != 0)
        LOG_W(NULL, "pubsub.ack", "%s; it will be redelivered and found already recorded", err.msg);
    profd_gcp_resp_free(&r);
    json_object_put(body);
    msg_free(m);
}

int bus__ps_extend(profd_bus *bb, profd_msg *mm, int seconds)
{
    psbus *b = (psbus *)bb;
    psmsg *m = (psmsg *)mm;
    if (!m || seconds <= 0)
        return 0;
    if (seconds > 600)
        seconds = 600; /* Pub/Sub's maximum */
    int64_t want = profd_mono_ms() + (int64_t)seconds * 1000;
    pthread_mutex_lock(&b->mu);
    bool longer = want > m->due_ms; /* extend never shortens a deadline */
    pthread_mutex_unlock(&b->mu);
    if (!longer)
        return 0;
    json_object *ids = json_object_new_array();
    json_object_array_add(ids, json_object_new_string(m->ack_id));
    profd_error err = {0};
    pthread_mutex_lock(&b->ext_mu);
    int rc = set_deadline(b, ids, seconds, &err);
    if (rc == 0) {
        pthread_mutex_lock(&b->mu);
        if (want > m->due_ms)
            m->due_ms = want;
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&b->ext_mu);
    json_object_put(ids);
    if (rc != 0)
        LOG_W(NULL, "pubsub.extend", "%s", err.msg);
    return rc;
}

static void set_paused(psbus *b, bool paused)
{
    pthread_mutex_lock(&b->mu);
    b->paused = paused;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void bus__ps_pause(profd_bus *bb)
{
    set_paused((psbus *)bb, true);
}

void bus__ps_resume(profd_bus *bb)
{
    set_paused((psbus *)bb, false);
}
