/* test_alert_bus.c - type "alert" messages through a real worker on the
 * memory bus and store, with the py-spy stand-in capturing a real Python
 * process: the worker records and publishes a profile request for the alert,
 * runs it like any other (so routing applies), and the session completes with
 * trigger alert and the alert's labels. A second delivery of the same
 * notification is held off by the cooldown, a redelivered message changes
 * nothing, and a payload that is no webhook body goes to the DLQ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/alert.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/log.h"
#include "profd/metrics.h"
#include "profd/store.h"
#include "profd/worker.h"
#include "support/worker_env.h"

typedef worker_env env;

static int setup(void **state)
{
    setenv("PROFD_ALERT_DURATION", "1", 1);
    setenv("PROFD_SHUTDOWN_GRACE", "2", 1);
    setenv("PROFD_LOG_LEVEL", "error", 1);
    *state = worker_env_start("/tmp/profd-alertbus.XXXXXX");
    return 0;
}

static int teardown(void **state)
{
    worker_env_stop(*state);
    return 0;
}

static char *alert_message(const char *source, const char *fixture)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/alert/fixtures/%s", getenv("PROFD_SOURCE_DIR"), fixture);
    char *payload = profd_read_file(path, 1 << 20, NULL);
    assert_non_null(payload);
    size_t n = strlen(payload) + 128;
    char *m = malloc(n);
    snprintf(m, n, "{\"version\":1,\"type\":\"alert\",\"source\":\"%s\",\"payload\":%s}", source,
             payload);
    free(payload);
    return m;
}

static void send(env *e, const char *json)
{
    profd_error err = {0};
    assert_int_equal(
        e->bus->ops->publish(e->bus, PROFD_TOPIC_REQUESTS, NULL, json, strlen(json), NULL, 0, &err),
        0);
}

/* Sessions with trigger alert, any status. */
static int alert_sessions(env *e, profd_session *out, int max)
{
    profd_list_filter f = {NULL, -1, 100};
    profd_session *all = calloc(100, sizeof *all);
    profd_error err;
    int n = e->store->ops->list(e->store, &f, all, 100, &err), k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(all[i].trigger, "alert") == 0 && k < max)
            out[k++] = all[i];
        else
            profd_session_free(&all[i]);
    }
    free(all);
    return k;
}

static double metric(const char *series)
{
    char *text = profd_metrics_render();
    char *p = strstr(text, series);
    double v = p && p[strlen(series)] == ' ' ? strtod(p + strlen(series) + 1, NULL) : 0;
    free(text);
    return v;
}

static const char *label_of(const profd_session *s, const char *k)
{
    json_object *v;
    return s->labels && json_object_object_get_ex(s->labels, k, &v) ? json_object_get_string(v)
                                                                    : NULL;
}

static void test_alert_runs_a_capture(void **state)
{
    env *e = *state;
    char *m = alert_message("alertmanager", "am_firing.json");
    send(e, m);
    profd_session s[4];
    int n = 0;
    for (int i = 0; i < 200; i++) {
        n = alert_sessions(e, s, 4);
        if (n == 1 && s[0].status == PROFD_COMPLETED)
            break;
        for (int k = 0; k < n; k++)
            profd_session_free(&s[k]);
        n = 0;
        usleep(100 * 1000);
    }
    if (n != 1)
        fail_msg("the alert's session never completed");
    assert_string_equal(s[0].service_name, "web-api");
    assert_string_equal(s[0].host, "node-1");
    assert_int_equal(s[0].pid, e->target);
    assert_true(s[0].sample_count > 0);
    assert_string_equal(label_of(&s[0], "alertname"), "HighCPU");
    assert_string_equal(label_of(&s[0], "team"), "payments");
    char id[PROFD_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", s[0].session_id);
    profd_session_free(&s[0]);

    /* events: queued (from the alert intake), started, completed */
    int queued = 0, completed = 0;
    for (int i = 0; i < profd_bus_memory_count(PROFD_TOPIC_EVENTS); i++) {
        char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, i);
        if (strstr(ev, id)) {
            queued += strstr(ev, "\"session.queued\"") != NULL;
            completed += strstr(ev, "\"session.completed\"") != NULL;
        }
        free(ev);
    }
    assert_int_equal(queued, 1);
    assert_int_equal(completed, 1);

    /* the same notification again: held off by the cooldown */
    int before = profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
    send(e, m);
    for (int i = 0; i < 100 && metric("profd_alerts_skipped_total{reason=\"cooldown\"}") < 1; i++)
        usleep(50 * 1000);
    assert_int_equal((int)metric("profd_alerts_skipped_total{reason=\"cooldown\"}"), 1);
    assert_int_equal((int)metric("profd_alerts_received_total{source=\"alertmanager\"}"), 2);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), before + 1);
    n = alert_sessions(e, s, 4);
    for (int k = 0; k < n; k++)
        profd_session_free(&s[k]);
    assert_int_equal(n, 1);
    free(m);
}

/* The worker's entry point called twice for one delivery: the derived
 * session id makes the second call a duplicate, even without a cooldown. */
static void test_redelivery_is_duplicate(void **state)
{
    env *e = *state;
    profd_config cfg = e->cfg;
    cfg.alert_cooldown = 0;
    profd_store *st = profd_store_memory_open(3600);
    char *m = alert_message("gcp", "gcp_open.json");
    profd_request r;
    profd_error err;
    assert_int_equal(profd_request_parse(m, strlen(m), NULL, &r, &err), 0);
    int reqs = profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
    /* a bus that only produces, so the running worker's consumer is not involved */
    assert_int_equal(profd_alert_handle_message(&cfg, st, e->bus, &r, "requests/0/77", &err), 0);
    assert_int_equal(profd_alert_handle_message(&cfg, st, e->bus, &r, "requests/0/77", &err), 0);
    assert_int_equal((int)metric("profd_alerts_skipped_total{reason=\"duplicate\"}"), 1);
    assert_true(profd_bus_memory_count(PROFD_TOPIC_REQUESTS) >= reqs + 1);
    profd_session list[4];
    profd_list_filter f = {"web-api", -1, 4};
    int n = st->ops->list(st, &f, list, 4, &err);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].requested_by, "gcp");
    profd_session_free(&list[0]);
    profd_request_free(&r);
    st->ops->close(st);
    free(m);
}

typedef struct copy {
    const profd_config *cfg;
    profd_store *st;
    profd_bus *bus;
    const profd_request *r;
} copy;

static void *handle_copy(void *arg)
{
    copy *c = arg;
    profd_error err;
    if (profd_alert_handle_message(c->cfg, c->st, c->bus, c->r, "requests/0/88", &err) != 0)
        fprintf(stderr, "handle: %s\n", err.msg);
    return NULL;
}

static int count_sessions(profd_store *st)
{
    profd_session list[8];
    profd_list_filter f = {NULL, -1, 8};
    profd_error err;
    int n = st->ops->list(st, &f, list, 8, &err);
    for (int i = 0; i < n; i++)
        profd_session_free(&list[i]);
    return n;
}

/* With Kafka every worker reads every message (each through its own group):
 * four workers handling one delivery at once start one capture, and keep
 * the service's cooldown for the next notification. */
static void test_every_worker_reads_it(void **state)
{
    env *e = *state;
    profd_config cfg = e->cfg;
    cfg.alert_cooldown = 900;
    cfg.alert_max_per_service = 3;
    profd_store *st = profd_store_memory_open(3600);
    char *m = alert_message("alertmanager", "am_grouped.json");
    profd_request r;
    profd_error err;
    assert_int_equal(profd_request_parse(m, strlen(m), NULL, &r, &err), 0);
    copy c = {&cfg, st, e->bus, &r};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, handle_copy, &c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(count_sessions(st), 2); /* web-api and jobs, once each */
    /* 4 copies x 1 in-payload duplicate, plus 3 copies x 2 targets already started */
    assert_int_equal((int)metric("profd_alerts_skipped_total{reason=\"duplicate\"}"), 4 + 6);
    assert_int_equal(profd_alert_handle_message(&cfg, st, e->bus, &r, "requests/0/89", &err), 0);
    assert_int_equal((int)metric("profd_alerts_skipped_total{reason=\"cooldown\"}"), 2);
    assert_int_equal(count_sessions(st), 2);
    profd_request_free(&r);
    st->ops->close(st);
    free(m);
}

static void test_not_a_webhook_goes_to_dlq(void **state)
{
    env *e = *state;
    send(e, "{\"type\":\"alert\",\"source\":\"alertmanager\",\"payload\":{\"version\":\"4\"}}");
    send(e, "{\"type\":\"alert\",\"source\":\"gcp\",\"payload\":{\"incident\":[]}}");
    for (int i = 0; i < 100 && profd_bus_memory_count(PROFD_TOPIC_DLQ) < 2; i++)
        usleep(50 * 1000);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_DLQ), 2);
    char *code = profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "profd-error-code");
    char *why = profd_bus_memory_header(PROFD_TOPIC_DLQ, 0, "profd-error");
    assert_string_equal(code, "invalid_request");
    assert_non_null(strstr(why, "alerts: must be an array"));
    free(code);
    free(why);
    why = profd_bus_memory_header(PROFD_TOPIC_DLQ, 1, "profd-error");
    assert_non_null(strstr(why, "incident: must be an object"));
    free(why);
    /* the worker carries on */
    send(e, "{\"type\":\"alert\",\"source\":\"alertmanager\",\"payload\":{\"alerts\":[]}}");
    for (int i = 0; i < 100 && profd_bus_memory_pending() > 0; i++)
        usleep(50 * 1000);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_DLQ), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alert_runs_a_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_is_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_worker_reads_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_webhook_goes_to_dlq, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
