/* test_worker.c - the worker over the memory bus and store, the file blob
 * store and the py-spy stand-in: intake, DLQ, duplicates, the sweeper's
 * worker_lost and unroutable paths, and the root rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/store.h"
#include "profd/worker.h"
#include "support/worker_env.h"

typedef worker_env env;

static int setup(void **state)
{
    setenv("PROFD_REQUEST_TTL", "5", 1);
    *state = worker_env_start("/tmp/profd-wtest.XXXXXX");
    return 0;
}

static int teardown(void **state)
{
    worker_env_stop(*state);
    return 0;
}

static void send(env *e, const char *json)
{
    profd_error err = {0};
    assert_int_equal(
        e->bus->ops->publish(e->bus, PROFD_TOPIC_REQUESTS, NULL, json, strlen(json), NULL, 0, &err),
        0);
}

/* Wait until the session reaches status (or 20 s pass); returns its record. */
static profd_session wait_status(env *e, const char *id, profd_status want)
{
    profd_session s;
    profd_error err = {0};
    for (int i = 0; i < 200; i++) {
        if (e->store->ops->get(e->store, id, &s, &err) == 1) {
            if (s.status == want)
                return s;
            profd_session_free(&s);
        }
        usleep(100 * 1000);
    }
    fail_msg("session %s never reached %s", id, profd_status_name(want));
    return s;
}

static void test_completes(void **state)
{
    env *e = *state;
    const char *id = "0b4f3c2e-1111-4aaa-8bbb-000000000001";
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"session_id\":\"%s\",\"service_name\":\"web-api\",\"duration_seconds\":1}", id);
    send(e, msg);
    profd_session s = wait_status(e, id, PROFD_COMPLETED);
    assert_string_equal(s.host, "node-1");
    assert_int_equal(s.pid, e->target);
    assert_int_equal(s.attempt, 1);
    assert_true(s.sample_count > 0);
    assert_string_equal(s.flame_graph_object,
                        "sessions/0b4f3c2e-1111-4aaa-8bbb-000000000001/flamegraph.html");
    profd_session_free(&s);
    char path[600];
    snprintf(path, sizeof path, "%s/blobs/sessions/%s/stacks.txt", e->dir, id);
    assert_int_equal(access(path, R_OK), 0);
    /* started then completed, keyed by session id */
    int n = profd_bus_memory_count(PROFD_TOPIC_EVENTS);
    assert_int_equal(n, 2);
    char *first = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 0);
    char *second = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 1);
    char *key = profd_bus_memory_key(PROFD_TOPIC_EVENTS, 1);
    assert_non_null(strstr(first, "\"session.started\""));
    assert_non_null(strstr(second, "\"session.completed\""));
    assert_string_equal(key, id);
    free(first);
    free(second);
    free(key);
}

static void test_invalid_goes_to_dlq(void **state)
{
    env *e = *state;
    const char *id = "0b4f3c2e-1111-4aaa-8bbb-000000000002";
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"session_id\":\"%s\",\"service_name\":\"../etc\",\"duration_seconds\":1}", id);
    send(e, msg);
    send(e, "{not json");
    for (int i = 0; i < 100 && profd_bus_memory_count(PROFD_TOPIC_DLQ) < 2; i++)
        usleep(50 * 1000);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_DLQ), 2);
    char *code = profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "profd-error-code");
    char *why = profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "profd-error");
    assert_string_equal(code, "invalid_request");
    assert_non_null(strstr(why, "service_name"));
    free(code);
    free(why);
    /* the named session gets a failed event; no record is created */
    profd_session s;
    profd_error err = {0};
    assert_int_equal(e->store->ops->get(e->store, id, &s, &err), 0);
    char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 0);
    assert_non_null(ev);
    assert_non_null(strstr(ev, "session.failed"));
    free(ev);
}

static void test_duplicate_runs_once(void **state)
{
    env *e = *state;
    const char *id = "0b4f3c2e-1111-4aaa-8bbb-000000000003";
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"session_id\":\"%s\",\"service_name\":\"web-api\",\"duration_seconds\":1}", id);
    send(e, msg);
    send(e, msg);
    profd_session s = wait_status(e, id, PROFD_COMPLETED);
    profd_session_free(&s);
    send(e, msg);
    usleep(1500 * 1000);
    int completed = 0;
    for (int i = 0; i < profd_bus_memory_count(PROFD_TOPIC_EVENTS); i++) {
        char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, i);
        completed += strstr(ev, "session.completed") != NULL;
        free(ev);
    }
    assert_int_equal(completed, 1);
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/standin.log", e->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int runs = 0;
    while (fgets(line, sizeof line, f))
        runs += strstr(line, "record") != NULL;
    fclose(f);
    assert_int_equal(runs, 1);
}

/* A running session whose lease expired, on a host nobody serves, after its
 * last attempt: the sweeper fails it as worker_lost. */
static void test_lost_session_fails(void **state)
{
    env *e = *state;
    profd_session s;
    profd_error err = {0};
    profd_session_init(&s);
    strcpy(s.session_id, "0b4f3c2e-1111-4aaa-8bbb-000000000004");
    strcpy(s.service_name, "web-api");
    strcpy(s.host, "node-gone");
    strcpy(s.target_host, "node-gone");
    s.duration_seconds = 1;
    s.sample_rate_hz = 100;
    s.created_at = s.started_at = profd_now_ms() - 60000;
    s.attempt = e->cfg.max_attempts;
    assert_int_equal(e->store->ops->create(e->store, &s, &err), 1);
    s.status = PROFD_RUNNING;
    assert_int_equal(e->store->ops->put(e->store, &s, &err), 0);
    assert_int_equal(e->store->ops->lease(e->store, s.session_id, profd_now_ms() - 1000, &err), 0);
    profd_session got = wait_status(e, s.session_id, PROFD_FAILED);
    assert_string_equal(got.error_code, "worker_lost");
    profd_session_free(&got);
    profd_session_free(&s);
}

/* A queued session nobody can serve fails as unroutable after PROFD_REQUEST_TTL. */
static void test_unroutable(void **state)
{
    env *e = *state;
    const char *id = "0b4f3c2e-1111-4aaa-8bbb-000000000005";
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"session_id\":\"%s\",\"service_name\":\"web-api\",\"duration_seconds\":1,"
             "\"pid\":%d,\"host\":\"node-elsewhere\"}",
             id, (int)e->target);
    int64_t sent = profd_now_ms();
    send(e, msg);
    profd_session s = wait_status(e, id, PROFD_FAILED);
    assert_string_equal(s.error_code, "unroutable");
    assert_true(profd_now_ms() - sent >= 5000); /* PROFD_REQUEST_TTL */
    profd_session_free(&s);
}

static void test_root_needs_targets(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    profd_config cfg;
    profd_error err = {0};
    unsetenv("PROFD_TARGETS");
    setenv("PROFD_BUS", "memory", 1);
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    profd_bus *bus = profd_bus_open(&cfg, PROFD_BUS_CONSUME, &err);
    profd_store *st = profd_store_memory_open(60);
    profd_worker *w = profd_worker_new(&cfg, bus, st, NULL, &err);
    assert_null(w);
    assert_non_null(strstr(err.msg, "PROFD_ALLOW_ANY_PID=1"));
    bus->ops->close(bus);
    st->ops->close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_goes_to_dlq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_runs_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_session_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unroutable, setup, teardown),
        cmocka_unit_test(test_root_needs_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
