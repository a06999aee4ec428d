/* test_pubsub_transport.c - the Pub/Sub transport against Google's emulator.
 *
 * Run by transport.sh, which starts the emulator and exports
 * PUBSUB_EMULATOR_HOST; without it every test skips. Each test makes its own
 * topic and subscription (ack deadline 10 s, the minimum) through the
 * transport's own REST helper, and drives real buses through the vtable:
 * several buses on one subscription behave like several workers. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pubsub_internal.h"
#include "profd/bus.h"
#include "profd/config.h"
#include "profd/log.h"

static ps_http *admin;
static profd_gcp *admin_gcp;
static int serial;

static int setup(void **state)
{
    (void)state;
    const char *emu = getenv("PUBSUB_EMULATOR_HOST");
    if (!emu || !emu[0])
        return 0;
    char api[300];
    snprintf(api, sizeof api, "http://%s/v1", emu);
    profd_gcp_opts ao = {.no_auth = true};
    profd_error err;
    admin_gcp = profd_gcp_new(&ao, &err);
    admin = admin_gcp ? bus__ps_http_new(api, admin_gcp, &err) : NULL;
    return admin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bus__ps_http_free(admin);
    profd_gcp_free(admin_gcp);
    return 0;
}

static void need_emulator(void)
{
    if (!admin) {
        print_message("SKIP: PUBSUB_EMULATOR_HOST is not set (transport.sh starts the emulator)\n");
        skip();
    }
}

static void rest(const char *method, const char *path, const char *body, profd_gcp_resp *r)
{
    profd_error err = {0};
    int rc = bus__ps_http_call(admin, method, path, body, 3, 5000, path, r, &err);
    if (rc != 0)
        fail_msg("%s", err.msg);
}

/* A fresh topic "tN" (requests), "tN-events" and subscription "sN" of tN. */
typedef struct names {
    char topic[64], events[64], dlq[64], sub[64], dlq_sub[64];
} names;

static void make_names(names *n)
{
    const char *p = getenv("GOOGLE_CLOUD_PROJECT");
    char path[256], body[256];
    profd_gcp_resp r;
    serial++;
    snprintf(n->topic, sizeof n->topic, "req-%d-%d", (int)getpid(), serial);
    snprintf(n->events, sizeof n->events, "ev-%d-%d", (int)getpid(), serial);
    snprintf(n->dlq, sizeof n->dlq, "dlq-%d-%d", (int)getpid(), serial);
    snprintf(n->sub, sizeof n->sub, "sub-%d-%d", (int)getpid(), serial);
    snprintf(n->dlq_sub, sizeof n->dlq_sub, "dlqsub-%d-%d", (int)getpid(), serial);
    const char *topics[] = {n->topic, n->events, n->dlq};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "projects/%s/topics/%s", p, topics[i]);
        rest("PUT", path, "{}", &r);
        profd_gcp_resp_free(&r);
    }
    const char *subs[][2] = {{n->sub, n->topic}, {n->dlq_sub, n->dlq}};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "projects/%s/subscriptions/%s", p, subs[i][0]);
        snprintf(body, sizeof body,
                 "{\"topic\":\"projects/%s/topics/%s\",\"ackDeadlineSeconds\":10}", p, subs[i][1]);
        rest("PUT", path, body, &r);
        profd_gcp_resp_free(&r);
    }
}

static void config_for(profd_config *c, const names *n, int max_concurrent)
{
    profd_error err;
    setenv("PROFD_BUS", "pubsub", 1);
    assert_int_equal(profd_config_load(c, &err), 0);
    profd_strlcpy(c->request_topic, n->topic, sizeof c->request_topic);
    profd_strlcpy(c->pubsub_event_topic, n->events, sizeof c->pubsub_event_topic);
    profd_strlcpy(c->dlq_topic, n->dlq, sizeof c->dlq_topic);
    profd_strlcpy(c->pubsub_subscription, n->sub, sizeof c->pubsub_subscription);
    c->max_concurrent = max_concurrent;
}

/* Skip without the emulator; else fresh names and a config for them. */
static void fresh_config(names *n, profd_config *c, int max_concurrent)
{
    need_emulator();
    make_names(n);
    config_for(c, n, max_concurrent);
}

static profd_bus *open_bus(const profd_config *c, int roles)
{
    profd_error err = {0};
    profd_bus *b = profd_bus_open(c, roles, &err);
    if (!b)
        fail_msg("open: %s", err.msg);
    return b;
}

static void publish(profd_bus *b, const char *text)
{
    profd_error err = {0};
    if (b->ops->publish(b, PROFD_TOPIC_REQUESTS, NULL, text, strlen(text), NULL, 0, &err) != 0)
        fail_msg("publish: %s", err.msg);
}

/* Poll up to ms; NULL when nothing came. */
static profd_msg *poll_for(profd_bus *b, int ms)
{
    int64_t end = profd_mono_ms() + ms;
    profd_error err = {0};
    do {
        profd_msg *m = NULL;
        if (b->ops->poll(b, 100, &m, &err) != 0)
            fail_msg("poll: %s", err.msg);
        if (m)
            return m;
    } while (profd_mono_ms() < end);
    return NULL;
}

/* Poll up to 5 s; fail when nothing came. */
static profd_msg *expect_message(profd_bus *b)
{
    profd_msg *m = poll_for(b, 5000);
    assert_non_null(m);
    return m;
}

/* Poll and ACK everything that arrives within ms; the count. */
static int drain(profd_bus *b, int ms)
{
    int n = 0;
    int64_t end = profd_mono_ms() + ms;
    while (profd_mono_ms() < end) {
        profd_msg *m = poll_for(b, 100);
        if (m) {
            b->ops->done(b, m, PROFD_ACK);
            n++;
        }
    }
    return n;
}

/* The string attribute key of a pulled message is want. */
static void expect_attribute(json_object *attrs, const char *key, const char *want)
{
    json_object *v;
    assert_true(json_object_object_get_ex(attrs, key, &v));
    assert_string_equal(json_object_get_string(v), want);
}

/* Publish with a key and headers; what arrives has the bytes, the id and the
 * publish time; the key and headers arrive as attributes. */
static void test_round_trip(void **state)
{
    (void)state;
    names n;
    profd_config c;
    fresh_config(&n, &c, 4);
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    profd_error err = {0};
    assert_int_equal(b->ops->ping(b, &err), 0);
    const char body[] = "{\"x\":\"\xc3\xa9\\u0000 binary-safe\"}";
    int64_t before = profd_now_ms();
    publish(b, body);
    profd_msg *m = expect_message(b);
    assert_int_equal(m->len, strlen(body));
    assert_memory_equal(m->data, body, m->len);
    assert_true(m->id[0] != '\0');
    assert_int_equal(m->partition, -1);
    assert_int_equal(m->offset, -1);
    assert_true(m->timestamp_ms >= before - 2000 && m->timestamp_ms <= profd_now_ms() + 2000);
    assert_non_null(strstr(m->topic, n.sub));
    b->ops->done(b, m, PROFD_ACK);

    profd_header h[] = {{"profd-error-code", "invalid_request"}, {"profd-error", "bad json"}};
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_DLQ, "0b7e2f4a-1111-4c1d-9e57-3f2a1b0c9d8e",
                                     "{", 1, h, 2, &err),
                     0);
    char path[256];
    snprintf(path, sizeof path, "projects/%s/subscriptions/%s:pull", getenv("GOOGLE_CLOUD_PROJECT"),
             n.dlq_sub);
    profd_gcp_resp r;
    rest("POST", path, "{\"maxMessages\":1,\"returnImmediately\":false}", &r);
    json_object *o = json_tokener_parse(r.body), *rm, *msg, *attrs;
    profd_gcp_resp_free(&r);
    assert_true(json_object_object_get_ex(o, "receivedMessages", &rm));
    assert_true(json_object_object_get_ex(json_object_array_get_idx(rm, 0), "message", &msg));
    assert_true(json_object_object_get_ex(msg, "attributes", &attrs));
    expect_attribute(attrs, "profd-error-code", "invalid_request");
    expect_attribute(attrs, "profd-error", "bad json");
    expect_attribute(attrs, "session_id", "0b7e2f4a-1111-4c1d-9e57-3f2a1b0c9d8e");
    json_object_put(o);
    b->ops->close(b);
}

/* ACKed stays gone; a held message outlives its 10 s ack deadline because
 * the extender renews it; a NACK hands it to another consumer at once. */
static void test_ack_extend_nack(void **state)
{
    (void)state;
    names n;
    profd_config c;
    fresh_config(&n, &c, 4);
    profd_bus *a = open_bus(&c, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    publish(a, "one");
    publish(a, "two");
    profd_msg *m1 = expect_message(a), *m2 = expect_message(a);
    assert_int_equal(a->ops->extend(a, m2, 5), 0); /* shorter than held: a no-op, still 0 */
    char id2[128];
    profd_strlcpy(id2, m2->id, sizeof id2);
    a->ops->done(a, m1, PROFD_ACK);
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    int64_t t0 = profd_mono_ms();
    int stolen = drain(b, 14000); /* past the 10 s deadline */
    assert_int_equal(stolen, 0);
    assert_true(profd_mono_ms() - t0 >= 14000);
    a->ops->pause(a); /* else a's own puller may take it back: it is a consumer too */
    a->ops->done(a, m2, PROFD_NACK);
    t0 = profd_mono_ms();
    profd_msg *again = expect_message(b);
    assert_true(profd_mono_ms() - t0 < 3000); /* at once, not after a deadline */
    assert_string_equal(again->id, id2);
    assert_memory_equal(again->data, "two", 3);
    b->ops->done(b, again, PROFD_ACK);
    b->ops->close(b);
    a->ops->close(a);
}

/* A paused bus delivers nothing and gives its buffer back; others get it all. */
static void test_pause(void **state)
{
    (void)state;
    names n;
    profd_config c;
    fresh_config(&n, &c, 4);
    profd_bus *a = open_bus(&c, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    publish(a, "warm-up");
    profd_msg *m = expect_message(a);
    a->ops->done(a, m, PROFD_ACK);
    a->ops->pause(a);
    for (int i = 0; i < 3; i++)
        publish(a, "while-paused");
    assert_null(poll_for(a, 1500));
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    assert_int_equal(drain(b, 3000), 3);
    b->ops->close(b);
    a->ops->resume(a);
    publish(a, "after");
    m = expect_message(a);
    assert_memory_equal(m->data, "after", 5);
    a->ops->done(a, m, PROFD_ACK);
    a->ops->close(a);
}

/* With PROFD_MAX_CONCURRENT=2 a bus holds at most 2 buffered + what the
 * worker holds: of 10 messages, a second consumer gets exactly the other 7. */
static void test_flow_control(void **state)
{
    (void)state;
    names n;
    profd_config c, big;
    fresh_config(&n, &c, 2);
    config_for(&big, &n, 50);
    profd_bus *a = open_bus(&c, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    for (int i = 0; i < 10; i++)
        publish(a, "job");
    profd_msg *held = expect_message(a);
    usleep(1500 * 1000); /* let a refill its buffer */
    profd_bus *b = open_bus(&big, PROFD_BUS_CONSUME);
    assert_int_equal(drain(b, 4000), 7);
    assert_int_equal(drain(a, 1000), 2);
    a->ops->done(a, held, PROFD_ACK);
    assert_int_equal(drain(b, 1000), 0);
    b->ops->close(b);
    a->ops->close(a);
}

/* Missing resources are one clear error each. */
static void test_errors(void **state)
{
    (void)state;
    names n;
    profd_config c;
    fresh_config(&n, &c, 4);
    profd_strlcpy(c.pubsub_subscription, "no-such-sub", sizeof c.pubsub_subscription);
    profd_error err = {0};
    assert_null(profd_bus_open(&c, PROFD_BUS_CONSUME, &err));
    assert_non_null(strstr(err.msg, "PROFD_PUBSUB_SUBSCRIPTION"));
    assert_non_null(strstr(err.msg, "404"));
    profd_strlcpy(c.request_topic, "no-such-topic", sizeof c.request_topic);
    profd_bus *p = open_bus(&c, PROFD_BUS_PRODUCE);
    assert_int_not_equal(p->ops->ping(p, &err), 0);
    assert_int_not_equal(p->ops->publish(p, PROFD_TOPIC_REQUESTS, NULL, "x", 1, NULL, 0, &err), 0);
    assert_non_null(strstr(err.msg, "no-such-topic"));
    assert_non_null(strstr(err.msg, "HTTP 404"));
    p->ops->close(p);
    profd_strlcpy(c.request_topic, "x", sizeof c.request_topic);
    assert_null(profd_bus_open(&c, PROFD_BUS_PRODUCE, &err));
    assert_non_null(strstr(err.msg, "PROFD_REQUEST_TOPIC"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_pause),           cmocka_unit_test(test_flow_control),
        cmocka_unit_test(test_ack_extend_nack),
    };
    profd_log_init();
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
