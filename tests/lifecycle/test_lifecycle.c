/* test_lifecycle.c - profd_session_enqueue, the session links and the storage
 * layout, over the memory store and the memory bus.
 *
 * These pin the behaviour that three copies (API start, alert intake,
 * `profd submit`) now share: in particular that a session id recorded already
 * is neither published nor announced again (submit used to re-publish it),
 * and that a link the blob store cannot make is "" with no error (the worker
 * used to skip the check the API made). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profd/lifecycle.h"

static profd_config cfg;

static void request(profd_request *r, const char *id)
{
    profd_request_init(r);
    profd_strlcpy(r->session_id, id, sizeof r->session_id);
    profd_strlcpy(r->service_name, "web", sizeof r->service_name);
    profd_strlcpy(r->trigger, "api", sizeof r->trigger);
}

static int count(profd_topic t)
{
    return profd_bus_memory_count(t);
}

static void enqueue_records_publishes_announces(void **state)
{
    (void)state;
    profd_bus_memory_reset();
    profd_store *st = profd_store_memory_open(3600);
    profd_error err = {0};
    profd_bus *b = profd_bus_memory_open(&cfg, PROFD_BUS_PRODUCE, &err);
    profd_request r;
    profd_session s;
    request(&r, "11111111-1111-4111-8111-111111111111");
    assert_int_equal(profd_session_enqueue(st, b, &r, 0, &s, &err), PROFD_ENQUEUED);
    profd_session_free(&s);
    assert_int_equal(count(PROFD_TOPIC_REQUESTS), 1);
    assert_int_equal(count(PROFD_TOPIC_EVENTS), 1);
    char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 0);
    assert_non_null(strstr(ev, "\"session.queued\""));
    free(ev);
    profd_session got;
    assert_int_equal(st->ops->get(st, r.session_id, &got, &err), PROFD_LOOKUP_FOUND);
    assert_int_equal(got.status, PROFD_QUEUED);
    profd_session_free(&got);

    /* The same id again (a retried submit, an idempotent API retry, a
     * redelivered alert): nothing is published or announced. */
    assert_int_equal(profd_session_enqueue(st, b, &r, 0, &s, &err), PROFD_ENQUEUE_EXISTS);
    profd_session_free(&s);
    assert_int_equal(count(PROFD_TOPIC_REQUESTS), 1);
    assert_int_equal(count(PROFD_TOPIC_EVENTS), 1);

    /* Without a store: published, not announced (there is no record). */
    request(&r, "22222222-2222-4222-8222-222222222222");
    assert_int_equal(profd_session_enqueue(NULL, b, &r, 0, &s, &err), PROFD_ENQUEUED);
    profd_session_free(&s);
    assert_int_equal(count(PROFD_TOPIC_REQUESTS), 2);
    assert_int_equal(count(PROFD_TOPIC_EVENTS), 1);
    profd_request_free(&r);
    b->ops->close(b);
    st->ops->close(st);
}

static void enqueue_bus_error_fails_the_record(void **state)
{
    (void)state;
    profd_bus_memory_reset();
    profd_store *st = profd_store_memory_open(3600);
    profd_error err = {0};
    /* A bus without the produce role refuses every publish. */
    profd_bus *b = profd_bus_memory_open(&cfg, PROFD_BUS_CONSUME, &err);
    profd_request r;
    profd_session s;
    request(&r, "33333333-3333-4333-8333-333333333333");
    assert_int_equal(profd_session_enqueue(st, b, &r, 0, &s, &err), PROFD_ENQUEUE_BUS_ERROR);
    profd_session_free(&s);
    profd_session got;
    assert_int_equal(st->ops->get(st, r.session_id, &got, &err), PROFD_LOOKUP_FOUND);
    assert_int_equal(got.status, PROFD_FAILED);
    assert_string_equal(got.error_code, PROFD_E_UNROUTABLE);
    assert_non_null(strstr(got.error_message, "could not be published"));
    profd_session_free(&got);
    assert_int_equal(count(PROFD_TOPIC_EVENTS), 0);
    profd_request_free(&r);
    b->ops->close(b);
    st->ops->close(st);
}

/* A memory bus whose flush never completes: a request not delivered in time. */
typedef struct slow_bus {
    profd_bus base;
    profd_bus *inner;
    profd_bus_ops ops;
} slow_bus;

static int slow_publish(profd_bus *b, profd_topic t, const char *key, const char *data, size_t len,
                        const profd_header *h, size_t nh, profd_error *err)
{
    profd_bus *in = ((slow_bus *)b)->inner;
    return in->ops->publish(in, t, key, data, len, h, nh, err);
}

static int never_flushed(profd_bus *b, int timeout_ms)
{
    (void)b;
    (void)timeout_ms;
    return -1;
}

static void enqueue_flush_timeout_is_a_bus_error(void **state)
{
    (void)state;
    profd_bus_memory_reset();
    profd_store *st = profd_store_memory_open(3600);
    profd_error err = {0};
    slow_bus sb = {0};
    sb.inner = profd_bus_memory_open(&cfg, PROFD_BUS_PRODUCE, &err);
    sb.ops.publish = slow_publish;
    sb.ops.flush = never_flushed;
    sb.base.ops = &sb.ops;
    profd_request r;
    profd_session s;
    request(&r, "44444444-4444-4444-8444-444444444444");
    assert_int_equal(profd_session_enqueue(st, &sb.base, &r, 1000, &s, &err),
                     PROFD_ENQUEUE_BUS_ERROR);
    assert_non_null(strstr(err.msg, "not delivered"));
    profd_session_free(&s);
    profd_session got;
    assert_int_equal(st->ops->get(st, r.session_id, &got, &err), PROFD_LOOKUP_FOUND);
    assert_int_equal(got.status, PROFD_FAILED);
    profd_session_free(&got);
    profd_request_free(&r);
    sb.inner->ops->close(sb.inner);
    st->ops->close(st);
}

/* A blob store that links "sessions/ok/..." and fails everything else. */
static int picky_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t len,
                      profd_error *err)
{
    (void)b;
    if (strncmp(object, "sessions/ok/", 12) != 0) {
        profd_error_set(err, NULL, "cannot sign");
        return -1;
    }
    snprintf(out, len, "https://example.test/%s?ttl=%d", object, ttl_s);
    return 0;
}

static void links_fill_or_empty(void **state)
{
    (void)state;
    profd_blob_ops ops = {.link = picky_link};
    profd_blob b = {&ops};
    profd_session s;
    profd_session_init(&s);
    profd_strlcpy(s.flame_graph_object, "sessions/ok/flamegraph.html", sizeof s.flame_graph_object);
    profd_strlcpy(s.raw_data_object, "sessions/bad/profile.json", sizeof s.raw_data_object);
    profd_strlcpy(s.raw_data_url, "stale", sizeof s.raw_data_url);
    profd_session_links(&b, 60, &s);
    assert_string_equal(s.flame_graph_url,
                        "https://example.test/sessions/ok/flamegraph.html?ttl=60");
    assert_string_equal(s.raw_data_url, ""); /* failed: empty, never stale */
    profd_session_links(NULL, 60, &s);       /* no blob store: no links */
    assert_string_equal(s.flame_graph_url, "");
    s.flame_graph_object[0] = '\0';
    profd_session_links(&b, 60, &s); /* no object: no link */
    assert_string_equal(s.flame_graph_url, "");
    profd_session_free(&s);
}

static void layout_names(void **state)
{
    (void)state;
    const char *id = "55555555-5555-4555-8555-555555555555";
    char name[256], back[PROFD_UUID_LEN + 1];
    assert_int_equal(PROFD_ARTIFACTS, 3);
    assert_string_equal(profd_artifacts[PROFD_ART_STACKS].file, "stacks.txt");
    assert_int_equal(profd_artifacts[PROFD_ART_FLAMEGRAPH].format, PROFD_FMT_HTML);
    assert_int_equal(profd_session_object(id, "stacks.txt", name, sizeof name), 0);
    assert_string_equal(name, "sessions/55555555-5555-4555-8555-555555555555/stacks.txt");
    assert_true(profd_session_object_id(name, back));
    assert_string_equal(back, id);
    assert_false(profd_session_object_id("sessions/short/stacks.txt", back));
    assert_false(profd_session_object_id("other/x", back));
    char tiny[16];
    assert_int_equal(profd_session_object(id, "stacks.txt", tiny, sizeof tiny), -1);
    assert_string_equal(tiny, "");
    profd_session s;
    profd_session_init(&s);
    assert_ptr_equal(profd_session_artifact_object(&s, PROFD_ART_STACKS), s.stacks_object);
    assert_ptr_equal(profd_session_artifact_object(&s, PROFD_ART_PROFILE), s.raw_data_object);
    assert_ptr_equal(profd_session_artifact_object(&s, PROFD_ART_FLAMEGRAPH), s.flame_graph_object);
}

int main(void)
{
    setenv("PROFD_LOG_LEVEL", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enqueue_records_publishes_announces),
        cmocka_unit_test(enqueue_bus_error_fails_the_record),
        cmocka_unit_test(enqueue_flush_timeout_is_a_bus_error),
        cmocka_unit_test(links_fill_or_empty),
        cmocka_unit_test(layout_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
