/* test_memory.c - the in-process bus: delivery, NACK/RELEASE requeue, pause and
 * resume, inspection helpers, roles, reset and many threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/bus.h"

static profd_config cfg;

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.bus, "memory");
    strcpy(cfg.request_topic, "profiling.requests");
    profd_bus_memory_reset();
    return 0;
}

static profd_bus *open_bus(int roles)
{
    profd_error err = {0};
    profd_bus *b = profd_bus_open(&cfg, roles, &err);
    assert_non_null(b);
    return b;
}

static void publish(profd_bus *b, profd_topic t, const char *key, const char *data)
{
    profd_error err = {0};
    assert_int_equal(b->ops->publish(b, t, key, data, strlen(data), NULL, 0, &err), 0);
}

static profd_msg *poll_one(profd_bus *b, int timeout_ms)
{
    profd_msg *m = NULL;
    profd_error err = {0};
    assert_int_equal(b->ops->poll(b, timeout_ms, &m, &err), 0);
    return m;
}

static void expect_data(profd_msg *m, const char *data)
{
    assert_non_null(m);
    assert_int_equal(m->len, strlen(data));
    assert_memory_equal(m->data, data, m->len);
}

static void test_publish_poll_ack(void **state)
{
    (void)state;
    profd_bus *b = open_bus(PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    publish(b, PROFD_TOPIC_REQUESTS, "k1", "one");
    publish(b, PROFD_TOPIC_REQUESTS, "k2", "two");
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 2);
    assert_int_equal(profd_bus_memory_pending(), 2);

    profd_msg *a = poll_one(b, 100), *c = poll_one(b, 100);
    expect_data(a, "one");
    expect_data(c, "two");
    assert_string_equal(a->topic, "profiling.requests");
    assert_int_equal(a->partition, 0);
    assert_true(c->offset == a->offset + 1);
    char id[64];
    snprintf(id, sizeof id, "memory/0/%lld", (long long)a->offset);
    assert_string_equal(a->id, id);
    assert_true(a->timestamp_ms > 1700000000000LL);
    b->ops->done(b, a, PROFD_ACK);
    b->ops->done(b, c, PROFD_ACK);
    assert_int_equal(profd_bus_memory_pending(), 0);
    /* still logged for inspection */
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 2);

    int64_t t0 = profd_mono_ms();
    assert_null(poll_one(b, 150));
    int64_t waited = profd_mono_ms() - t0;
    assert_true(waited >= 140 && waited < 1000);
    b->ops->close(b);
}

static void test_events_headers_inspection(void **state)
{
    (void)state;
    profd_bus *b = open_bus(PROFD_BUS_PRODUCE);
    profd_header h[] = {{"type", "session.started"}, {"x-reason", "because"}};
    profd_error err = {0};
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_EVENTS, "sess-1", "{\"a\":1}", 7, h, 2, &err),
                     0);
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_DLQ, NULL, "bad", 3, h + 1, 1, &err), 0);
    assert_int_equal(b->ops->flush(b, 1000), 0);
    assert_int_equal(b->ops->ping(b, &err), 0);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_EVENTS), 1);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_DLQ), 1);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);
    assert_int_equal(profd_bus_memory_pending(), 0); /* events are not consumable */

    char *s = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 0);
    assert_string_equal(s, "{\"a\":1}");
    free(s);
    s = profd_bus_memory_key(PROFD_TOPIC_EVENTS, 0);
    assert_string_equal(s, "sess-1");
    free(s);
    s = profd_bus_memory_header(PROFD_TOPIC_EVENTS, 0, "type");
    assert_string_equal(s, "session.started");
    free(s);
    s = profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "x-reason");
    assert_string_equal(s, "because");
    free(s);
    assert_null(profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "type"));
    assert_null(profd_bus_memory_key(PROFD_TOPIC_DLQ, 0));
    assert_null(profd_bus_memory_get(PROFD_TOPIC_EVENTS, 1));
    assert_null(profd_bus_memory_get(PROFD_TOPIC_EVENTS, -1));
    b->ops->close(b);
}

static void test_nack_and_release_requeue_at_back(void **state)
{
    (void)state;
    profd_bus *b1 = open_bus(PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    profd_bus *b2 = open_bus(PROFD_BUS_CONSUME);
    publish(b1, PROFD_TOPIC_REQUESTS, NULL, "A");
    publish(b1, PROFD_TOPIC_REQUESTS, NULL, "B");
    profd_msg *a = poll_one(b1, 100);
    expect_data(a, "A");
    char id[128];
    strcpy(id, a->id);
    b1->ops->done(b1, a, PROFD_NACK);
    expect_data(a = poll_one(b2, 100), "B"); /* A went to the back */
    b2->ops->done(b2, a, PROFD_RELEASE);
    expect_data(a = poll_one(b1, 100), "B"); /* a released message is due at once */
    b1->ops->done(b1, a, PROFD_ACK);
    assert_null(poll_one(b2, 300));        /* a NACKed one waits about a second */
    profd_msg *again = poll_one(b2, 1500); /* then another consumer takes A */
    expect_data(again, "A");
    assert_string_equal(again->id, id); /* same delivery id */
    b2->ops->done(b2, again, PROFD_ACK);
    assert_null(poll_one(b1, 20));
    b1->ops->close(b1);
    b2->ops->close(b2);
}

static void test_pause_resume(void **state)
{
    (void)state;
    profd_bus *b = open_bus(PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    profd_bus *other = open_bus(PROFD_BUS_CONSUME);
    b->ops->pause(b);
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "x");
    assert_null(poll_one(b, 100)); /* paused: nothing, even though one waits */
    assert_int_equal(profd_bus_memory_pending(), 1);
    b->ops->resume(b);
    profd_msg *m = poll_one(b, 100);
    expect_data(m, "x");
    b->ops->done(b, m, PROFD_ACK);
    /* pausing one bus does not stop another */
    b->ops->pause(b);
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "y");
    expect_data(m = poll_one(other, 100), "y");
    other->ops->done(other, m, PROFD_ACK);
    b->ops->close(b);
    other->ops->close(other);
}

typedef struct waiter {
    profd_bus *b;
    int timeout;
    profd_msg *got;
    int64_t at;
} waiter;

static void *wait_poll(void *arg)
{
    waiter *w = arg;
    profd_error err = {0};
    w->b->ops->poll(w->b, w->timeout, &w->got, &err);
    w->at = profd_mono_ms();
    return NULL;
}

/* A poller blocked on a paused bus wakes as soon as it is resumed, and one
 * blocked on an empty queue as soon as something is published. */
static void test_poll_wakes_on_resume_and_publish(void **state)
{
    (void)state;
    profd_bus *b = open_bus(PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    b->ops->pause(b);
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "r");
    waiter w = {b, 5000, NULL, 0};
    pthread_t t;
    pthread_create(&t, NULL, wait_poll, &w);
    usleep(100 * 1000);
    int64_t resumed = profd_mono_ms();
    b->ops->resume(b);
    pthread_join(t, NULL);
    expect_data(w.got, "r");
    assert_true(w.at - resumed < 500);
    b->ops->done(b, w.got, PROFD_ACK);

    waiter w2 = {b, 5000, NULL, 0};
    pthread_create(&t, NULL, wait_poll, &w2);
    usleep(100 * 1000);
    int64_t sent = profd_mono_ms();
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "p");
    pthread_join(t, NULL);
    expect_data(w2.got, "p");
    assert_true(w2.at - sent < 500);
    b->ops->done(b, w2.got, PROFD_ACK);
    b->ops->close(b);
}

static void test_roles_enforced(void **state)
{
    (void)state;
    profd_bus *p = open_bus(PROFD_BUS_PRODUCE), *c = open_bus(PROFD_BUS_CONSUME);
    profd_msg *m = NULL;
    profd_error err = {0};
    assert_int_equal(p->ops->poll(p, 10, &m, &err), -1);
    assert_string_equal(err.msg, "this memory bus was opened without the consume role");
    assert_int_equal(c->ops->publish(c, PROFD_TOPIC_EVENTS, NULL, "x", 1, NULL, 0, &err), -1);
    assert_string_equal(err.msg, "this memory bus was opened without the produce role");
    p->ops->close(p);
    c->ops->close(c);
}

static void test_reset_keeps_held_messages_valid(void **state)
{
    (void)state;
    profd_bus *b = open_bus(PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "held");
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "waiting");
    profd_msg *m = poll_one(b, 100);
    int64_t first = m->offset;
    profd_bus_memory_reset();
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);
    assert_int_equal(profd_bus_memory_pending(), 0);
    expect_data(m, "held");
    b->ops->done(b, m, PROFD_NACK); /* from before the reset: dropped */
    assert_null(poll_one(b, 20));
    publish(b, PROFD_TOPIC_REQUESTS, NULL, "new");
    m = poll_one(b, 100);
    assert_true(m->offset > first + 1); /* offsets never rewind: ids stay unique */
    b->ops->done(b, m, PROFD_ACK);
    b->ops->close(b);
}

static void test_open_dispatch(void **state)
{
    (void)state;
    profd_error err = {0};
    strcpy(cfg.bus, "pubsub");
    cfg.gcp_project[0] = '\0';
    strcpy(cfg.pubsub_subscription, "profiling-requests-workers");
    assert_null(profd_bus_open(&cfg, PROFD_BUS_CONSUME, &err)); /* dispatched to pubsub */
    if (!strstr(err.msg, "GOOGLE_CLOUD_PROJECT"))
        fail_msg("unexpected error: %s", err.msg);
    strcpy(cfg.bus, "carrier-pigeon");
    assert_null(profd_bus_open(&cfg, PROFD_BUS_CONSUME, &err));
    assert_string_equal(err.msg, "PROFD_BUS must be kafka, pubsub or memory, not 'carrier-pigeon'");
}

/* Many producers and consumers at once: every message is ACKed exactly once,
 * whatever NACKs happen on the way. */
#define PRODUCERS 4
#define CONSUMERS 3
#define PER_PRODUCER 500
static atomic_int acked[PRODUCERS * PER_PRODUCER];
static atomic_int total_acked;

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    profd_bus *b = open_bus(PROFD_BUS_PRODUCE);
    for (int i = 0; i < PER_PRODUCER; i++) {
        char s[32];
        snprintf(s, sizeof s, "%d", id * PER_PRODUCER + i);
        publish(b, PROFD_TOPIC_REQUESTS, NULL, s);
    }
    b->ops->close(b);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    profd_bus *b = open_bus(PROFD_BUS_CONSUME);
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    int64_t give_up = profd_mono_ms() + 20000;
    while (atomic_load(&total_acked) < PRODUCERS * PER_PRODUCER && profd_mono_ms() < give_up) {
        profd_msg *m = NULL;
        profd_error err = {0};
        if (b->ops->poll(b, 20, &m, &err) != 0 || !m)
            continue;
        if (rand_r(&seed) % 5 == 0) {
            b->ops->done(b, m, PROFD_NACK);
            continue;
        }
        char s[32];
        snprintf(s, sizeof s, "%.*s", (int)m->len, m->data);
        atomic_fetch_add(&acked[atoi(s)], 1);
        atomic_fetch_add(&total_acked, 1);
        b->ops->done(b, m, PROFD_ACK);
    }
    b->ops->close(b);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        pthread_create(&c[i], NULL, consumer, NULL);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), PRODUCERS * PER_PRODUCER);
    assert_int_equal(atomic_load(&total_acked), PRODUCERS * PER_PRODUCER);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++)
        assert_int_equal(atomic_load(&acked[i]), 1);
    assert_int_equal(profd_bus_memory_pending(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_publish_poll_ack, setup),
        cmocka_unit_test_setup(test_events_headers_inspection, setup),
        cmocka_unit_test_setup(test_nack_and_release_requeue_at_back, setup),
        cmocka_unit_test_setup(test_pause_resume, setup),
        cmocka_unit_test_setup(test_poll_wakes_on_resume_and_publish, setup),
        cmocka_unit_test_setup(test_roles_enforced, setup),
        cmocka_unit_test_setup(test_reset_keeps_held_messages_valid, setup),
        cmocka_unit_test_setup(test_open_dispatch, setup),
        cmocka_unit_test_setup(test_threads, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
